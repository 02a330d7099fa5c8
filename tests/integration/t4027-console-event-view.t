#!/usr/bin/env bash
# omni-console: Enter on an event line of the session view opens that event
# in full: a tool call's whole input and its output, and the raw JSON,
# scrollable; Esc returns to the session view.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
S=$(mk bash-once "ev-view")
like "session created" "$S" '^sesn_'
until_ok 10 bash -c "$(declare -f api events); T=$T SIM_URL=$SIM_URL; events $S | grep -q '\"agent.tool_use\"'"
TOOL=$(events "$S" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
    print map { $_->{type} eq "agent.tool_use" ? $_->{id} : () } @{$j->{data}}')
like "the tool call" "$TOOL" '^[a-z]+_'
# its result, as a worker would post it (with a control character to sanitise)
api POST "/v1/sessions/$S/events" "{\"events\":[{\"type\":\"user.tool_result\",\"tool_use_id\":\"$TOOL\",\"is_error\":false,\"content\":[{\"type\":\"text\",\"text\":\"line-one-of-output\\nline-two \\u001b[31mred\"}]}]}" >/dev/null
like "the result is posted" "$(events "$S")" 'line-one-of-output'

CON_COLS=120 CON_ROWS=40 con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
wait_screen 10 "1 of 1 sessions"
keys Enter
ok "the session view" wait_screen 10 "tool bash: "
keys /
keys -l "tool bash"
keys Enter
ok "search for the tool call" wait_screen 5 "1 of [0-9]+ events"
keys k
keys Enter
ok "Enter opens the event" wait_screen 10 "event $TOOL of session $S"
ok "its type and id" wait_screen 5 "agent.tool_use +$TOOL"
ok "the whole input" _screen_has '"command": '
ok "its output" _screen_has "^line-one-of-output"
ok "every line of it, sanitised" _screen_has "^line-two  \[31mred"
ok "the raw JSON" _screen_has "^RAW JSON"
ok "the raw JSON's fields" _screen_has "\"id\": +\"$TOOL\""
keys G
ok "scrolls to the end" wait_screen 5 "line ([0-9]+) of \1"
keys g
ok "and back to the top" wait_screen 5 "line 1 of [0-9]+"
keys Escape
ok "Esc returns to the session view" wait_screen 5 "stream: live"
is "still running" "$(con_exit_code)" ""

done_testing
