#!/usr/bin/env bash
# omni-worker SIGTERM drain: the running call finishes and its result is
# posted; past --drain-timeout it is cancelled with an error result; a second
# signal stops at once; every held item ends stopped; exit 0. The same with
# supervised children.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
tool_running() { test -n "$(first_event_id "$1" agent.tool_use)" && grep -q "serving work.*$1" "$T/worker.log"; }
is_stopped() { [ "$(work_state "$1")" = stopped ]; }

# A: in-process, the call (3 s) finishes within the drain window
mk_session long-bash:3
A=$SID
wk_bg poll --max-idle 30s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 15 "A: call emitted and being served" tool_running "$A"
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$WK_PID"
wk_wait 20
t1=$(date +%s%N)
is "A: exit 0" "$WK_RC" 0
ok "A: waited for the running call ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -ge 1500
is "A: the result was posted" "$(sess_field "$A" results_received)" 1
is "A: and it is the real output" "$(sess_field "$A" result_mismatches)" 0
ok "A: item stopped" is_stopped "$A"
like "A: drain logged" "$(cat "$T/worker.log")" "letting the running tool call finish"

# B: drain timeout 1 s cancels a 30 s call with an error result
: >"$T/worker.log"
mk_session long-bash:30
B=$SID
wk_bg poll --max-idle 30s --drain-timeout 1s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 15 "B: call emitted and being served" tool_running "$B"
sleep 0.5
t0=$(date +%s)
kill -TERM "$WK_PID"
wk_wait 15
is "B: exit 0" "$WK_RC" 0
ok "B: did not wait for the whole call" test $(( $(date +%s) - t0 )) -lt 10
is "B: an (error) result was posted for the cancelled call" "$(sess_field "$B" results_received)" 1
is "B: nothing left unanswered" "$(sess_field "$B" unanswered_calls)" 0
ok "B: item stopped" is_stopped "$B"
like "B: cancellation logged" "$(cat "$T/worker.log")" "drain timeout: cancelling the running tool call"

# C: a second signal stops at once (item still stopped, best effort)
: >"$T/worker.log"
mk_session long-bash:30
C=$SID
wk_bg poll --max-idle 30s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 15 "C: call emitted and being served" tool_running "$C"
sleep 0.5
t0=$(date +%s)
kill -TERM "$WK_PID"
sleep 0.3
kill -INT "$WK_PID"
wk_wait 15
is "C: exit 0" "$WK_RC" 0
ok "C: stopped at once" test $(( $(date +%s) - t0 )) -lt 5
ok "C: item stopped" is_stopped "$C"

# D: children (--concurrency 2) drain the same way
: >"$T/worker.log"
mk_session long-bash:2
D1=$SID
mk_session long-bash:2
D2=$SID
wk_bg poll --concurrency 2 --max-idle 30s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 15 "D: both calls being served" bash -c "grep -q 'serving work.*$D1' '$T/worker.log' && grep -q 'serving work.*$D2' '$T/worker.log'"
sleep 0.7
kill -TERM "$WK_PID"
wk_wait 30
is "D: exit 0" "$WK_RC" 0
is "D: first child's result posted" "$(sess_field "$D1" results_received)" 1
is "D: second child's result posted" "$(sess_field "$D2" results_received)" 1
ok "D: first item stopped" is_stopped "$D1"
ok "D: second item stopped" is_stopped "$D2"
unlike "D: no crash reported" "$(cat "$T/worker.log")" "crashed"
is "no duplicate results anywhere" "$(rep duplicate_results)" 0
done_testing
