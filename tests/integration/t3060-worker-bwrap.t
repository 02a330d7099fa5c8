#!/usr/bin/env bash
# worker/spawn/bwrap.sh as the --on-work script: each session runs
# `omni-worker run` inside bubblewrap with its own workdir and only the item's
# secret; SIGTERM reaches the sandboxed worker, which drains.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

if ! command -v bwrap >/dev/null || ! bwrap --unshare-all --share-net --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP bubblewrap cannot create namespaces here"
    exit 0
fi
sim_start
export OMNI_WORKER_BIN=$BIN/omni-worker OMNI_BWRAP_SHARE_NET=1 OMNI_BWRAP_ROOT=$T
export OMNI_WORKER_ARGS="--max-idle 1s"
[ "${OMNI_VALGRIND:-0}" = 1 ] && OMNI_WORKER_BIN=$_real_bin/omni-worker

for s in six-tools bash-once burst:4; do mk_session "$s"; done
wk_bg poll --on-work "$TOP/worker/spawn/bwrap.sh" --concurrency 2 --poll-idle-ms 50-150
wait_for 40 "3 sessions served inside bubblewrap" all_done 3
check_report "bwrap"
log=$(cat "$T/worker.log")
like "sandboxed worker used the sessions token" "$log" "credential=\"sessions token\""
unlike "no environment key file was needed" "$log" "has no secret"
ok "sandbox directories removed" test -z "$(ls -d "$T"/omni-bwrap.* 2>/dev/null)"

# drain through the sandbox
: >"$T/worker.log"
mk_session long-bash:3
L=$SID
wait_for 20 "long call being served in the sandbox" bash -c "grep -q 'serving work.*$L' '$T/worker.log'"
sleep 1
ok "the sandboxed worker holds no environment key in its environment" \
    bash -c "for p in \$(pgrep -f '/run/omni-bin/omni-worker run'); do ! grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY' /proc/\$p/environ || exit 1; done"
kill -TERM "$WK_PID"
wk_wait 30
is "exit 0 after SIGTERM" "$WK_RC" 0
is "the running call finished and its result was posted" "$(sess_field "$L" results_received)" 1
is "result is the real output" "$(sess_field "$L" result_mismatches)" 0
is "item stopped" "$(work_state "$L")" stopped
done_testing
