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
#   3. unless OMNI_BWRAP_SHARE_NET=1, starts the API relay (below) on a unix
#      socket in the sandbox directory;
#   4. runs `omni-worker run --work-secret-file ...` inside bubblewrap:
#      --unshare-all (new user, pid, ipc, uts, cgroup and NETWORK namespaces),
#      --die-with-parent, --new-session, --cap-drop ALL, a read-only /usr (and
#      the usual /bin, /lib symlinks), a few read-only files of /etc, private
#      /tmp, /proc and /dev, and the workdir as the only writable place;
#   5. stops the relay and removes the sandbox directory when the worker exits.
#
# Network (default: none). The sandbox has its own network namespace with
# only a loopback interface: neither the worker nor the tools it runs (bash,
# and whatever bash starts) can open a connection to anything outside, the
# host's loopback included. The worker reaches the API through one relay:
#
#   socat UNIX-LISTEN:<sandbox>/run/api.sock,fork,... TCP:<host>:<port>
#
# started here, outside the sandbox, before bwrap. <host> and <port> come from
# ANTHROPIC_BASE_URL (default https://api.anthropic.com; port 443 for https,
# 80 for http, unless the URL names one). The socket is bound into the sandbox
# as /run/omni/api.sock and the worker runs with `--api-socket
# /run/omni/api.sock --ignore-secret-base-url`: every API connection goes
# through the socket, while HTTP and TLS still use the URL's host (Host
# header, SNI, certificate verification end to end with the real API host;
# the relay only forwards bytes). The api_base_url carried in an item's secret
# is NOT used, neither as the relay target nor by the worker: the relay is
# pinned to ANTHROPIC_BASE_URL when the item starts. The relay ends when the
# sandbox does (and, through a parent-death signal, if this script is killed).
#
# Residual risk, plainly: a tool in the sandbox can still talk to the API host
# through /run/omni/api.sock (the socket is there for the worker, and tools
# run as the same uid). It holds no credential unless it reads the sandbox's
# secret file /run/omni/secret, which is readable by that same uid: so a
# hostile tool call CAN read the item's sessions token and call the API with
# it (scoped to this session's work item; never the environment key when the
# item has a secret). It cannot reach any other host. Running the tools under
# a separate uid that can read neither the secret nor the socket is future
# work.
#
# OMNI_BWRAP_SHARE_NET=1 keeps the host's network namespace instead (no
# relay): the worker connects directly (honouring the secret's api_base_url)
# and tool calls get the host's full network.
#
# Settings (environment of the poller):
#   OMNI_WORKER_BIN       omni-worker binary to run inside (default: from PATH)
#   OMNI_BWRAP_ROOT       where sandbox directories are made (default: $TMPDIR or /tmp);
#                         keep it short: the socket path must fit in 107 bytes
#   OMNI_BWRAP_SHARE_NET  1 = keep the host network namespace, no relay (default: 0)
#   OMNI_WORKER_ARGS      extra options for `omni-worker run` (word-split; no secrets)
#   OMNI_BWRAP_KEEP       1 = keep the sandbox directory (debugging)
#   ANTHROPIC_BASE_URL    the API; also the relay's target
set -u
umask 077

die() {
    echo "bwrap.sh: $*" >&2
    exit 1
}

RELAY_MAX_CHILDREN=32     # concurrent connections through the relay
RELAY_CONNECT_TIMEOUT=10  # seconds for the relay's TCP connect
RELAY_START_TRIES=100     # 100 x 0.05 s for the socket to appear
SOCKET_PATH_MAX=107       # sun_path without its NUL

command -v bwrap >/dev/null || die "bwrap not found"
SHARE_NET=0
[ "${OMNI_BWRAP_SHARE_NET:-0}" = 1 ] && SHARE_NET=1
if [ "$SHARE_NET" = 0 ]; then
    command -v socat >/dev/null || die "socat not found (needed for the API relay; or set OMNI_BWRAP_SHARE_NET=1)"
fi
WORKER=${OMNI_WORKER_BIN:-$(command -v omni-worker)} || die "omni-worker not found (set OMNI_WORKER_BIN)"
[ -x "$WORKER" ] || die "omni-worker binary \"$WORKER\" is not executable"
: "${ANTHROPIC_WORK_ID:?}" "${ANTHROPIC_SESSION_ID:?}" "${ANTHROPIC_ENVIRONMENT_ID:?}"

# The work item JSON (§10.2 step 5), capped at 1 MiB.
WORK_JSON=$(head -c 1048576)
# The secret is base64 / base64url text: no quotes or escapes to decode.
SECRET=$(printf '%s' "$WORK_JSON" | tr -d '\n' |
    sed -n 's/.*"secret"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9_=+/-]*\)".*/\1/p')

# relay_target URL: sets R_HOST and R_PORT from an http(s) URL. The host goes
# into a socat address, so only host-name, IPv4 and bracketed IPv6 characters
# are accepted.
relay_target() {
    local url=$1 rest hp
    case $url in
    https://*) R_PORT=443; rest=${url#https://} ;;
    http://*) R_PORT=80; rest=${url#http://} ;;
    *) die "base URL \"$url\" must start with http:// or https://" ;;
    esac
    hp=${rest%%/*}
    hp=${hp%%\?*}
    hp=${hp%%#*}
    [[ $hp == *@* ]] && die "base URL \"$url\" must not carry user information"
    if [[ $hp == \[* ]]; then
        R_HOST=${hp%%]*}]
        rest=${hp#"$R_HOST"}
    else
        R_HOST=${hp%%:*}
        rest=${hp#"$R_HOST"}
    fi
    if [ -n "$rest" ]; then
        [[ $rest == :* ]] || die "base URL \"$url\" has a malformed host"
        R_PORT=${rest#:}
    fi
    [[ $R_HOST =~ ^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$ ]] ||
        die "base URL \"$url\" has an unusable host"
    if ! [[ $R_PORT =~ ^[0-9]{1,5}$ ]] || [ "$R_PORT" -lt 1 ] || [ "$R_PORT" -gt 65535 ]; then
        die "base URL \"$url\" has an invalid port"
    fi
}
if [ "$SHARE_NET" = 0 ]; then
    relay_target "${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"
fi

SB=$(mktemp -d "${OMNI_BWRAP_ROOT:-${TMPDIR:-/tmp}}/omni-bwrap.XXXXXXXX") || die "cannot create a sandbox directory"
RELAY=
cleanup() {
    if [ -n "$RELAY" ]; then
        kill -TERM -- "-$RELAY" 2>/dev/null || kill -TERM "$RELAY" 2>/dev/null
        wait "$RELAY" 2>/dev/null
    fi
    [ "${OMNI_BWRAP_KEEP:-0}" = 1 ] || rm -rf "$SB"
}
trap cleanup EXIT
mkdir -m 0700 "$SB/work" "$SB/run"

CRED_ARGS=()
RELAY_ARGS=()
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

# A parent-death signal (when setpriv has it) ties the relay to this script:
# if it is killed (the poller's SIGKILL after --child-grace), the relay ends
# too (bwrap's --die-with-parent does the same for the sandbox).
PDEATH=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && PDEATH=(setpriv --pdeathsig TERM)

NET=()
if [ "$SHARE_NET" = 1 ]; then
    NET=(--share-net)
else
    # The API relay: its own session (the poller's SIGTERM to our process
    # group must not cut the draining worker off the API), a parent-death
    # signal so it cannot outlive this script, and a 0600 socket.
    SOCK=$SB/run/api.sock
    [ "${#SOCK}" -le "$SOCKET_PATH_MAX" ] ||
        die "relay socket path \"$SOCK\" is too long (set a shorter OMNI_BWRAP_ROOT)"
    setsid "${PDEATH[@]}" socat -lp omni-relay \
        "UNIX-LISTEN:$SOCK,fork,mode=600,unlink-early,max-children=$RELAY_MAX_CHILDREN" \
        "TCP:$R_HOST:$R_PORT,connect-timeout=$RELAY_CONNECT_TIMEOUT" </dev/null >/dev/null &
    RELAY=$!
    for _ in $(seq 1 "$RELAY_START_TRIES"); do
        [ -S "$SOCK" ] && break
        kill -0 "$RELAY" 2>/dev/null || break
        sleep 0.05
    done
    [ -S "$SOCK" ] || die "the API relay did not start (socket \"$SOCK\")"
    # $SB/run is bound read-only at /run/omni: the socket is /run/omni/api.sock
    # (connecting needs no write access to the mount).
    RELAY_ARGS=(--api-socket /run/omni/api.sock --ignore-secret-base-url)
fi

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
# group reaches only this script, which forwards it to the worker inside;
# --die-with-parent ends the sandbox if this script is killed.
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
    /run/omni-bin/omni-worker run "${CRED_ARGS[@]}" "${RELAY_ARGS[@]}" --workdir /work/sessions "${EXTRA[@]}" &
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
