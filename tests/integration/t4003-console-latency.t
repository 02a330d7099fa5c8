#!/usr/bin/env bash
# omni-console never blocks on the network: with every API call taking 3 s,
# keys are still answered at once and q quits at once.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

sim_start --latency-ms 3000
con_setup
con_start --refresh 1
ok "first frame painted before any answer" wait_screen 2 "loading"
sleep 0.5
t0=$(now_ms)
keys '?'
wait_screen 3 "omni-console keys"
t1=$(now_ms)
ok "help overlay within 1 s of the key ($((t1 - t0)) ms)" test $((t1 - t0)) -le 1000
keys x
t0=$(now_ms)
keys /
wait_screen 3 "filter: _"
t1=$(now_ms)
ok "the filter line within 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -le 1000
keys Escape
ok "the data arrives eventually" wait_screen 15 "omni-sim-default"

# keys during a slow refresh (one is always in flight at this latency)
keys Enter
t0=$(now_ms)
ok "drill-down paints at once" wait_screen 1 "STATUS +SESSION"
t1=$(now_ms)
ok "within 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -le 1000
keys Escape
keys q
t0=$(now_ms)
until_ok 5 test -s "$T/console.exit"
t1=$(now_ms)
is "q exits 0" "$(con_exit_code)" 0
ok "q quits within 1.5 s with requests in flight ($((t1 - t0)) ms)" test $((t1 - t0)) -le 1500

# stale data shows its age: stop the simulator under a running console
con_stop
sim_start
con_setup
con_start --refresh 1
wait_screen 10 "omni-sim-default"
kill -STOP "$SIM_PID"
ok "a hung API: the header says the data is stale" wait_screen 12 "stale, updated [0-9]+s"
keys '?'
ok "keys still work while the API hangs" wait_screen 1 "omni-console keys"
kill -CONT "$SIM_PID"
ok "fresh again once the API answers" wait_screen 20 " updated [0-9]+s"
is "still running" "$(con_exit_code)" ""

done_testing
