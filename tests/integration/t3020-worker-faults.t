#!/usr/bin/env bash
# omni-worker under faults: 5xx, 429, stream cuts, SSE error frames, 412
# lease theft and a short lease TTL. Nothing may run twice and nothing may be
# left unanswered; every item ends stopped.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start --seed 7 --fault-5xx 0.08 --fault-429 0.05 --retry-after-ms 50 --cut-stream-after 4 \
    --sse-error-every 7 --steal-lease-every 5 --lease-ttl 10
N=0
for s in burst:15 six-tools bash-once noop-read:4 long-bash:3 burst:8; do
    mk_session "$s"
    N=$((N + 1))
done
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 50 "all $N sessions completed and stopped despite faults" all_done $N ||
    { sim_report >"$T/report.json"; api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work?limit=100"; echo "$BODY" >"$T/work.json"; }
check_report "faults"
r=$(sim_report)
ok "faults were actually injected (5xx)" test "$(jget "$r" faults_5xx)" -gt 0
ok "streams were cut" test "$(jget "$r" streams_cut)" -gt 0
ok "leases were stolen" test "$(jget "$r" leases_stolen)" -gt 0
log=$(cat "$T/worker.log")
like "lease loss released the item" "$log" "lease lost .*releasing the item"
like "a released item keeps its session directory for the next run" "$log" \
    "keeping the session directory: the item returns to the queue"
like "stream reconnects are logged" "$log" "event stream (ended|failed); reconnecting"
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0 after SIGTERM" "$WK_RC" 0
done_testing
