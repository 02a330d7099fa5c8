#!/usr/bin/env bash
# An interrupt settles a held (ask) call: the worker never runs it, a later
# confirmation for it does nothing (the simulator refuses or ignores it), and
# the session's slot is released by the idle rule (protocol.md §9.6: the
# interrupt's end_turn idle arms --max-idle; the held call no longer defers it).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
wk_bg poll --max-idle 2s --poll-idle-ms 50-150 --workdir "$T/work"

new_session ask
wait_for 20 "ask call emitted" test -n "$(first_event_id "$SID" agent.tool_use)"
ASK_ID=$(first_event_id "$SID" agent.tool_use)
wait_for 10 "worker holds the call" grep -q "held for confirmation.*$ASK_ID" "$T/worker.log"

api org POST "/v1/sessions/$SID/events" '{"events":[{"type":"user.interrupt"}]}'
is "interrupt accepted" "$STATUS" 200
wait_for 10 "worker cancels the held call" grep -q "held tool call cancelled.*$ASK_ID" "$T/worker.log"
api org POST "/v1/sessions/$SID/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$ASK_ID\",\"result\":\"allow\"}]}"
like "late confirmation refused or ignored" "$STATUS" '^(200|400)$'

stopped() { [ "$(work_state "$1")" = stopped ]; }
wait_for 15 "the session's work item is stopped (slot released by the idle rule)" stopped "$SID"
sleep 1
api org GET "/v1/sessions/$SID/events?limit=1000&types[]=user.tool_result"
unlike "the held call never ran" "$BODY" "approved-by-operator"
is "no protocol errors (nothing ran before its confirmation)" "$(rep protocol_errors)" 0
like "the release is logged" "$(cat "$T/worker.log")" "session idle for max-idle"

# the next user message is served as usual: a new item, a new turn
api org POST "/v1/sessions/$SID/events" '{"events":[{"type":"user.message","content":"again"}]}'
is "new message accepted" "$STATUS" 200
wait_for 20 "a new ask call of the next turn is held" \
    bash -c "[ \$(grep -c 'held for confirmation' '$T/worker.log') -ge 2 ]"

kill -TERM "$WK_PID"
wk_wait 15
is "SIGTERM: exit 0" "$WK_RC" 0
done_testing
