#!/usr/bin/env bash
# omni-sim over HTTPS (--tls-cert/--tls-key) with a private CA: clients that
# trust the CA work end to end (omnictl via ca_file, omni-worker via --ca-file),
# clients that do not are refused.
. "$(dirname "$0")/../lib.sh"

command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing"; exit 0; }
cd "$T" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=omni test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
    -extfile ext 2>/dev/null

fails "--tls-cert without --tls-key is a usage error" "$BIN/omni-sim" --port 0 --tls-cert srv.pem
is "... with exit code 2" "$(
    "$BIN/omni-sim" --port 0 --tls-cert srv.pem >/dev/null 2>&1
    echo $?
)" 2
fails "a key file that is not PEM is refused" "$BIN/omni-sim" --port 0 --tls-cert srv.pem \
    --tls-key ext

sim_start --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
like "the env file names an https URL" "$SIM_URL" '^https://127\.0\.0\.1:[0-9]+$'
ok "curl trusting the private CA reaches the sim" curl -sf --max-time 5 --cacert ca.pem \
    "$SIM_URL/_sim/report"
fails "curl without the CA is refused" curl -sf --max-time 5 "$SIM_URL/_sim/report"

umask 077
printf '%s\n' "$ANTHROPIC_API_KEY" >org.key
mkdir -p "$XDG_CONFIG_HOME/omni"
printf '[default]\napi_key_file = %s\nbase_url = %s\n' "$T/org.key" "$SIM_URL" \
    >"$XDG_CONFIG_HOME/omni/config"
fails "omnictl without the CA is refused" "$BIN/omnictl" stats
like "... with a certificate error" "$(cat "$T/last.err")" '(certificate|SSL|TLS)'
printf 'ca_file = %s\n' "$T/ca.pem" >>"$XDG_CONFIG_HOME/omni/config"
ok "omnictl with ca_file works over TLS" "$BIN/omnictl" stats
sid=$("$BIN/omnictl" sessions create --agent "$OMNI_SIM_AGENT_ID" --env "$ANTHROPIC_ENVIRONMENT_ID" \
    --metadata sim_scenario=bash-once --message "hello over TLS")
like "omnictl creates a session over TLS" "$sid" '^sesn_'

ANTHROPIC_ENVIRONMENT_KEY=$ANTHROPIC_ENVIRONMENT_KEY ANTHROPIC_ENVIRONMENT_ID=$ANTHROPIC_ENVIRONMENT_ID \
ANTHROPIC_BASE_URL=$SIM_URL bg "$BIN/omni-worker" poll --ca-file "$T/ca.pem" --max-idle 1s \
    --poll-idle-ms 50-150 --workdir "$T/work" 2>"$T/worker.log"
completed() {
    [ "$(curl -sf --max-time 5 --cacert "$T/ca.pem" "$SIM_URL/_sim/report" |
        "$TOP/tests/jget" sessions_completed)" = 1 ]
}
wait_for 30 "omni-worker with --ca-file serves the session over TLS" completed
r=$(curl -sf --max-time 5 --cacert ca.pem "$SIM_URL/_sim/report")
is "the call was answered once" "$(jget "$r" results_received)" "$(jget "$r" tool_calls_emitted)"
is "no duplicate results" "$(jget "$r" duplicate_results)" 0
done_testing
