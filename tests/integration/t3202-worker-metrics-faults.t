#!/usr/bin/env bash
# --metrics-listen under injected faults (5xx, 429, stolen leases): the
# counters still agree with the simulator's report — every result the sim
# received is counted once as posted or reposted, failed API calls are
# counted by class (never more than the sim injected), stolen leases show as
# heartbeat conflicts, lost leases and released sessions.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start --seed 11 --fault-5xx 0.08 --fault-429 0.04 --retry-after-ms 50 --steal-lease-every 4 \
    --lease-ttl 10
WM_SOCK=$T/m.sock WM_URL=http://w
N=0
for s in burst:10 six-tools bash-once burst:6; do
    mk_session "$s"
    N=$((N + 1))
done
wk_bg poll --concurrency 2 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work" \
    --metrics-listen "unix:$WM_SOCK"
wait_for 50 "all $N sessions completed and stopped despite faults" all_done $N
check_report "faults"
wait_for 5 "every slot free" m_test omni_worker_slots_busy = 0
r=$(sim_report)
posted=$(( $(m 'omni_worker_result_posts_total{outcome="posted"}') + $(m 'omni_worker_result_posts_total{outcome="reposted"}') ))
is "results posted + reposted = results the sim received" "$posted" "$(jget "$r" results_received)"
errs=$(( $(m 'omni_worker_http_errors_total{class="5xx"}') + $(m 'omni_worker_http_errors_total{class="4xx"}') ))
injected=$(( $(jget "$r" faults_5xx) + $(jget "$r" faults_429) ))
ok "API errors were counted" test "$errs" -gt 0
ok "no more API errors counted ($errs) than injected plus lease conflicts" \
    test "$errs" -le "$(( injected + $(jget "$r" leases_stolen) ))"
if [ "$(jget "$r" leases_stolen)" -gt 0 ]; then
    ok "stolen leases show as heartbeat conflicts" test "$(m 'omni_worker_heartbeats_total{outcome="conflict"}')" -ge 1
    ok "... and as lost leases" test "$(m 'omni_worker_items_total{event="lease_lost"}')" -ge 1
    ok "... and as released sessions" test "$(m 'omni_worker_sessions_served_total{outcome="released"}')" -ge 1
fi
served=$(m 'omni_worker_sessions_served_total{')
is "every acked item served once" "$served" "$(m 'omni_worker_items_total{event="acked"}')"
is "no call outstanding" "$(m omni_worker_oldest_outstanding_call_seconds)" 0
scrape /readyz >/dev/null
is "/readyz 200 once all is done" "$(code)" 200
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0" "$WK_RC" 0
done_testing
