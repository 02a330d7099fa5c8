#!/bin/bash
# bwrap.sh — per-session bubblewrap sandbox for `omni-worker poll --on-work`,
# for operators who hand each session to a script as `ant beta:worker poll
# --on-work` does.
#
#   omni-worker poll --on-work /usr/local/lib/omni/bwrap.sh [--concurrency N]
#
# Contract (protocol.md §10.2): the poller runs this script once per claimed
# session item with the work item JSON on stdin and ANTHROPIC_WORK_ID,
# ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID and ANTHROPIC_ENVIRONMENT_KEY
# in the environment (omni-worker's poller adds OMNI_WORKER_BIN and
# OMNI_WORKER_SLOT). The script blocks for the whole session.
#
# What it does: it replaces itself (exec) with
#
#   omni-worker run --work-stdin --sandbox bwrap
#
# started WITHOUT the environment key in its environment. That process is the
# session runner: it reads the work item from stdin, takes the item's sessions
# token from its secret (a real JSON parser, not a pattern), and runs the
# session's tools in a bubblewrap jail of its own making: no network, a
# minimal read-only system, private /tmp, its own PID/mount/IPC namespaces,
# its own uid and a cgroup with limits when the poller runs as root (see
# omni-worker(8), CONTAINMENT). Nothing inside the jail holds a credential:
# the runner stays outside and talks to the API itself. A work item without a
# usable secret is refused (exit 1); the environment key never reaches it.
#
# Because the script execs, SIGTERM from the poller reaches the runner, which
# drains; its exit status tells the poller what to do: 5 means the lease was
# lost and the item must be left alone.
#
# Settings (environment of the poller):
#   OMNI_WORKER_BIN       omni-worker binary (default: the poller's own, else
#                         beside this script, else from PATH)
#   OMNI_WORKER_ARGS      extra options for `omni-worker run` (word-split; no secrets),
#                         e.g. "--limit-memory 4G --max-idle 5m"
#   OMNI_BWRAP_SHARE_NET  1 = the host's network and a read-only view of the host's
#                         files (--sandbox none) instead of the no-network jail
set -u

die() {
    echo "bwrap.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKER=${OMNI_WORKER_BIN:-}
if [ -z "$WORKER" ]; then
    for c in "$here/omni-worker" "$here/../../bin/omni-worker" "$here/../../../bin/omni-worker" \
             "$(command -v omni-worker 2>/dev/null)"; do
        if [ -n "$c" ] && [ -x "$c" ]; then WORKER=$c; break; fi
    done
fi
[ -n "$WORKER" ] || die "omni-worker not found (set OMNI_WORKER_BIN)"
[ -x "$WORKER" ] || die "omni-worker binary \"$WORKER\" is not executable"
: "${ANTHROPIC_WORK_ID:?}" "${ANTHROPIC_SESSION_ID:?}" "${ANTHROPIC_ENVIRONMENT_ID:?}"

SANDBOX=bwrap
[ "${OMNI_BWRAP_SHARE_NET:-0}" = 1 ] && SANDBOX=none

# shellcheck disable=SC2206
EXTRA=(${OMNI_WORKER_ARGS:-})
exec env -u ANTHROPIC_ENVIRONMENT_KEY -u ANTHROPIC_WORK_SECRET \
    "$WORKER" run --work-stdin --sandbox "$SANDBOX" "${EXTRA[@]}"
