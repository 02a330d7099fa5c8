#!/usr/bin/env bash
# Two workers on one host (as root): every live session has a uid of its own,
# whichever worker serves it (a flock()ed file per uid in
# /run/omni-worker-uids), and a uid is free again once its session ended.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (sessions get a uid of their own only when the worker is root)"
    exit 0
fi
if ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP bubblewrap cannot create namespaces here"
    exit 0
fi
WROOT=$(mktemp -d /tmp/omni-uids.XXXXXX)
trap '_cleanup; rm -rf "$WROOT"' EXIT # the workers end (and unmount) first
sim_start
for w in a b; do
    wk_bg poll --sandbox bwrap --concurrency 3 --max-idle 1s --poll-idle-ms 50-150 \
        --workdir "$WROOT/$w"
done
SIDS=()
for i in 1 2 3 4 5 6; do
    cmd_session "id -u; sleep 4"
    SIDS+=("$SID")
done
_all_done() { local s; for s in "${SIDS[@]}"; do sess_completed "$s" || return 1; done; }
wait_for 60 "six sessions served by two workers at once" _all_done
uids=$(for s in "${SIDS[@]}"; do printf '%s\n' "$(result "$s" 1 | head -1)"; done)
is "six uids reported" "$(printf '%s\n' "$uids" | grep -c '^[0-9][0-9]*$')" 6
is "all six differ" "$(printf '%s\n' "$uids" | sort -u | wc -l)" 6
unlike "none is root" "$uids" "^0$"
ok "both workers served sessions" test "$(grep -c 'serving work' "$T/worker.log")" -ge 6
like "each took the uids no live session held" "$(grep -o 'identity="[^"]*"' "$T/worker.log" | head -1)" "from 1879048192"
# later sessions reuse freed uids (the range is not used up one by one)
cmd_session "id -u"
wait_for 30 "a later session served" sess_completed "$SID"
later=$(result "$SID" 1 | head -1)
ok "a later session got one of the six freed uids ($later)" bash -c "printf '%s\n' '$uids' | grep -qx '$later'"
done_testing
