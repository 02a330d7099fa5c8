#!/bin/bash
# bwrap.sh — per-session bubblewrap sandbox for `omni-worker poll --on-work`.
#
#   omni-worker poll --on-work /usr/local/lib/omni/bwrap.sh [--concurrency N]
#
# Contract (protocol.md §10.2): the poller runs this script once per claimed
# session item with the work item JSON on stdin and ANTHROPIC_WORK_ID,
# ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID, ANTHROPIC_ENVIRONMENT_KEY in
# the environment. The script BLOCKS for the whole life of the session (the
# poller posts a stop when it returns), and forwards SIGTERM to the worker in
# the sandbox so it drains.
#
# What it does:
#   1. creates a fresh sandbox directory (mode 0700) holding an empty workdir;
#   2. takes the item's `secret` from the work JSON and writes it to a 0600
#      file in the sandbox directory: the sandbox gets only this per-item
#      credential, never the environment key (if the item has no secret, the
#      key goes into a 0600 file instead — still never into the sandbox's
#      environment or argv);
#   3. runs `omni-worker run --work-secret-file ...` inside bubblewrap:
#      --unshare-all (new user, pid, ipc, uts, cgroup and NETWORK namespaces:
#      no network unless OMNI_BWRAP_SHARE_NET=1), --die-with-parent,
#      --new-session, --cap-drop ALL, a read-only /usr (and the usual /bin,
#      /lib symlinks), a few read-only files of /etc, private /tmp, /proc and
#      /dev, and the workdir as the only writable place;
#   4. removes the sandbox directory when the worker exits.
#
# Network: the worker inside must reach the API (ANTHROPIC_BASE_URL, or the
# secret's api_base_url). With the default (no network) it cannot; set
# OMNI_BWRAP_SHARE_NET=1 to keep the host's network namespace, or give the
# sandbox an egress path of your own (e.g. a proxy reachable over a bound
# socket). Tool calls then share that network.
#
# Settings (environment of the poller):
#   OMNI_WORKER_BIN       omni-worker binary to run inside (default: from PATH)
#   OMNI_BWRAP_ROOT       where sandbox directories are made (default: $TMPDIR or /tmp)
#   OMNI_BWRAP_SHARE_NET  1 = keep the network namespace (default: none)
#   OMNI_WORKER_ARGS      extra options for `omni-worker run` (word-split; no secrets)
#   OMNI_BWRAP_KEEP       1 = keep the sandbox directory (debugging)
set -u
umask 077

die() {
    echo "bwrap.sh: $*" >&2
    exit 1
}

command -v bwrap >/dev/null || die "bwrap not found"
WORKER=${OMNI_WORKER_BIN:-$(command -v omni-worker)} || die "omni-worker not found (set OMNI_WORKER_BIN)"
[ -x "$WORKER" ] || die "omni-worker binary \"$WORKER\" is not executable"
: "${ANTHROPIC_WORK_ID:?}" "${ANTHROPIC_SESSION_ID:?}" "${ANTHROPIC_ENVIRONMENT_ID:?}"

# The work item JSON (§10.2 step 5), capped at 1 MiB.
WORK_JSON=$(head -c 1048576)
# The secret is base64 / base64url text: no quotes or escapes to decode.
SECRET=$(printf '%s' "$WORK_JSON" | tr -d '\n' |
    sed -n 's/.*"secret"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9_=+/-]*\)".*/\1/p')

SB=$(mktemp -d "${OMNI_BWRAP_ROOT:-${TMPDIR:-/tmp}}/omni-bwrap.XXXXXXXX") || die "cannot create a sandbox directory"
cleanup() {
    [ "${OMNI_BWRAP_KEEP:-0}" = 1 ] || rm -rf "$SB"
}
trap cleanup EXIT
mkdir -m 0700 "$SB/work" "$SB/run"

CRED_ARGS=()
if [ -n "$SECRET" ]; then
    printf '%s\n' "$SECRET" >"$SB/run/secret"
    CRED_ARGS=(--work-secret-file /run/omni/secret)
else
    echo "bwrap.sh: work item $ANTHROPIC_WORK_ID has no secret; the sandbox gets the environment key (file)" >&2
    printf '%s\n' "${ANTHROPIC_ENVIRONMENT_KEY:?no secret and no environment key}" >"$SB/run/key"
    CRED_ARGS=(--environment-key-file /run/omni/key)
fi
chmod 0600 "$SB"/run/*
unset SECRET WORK_JSON ANTHROPIC_ENVIRONMENT_KEY

NET=()
[ "${OMNI_BWRAP_SHARE_NET:-0}" = 1 ] && NET=(--share-net)

SYS=(--ro-bind /usr /usr)
for d in bin sbin lib lib32 lib64; do
    if [ -L "/$d" ]; then
        SYS+=(--symlink "$(readlink "/$d")" "/$d")
    elif [ -d "/$d" ]; then
        SYS+=(--ro-bind "/$d" "/$d")
    fi
done
for f in /etc/ssl /etc/ca-certificates /etc/pki /etc/resolv.conf /etc/hosts /etc/nsswitch.conf \
         /etc/passwd /etc/group /etc/localtime /etc/ld.so.cache /etc/alternatives; do
    SYS+=(--ro-bind-try "$f" "$f")
done

# shellcheck disable=SC2206
EXTRA=(${OMNI_WORKER_ARGS:-})

# bwrap gets its own session (setsid), so the poller's SIGTERM to our process
# group reaches only this script, which forwards it to the worker inside.
exec 3>"$SB/info"
setsid bwrap --unshare-all "${NET[@]}" --die-with-parent --new-session --cap-drop ALL --as-pid-1 \
    --info-fd 3 \
    "${SYS[@]}" \
    --proc /proc --dev /dev --tmpfs /tmp \
    --bind "$SB/work" /work \
    --ro-bind "$SB/run" /run/omni \
    --ro-bind "$WORKER" /run/omni-bin/omni-worker \
    --chdir /work \
    --clearenv \
    --setenv PATH /usr/local/bin:/usr/bin:/bin \
    --setenv HOME /work \
    --setenv LANG "${LANG:-C.UTF-8}" \
    --setenv ANTHROPIC_WORK_ID "$ANTHROPIC_WORK_ID" \
    --setenv ANTHROPIC_SESSION_ID "$ANTHROPIC_SESSION_ID" \
    --setenv ANTHROPIC_ENVIRONMENT_ID "$ANTHROPIC_ENVIRONMENT_ID" \
    ${ANTHROPIC_BASE_URL:+--setenv ANTHROPIC_BASE_URL "$ANTHROPIC_BASE_URL"} \
    /run/omni-bin/omni-worker run "${CRED_ARGS[@]}" --workdir /work/sessions "${EXTRA[@]}" &
BW=$!
exec 3>&-

# SIGTERM/SIGINT: forward to the worker inside (pid from --info-fd) so it drains.
forward() {
    local child
    child=$(sed -n 's/.*"child-pid"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' "$SB/info" 2>/dev/null)
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; else kill -TERM "$BW" 2>/dev/null; fi
}
trap forward TERM INT
while :; do
    wait "$BW"
    rc=$?
    kill -0 "$BW" 2>/dev/null || break
done
exit "$rc"
