#!/usr/bin/env bash
# omni-worker under faults: 5xx, 429, stream cuts, SSE error frames, 412
# lease theft and a short lease TTL. Nothing may run twice and nothing may be
# left unanswered; every item ends stopped. Then one-shot faults: a failed ack
# is retried on the same item (not left pending while the worker polls on),
# and a 412 whose current_state says "stopped" ends the run as stopped, not
# taken, with no stop sent.
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

# --- one-shot faults, the random ones off ------------------------------------------
api none POST /_sim/faults '{"fault-5xx":0,"fault-429":0,"cut-stream-after":0,"sse-error-every":0,"steal-lease-every":0,"fail-ack":3}'
L=$(wc -l <"$T/worker.log")
# the stopped worker's last long poll (block_ms=999) may still be open in the
# sim: a session made now could be delivered to it and wait for the reclaim
sleep 1
mk_session bash-once
N=$((N + 1))
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 20 "the session behind three failed acks completed" all_done $N
log=$(tail -n +$((L + 1)) "$T/worker.log")
is "a failed ack is retried on the same item (3 failures)" \
    "$(grep -c 'ack failed; retrying the same item' <<<"$log")" 3
like "  then succeeds" "$log" 'ack succeeded on a retry.*retries.*3'
is "  the item was claimed once (not left pending for a re-delivery)" \
    "$(grep -c 'claimed work' <<<"$log")" 1

api none POST /_sim/faults '{"heartbeat-412-stopped":1}'
L=$(wc -l <"$T/worker.log")
mk_session long-bash:3
wait_for 15 "the worker ended the run on the 412" \
    grep -q 'lease ended: the item was stopped elsewhere' "$T/worker.log"
log=$(tail -n +$((L + 1)) "$T/worker.log")
WS=$(sed -n 's/.*claimed work.*work[=: "]*\(work_[A-Za-z0-9_-]*\).*/\1/p' <<<"$log" | head -1)
like "412 with current_state stopped: logged as stopped, not taken" "$log" \
    'lease ended \(heartbeat precondition failed\): the item was stopped, not taken.*state.*stopped'
like "  released with reason lease_ended_stopped" "$log" 'reason.*lease_ended_stopped'
unlike "  not logged as taken by another holder" "$log" 'another holder has the item'
ok "  no stop sent for it (work $WS)" bash -c "! grep '$WS' <<<\"\$1\" | grep -q 'work stopped'" _ "$log"
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0 after SIGTERM" "$WK_RC" 0
done_testing
