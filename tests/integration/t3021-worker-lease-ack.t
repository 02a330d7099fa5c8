#!/usr/bin/env bash
# Leases and acks against one-shot faults (kept out of t3020, whose random
# faults would blur them):
#  - a lease of the shortest ttl the API can report (1 s) is kept through a
#    tool call three times as long: heartbeats go min(ttl/2, 30 s) after the
#    last one was sent (a 1 s interval floor used to meet the give-up margin
#    and drop every such lease);
#  - a failed ack is retried on the same item, not left pending while the
#    worker polls on (the item would wait for the server's reclaim);
#  - a 412 whose current_state says "stopped" ends the run as stopped, not
#    taken, and no stop is sent.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    echo "1..0 # SKIP a 1 s lease is shorter than a request takes under valgrind"
    exit 0
fi
sim_start --lease-ttl 1
WM_SOCK=$T/m.sock WM_URL=http://w
mk_session long-bash:3
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work" --metrics-listen "unix:$WM_SOCK"
wait_for 20 "the 3 s call under a 1 s lease completed and its item stopped" all_done 1
check_report "1 s lease"
log=$(cat "$T/worker.log")
unlike "the lease was never given up" "$log" 'lease (lost|ended)|no successful heartbeat|assuming the lease lost'
is "the item was claimed once" "$(grep -c 'claimed work' <<<"$log")" 1
ok "heartbeats went about every 500 ms (>= 5 in the 3 s call)" test "$(rep heartbeats)" -ge 5

# --- a failed ack is retried on the same item --------------------------------------
api none POST /_sim/faults '{"fail-ack":3}'
L=$(wc -l <"$T/worker.log")
mk_session bash-once
wait_for 20 "the session behind three failed acks completed" all_done 2
log=$(tail -n +$((L + 1)) "$T/worker.log")
is "a failed ack is retried on the same item (3 failures)" \
    "$(grep -c 'ack failed; retrying the same item' <<<"$log")" 3
like "  then succeeds" "$log" 'ack succeeded on a retry.*retries.*3'
is "  the item was claimed once (not left pending for a re-delivery)" \
    "$(grep -c 'claimed work' <<<"$log")" 1

# --- a 412 on an item stopped elsewhere ---------------------------------------------
api none POST /_sim/faults '{"heartbeat-412-stopped":1}'
L=$(wc -l <"$T/worker.log")
mk_session long-bash:3
wait_for 15 "the worker ended the run on the 412" \
    grep -q 'lease ended: the item was stopped elsewhere' "$T/worker.log"
log=$(tail -n +$((L + 1)) "$T/worker.log")
WS=$(sed -n 's/.*claimed work work=\(work_[A-Za-z0-9_-]*\).*/\1/p' <<<"$log" | head -1)
like "412 with current_state stopped: logged as stopped, not taken" "$log" \
    'lease ended \(heartbeat precondition failed\): the item was stopped, not taken.*state=stopped'
like "  released with reason lease_ended_stopped" "$log" 'reason=lease_ended_stopped'
unlike "  not logged as taken by another holder" "$log" 'another holder has the item'
ok "  no stop sent for it ($WS)" bash -c "! grep -F '$WS' <<<\"\$1\" | grep -q 'work stopped'" _ "$log"
wait_for 5 "  counted as a stopped session, not a released one" \
    m_test 'omni_worker_sessions_served_total{outcome="stopped"}' = 1
is "  no released session" "$(m 'omni_worker_sessions_served_total{outcome="released"}')" 0
is "  the 412 counted as a heartbeat conflict" "$(m 'omni_worker_heartbeats_total{outcome="conflict"}')" 1
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0 after SIGTERM" "$WK_RC" 0
done_testing
