#!/usr/bin/env bash
# omni-console: after a user.interrupt a held call is no longer offered for
# approval (omni_event_cancels_held): not in the session view, not counted in
# the sessions list.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ASK=$(mk ask "int-held")
like "session created" "$ASK" '^sesn_'

CON_COLS=150 con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
ok "the held call is counted" wait_screen 15 "$ASK .*1 ask"
keys Enter
ok "and offered in the session view" wait_screen 10 "HELD [^ ]+ bash: .*a approve, d deny"
keys i
ok "i asks first" wait_screen 5 "interrupt session $ASK .*\[y/N\]"
keys y
ok "the interrupt is sent" wait_screen 10 "interrupt sent to $ASK"
like "it reached the session" "$(events "$ASK")" '"user.interrupt"'
ok "the interrupt is in the stream" wait_screen 10 " interrupt$"
ok "the held call is no longer offered" \
    until_ok 10 bash -c "! tmux -L $CON_SOCK capture-pane -p | grep -q 'HELD '"
keys Escape
# WAIT blank (not "1 ask", not "?" before the event list is fetched)
ok "the sessions list no longer counts it" wait_screen 15 "$ASK +[^ ]+ {8}[a-z]"
keys a
ok "a: nothing to approve" wait_screen 5 "no held tool call in $ASK"

done_testing
