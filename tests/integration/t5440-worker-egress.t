#!/usr/bin/env bash
# The egress allow-list through the worker (--egress-allow), end to end on
# loopback: in a microVM (QEMU's user-mode network, restricted, with only
# the proxy's two ports forwarded) and in a bwrap sandbox (a relay into a
# network namespace with only loopback). A listed name is reachable over
# https and http; a name not listed, a raw IP, the host's loopback and DNS
# fail. The far side (a private CA, an upstream nginx, dnsmasq) is
# egress-lib.sh's; the proxy is the worker's own nginx (worker/egress.c).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

PATH=$PATH:/usr/sbin:/sbin
VMDIR=${OMNI_VM_DIR:-$TOP/bin/microvm}
missing=
for p in nginx dnsmasq socat openssl curl bwrap setpriv qemu-system-x86_64; do
    command -v "$p" >/dev/null || missing="$missing $p"
done
[ -r /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing ngx_stream_module.so"
[ -r "$VMDIR/vmlinuz" ] || missing="$missing the-guest-image($VMDIR: make microvm)"
[ "$(id -u)" = 0 ] || missing="$missing root"
if [ -n "$missing" ]; then
    echo "1..0 # SKIP needs:$missing"
    exit 0
fi
export OMNI_VM_DIR=$VMDIR
scratch_root egw

. "$TOP/tests/integration/egress-lib.sh"
sim_start

run_mode() { # MODE PROXY_IP
    local M=$1 IP=$2
    echo "# ---- --sandbox $M ----"
    : >"$T/worker.log"
    wk_bg poll --sandbox "$M" --concurrency 1 --max-idle 2s --poll-idle-ms 50-150 \
        --vm-accel tcg --vm-memory 256M --limit-memory 1G --workdir "$WROOT/work-$M" \
        --egress-allow allowed.test --egress-resolver "127.0.0.1:$DP" --egress-ports "$SP:$HP" \
        </dev/null >>"$T/worker.out"
    cmd_session \
        "curl -sk --max-time 20 https://allowed.test/ 2>&1" \
        "curl -s --max-time 20 http://allowed.test/ 2>&1" \
        "curl -sk --max-time 10 https://other.test/ >/dev/null 2>&1; echo rc=\$?" \
        "curl -sk --max-time 10 --resolve other.test:443:$IP https://other.test/ 2>&1; echo rc=\$?" \
        "curl -sk --max-time 10 https://$IP/ 2>&1; echo rc=\$?" \
        "curl -s --max-time 10 -H 'Host: other.test' http://$IP/ 2>&1; echo; curl -s --max-time 5 http://127.0.0.1:$HP/ >/dev/null 2>&1; echo host-loopback-rc=\$?" \
        "getent hosts other.test || echo dns:none; python3 -c 'import socket; s=socket.socket(2,2); s.settimeout(2); s.sendto(bytes.fromhex(\"12340100000100000000000005616c6c6f77656404746573740000010001\"), (\"$IP\", 53)); print(s.recv(512))' 2>&1 | tail -1"
    local S=$SID
    # a session's metadata narrows the worker's list, never widens it
    CMD_SESSION_META='{"egress_allow":"other.test, allowed.test"}' cmd_session \
        "curl -sk --max-time 20 https://allowed.test/ 2>&1; getent hosts other.test || echo other:none"
    local N1=$SID
    CMD_SESSION_META='{"egress_allow":"other.test"}' cmd_session \
        "curl -sk --max-time 10 https://allowed.test/ >/dev/null 2>&1; echo rc=\$?"
    local N2=$SID
    wait_for 150 "$M: the egress session is served" sess_completed "$S"
    like "$M: a listed name over https reaches its host" "$(result "$S" 1)" 'upstream https host=allowed.test'
    like "$M: ... and over http" "$(result "$S" 2)" 'upstream http host=allowed.test'
    like "$M: a name not listed does not resolve" "$(result "$S" 3)" 'rc=6'
    local r
    r=$(result "$S" 4)
    unlike "$M: a name not listed is refused by the proxy (SNI)" "$r" 'upstream'
    unlike "$M: ... the request fails" "$r" 'rc=0$'
    r=$(result "$S" 5)
    unlike "$M: a raw IP (no SNI) is refused" "$r" 'upstream'
    r=$(result "$S" 6)
    like "$M: http with a Host not listed gets 403" "$r" '403'
    unlike "$M: ... and never the upstream" "$r" 'upstream'
    unlike "$M: the host's loopback is out of reach" "$r" 'host-loopback-rc=0$'
    r=$(result "$S" 7)
    like "$M: no DNS for other names" "$r" 'dns:none'
    unlike "$M: no DNS server answers" "$r" "^b'"
    wait_for 150 "$M: the metadata sessions are served" sess_completed "$N2"
    until_ok 30 sess_completed "$N1"
    like "$M: metadata listing an allowed name keeps it" "$(result "$N1" 1)" 'upstream https host=allowed.test'
    like "$M: ... and leaves out a name the worker does not allow" "$(result "$N1" 1)" 'other:none'
    like "$M: metadata with no allowed name: no egress at all" "$(result "$N2" 1)" 'rc=[1-9]'
    like "$M: the refused name is logged" "$(cat "$T/worker.log")" 'does not allow; left out.*name=other.test'
    kill -TERM "$WK_PID"
    wk_wait 40
    ok "$M: the worker stops" test "$WK_RC" != timeout
    ok "$M: its proxies are gone" sh -c "! pgrep -f '[n]ginx.*omni-egress/' >/dev/null"
}

run_mode microvm 10.0.2.100
run_mode bwrap 127.0.0.1
check_report "egress sessions"
done_testing
