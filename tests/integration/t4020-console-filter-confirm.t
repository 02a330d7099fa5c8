#!/usr/bin/env bash
# omni-console: / opens a filter line in every view (in a session: a search
# of its events) and what is typed after it is never a command (the on-call
# "/ask" that approved a held call and stopped the item); a s S i d all ask
# y/N first, naming the session and the call.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ASK=$(mk ask "fc-ask")
like "session created" "$ASK" '^sesn_'

CON_COLS=150 con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
wait_screen 15 "$ASK .*1 ask"
keys Enter
ok "the session's events" wait_screen 10 "stream: live"
ok "the held call" wait_screen 10 "HELD [^ ]+ bash"
TOOL=$(screen | sed -n 's/.*HELD \([^ ]*\) .*/\1/p' | head -1)

keys /
keys -l ask
ok "/ opens the search line in a session's events" wait_screen 5 "filter: ask_"
ok "the events are searched" wait_screen 5 "of [0-9]+ events +filter \"ask\""
sleep 1
unlike "/ask approved nothing" "$(events "$ASK")" 'user.tool_confirmation'
is "/ask stopped nothing" "$(work_state "$ASK")" queued
keys Enter
ok "Enter keeps the search" wait_screen 5 "filter \"ask\""
keys /
keys Escape
ok "Esc clears it" until_ok 5 bash -c "! tmux -L $CON_SOCK capture-pane -p | grep -q 'filter \"ask\"'"

keys a
ok "a asks first, naming the call, its input and the session" \
    wait_screen 5 "approve $TOOL \(bash: .*\) in $ASK\? \[y/N\]"
keys n
ok "n cancels" wait_screen 5 "cancelled"
keys d
ok "d asks first" wait_screen 5 "deny $TOOL \(bash: .*\) in $ASK\? \[y/N\]"
keys Escape
keys s
ok "s asks first, naming the session" wait_screen 5 "stop session $ASK.*\? \[y/N\]"
keys n
keys i
ok "i asks first, naming the session and the held call" \
    wait_screen 5 "interrupt session $ASK \(its held call $TOOL bash.*\? \[y/N\]"
keys n
sleep 1
unlike "nothing was sent before y" "$(events "$ASK")" 'user.tool_confirmation|user.interrupt'
is "the work item is untouched" "$(work_state "$ASK")" queued

keys a
wait_screen 5 "approve $TOOL"
keys y
ok "y approves" wait_screen 10 "approved tool call $TOOL"
like "the confirmation reached the session" "$(events "$ASK")" '"result":"allow"'

# / in the views with a table: the environments and the sessions
keys Escape
wait_screen 5 "Enter events"
keys /
keys -l "zz-none"
ok "sessions: / filters" wait_screen 5 "0 of 1 sessions"
keys Escape
keys Escape
wait_screen 5 "DEPTH HISTORY"
keys /
keys -l "sdq"
ok "environments: / opens the filter line" wait_screen 5 "filter: sdq_"
ok "environments: / filters" wait_screen 5 "no environment matches the filter"
keys Escape
ok "Esc shows them again" wait_screen 5 "omni-sim-default"

done_testing
