#!/usr/bin/env bash
# omni-worker serves the calls of a session's threads at once (SDK 1.16
# maxConcurrentCalls): omni-sim's threads:2 scenario has a coordinator and a
# subagent thread each make a one-second bash call at the same moment; the
# sim records from the calls' own clocks whether they overlapped.
#   A. default --max-concurrent-calls (4): the two calls overlap, each is
#      answered once with its own output;
#   B. --max-concurrent-calls 1: one after the other;
#   C. under faults (5xx, 429, stream cuts): every call answered exactly once.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_stop() {
    kill -TERM "$SIM_PID" 2>/dev/null
    wait "$SIM_PID" 2>/dev/null
}

# ---- A: concurrent
sim_start
mk_session threads:2
A=$SID
mk_session threads:2
A2=$SID
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work-a"
wait_for 30 "A: both threads:2 sessions completed" all_done 2
check_report "A"
is "A: the two threads' calls overlapped" "$(sess_field "$A" calls_overlapped)" true
is "A: in the second session too" "$(sess_field "$A2" calls_overlapped)" true
is "A: every result is the right one" "$(sess_field "$A" result_mismatches)" 0
kill -TERM "$WK_PID"
wk_wait 15
is "A: exit 0" "$WK_RC" 0
sim_stop

# ---- B: one at a time
sim_start
mk_session threads:2
B=$SID
wk_bg poll --max-concurrent-calls 1 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work-b"
wait_for 30 "B: session completed" all_done 1
check_report "B"
is "B: --max-concurrent-calls 1 ran them one after the other" "$(sess_field "$B" calls_overlapped)" false
kill -TERM "$WK_PID"
wk_wait 15
sim_stop

# ---- C: faults
sim_start --seed 5 --fault-5xx 0.08 --fault-429 0.05 --retry-after-ms 50 --cut-stream-after 3
for _ in 1 2 3 4; do mk_session threads:2; done
wk_bg poll --concurrency 2 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work-c"
wait_for 60 "C: 4 threads:2 sessions completed despite faults" all_done 4
check_report "C"
ok "C: faults were injected" test "$(rep faults_5xx)" -gt 0
kill -TERM "$WK_PID"
wk_wait 20
is "C: exit 0" "$WK_RC" 0
done_testing
