#!/usr/bin/env bash
# TLS with a private CA: omnictl and omni-worker verify the server's
# certificate and host name; a private CA is trusted only when named
# (omnictl: config ca_file; omni-worker: --ca-file).
#
# The TLS endpoint is `openssl s_server -HTTP` on 127.0.0.1 serving canned
# responses from a directory (omni-sim has no TLS listener): enough to tell a
# refused handshake from a completed request.
. "$(dirname "$0")/../lib.sh"

command -v openssl >/dev/null || { echo "1..0 # SKIP openssl not installed"; exit 0; }

ORG_KEY=sk-ant-api03-tls-test-$RANDOM$RANDOM-org
ENV_KEY=sk-ant-oat01-tls-test-$RANDOM$RANDOM-env
mkdir -p "$T/pki" "$T/www/v1/environments" "$XDG_CONFIG_HOME/omni"

# ---- a private CA, a server cert for IP 127.0.0.1, one for another name ----
pki() { (cd "$T/pki" && "$@") >>"$T/pki.log" 2>&1; }
pki openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -days 2 -subj /CN=omni-test-ca
pki openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key \
    -out other-ca.pem -days 2 -subj /CN=omni-other-ca
mkcert() { # name SAN
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$T/pki/$1.ext"
    pki openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.csr" -subj "/CN=$1"
    pki openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
        -days 2 -extfile "$1.ext"
}
mkcert good IP:127.0.0.1
mkcert wrong DNS:wrong.example.invalid
ok "private CA and server certificates generated" test -s "$T/pki/good.pem" -a -s "$T/pki/wrong.pem"

printf 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id":"env_tls01","name":"tls-env","description":null,"type":"self_hosted","created_at":"2026-01-01T00:00:00Z","archived_at":null}' \
    >"$T/www/v1/environments/env_tls01"

# tls_start CERTNAME: s_server on a free loopback port; sets TLS_URL, TLS_OUT
tls_start() {
    TLS_OUT=$T/s_server.$1.out
    ( cd "$T/www" && exec openssl s_server -accept 127.0.0.1:0 -cert "$T/pki/$1.pem" \
        -key "$T/pki/$1.key" -HTTP ) >"$TLS_OUT" 2>&1 &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
    until_ok 10 grep -q '^ACCEPT 127.0.0.1:' "$TLS_OUT" ||
        { echo "Bail out! openssl s_server did not start: $(head -3 "$TLS_OUT")"; exit 1; }
    TLS_URL=https://127.0.0.1:$(sed -n 's/^ACCEPT 127.0.0.1://p' "$TLS_OUT" | head -1)
}

ctl_tls() { # runs omnictl against TLS_URL; output in $T/ctl.out, $T/ctl.err; sets RC
    ANTHROPIC_API_KEY=$ORG_KEY ANTHROPIC_BASE_URL=$TLS_URL timeout 30 "$BIN/omnictl" "$@" \
        >"$T/ctl.out" 2>"$T/ctl.err"
    RC=$?
}
cfg() { printf '%s\n' "$@" >"$XDG_CONFIG_HOME/omni/config"; }

tls_start good

# ---- omnictl ------------------------------------------------------------------
cfg "timeout = 10s"
ctl_tls env show env_tls01
is "omnictl without the CA: exit 1" "$RC" 1
like "omnictl without the CA: certificate error" "$(cat "$T/ctl.err")" \
    'omnictl: GET /v1/environments/env_tls01: .*(certificate|issuer)'
is "omnictl without the CA: one line of error" "$(wc -l <"$T/ctl.err")" 1
is "omnictl without the CA: nothing on stdout" "$(wc -c <"$T/ctl.out")" 0

cfg "timeout = 10s" "ca_file = $T/pki/other-ca.pem"
ctl_tls env show env_tls01
is "omnictl with another CA: exit 1" "$RC" 1
like "omnictl with another CA: certificate error" "$(cat "$T/ctl.err")" '(certificate|issuer)'

cfg "timeout = 10s" "ca_file = $T/pki/ca.pem"
ctl_tls env show env_tls01
is "omnictl with ca_file: exit 0" "$RC" 0
like "omnictl with ca_file: the environment is shown" "$(cat "$T/ctl.out")" 'env_tls01'
is "omnictl with ca_file: no error text" "$(cat "$T/ctl.err")" ""

cfg "timeout = 10s" "ca_file = $T/pki/missing-ca.pem"
ctl_tls env show env_tls01
is "omnictl with a missing ca_file: exit 1" "$RC" 1
unlike "omnictl with a missing ca_file: no success output" "$(cat "$T/ctl.out")" 'env_tls01'

# The right CA but the URL names another host than the certificate.
cfg "timeout = 10s" "ca_file = $T/pki/ca.pem"
TLS_URL_GOOD=$TLS_URL
TLS_URL=${TLS_URL_GOOD/127.0.0.1/localhost}
ctl_tls env show env_tls01
is "omnictl, name mismatch (localhost vs IP SAN): exit 1" "$RC" 1
like "omnictl, name mismatch: says so" "$(cat "$T/ctl.err")" '(subject name|does not match|host name)'

# A certificate for another name, signed by the trusted CA.
tls_start wrong
ctl_tls env show env_tls01
is "omnictl, certificate for another name: exit 1" "$RC" 1
like "omnictl, certificate for another name: name error" "$(cat "$T/ctl.err")" \
    '(subject name|does not match|host name)'
TLS_URL=$TLS_URL_GOOD

# ---- omni-worker ----------------------------------------------------------------
# wk_tls SECONDS ARGS...: run a poll worker for a while, then SIGTERM; log in $T/wk.log
wk_tls() {
    local secs=$1; shift
    : >"$T/wk.log"
    env ANTHROPIC_ENVIRONMENT_KEY=$ENV_KEY ANTHROPIC_ENVIRONMENT_ID=env_tls01 \
        "$BIN/omni-worker" poll --base-url "$TLS_URL" --workdir "$T/wd" "$@" 2>"$T/wk.log" &
    local pid=$!
    _bg_pids+=("$pid")
    sleep "$secs"
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid"
    RC=$?
}

wk_tls 3
like "omni-worker without the CA: certificate error logged" "$(cat "$T/wk.log")" \
    'poll failed.*(certificate|issuer)'
is "omni-worker without the CA: clean exit on SIGTERM" "$RC" 0

wk_tls 3 --ca-file "$T/pki/ca.pem"
unlike "omni-worker with --ca-file: no certificate error" "$(cat "$T/wk.log")" '(certificate|issuer)'
# s_server answers the poll path (not a canned file) with a plain-text 200:
# getting as far as "not valid JSON" proves the TLS handshake and request worked.
like "omni-worker with --ca-file: the request completed over TLS" "$(cat "$T/wk.log")" \
    'poll failed.*not valid JSON'
is "omni-worker with --ca-file: clean exit on SIGTERM" "$RC" 0

TLS_URL=${TLS_URL_GOOD/127.0.0.1/localhost}
wk_tls 3 --ca-file "$T/pki/ca.pem"
like "omni-worker, name mismatch: refused" "$(cat "$T/wk.log")" \
    'poll failed.*(subject name|does not match|host name)'

# ---- no key in any of it -------------------------------------------------------
unlike "no key in any captured output" \
    "$(cat "$T"/ctl.* "$T"/wk.log "$T"/s_server.*.out 2>/dev/null)" "($ORG_KEY|$ENV_KEY)"

done_testing
