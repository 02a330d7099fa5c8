#!/usr/bin/env bash
# omni-console: the selection follows the session (its id), not the row
# number, through refreshes that bring new sessions to the top and through
# re-sorts; Enter and the actions apply to the session the highlight is on.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
A=$(mk idle "mv-a")
sleep 0.1
B=$(mk idle "mv-b")
sleep 0.1
C=$(mk idle "mv-c")
like "sessions created" "$A $B $C" '^sesn_[^ ]+ sesn_[^ ]+ sesn_'

con_start --refresh 0.5 --env "$ANTHROPIC_ENVIRONMENT_ID"
ok "youngest first" wait_screen 10 "3 of 3 sessions"
keys j
sleep 0.5
# the second row (mv-b) is selected: s names it
keys s
ok "the second row is mv-b" wait_screen 5 "stop session $B"
keys n

D=$(mk idle "mv-d")
E=$(mk idle "mv-e")
ok "new sessions arrive at the top" wait_screen 10 "5 of 5 sessions"
sleep 1
keys s
ok "after the refresh, s still names mv-b" wait_screen 5 "stop session $B"
keys n
keys Enter
ok "Enter opens mv-b" wait_screen 10 "session $B .*mv-b"
keys Escape
wait_screen 5 "5 of 5 sessions"

keys '<'
ok "re-sorted (by id)" wait_screen 5 "sort: id"
keys s
ok "after a re-sort, s still names mv-b" wait_screen 5 "stop session $B"
keys n
keys r
wait_screen 5 "sort: id.*(reversed|desc)"
keys Enter
ok "after reversing, Enter opens mv-b" wait_screen 10 "session $B .*mv-b"
keys Escape
wait_screen 5 "5 of 5 sessions"

# a filter that keeps the row keeps the selection
keys /
keys -l "mv-"
keys Enter
keys s
ok "a filter that keeps mv-b keeps it selected" wait_screen 5 "stop session $B"
keys n

done_testing
