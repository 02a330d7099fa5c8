#!/usr/bin/env bash
# omni-console display: the help box fits its text; narrow screens cut ids in
# the middle and keep their end; at 40 columns the sparkline never covers the
# values; sparklines share one scale; --readonly lists no action keys; clock
# times carry their zone (UTC, or --local-time).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ENV=$ANTHROPIC_ENVIRONMENT_ID
ASK=$(mk ask "d-ask")
for i in 1 2 3 4 5 6 7; do mk idle "d-$i" >/dev/null; done
SMALL=$(api POST /v1/environments '{"name":"small-env","config":{"type":"self_hosted"}}' | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
mk idle "d-small" "$SMALL" >/dev/null
like "set up" "$ASK $SMALL" '^sesn_[^ ]+ env_'

con_start --refresh 1
ok "the overview" wait_screen 10 "omni-sim-default +8 "
keys '?'
ok "help: the widest line is whole" wait_screen 5 "PgUp/PgDn  page      g/G  top/bottom"
ok "help: and the y/N line" _screen_has "s S i a d ask y/N first, naming the session and the call"
keys x
# one scale: depth 1 beside depth 8 is not a full block
ok "small-env is listed" wait_screen 10 "small-env +1 "
sleep 2
small=$(screen | grep "small-env")
unlike "a depth of 1 beside 8 is not drawn full height" "$small" "█"
like "but it is drawn" "$small" "[▁▂]"
like "the deep one is full height" "$(screen | grep 'omni-sim-default')" "█"

# 40 columns: the values stay; no sparkline over them
tmux -L "$CON_SOCK" resize-window -x 40 -y 20
sleep 1
ok "40 columns: the depth is readable" wait_screen 5 "^CRIT omni-sim +8 +[0-9]+ "
unlike "40 columns: no sparkline over the values" "$(screen)" "[▁▂▃▄▅▆▇█]"

# 80 columns: ids cut in the middle, the end kept
tmux -L "$CON_SOCK" resize-window -x 80 -y 24
keys Escape
wait_screen 5 "DEPTH HISTORY"
keys g Enter
ok "80 columns: session ids keep their end" wait_screen 10 "sesn_…${ASK: -10} "
keys w
ok "80 columns: the work view too (the session column)" wait_screen 10 "work_…[^ ]+ +sesn_[^ ]*${ASK: -6} "
keys w

# times carry a zone: UTC by default
keys /
keys -l d-ask
keys Enter
wait_screen 5 "1 of 8 sessions"
keys Enter
ok "event times in UTC, marked Z" wait_screen 10 "^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z user: go"

con_stop
TZ=ABC-2 CON_COLS=120 con_start --local-time --env "$ENV"
ok "sessions" wait_screen 10 "of 8 sessions"
keys /
keys -l d-ask
keys Enter
keys Enter
ok "--local-time: local, with the zone's name" wait_screen 10 "^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ABC user: go"

# --readonly: no action keys in the bar or the help
con_stop
con_start --readonly --env "$ENV"
ok "--readonly starts" wait_screen 10 "of 8 sessions"
unlike "--readonly: no action keys in the bar" "$(screen | tail -1)" "s stop|approve|interrupt"
like "--readonly: the navigation keys stay" "$(screen | tail -1)" "Enter events"
keys '?'
wait_screen 5 "omni-console keys"
unlike "--readonly: no action keys in the help" "$(screen)" "approve|interrupt|force stop|new session"
ok "--readonly: the help says why" _screen_has "read-only mode: actions are off"

done_testing
