#!/usr/bin/env bash
# --metrics-listen on loopback TCP: an in-process worker (--concurrency 1)
# counts like the children do and /healthz stays 200 while a call runs;
# then a worker with children: a child killed mid-call loses none of the
# totals it had counted, is counted as a failed session, and its slot is
# cleared; an --on-work script's session is counted by the poller.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die; print $s->sockport'
}
PORT=$(free_port)
WM_URL=http://127.0.0.1:$PORT

new_session long-bash:3
LB=$SID
new_session six-tools
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work" \
    --metrics-listen "127.0.0.1:$PORT"
wait_for 10 "the endpoint answers on loopback TCP" sh -c "curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz"
wait_for 20 "in-process: the long call is outstanding" m_test omni_worker_oldest_outstanding_call_seconds -ge 1
scrape /healthz >/dev/null
is "/healthz 200 while the in-process session runs" "$(code)" 200
st=$("$BIN/omni-worker" status "127.0.0.1:$PORT")
like "status over TCP" "$st" "$LB +bash"
wait_for 40 "both sessions completed" all_done 2
check_report "in-process"
sleep 0.3
is "in-process: calls counted = emitted" "$(m 'omni_worker_tool_calls_total{')" "$(rep tool_calls_emitted)"
is "in-process: posts counted = received" "$(m 'omni_worker_result_posts_total{outcome="posted"}')" "$(rep results_received)"
is "in-process: sessions completed" "$(m 'omni_worker_sessions_served_total{outcome="completed"}')" 2
is "in-process: slots configured" "$(m omni_worker_slots_configured)" 1
wait_for 10 "empty polls counted" m_test 'omni_worker_polls_total{outcome="empty"}' -ge 1
unlike "no key in /metrics" "$(scrape /metrics)" "$ANTHROPIC_ENVIRONMENT_KEY|sk-ant"
kill -TERM "$WK_PID"
wk_wait 10
is "in-process worker: exit 0" "$WK_RC" 0

# a child killed mid-call: the totals it counted stay
new_session bash-once
new_session long-bash:20
LB2=$SID
PORT=$(free_port)
WM_URL=http://127.0.0.1:$PORT
wk_bg poll --concurrency 2 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work2" \
    --metrics-listen "127.0.0.1:$PORT"
wait_for 20 "the long call runs in a child" sh -c "'$BIN/omni-worker' status 127.0.0.1:$PORT | grep -q '$LB2 .*bash'"
wait_for 20 "the short session's call was counted" m_test 'omni_worker_tool_calls_total{tool="bash",outcome="ok"}' -ge 1
before=$(m 'omni_worker_tool_calls_total{')
posted=$(m 'omni_worker_result_posts_total{outcome="posted"}')
# the child (of the worker) whose tree runs the long call's sleep
child=
for p in $(pgrep -f "^sleep 20$"); do
    q=$p
    for _ in $(seq 1 10); do
        pp=$(awk '{ print $4 }' "/proc/$q/stat" 2>/dev/null)
        [ -n "$pp" ] || break
        [ "$pp" = "$WK_PID" ] && { child=$q; break 2; }
        q=$pp
    done
done
ok "found the long session's child" test -n "$child"
kill -KILL "$child"
wait_for 20 "the crashed child is counted as a failed session" m_test 'omni_worker_sessions_served_total{outcome="failed"}' = 1
wait_for 10 "its slot is cleared" m_test omni_worker_slots_busy = 0
is "no call total lost" "$(( $(m 'omni_worker_tool_calls_total{') >= before ))" 1
is "no post total lost" "$(( $(m 'omni_worker_result_posts_total{outcome="posted"}') >= posted ))" 1
is "no call outstanding once the slot is cleared" "$(m omni_worker_oldest_outstanding_call_seconds)" 0
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0" "$WK_RC" 0

# --on-work: the poller counts how the script's session ended
printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' >"$T/on-work.sh"
chmod +x "$T/on-work.sh"
new_session bash-once
PORT=$(free_port)
WM_URL=http://127.0.0.1:$PORT
wk_bg poll --on-work "$T/on-work.sh" --poll-idle-ms 50-150 --metrics-listen "127.0.0.1:$PORT"
wait_for 20 "--on-work: the script's session is counted" m_test 'omni_worker_sessions_served_total{outcome="completed"}' = 1
is "--on-work: its slot is free again" "$(m omni_worker_slots_busy)" 0
kill -TERM "$WK_PID"
wk_wait 15
is "--on-work worker: exit 0" "$WK_RC" 0
done_testing
