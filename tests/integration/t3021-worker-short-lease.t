#!/usr/bin/env bash
# A lease of the shortest ttl the API can report (1 s) is kept for a tool call
# that runs three times as long: heartbeats go every min(ttl/2, 30 s) after the
# last one was sent (500 ms here), never at the moment the lease must be given
# up (a 1 s interval floor used to do exactly that below 2 s ttls).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    echo "1..0 # SKIP a 1 s lease is shorter than a request takes under valgrind"
    exit 0
fi
sim_start --lease-ttl 1
mk_session long-bash:3
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 20 "the 3 s call under a 1 s lease completed and its item stopped" all_done 1
check_report "1 s lease"
log=$(cat "$T/worker.log")
unlike "the lease was never given up" "$log" 'lease (lost|ended)|no successful heartbeat|assuming the lease lost'
is "the item was claimed once" "$(grep -c 'claimed work' <<<"$log")" 1
ok "heartbeats went at least every 500 ms or so (>= 5 in the 3 s call)" \
    test "$(rep heartbeats)" -ge 5
kill -TERM "$WK_PID"
wk_wait 15
is "exit 0 after SIGTERM" "$WK_RC" 0
done_testing
