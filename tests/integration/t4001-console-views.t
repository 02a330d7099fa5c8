#!/usr/bin/env bash
# omni-console views in tmux against omni-sim: environments, sessions (with
# the held-call flag), work items, the session detail, filter, sort, help,
# resize, monochrome and the ASCII fallback.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ASK=$(mk ask "view-ask")
BASH1=$(mk bash-once "view-bash")
CUSTOM=$(mk custom "view-custom")
like "sessions created" "$ASK $BASH1 $CUSTOM" '^sesn_[^ ]+ sesn_[^ ]+ sesn_'

con_start --refresh 1
ok "environments view: the environment row, CRITICAL (work waiting, no worker)" \
    wait_screen 10 "CRIT +omni-sim-default +3 +0 "
ok "environments view: the reason and the key file, in words" \
    wait_screen 5 "$ANTHROPIC_ENVIRONMENT_ID +CRITICAL: work waiting, no worker polling or heartbeating"
ok "environments view: the work list, in words" _screen_has "work list: 0 live, 0 STUCK"
ok "a depth sparkline (UTF-8 blocks)" wait_screen 5 "█"

keys Enter
ok "sessions view lists the sessions" wait_screen 10 "$BASH1 .*view-bash"
ok "the held call of the ask session is flagged" wait_screen 15 "$ASK .*1 ask .*view-ask"
ok "the custom session waits on a tool nobody owns" wait_screen 10 "$CUSTOM .*1 tool .*view-custom"
ok "footer counts the sessions" _screen_has "3 of 3 sessions"

keys /
keys -l "view-b"
ok "filter prompt shows the text" wait_screen 5 "filter: view-b"
ok "filter narrows the rows" wait_screen 5 "1 of 3 sessions"
unlike "filtered rows hide the others" "$(screen)" "view-ask"
keys Enter
keys /
keys Escape
ok "Esc in the filter prompt clears it" wait_screen 5 "3 of 3 sessions"

ok "the sort column is marked in the heading" _screen_has "AGE▼ WAIT"
keys '>'
ok "sort by the next column on screen" wait_screen 5 "sort: waiting ▼"
ok "the heading follows" _screen_has "WAIT▼"
ok "the waiting session sorts first" until_ok 5 bash -c "tmux -L $CON_SOCK capture-pane -p | sed -n 3p | grep -q view-ask"
keys '>'
ok "and the next" wait_screen 5 "sort: last event"
keys '<'
keys r
ok "reverse sort" wait_screen 5 "sort: waiting ▲ \(reversed\)"
ok "the heading shows the direction" _screen_has "WAIT▲"
keys r '<'
ok "back to sorting by age" wait_screen 5 "sort: age"

keys w
ok "work view lists the items with their sessions" wait_screen 10 "queued +work_[^ ]+ +$ASK"
ok "work view footer" wait_screen 5 "3 of 3 work items"
keys w
ok "w toggles back to sessions" wait_screen 5 "Enter events"

# detail of the ask session
keys /
keys -l "view-ask"
keys Enter
wait_screen 5 "1 of 3 sessions"
keys Enter
ok "detail view: the event stream is live" wait_screen 10 "stream: live"
ok "detail view: the tool call, summarised" wait_screen 5 "tool bash: .*\[ask\]"
ok "detail view: the held call with its keys" _screen_has "HELD [^ ]+ bash: .*a approve, d deny"
ok "detail view: the user message" _screen_has "user: go"

keys '?'
ok "help overlay" wait_screen 3 "omni-console keys"
keys x
ok "any key closes the help" until_ok 5 bash -c "! tmux -L $CON_SOCK capture-pane -p | grep -q 'omni-console keys'"

tmux -L "$CON_SOCK" resize-window -x 80 -y 24
ok "resize to 80x24: repainted, still running" wait_screen 5 "Esc back"
is "the frame is 24 lines" "$(screen | wc -l)" 24
tmux -L "$CON_SOCK" resize-window -x 30 -y 6
sleep 0.5
tmux -L "$CON_SOCK" resize-window -x 120 -y 40
ok "resize again (tiny, then large): repainted" wait_screen 5 "stream: live"
is "not exited after resizes" "$(con_exit_code)" ""

keys Escape
ok "Esc returns to the sessions view" wait_screen 5 "Enter events"
keys Escape
ok "Esc again returns to environments" wait_screen 5 "DEPTH HISTORY"
keys q
until_ok 5 test -s "$T/console.exit"
is "q exits 0" "$(con_exit_code)" 0

# monochrome (NO_COLOR is set by tests/lib.sh; -C too) and the ASCII fallback
con_stop
CON_LANG=C con_start -C --refresh 0.2 -n 8
ok "ASCII locale: no block characters, the console runs" wait_screen 10 "CRIT +omni-sim-default"
until_ok 10 test -s "$T/console.exit"
is "-n 8 exits 0 after 8 refreshes" "$(con_exit_code)" 0
unlike "no UTF-8 blocks under LANG=C" "$(screen)" "█"

# without an environment key file the work view says what is missing
con_stop
CON_CONFIG=$T/config-nokey con_start
wait_screen 10 "CRIT +omni-sim-default"
keys w
ok "work view without the key file says so" wait_screen 5 "add env_key_file.$ANTHROPIC_ENVIRONMENT_ID"

done_testing
