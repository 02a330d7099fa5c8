#!/usr/bin/env bash
# Memory stores are not implemented: a session with memory_store resources is
# refused clearly and force-stopped (never served in a loop); --no-memory
# serves it without memory.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
mem_session() {
    api org POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$ANTHROPIC_ENVIRONMENT_ID\",\"resources\":[{\"type\":\"memory_store\",\"memory_store_id\":\"memstore_01TEST\",\"mount_path\":\"/mnt/memory/test\"}],\"initial_events\":[{\"type\":\"user.message\",\"content\":[{\"type\":\"text\",\"text\":\"go\"}]}]}"
    SID=$(jget "$BODY" id)
}
mem_session
is "session with a memory store created" "$STATUS" 200
M=$SID
mk_session bash-once
B=$SID
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
is_stopped() { [ "$(work_state "$1")" = stopped ]; }
wait_for 20 "memory session's item force-stopped" is_stopped "$M"
wait_for 20 "the next session is still served" all_done 1
log=$(cat "$T/worker.log")
like "clear refusal naming --no-memory" "$log" "memory_store resources.*--no-memory"
is "the refused session ran no tool" "$(sess_field "$M" results_received)" 0
is "claimed once, not in a loop" "$(grep -c "claimed work.*$M" "$T/worker.log")" 1
kill -TERM "$WK_PID"
wk_wait 10
is "exit 0" "$WK_RC" 0

# --no-memory: served without memory
mem_session
M2=$SID
: >"$T/worker.log"
wk_bg poll --no-memory --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
until_ok 20 test "$(sess_field "$M2" completed)" = true
is "--no-memory: session completed" "$(sess_field "$M2" completed)" true
like "--no-memory: warned" "$(cat "$T/worker.log")" "running without memory"
kill -TERM "$WK_PID"
wk_wait 10
is "exit 0" "$WK_RC" 0
done_testing
