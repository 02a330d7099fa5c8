# tests/integration/omnictl-lib.sh — helpers for the t2xxx-omnictl-*.t tests.
# Source after tests/lib.sh. Keys reach omnictl only through its environment
# or key files, never its argv; curl here reads them from header files.

# ctl ARGS...: run omnictl with the sim's org key and base URL in its environment.
ctl() {
    ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY ANTHROPIC_BASE_URL=$ANTHROPIC_BASE_URL \
        "$BIN/omnictl" "$@"
}

# ctl_config [extra lines]: write the env key file (0600) and a config naming
# it and the default environment.
ctl_config() {
    mkdir -p "$XDG_CONFIG_HOME/omni"
    ENV_KEY_FILE=$T/env.key
    printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$ENV_KEY_FILE"
    chmod 600 "$ENV_KEY_FILE"
    {
        echo "environment = $ANTHROPIC_ENVIRONMENT_ID"
        echo "env_key_file.$ANTHROPIC_ENVIRONMENT_ID = $ENV_KEY_FILE"
        for l in "$@"; do echo "$l"; done
    } >"$XDG_CONFIG_HOME/omni/config"
}

# Header files so keys stay out of curl's argv.
_ctl_headers() {
    printf 'Authorization: Bearer %s\nanthropic-version: 2023-06-01\nanthropic-beta: managed-agents-2026-04-01\nAnthropic-Worker-ID: omnictl-test-worker\n' \
        "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/env.hdr"
}

# claim_work: act as a worker once — poll, ack and first heartbeat. Prints the work id.
claim_work() {
    _ctl_headers
    local env=$ANTHROPIC_ENVIRONMENT_ID body wid
    body=$(curl -sf --max-time 5 -H @"$T/env.hdr" "$SIM_URL/v1/environments/$env/work/poll?block_ms=999") || return 1
    wid=$(jget "$body" id) || return 1
    curl -sf --max-time 5 -X POST -H @"$T/env.hdr" "$SIM_URL/v1/environments/$env/work/$wid/ack" >/dev/null || return 1
    echo "$wid"
}

# heartbeat WORK: first heartbeat (moves starting -> active).
heartbeat() {
    _ctl_headers
    curl -sf --max-time 5 -X POST -H @"$T/env.hdr" \
        "$SIM_URL/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$1/heartbeat?expected_last_heartbeat=NO_HEARTBEAT" >/dev/null
}

# poll_only: a poll that records a polling worker (and leaves the item pending).
poll_only() {
    _ctl_headers
    curl -sf --max-time 5 -H @"$T/env.hdr" "$SIM_URL/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll?block_ms=1" >/dev/null
}

# new_session [scenario]: create a session in the default env; prints its id.
new_session() {
    ctl sessions create --agent "$OMNI_SIM_AGENT_ID" --env "$ANTHROPIC_ENVIRONMENT_ID" \
        --metadata "sim_scenario=${1:-bash-once}" --message "hello"
}

# exporter_start ARGS...: `omnictl exporter` on a free loopback port in the
# background (stopped by the cleanup); sets URL (its /metrics) and EXP_PID.
exporter_start() {
    : >"$T/exp.err"
    ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY ANTHROPIC_BASE_URL=$ANTHROPIC_BASE_URL \
        bg "$BIN/omnictl" exporter --listen 127.0.0.1:0 "$@" 2>"$T/exp.err"
    EXP_PID=$BG_PID
    until_ok 10 grep -q 'listening on' "$T/exp.err" || { echo "Bail out! exporter: $(cat "$T/exp.err")"; exit 1; }
    URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$T/exp.err" | head -1)
}
