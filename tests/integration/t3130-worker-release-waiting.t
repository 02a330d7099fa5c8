#!/usr/bin/env bash
# --release-waiting: a session whose calls all wait on a person (a held ask
# call, a custom tool nobody answers) gives its slot back after that long:
# the item is stopped (logged); the answer re-queues the session and the next
# run resolves the call from the history. Nothing is lost or run twice.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
stopped() { [ "$(work_state "$1")" = stopped ]; }

wk "$BIN/omni-worker" poll --release-waiting soon >/dev/null 2>"$T/e"
is "--release-waiting takes a duration (usage: exit 2)" "$?" 2

# concurrency 1: one slot; a waiting session must not keep it
wk_bg poll --release-waiting 2s --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"

new_session ask
ASK=$SID
wait_for 20 "ask call held" grep -q "held for confirmation" "$T/worker.log"
ASK_ID=$(first_event_id "$ASK" agent.tool_use)
wait_for 10 "after 2s waiting on a person the item is stopped" stopped "$ASK"
like "the release is logged" "$(cat "$T/worker.log")" \
    "session waiting on a person for --release-waiting; releasing its slot.*session=$ASK waiting_calls=1"

new_session bash-once
OTHER=$SID
wait_for 20 "the freed slot serves another session" bash -c \
    "grep -q 'claimed work.*$OTHER' '$T/worker.log'"

api org POST "/v1/sessions/$ASK/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$ASK_ID\",\"result\":\"allow\"}]}"
is "the late confirmation is accepted" "$STATUS" 200
wait_for 30 "the answer re-queued the session and it completed" all_done 2
is "the ask call ran once, after its confirmation" "$(sess_field "$ASK" results_received)" 1

# a custom tool nobody answers for a while
new_session custom
CU=$SID
wait_for 20 "custom call left for its owner" grep -q "not owned by this worker" "$T/worker.log"
wait_for 10 "the waiting custom session is released" stopped "$CU"
CU_ID=$(first_event_id "$CU" agent.custom_tool_use)
post_result "$CU" "$CU_ID" "order A-42: shipped" org user.custom_tool_result
is "the app's late answer is accepted" "$STATUS" 200
wait_for 30 "the answer re-queued the custom session and it completed" all_done 3
check_report "release-waiting"

kill -TERM "$WK_PID"
wk_wait 15
is "SIGTERM: exit 0" "$WK_RC" 0
done_testing
