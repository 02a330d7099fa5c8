#!/usr/bin/env bash
# omni-sim start-up: env file, listening line, key provisioning, flags, signals.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start
like "listening line" "$(cat "$T/sim.out")" '^listening on http://127\.0\.0\.1:[0-9]+$'
is "env file mode 0600" "$(stat -c %a "$SIM_ENV")" 600
like "base url" "$ANTHROPIC_BASE_URL" '^http://127\.0\.0\.1:[0-9]+$'
like "org key" "$ANTHROPIC_API_KEY" '^sk-ant-api03-'
like "env id" "$ANTHROPIC_ENVIRONMENT_ID" '^env_'
like "env key" "$ANTHROPIC_ENVIRONMENT_KEY" '^sk-ant-oat01-'
like "agent id" "$OMNI_SIM_AGENT_ID" '^agent_'
is "env file has exactly five lines" "$(wc -l <"$SIM_ENV")" 5
unlike "no temp file left" "$(ls "$T")" 'sim\.env\.tmp'
unlike "log never shows the org key" "$(cat "$SIM_LOG")" "$ANTHROPIC_API_KEY"
like "seed logged" "$(cat "$SIM_LOG")" 'seed=[0-9]+'

api org GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID"
is "initial environment exists" "$STATUS" 200
is "initial environment is self-hosted" "$(jget "$BODY" config.type)" self_hosted
api org GET "/v1/agents/$OMNI_SIM_AGENT_ID"
is "initial agent exists" "$STATUS" 200
api none GET /_sim/report
is "report reachable on loopback" "$STATUS" 200

kill -TERM "$SIM_PID"
wait "$SIM_PID"
is "SIGTERM exits 0" "$?" 0

# provisioned keys
printf 'sk-ant-api03-provisioned-org-key\n' >"$T/org.key"
printf 'sk-ant-oat01-provisioned-env-key\n' >"$T/env.key"
chmod 600 "$T/org.key" "$T/env.key"
bg "$BIN/omni-sim" --port 0 --env-file "$T/p.env" --org-key-file "$T/org.key" \
    --env-key-file "$T/env.key" --seed 7 >"$T/p.out" 2>"$T/p.log"
P=$BG_PID
until_ok 10 test -s "$T/p.env"
(. "$T/p.env"; [ "$ANTHROPIC_API_KEY" = sk-ant-api03-provisioned-org-key ]) ; is "org key from file" $? 0
(. "$T/p.env"; [ "$ANTHROPIC_ENVIRONMENT_KEY" = sk-ant-oat01-provisioned-env-key ]) ; is "env key from file" $? 0
like "seed flag honoured" "$(cat "$T/p.log")" 'seed=7'
kill -INT "$P"; wait "$P"
is "SIGINT exits 0" "$?" 0

chmod 644 "$T/org.key"
"$BIN/omni-sim" --port 0 --org-key-file "$T/org.key" >/dev/null 2>"$T/bad.err"
is "group-readable key file refused (exit 3)" "$?" 3
like "key file error names the file" "$(cat "$T/bad.err")" "org.key"
unlike "key never printed" "$(cat "$T/bad.err")" "provisioned-org-key"

"$BIN/omni-sim" --lease-ttl abc >/dev/null 2>"$T/u.err"
is "bad flag exits 2" "$?" 2
like "bad flag message" "$(cat "$T/u.err")" "invalid --lease-ttl 'abc'"
"$BIN/omni-sim" --fault-5xx 1.5 >/dev/null 2>&1
is "fraction out of range exits 2" "$?" 2
"$BIN/omni-sim" --stop-reply 201 >/dev/null 2>&1
is "bad stop reply exits 2" "$?" 2
"$BIN/omni-sim" --help >"$T/help.out"
is "--help exits 0" "$?" 0
like "--help shows usage" "$(cat "$T/help.out")" '^usage: omni-sim'
# --help comes from the option table: every option it names is in the man page
for opt in $(grep -oE -- '--[a-z0-9-]+' "$T/help.out" | sort -u); do
    ok "man page documents $opt" grep -qE -- "Fl -${opt#--}( |\$)" "$TOP/man/omni-sim.1"
done
"$BIN/omni-sim" --listen 999.1.1.1 --port 0 >/dev/null 2>&1
is "bad listen address exits 1" "$?" 1

done_testing
