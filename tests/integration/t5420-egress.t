#!/usr/bin/env bash
# The egress allow-list (worker/egress.c), end to end on loopback only: a
# private CA and an upstream nginx (https and http, the names' "real hosts"),
# dnsmasq answering allowed.test, other.test and wild.test with 127.0.0.1
# (no upstream), the proxy (egress-try: Debian's nginx run from the
# configuration egress.c writes) for "allowed.test *.wild.test", and
# sandboxes built like worker/sandbox.c's bwrap backend (a network namespace
# with only loopback) plus egress_bwrap_argv()'s pieces: the relay (socat on
# 127.0.0.1:443 and :80) and the hosts file. Inside: listed names work over
# https and http, anything else fails (a name not listed, a raw IP, an SNI
# that is no host name, CONNECT, DNS to anywhere, the host's loopback).
# Then the same with an unprivileged proxy and a user-namespace sandbox (the
# worker not root), the refusals of bad input, and the stop. Timings are
# printed as TAP comments.
. "$(dirname "$0")/../lib.sh"

PATH=$PATH:/usr/sbin:/sbin
TRY=${OMNI_EGRESS_TRY:-}
# built by make next to the build's objects: build/ (or build-NAME/ with B=NAME)
for c in "$(dirname "$BIN")/tests/helpers/egress-try" "$TOP/build/tests/helpers/egress-try"; do
    [ -z "$TRY" ] && [ "$(dirname "$BIN")" != "$TOP" -o "$c" != "$TOP/tests/helpers/egress-try" ] &&
        [ -x "$c" ] && [ -f "$c" ] && TRY=$c
done
missing=
for p in nginx dnsmasq socat openssl curl bwrap setpriv; do
    command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing ngx_stream_module.so"
[ -n "$TRY" ] || missing="$missing egress-try(build/tests/helpers)"
if [ -n "$missing" ]; then
    echo "1..0 # SKIP missing:$missing"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root (privileged bubblewrap, uids of its own)"
    exit 0
fi
if ! bwrap --unshare-net --unshare-pid --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP bubblewrap cannot create namespaces here"
    exit 0
fi

CLIENT=64999 # the session's uid (omni-exec drops to it)
OTHER=64997  # another session's uid
UNPRIV=64998 # an unprivileged worker
PROXY=65534  # what nginx runs as
# the proxy's uid must reach its run directory: outside the private $T
EG=$(mktemp -d /tmp/omni-egress-test.XXXXXX)
chmod 711 "$EG"
trap '_cleanup; rm -rf "$EG"' EXIT

. "$TOP/tests/integration/egress-lib.sh"

# a DNS query in bash: A other.test
DNSQ='\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05other\x04test\x00\x00\x01\x00\x01'
dns_probe() { # HOST PORT: 0 when an answer comes back within 2 s
    timeout 3 bash -c "exec 3<>/dev/udp/$1/$2 && printf '$DNSQ' >&3 && head -c 12 <&3 | od -An -tx1 | grep -q '12 34'"
}
ok "dnsmasq on 127.0.0.1:$DP answers (control for the DNS checks)" dns_probe 127.0.0.1 "$DP"

# ---- the proxy -----------------------------------------------------------------
bg "$TRY" --run-dir "$EG/run" --resolver "127.0.0.1:$DP" --tls-port "$SP" --http-port "$HP" \
    --client "$CLIENT:$CLIENT" --proxy "$PROXY:$PROXY" --bwrap-args "$T/bw" \
    --relay-as "$CLIENT:$CLIENT" allowed.test '*.Wild.test' >"$T/try.out" 2>"$T/try.err"
TRY_PID=$BG_PID
if ! wait_for 10 "the proxy starts and listens on both sockets" grep -qx ready "$T/try.out"; then
    sed 's/^/#   /' "$T/try.err" >&2
    echo "Bail out! egress-try did not start"
    exit 1
fi
field() { sed -n "s/^$1 //p" "$2"; }
TLS_SOCK=$(field tls "$T/try.out")
HTTP_SOCK=$(field http "$T/try.out")
NGINX_PID=$(field pid "$T/try.out")
START_US=$(field ready_us "$T/try.out")
is "sockets in the run directory" "$TLS_SOCK $HTTP_SOCK" "$EG/run/tls.sock $EG/run/http.sock"
is "tls.sock: the session's uid and gid only (0660)" "$(stat -c '%a %u %g' "$TLS_SOCK")" \
    "660 $CLIENT $CLIENT"
is "http.sock: the same" "$(stat -c '%a %u %g' "$HTTP_SOCK")" "660 $CLIENT $CLIENT"
is "run directory 0700, the proxy's" "$(stat -c '%a %u' "$EG/run")" "700 $PROXY"
is "nginx.conf 0600" "$(stat -c '%a' "$EG/run/nginx.conf")" 600
uids=$(for p in $(pgrep -g "$NGINX_PID"); do stat -c %u "/proc/$p"; done | sort -u | tr '\n' ' ')
is "nginx (master and worker) runs as the proxy uid, in its own process group" "$uids" "$PROXY "
conf=$(cat "$EG/run/nginx.conf")
like "the configuration maps a listed name to itself" "$conf" '"allowed.test" "allowed.test:'"$SP"'";'
like "a wildcard becomes a lower-case host-name regex" "$conf" '\+wild\\.test\)\$" "\$egress_name:'
unlike "no access log" "$conf" 'access_log [^o]'
hosts=$(cat "$(field hosts "$T/try.out")")
like "hosts: the listed exact name goes to the relay" "$hosts" $'127.0.0.1\tallowed.test'
unlike "hosts: no wildcard line" "$hosts" 'wild'

# ---- a sandbox like sandbox.c's bwrap backend (root worker) ---------------------
mapfile -d '' EG_OPTS <"$T/bw.opts"
mapfile -d '' EG_CMD <"$T/bw.cmd"
like "bwrap pieces: the sockets, hosts file and the bind capability" "${EG_OPTS[*]}" \
    "CAP_NET_BIND_SERVICE .*--ro-bind $TLS_SOCK /run/omni-egress/tls.sock .*/etc/hosts"
is "the relay: capability mode, the session's uid" "${EG_CMD[4]} ${EG_CMD[5]}:${EG_CMD[6]}" \
    "cap $CLIENT:$CLIENT"
SYS=()
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then SYS+=(--symlink "$(readlink "/$d")" "/$d")
    elif [ -d "/$d" ]; then SYS+=(--ro-bind "/$d" "/$d"); fi
done
SYS+=(--perms 0755 --dir /etc)
for f in /etc/ssl /etc/ca-certificates /etc/hosts /etc/nsswitch.conf /etc/passwd /etc/group \
    /etc/localtime /etc/ld.so.cache /etc/alternatives; do
    SYS+=(--ro-bind-try "$f" "$f")
done
# sb_as UID RELAY_UID CMD...: CMD as UID (as omni-exec would drop to it) in a
# root worker's sandbox whose relay runs as RELAY_UID
sb_as() {
    local uid=$1 ruid=$2 cmd
    shift 2
    cmd=("${EG_CMD[@]}")
    cmd[5]=$ruid cmd[6]=$ruid
    timeout 30 bwrap --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-uts \
        --unshare-cgroup-try --unshare-net --cap-drop ALL --cap-add CAP_SETUID \
        --cap-add CAP_SETGID --hostname omni-sandbox --ro-bind /usr /usr "${SYS[@]}" \
        --proc /proc --dev /dev --tmpfs /dev/pts \
        --perms 1777 --tmpfs /tmp --ro-bind "$T/pki/ca.pem" /ca.pem \
        --ro-bind-try "$BIN/omni-exec" /omni-exec "${EG_OPTS[@]}" "${cmd[@]}" \
        /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs -- "$@"
}
sb() { sb_as "$CLIENT" "$CLIENT" "$@"; }
CURL=(curl -sS --max-time 10 --cacert /ca.pem)

out=$(sb "${CURL[@]}" https://allowed.test/ 2>&1)
like "https://allowed.test/ (listed) works through relay and proxy" "$out" \
    '^upstream https host=allowed.test$'
out=$(sb "${CURL[@]}" http://allowed.test/ 2>&1)
like "http://allowed.test/ (listed) works" "$out" '^upstream http host=allowed.test$'
out=$(sb "${CURL[@]}" https://ALLOWED.test/ 2>&1)
like "names match in any case" "$out" 'host=allowed.test'
fails "https://other.test/ (not listed, sandbox has no name for it) fails" \
    sb "${CURL[@]}" https://other.test/
fails "https://other.test/ sent to the relay anyway (--resolve) is refused by the proxy" \
    sb "${CURL[@]}" --resolve other.test:443:127.0.0.1 https://other.test/
fails "https://127.0.0.1/ (raw IP: no SNI) is refused, even without verification" \
    sb curl -sSk --max-time 10 https://127.0.0.1/
fails "... also with a listed name in the Host header" \
    sb curl -sSk --max-time 10 -H 'Host: allowed.test' https://127.0.0.1/
out=$(sb "${CURL[@]}" --resolve x.wild.test:443:127.0.0.1 https://x.wild.test/ 2>&1)
like "*.wild.test admits a subdomain at the proxy (reached with --resolve)" "$out" \
    '^upstream https host=x.wild.test$'
out=$(sb curl -sSk --max-time 10 --resolve a.b.wild.test:443:127.0.0.1 https://a.b.wild.test/ 2>&1)
like "... and a deeper one" "$out" 'host=a.b.wild.test'
fails "*.wild.test does not admit wild.test itself" \
    sb "${CURL[@]}" --resolve wild.test:443:127.0.0.1 https://wild.test/
ok "openssl s_client with SNI x.wild.test completes a handshake (control)" \
    sb sh -c 'echo | openssl s_client -connect 127.0.0.1:443 -servername x.wild.test -verify_return_error -CAfile /ca.pem'
fails "an SNI that is not a host name is refused, even below a wildcard" \
    sb sh -c 'echo | openssl s_client -connect 127.0.0.1:443 -servername "x.wild.test:25" -verify_return_error -CAfile /ca.pem'
fails "... and one with a slash" \
    sb sh -c 'echo | openssl s_client -connect 127.0.0.1:443 -servername "a/.wild.test" -verify_return_error -CAfile /ca.pem'
code=$(sb curl -s -o /dev/null -w '%{http_code}' --max-time 10 --resolve other.test:80:127.0.0.1 \
    http://other.test/)
is "http://other.test/ sent to the relay anyway gets 403" "$code" 403
code=$(sb curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1/)
is "http://127.0.0.1/ (raw IP) gets 403" "$code" 403
code=$(sb curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: allowed.test' \
    -x http://127.0.0.1:80 http://other.test/)
is "an absolute-form request for other.test with Host: allowed.test gets 403" "$code" 403
fails "CONNECT (an HTTP proxy tunnel) is not supported" \
    sb curl -sS --max-time 10 -p -x http://127.0.0.1:80 --cacert /ca.pem https://allowed.test/
fails "no DNS: other.test does not resolve" sb getent hosts other.test
out=$(sb getent hosts allowed.test)
like "allowed.test resolves to the relay (hosts file)" "$out" '^127\.0\.0\.1 +allowed\.test'
fails "a UDP DNS query to 127.0.0.1:53 inside gets no answer" sb bash -c "$(declare -f dns_probe); DNSQ='$DNSQ'; dns_probe 127.0.0.1 53"
fails "... nor to dnsmasq's port (the host's loopback is not the sandbox's)" \
    sb bash -c "$(declare -f dns_probe); DNSQ='$DNSQ'; dns_probe 127.0.0.1 $DP"
fails "... nor to an outside address (no route out of the namespace)" \
    sb bash -c "$(declare -f dns_probe); DNSQ='$DNSQ'; dns_probe 192.0.2.53 53"
fails "the upstream's host port is not reachable directly" \
    sb bash -c "exec 3<>/dev/tcp/127.0.0.1/$SP"
out=$(sb sh -c 'grep -E "^Cap(Eff|Prm|Amb)" /proc/self/status; for p in $(pgrep -x socat); do stat -c "socat %u" /proc/$p; grep CapEff /proc/$p/status; done')
like "the tool holds no capability" "$out" '^CapEff:	0000000000000000'
like "the relays run as the session's uid" "$out" "socat $CLIENT"
unlike "... never as root" "$out" "socat 0$"
like "... with CAP_NET_BIND_SERVICE only" "$out" 'CapEff:	0000000000000400'
if [ -x "$BIN/omni-exec" ]; then
    ok "omni-exec still drops to the session's uid after the relay launcher (--probe)" \
        sb_as 0 "$CLIENT" /omni-exec --workdir /tmp --uid "$CLIENT" --gid "$CLIENT" --probe
fi
fails "another session's uid cannot use this session's proxy sockets" \
    sb_as "$OTHER" "$OTHER" "${CURL[@]}" https://allowed.test/
sleep 0.2
log=$(cat "$EG/run/error.log")
like "refusals are in the proxy's error log" "$log" 'no host in upstream'

# ---- timings ---------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
starts=$START_US
for i in 1 2 3 4; do
    "$TRY" --run-dir "$EG/t$i" --resolver "127.0.0.1:$DP" --proxy "$PROXY:$PROXY" allowed.test \
        >"$T/t.out" 2>&1 &
    p=$!
    until_ok 10 grep -qx ready "$T/t.out"
    starts="$starts $(field ready_us "$T/t.out")"
    kill -TERM $p
    wait $p
done
t_start=$(printf '%s\n' $starts | median)
W='%{time_connect} %{time_appconnect} %{time_total}\n'
t_relay=$(sb sh -c "for i in \$(seq 11); do curl -s -o /dev/null -w '$W' --cacert /ca.pem https://allowed.test/; done" | sort -k3 -n | sed -n 6p)
t_direct=$(for i in $(seq 11); do curl -s -o /dev/null -w "$W" --cacert "$T/pki/ca.pem" \
    --resolve "allowed.test:$SP:127.0.0.1" "https://allowed.test:$SP/"; done | sort -k3 -n | sed -n 6p)
fmt() { awk '{ printf "connect %.2f, TLS done %.2f, total %.2f ms", $1 * 1000, $2 * 1000, $3 * 1000 }'; }
echo "# timing: proxy start (egress_start until both sockets accept), median of 5: $((t_start / 1000)).$(((t_start % 1000) / 100)) ms ($starts us)"
echo "# timing: one https fetch, median of 11, via relay+proxy: $(echo "$t_relay" | fmt)"
echo "# timing: one https fetch, median of 11, direct:          $(echo "$t_direct" | fmt)"

# ---- refusals of bad input ---------------------------------------------------------
for bad in 127.0.0.1 10.1 0x7f.1 '[::1]' ::1 localhost a.localhost single 'a b.test' 'x.test;' \
    'x.test"' '*.*.test' 'a..test' '-a.test' 'a-.test' 'x.test}' '$host.test' 'a.test.'; do
    "$TRY" --run-dir "$EG/bad" --resolver 127.0.0.1 --print-config -- allowed.test "$bad" \
        >"$T/bad.out" 2>"$T/bad.err"
    rc=$?
    if [ $rc -ne 1 ] || [ -s "$T/bad.out" ] || ! grep -q 'is not a host name' "$T/bad.err"; then
        _result 1 "name \"$bad\" is refused"
        cat "$T/bad.err" >&2
    else
        _result 0 "name \"$bad\" is refused"
    fi
done
for bad in '127.0.0.1;' '127.0.0.1:53 valid=1s' '1.2.3.4:0' '1.2.3.4:65536' 'dns.test' \
    '[::1' '::1%eth0' '1.2.3'; do
    fails "resolver \"$bad\" is refused" "$TRY" --run-dir "$EG/bad" --resolver "$bad" \
        --print-config allowed.test
done
fails "a run directory with a quote is refused" "$TRY" --run-dir '/tmp/a"b' --resolver 127.0.0.1 \
    --print-config allowed.test
"$TRY" --run-dir "$EG/bad" --resolver 127.0.0.1 --proxy "$PROXY:$PROXY" \
    --stream-module /nonexistent/ngx_stream_module.so allowed.test >/dev/null 2>"$T/bad.err"
rc=$?
is "nginx refusing its configuration: exit 1" "$rc" 1
like "... with nginx's own error line" "$(cat "$T/bad.err")" '\[emerg\] .*nonexistent'
ok "... nothing left behind" test ! -e "$EG/bad"

# the largest allow-list: 256 names, one of 253 bytes, one wildcard of 193
L=$(printf 'a%.0s' $(seq 60))
S=$(printf 'b%.0s' $(seq 55))
BIG=("$L.$L.$L.$L.com" "*.$L.$L.$L.com")
for i in $(seq 1 254); do BIG+=("h$i-$S.example.com"); done
"$TRY" --run-dir "$EG/big" --resolver 127.0.0.1 --proxy "$PROXY:$PROXY" "${BIG[@]}" \
    >"$T/big.out" 2>"$T/big.err" &
p=$!
wait_for 10 "256 names of up to 253 bytes: nginx takes the configuration" \
    grep -qx ready "$T/big.out"
kill -TERM $p
wait $p
sed 's/^/#   /' "$T/big.err" >&2

# ---- an unprivileged worker: the proxy as the worker, a user-namespace sandbox ------
# sandbox.c's user-namespace flags (--unshare-user --disable-userns --dev) nest
# a second user namespace, so the relay binds 443/80 thanks to
# egress_netns_setup() (egress-try --netns-exec), and bwrap runs without
# --unshare-net.
if setpriv --reuid=$UNPRIV --regid=$UNPRIV --clear-groups "$TRY" --netns-exec \
    bwrap --unshare-user --disable-userns --dev /dev --ro-bind / / true 2>/dev/null; then
    install -d -o $UNPRIV -g $UNPRIV -m 0711 "$EG/u"
    install -o $UNPRIV -m 0644 "$T/pki/ca.pem" "$EG/u/ca.pem"
    bg setpriv --reuid=$UNPRIV --regid=$UNPRIV --clear-groups "$TRY" --run-dir "$EG/u/run" \
        --resolver "127.0.0.1:$DP" --tls-port "$SP" --http-port "$HP" \
        --client "$UNPRIV:$UNPRIV" --bwrap-args "$EG/u/bw" allowed.test \
        >"$T/try-u.out" 2>"$T/try-u.err"
    U_PID=$BG_PID
    if wait_for 10 "unprivileged: the proxy starts" grep -qx ready "$T/try-u.out"; then
        is "unprivileged: the sockets are the worker's alone (0600)" \
            "$(stat -c '%a %u' "$EG/u/run/tls.sock")" "600 $UNPRIV"
        U_NGINX=$(field pid "$T/try-u.out")
        is "unprivileged: nginx runs as the worker" "$(stat -c %u "/proc/$U_NGINX")" "$UNPRIV"
        mapfile -d '' U_OPTS <"$EG/u/bw.opts"
        mapfile -d '' U_CMD <"$EG/u/bw.cmd"
        is "unprivileged: network-namespace mode, the sandbox's own uid" \
            "${U_CMD[4]} ${U_CMD[5]}:${U_CMD[6]}" "netns -:-"
        unlike "unprivileged: no capability asked of bwrap" "${U_OPTS[*]}" CAP_
        sbu() {
            timeout 30 setpriv --reuid=$UNPRIV --regid=$UNPRIV --clear-groups "$TRY" --netns-exec \
                bwrap --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-uts \
                --unshare-cgroup-try --unshare-user --disable-userns --cap-drop ALL \
                --hostname omni-sandbox --ro-bind /usr /usr "${SYS[@]}" \
                --proc /proc --dev /dev --tmpfs /dev/pts --perms 1777 --tmpfs /tmp \
                --ro-bind "$EG/u/ca.pem" /ca.pem "${U_OPTS[@]}" "${U_CMD[@]}" "$@"
        }
        out=$(sbu "${CURL[@]}" https://allowed.test/ 2>&1)
        like "unprivileged: https://allowed.test/ works" "$out" '^upstream https host=allowed.test$'
        out=$(sbu "${CURL[@]}" http://allowed.test/ 2>&1)
        like "unprivileged: http://allowed.test/ works" "$out" '^upstream http host=allowed.test$'
        fails "unprivileged: https://other.test/ is refused" \
            sbu "${CURL[@]}" --resolve other.test:443:127.0.0.1 https://other.test/
        fails "unprivileged: no DNS" sbu getent hosts other.test
        fails "unprivileged: the host's loopback is out of reach" \
            sbu bash -c "exec 3<>/dev/tcp/127.0.0.1/$SP"
        out=$(sbu sh -c 'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " "; grep ^CapEff /proc/self/status')
        is "unprivileged: only loopback, no capability" "$out" "lo
CapEff:	0000000000000000"
        kill -TERM "$U_PID"
        wait "$U_PID"
        ok "unprivileged: stopped, run directory removed" test ! -e "$EG/u/run"
    fi
else
    echo "# skipped the unprivileged worker: no user namespaces for uid $UNPRIV"
fi

# ---- stop ------------------------------------------------------------------------
kill -TERM "$TRY_PID"
wait "$TRY_PID"
is "egress-try exits 0 after SIGTERM" "$?" 0
like "... having stopped the proxy" "$(tail -1 "$T/try.out")" '^stopped$'
ok "nginx is gone (its whole group)" bash -c "! pgrep -g $NGINX_PID >/dev/null"
ok "the run directory is removed" test ! -e "$EG/run"

done_testing
