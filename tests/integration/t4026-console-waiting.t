#!/usr/bin/env bash
# omni-console: sessions with a held call are flagged as waiting on a person
# ("!"), counted, and p shows only those (from the sessions view or straight
# from the environments view).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ASK=$(mk ask "w-ask")
IDLE=$(mk idle "w-idle")
CUSTOM=$(mk custom "w-custom")
like "sessions created" "$ASK $IDLE $CUSTOM" '^sesn_[^ ]+ sesn_[^ ]+ sesn_'

con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
ok "the held call is flagged: waiting on a person" wait_screen 15 "^! +[a-z]+ +$ASK .*1 ask"
ok "a custom tool call waits on a program, not a person" wait_screen 10 "^ +[a-z]+ +$CUSTOM .*1 tool"
ok "counted in the footer" wait_screen 5 "3 of 3 sessions +1 waiting on a person"
keys p
ok "p: only those" wait_screen 5 "1 of 3 sessions +only waiting on a person"
unlike "p: the others are hidden" "$(screen)" "w-idle|w-custom"
keys Enter
ok "Enter opens it" wait_screen 10 "session $ASK"
keys Escape
keys p
ok "p again: all" wait_screen 5 "3 of 3 sessions +1 waiting"

keys Escape
wait_screen 5 "DEPTH HISTORY"
keys p
ok "p in the environments view opens the waiting sessions" wait_screen 10 "1 of 3 sessions +only waiting on a person"
ok "the waiting one" _screen_has "$ASK"

done_testing
