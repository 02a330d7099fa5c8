#!/usr/bin/env bash
# omni-worker --concurrency 4: one child process per session, 20 sessions
# served in parallel; a crashed child gets its item force-stopped by the
# supervisor; the work key never reaches a child's argv or environment.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
for i in $(seq 1 20); do mk_session long-bash:1; done
start=$(date +%s)
wk_bg poll --concurrency 4 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"
wait_for 40 "20 sessions completed and stopped" all_done 20
elapsed=$(( $(date +%s) - start ))
check_report "concurrency 4"
# serially each session takes >= 2 s (1 s tool + 1 s idle): 20 would need >= 40 s
# (a wall-time check: not under valgrind, which slows every process many times)
[ "${OMNI_VALGRIND:-0}" = 1 ] ||
    ok "sessions ran in parallel (${elapsed}s for 20)" test "$elapsed" -lt 25
log=$(cat "$T/worker.log")
like "mode is child per session" "$log" "mode=\"child per session\""
unlike "no crashes" "$log" "crashed"

# children: their own process, no key in argv or environ
mk_session long-bash:8
wait_for 15 "a child is serving the long session" bash -c "pgrep -P $WK_PID >/dev/null"
CHILD=$(pgrep -P "$WK_PID" | head -1)
ok "child argv holds no key" bash -c "! tr '\\0' '\\n' </proc/$CHILD/cmdline | grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY'"
like "child runs the internal serve-item mode" "$(tr '\0' ' ' </proc/$CHILD/cmdline)" "serve-item"
ok "child environ holds no key" bash -c "! grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY' /proc/$CHILD/environ"
ok "child environ has no ANTHROPIC_ENVIRONMENT_KEY" bash -c "! tr '\\0' '\\n' </proc/$CHILD/environ | grep -q '^ANTHROPIC_ENVIRONMENT_KEY='"

# crash: SIGKILL the child; the supervisor force-stops its item
wait_for 10 "long call started" grep -q "serving work.*$SID" "$T/worker.log"
kill -KILL "$CHILD"
wait_for 10 "supervisor noticed the crash" grep -q "session child crashed; force-stopping its item" "$T/worker.log"
stopped_ge() { [ "$(rep work_items.stopped)" -ge "$1" ]; }
wait_for 10 "crashed child's item is stopped" stopped_ge 21
ok "worker still alive after a child crash" kill -0 "$WK_PID"

kill -TERM "$WK_PID"
wk_wait 15
is "exit 0 after SIGTERM" "$WK_RC" 0
# leftover sleep of the killed child's tool shell ends on its own (8 s)
done_testing
