#!/usr/bin/env bash
# omnictl credentials, config, profiles, usage errors and exit codes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 6 --request-log "$T/req.log"
ENV=$ANTHROPIC_ENVIRONMENT_ID
O=$BIN/omnictl

# one_line_error CMD...: runs, checks empty stdout and a single stderr line; prints rc.
run() { "$@" >"$T/o" 2>"$T/e"; echo $?; }
clean_fail() {
    is "$1: nothing on stdout" "$(cat "$T/o")" ""
    is "$1: one line on stderr" "$(wc -l <"$T/e")" 1
}

is "no key at all: exit 3" "$(ANTHROPIC_BASE_URL=$SIM_URL run "$O" stats)" 3
like "  says how to provide one" "$(cat "$T/e")" 'ANTHROPIC_API_KEY.*api_key_file'
clean_fail "no key"

before=$(jget "$(sim_report)" requests.total)
is "environment key given as org key: exit 3" \
    "$(ANTHROPIC_API_KEY=$ANTHROPIC_ENVIRONMENT_KEY ANTHROPIC_BASE_URL=$SIM_URL run "$O" stats)" 3
like "  says it is an environment key" "$(cat "$T/e")" 'holds an environment key'
unlike "  never prints the key" "$(cat "$T/e")" "$ANTHROPIC_ENVIRONMENT_KEY"
clean_fail "env key as org key"
is "  the refusal comes before any request (only the report calls counted)" "$(jget "$(sim_report)" requests.total)" "$((before + 1))"

is "wrong org key: exit 3 (401)" "$(ANTHROPIC_API_KEY=sk-ant-api03-wrong ANTHROPIC_BASE_URL=$SIM_URL run "$O" env list)" 3
like "  shows the API's message and request id" "$(cat "$T/e")" '401 authentication_error.*request-id req_'
clean_fail "wrong key"

# Key file in the profile.
mkdir -p "$XDG_CONFIG_HOME/omni"
printf '%s\n' "$ANTHROPIC_API_KEY" >"$T/org.key"
chmod 600 "$T/org.key"
cat >"$XDG_CONFIG_HOME/omni/config" <<EOC
[default]
base_url = http://127.0.0.1:1
[profile sim]
base_url = $SIM_URL
api_key_file = $T/org.key
environment = $ENV
EOC
is "profile via --profile: key file + base_url" "$(run "$O" --profile sim stats -o json)" 0
is "  stats of the profile's environment" "$(jget "$(cat "$T/o")" environments.0.id)" "$ENV"
is "profile via OMNI_PROFILE" "$(OMNI_PROFILE=sim run "$O" stats)" 0
is "default profile points at a closed port: exit 1" "$(ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY run "$O" --timeout 2s env list)" 1
clean_fail "connection refused"
is "ANTHROPIC_BASE_URL beats the profile's base_url" "$(ANTHROPIC_BASE_URL=$SIM_URL ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY run "$O" env list)" 0
is "--base-url beats ANTHROPIC_BASE_URL" "$(ANTHROPIC_BASE_URL=$SIM_URL run "$O" --profile sim --base-url http://127.0.0.1:1 --timeout 2s env list)" 1
is "unknown profile: exit 3" "$(run "$O" --profile nope stats)" 3
like "  names the profile" "$(cat "$T/e")" '"nope"'
chmod 644 "$T/org.key"
is "group-readable org key file refused: exit 3" "$(run "$O" --profile sim stats)" 3
like "  says chmod 600" "$(cat "$T/e")" '600'
unlike "  never the key" "$(cat "$T/e")" "$ANTHROPIC_API_KEY"
clean_fail "loose key file"
chmod 600 "$T/org.key"
printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/org.key"
is "env key in api_key_file refused: exit 3" "$(run "$O" --profile sim stats)" 3
printf '%s\n' "$ANTHROPIC_API_KEY" >"$T/org.key"
echo "bogus_key = 1" >>"$XDG_CONFIG_HOME/omni/config"
is "config error: exit 3" "$(run "$O" --profile sim stats)" 3
like "  names file and line" "$(cat "$T/e")" 'config:[0-9]+'
clean_fail "config error"
rm -f "$XDG_CONFIG_HOME/omni/config"

# No option ever takes a key.
opts=$("$O" __options)
ok "__options lists options" test -n "$opts"
unlike "no option takes a key/token/secret" "$opts" 'key|token|secret|password'
is "--api-key is an unknown option: exit 2" "$(run "$O" --api-key x stats)" 2
clean_fail "--api-key"

# -v: redacted trace on stderr.
ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY ANTHROPIC_BASE_URL=$SIM_URL "$O" -v env list >/dev/null 2>"$T/e"
like "-v traces requests" "$(cat "$T/e")" 'GET /v1/environments'
like "-v redacts the key" "$(cat "$T/e")" 'x-api-key: \[redacted\]'
unlike "-v never shows the key" "$(cat "$T/e")" "$ANTHROPIC_API_KEY"

# Usage errors.
is "unknown command: exit 2" "$(run ctl frobnicate)" 2
like "  says so" "$(cat "$T/e")" 'unknown command "frobnicate"'
clean_fail "unknown command"
is "unknown flag: exit 2" "$(run ctl stats --bogus)" 2
like "  names the flag" "$(cat "$T/e")" '"--bogus"'
clean_fail "unknown flag"
is "missing option value: exit 2" "$(run ctl stats --warn-depth)" 2
is "bad -o: exit 2" "$(run ctl stats -o yaml)" 2
is "prom output where unsupported: exit 2" "$(run ctl env list -o prom)" 2
is "bad --timeout: exit 2" "$(run ctl --timeout never stats)" 2
is "stats ids and --all: exit 2" "$(run ctl stats --all "$ENV")" 2
is "stats bad env id: exit 2" "$(run ctl stats 'env x')" 2
is "stats unknown env: exit 4" "$(run ctl stats env_01NOPE)" 4
like "  API message" "$(cat "$T/e")" '404 not_found_error'
is "unique prefix works (sta = stats)" "$(run ctl sta)" 0
is "ambiguous prefix: exit 2" "$(run ctl s)" 2
is "bare omnictl without a terminal: exit 2" "$(run "$O" </dev/null)" 2

# workspaces: --workspace > ANTHROPIC_WORKSPACE_ID > the profile's workspace_id,
# sent as anthropic-workspace-id on every request (the sim logs it)
cat >"$T/ws.cfg" <<EOC
[default]
base_url = $SIM_URL
api_key_file = $T/org.key
environment = $ENV
[profile ws]
workspace_id = wrkspc_prof
EOC
printf '%s\n' "$ANTHROPIC_API_KEY" >"$T/org.key"
chmod 600 "$T/org.key"
wsrun() { : >"$T/req.log"; OMNI_CONFIG=$T/ws.cfg run "$O" "$@"; }
ws_of() { sed -n 's/.* workspace=\([^ ]*\)$/\1/p' "$T/req.log" | sort -u | tr '\n' ' '; }
is "no workspace anywhere: exit 0" "$(wsrun stats)" 0
is "  no anthropic-workspace-id sent" "$(grep -c workspace= "$T/req.log")" 0
is "profile workspace_id: exit 0" "$(wsrun --profile ws stats)" 0
is "  every request carries it" "$(ws_of) $(grep -vc ' workspace=wrkspc_prof$' "$T/req.log")" "wrkspc_prof  0"
is "ANTHROPIC_WORKSPACE_ID beats the profile" "$(ANTHROPIC_WORKSPACE_ID=wrkspc_env wsrun --profile ws env list)" 0
is "  sent" "$(ws_of)" "wrkspc_env "
is "--workspace beats ANTHROPIC_WORKSPACE_ID" "$(ANTHROPIC_WORKSPACE_ID=wrkspc_env wsrun --workspace wrkspc_flag --profile ws sessions list)" 0
is "  sent" "$(ws_of)" "wrkspc_flag "
is "malformed --workspace: exit 2" "$(wsrun --workspace 'ws 1' stats)" 2
like "  names the flag" "$(cat "$T/e")" '^omnictl: --workspace "ws 1" is not a workspace id'
clean_fail "bad --workspace"
is "  before any request" "$(wc -l <"$T/req.log")" 0
is "malformed ANTHROPIC_WORKSPACE_ID: exit 2" "$(ANTHROPIC_WORKSPACE_ID='a/b' wsrun stats)" 2
like "  names the variable" "$(cat "$T/e")" 'ANTHROPIC_WORKSPACE_ID "a/b" is not a workspace id'
clean_fail "bad ANTHROPIC_WORKSPACE_ID"
is "over-long --workspace (128 bytes): exit 2" "$(wsrun --workspace "$(printf 'w%.0s' $(seq 128))" stats)" 2
printf '[default]\nbase_url = %s\napi_key_file = %s\nworkspace_id = bad!id\n' "$SIM_URL" "$T/org.key" >"$T/wsbad.cfg"
is "malformed workspace_id in the config: exit 3" "$(OMNI_CONFIG=$T/wsbad.cfg run "$O" stats)" 3
like "  names the file, line and key" "$(cat "$T/e")" 'wsbad.cfg:4: .*"workspace_id" is not a workspace id'
clean_fail "bad workspace_id"

# help, version
like "--version" "$("$O" --version)" '^omnictl [0-9]+\.[0-9]+'
out=$("$O" help)
like "help lists stats" "$out" 'stats \[-o table\|wide\|json\|prom\|nagios\]'
like "help lists sessions create" "$out" 'sessions create --agent ID'
like "help lists exit codes" "$out" 'exit codes'
like "help stats" "$("$O" help stats)" '^usage: omnictl stats'
like "help sessions events" "$("$O" help sessions events)" '^usage: omnictl sessions events'
like "stats -h" "$("$O" stats -h)" '^usage: omnictl stats'
like "-h" "$("$O" -h)" '^usage: omnictl'

done_testing
