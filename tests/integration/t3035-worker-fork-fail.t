#!/usr/bin/env bash
# A fork that fails for want of resources (EAGAIN) is the host's state, not
# the worker's end (issue 11, finding 4: it used to stop the worker with exit
# 1). The poller runs as nobody with a process limit (ulimit -u), and other
# processes of nobody then take every process it may have left, so it cannot
# start a session child: it retries with backoff, logs, leaves the item to be
# re-delivered and keeps polling; once they are gone, the re-delivered item
# is served.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    echo "1..0 # SKIP needs root and setpriv (util-linux)"
    exit 0
fi
if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    echo "1..0 # SKIP valgrind's own threads count against the lowered process limit"
    exit 0
fi
if ! setpriv --reuid=65534 --regid=65534 --clear-groups \
    bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP an unprivileged user cannot create namespaces here"
    exit 0
fi
sim_start --lease-ttl 3
PUB=$(mktemp -d /tmp/omni-forkfail.XXXXXX)
trap 'rm -rf "$PUB"; _cleanup' EXIT
chmod 755 "$PUB"
mkdir "$PUB/w" && chown 65534:65534 "$PUB/w"
LIMIT=40
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
bg "${NOBODY[@]}" bash -c "ulimit -u $LIMIT && exec \"\$@\"" limited env ANTHROPIC_BASE_URL="$SIM_URL" \
    ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" \
    "$BIN/omni-worker" poll --concurrency 2 --poll-idle-ms 100-200 --workdir "$PUB/w" --max-idle 1s \
    2>"$T/worker.log"
W=$BG_PID
wait_for 10 "the worker (as nobody) polls" grep -q "polling for work" "$T/worker.log"
# every task of uid 65534 counts against the poller's limit: fill the rest
n=$(ps -L -u 65534 -o lwp= | wc -l)
HOGS=()
for _ in $(seq "$n" $((LIMIT + 10))); do  # (over-filled: a short-lived task of nobody must not free a place)
    bg "${NOBODY[@]}" sleep 120
    HOGS+=("$BG_PID")
done
mk_session bash-once
S=$SID
wait_for 20 "a fork failed and was retried" grep -q "cannot start a process for the item; retrying" "$T/worker.log"
wait_for 20 "the item was left to be re-delivered" grep -q "leaving it to be re-delivered" "$T/worker.log"
ok "the worker is still running" kill -0 "$W"
unlike "it did not stop itself" "$(cat "$T/worker.log")" "stopping the worker|worker stopped"
kill "${HOGS[@]}" 2>/dev/null
wait_for 40 "the re-delivered item is served once the limit is lifted" all_done 1
is "its call was answered once" "$(sess_field "$S" results_received)" 1
kill -TERM "$W"
for _ in $(seq 1 100); do kill -0 "$W" 2>/dev/null || break; sleep 0.1; done
ok "SIGTERM still ends it" bash -c "! kill -0 $W 2>/dev/null"
done_testing
