#!/usr/bin/env bash
# omni-worker exit statuses follow lib/exitcode.h: a key refused by the API
# (401/403 on poll) is 3 (credentials), like a loose key file; usage stays 2;
# an unknown environment (404) is 4. The unit file does not restart on 3, and
# the man page's EXIT STATUS is exactly the table.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
W=$BIN/omni-worker
run_w() { # KEY ENVID ARGS... -> RC, stderr in $T/e
    local key=$1 envid=$2; shift 2
    env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$envid" ANTHROPIC_ENVIRONMENT_KEY="$key" \
        timeout 20 "$W" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

run_w sk-ant-oat01-not-a-real-key "$ANTHROPIC_ENVIRONMENT_ID" poll --workdir "$T/w"
is "unknown key (401 on poll): exit 3" "$RC" 3
like "says the poll was refused" "$(cat "$T/e")" "poll refused"
unlike "key not shown" "$(cat "$T/e")" "not-a-real-key"

printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/key"
chmod 644 "$T/key"
env ANTHROPIC_BASE_URL="$SIM_URL" timeout 20 "$W" poll --environment-id "$ANTHROPIC_ENVIRONMENT_ID" \
    --environment-key-file "$T/key" --workdir "$T/w" >"$T/o" 2>"$T/e"
is "0644 key file: exit 3" "$?" 3
unlike "key not shown" "$(cat "$T/e")" "$ANTHROPIC_ENVIRONMENT_KEY"

run_w "$ANTHROPIC_ENVIRONMENT_KEY" "$ANTHROPIC_ENVIRONMENT_ID" poll --no-such-option
is "usage error: exit 2" "$RC" 2
run_w "$ANTHROPIC_ENVIRONMENT_KEY" "$ANTHROPIC_ENVIRONMENT_ID" poll --concurrency 0
is "bad value: exit 2" "$RC" 2

api org POST /v1/environments '{"name":"gone","config":{"type":"self_hosted"}}'
GONE=$(jget "$BODY" id)
api org POST "/v1/environments/$GONE/archive"
api org DELETE "/v1/environments/$GONE"
run_w "$ANTHROPIC_ENVIRONMENT_KEY" "$GONE" poll --workdir "$T/w"
like "another (deleted) environment: 3 (403) or 4 (404), never a restart loop" "$RC" '^(3|4)$'

# the unit file: no restart on 3, restarts on 1; reload sends SIGHUP
U=$TOP/worker/omni-worker.service
like "RestartPreventExitStatus names 3" "$(grep '^RestartPreventExitStatus=' "$U")" '[= ]3( |$)'
unlike "RestartPreventExitStatus does not name 1" "$(grep '^RestartPreventExitStatus=' "$U")" '[= ]1( |$)'
is "Restart=on-failure" "$(grep '^Restart=' "$U")" "Restart=on-failure"

# the man page's EXIT STATUS lists exactly lib/exitcode.h's codes
want=$(grep -oE 'OMNI_EXIT_[A-Z]+ = [0-9]+' "$TOP/lib/exitcode.h" | awk '{print $3}' | sort -n | tr '\n' ' ')
got=$(awk '/^\.Sh EXIT STATUS/{f=1;next} /^\.Sh/{f=0} f && /^\.It [0-9]+$/{print $2}' "$TOP/man/omni-worker.8" | sort -n | tr '\n' ' ')
is "omni-worker.8 EXIT STATUS = lib/exitcode.h" "$got" "$want"
done_testing
