#!/usr/bin/env bash
# omni-worker credential intake: org keys refused (exit 3, value never shown),
# keys never from argv, key files must be private, the environment key is
# scrubbed from /proc/<pid>/environ and the process is not dumpable (a shell
# of the same uid cannot read its environ or mem).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start --request-log "$T/req.log"
W=$BIN/omni-worker

# --- refusal of organisation keys -------------------------------------------
ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY wk "$W" poll --workdir "$T/w" >"$T/o" 2>"$T/e"
is "ANTHROPIC_API_KEY set: exit 3" "$?" 3
like "message names the variable" "$(cat "$T/e")" "ANTHROPIC_API_KEY is set"
unlike "message never shows the value" "$(cat "$T/e" "$T/o")" "$ANTHROPIC_API_KEY"

MY_SNEAKY=$ANTHROPIC_API_KEY wk env MY_SNEAKY="$ANTHROPIC_API_KEY" "$W" poll >"$T/o" 2>"$T/e"
is "org key in another variable: exit 3" "$?" 3
like "message names that variable" "$(cat "$T/e")" "MY_SNEAKY holds an organisation API key"
unlike "value not shown" "$(cat "$T/e" "$T/o")" "$ANTHROPIC_API_KEY"

env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_API_KEY" "$W" poll >"$T/o" 2>"$T/e"
rc=$?
# the value starts with sk-ant-api, so it is caught by the environment scan
is "org key given as the environment key: exit 3" "$rc" 3
unlike "value not shown" "$(cat "$T/e" "$T/o")" "$ANTHROPIC_API_KEY"

# --- argv and key files ------------------------------------------------------
wk "$W" poll --environment-key sk-ant-oat01-fromargv >"$T/o" 2>"$T/e"
is "--environment-key on the command line: exit 2" "$?" 2
like "says why" "$(cat "$T/e")" "not accepted on the command line"
unlike "argv value not echoed" "$(cat "$T/e")" "fromargv"

printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/key"
chmod 644 "$T/key"
env ANTHROPIC_BASE_URL="$SIM_URL" "$W" poll --environment-id "$ANTHROPIC_ENVIRONMENT_ID" \
    --environment-key-file "$T/key" >"$T/o" 2>"$T/e"
is "loose key file: exit 3 (credentials)" "$?" 3
like "names the file and the fix" "$(cat "$T/e")" "chmod 600"
unlike "key not shown" "$(cat "$T/e")" "$ANTHROPIC_ENVIRONMENT_KEY"

env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" "$W" poll \
    >"$T/o" 2>"$T/e"
is "no environment id: exit 2" "$?" 2
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" "$W" poll \
    >"$T/o" 2>"$T/e"
is "no environment key: exit 3 (credentials)" "$?" 3
"$W" frobnicate >"$T/o" 2>"$T/e"
is "unknown command: exit 2" "$?" 2
"$W" version >"$T/o" 2>"$T/e"
is "version: exit 0" "$?" 0
like "version prints the program" "$(cat "$T/o")" "^omni-worker "
wk "$W" poll --bogus >"$T/o" 2>"$T/e"
is "unknown option: exit 2" "$?" 2

# a poll refused with 401 (bad key) stops the worker with exit 3 (credentials)
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-not-a-real-key timeout 20 "$W" poll --workdir "$T/w" \
    >"$T/o" 2>"$T/e"
is "rejected environment key (401): exit 3" "$?" 3
like "clear error" "$(cat "$T/e")" "poll refused"

# --- the key file works; the key leaves environ; not dumpable ------------------
chmod 600 "$T/key"
PUB=$(mktemp -d /tmp/omni-wk-pub.XXXXXX)
chmod 755 "$PUB"
mkdir "$PUB/w"
chown 65534:65534 "$PUB/w"
cp "$T/key" "$PUB/key" && chown 65534 "$PUB/key" && chmod 600 "$PUB/key"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
bg "${NOBODY[@]}" env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" "$W" poll --poll-idle-ms 100-200 \
    --workdir "$PUB/w" --max-idle 1s 2>"$T/nobody.log"
NB=$BG_PID
wait_for 10 "worker (as nobody) polls" grep -q "polling for work" "$T/nobody.log"
# (under valgrind, /proc/<pid>/environ shows valgrind's own start-up
# environment, not the one the worker cleared: these two checks need the
# program itself)
if [ "${OMNI_VALGRIND:-0}" != 1 ]; then
ok "environ (read by root) no longer holds the key value" \
    bash -c "! grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY' /proc/$NB/environ"
ok "environ no longer names the variable" bash -c "! tr '\\0' '\\n' </proc/$NB/environ | grep -q '^ANTHROPIC_ENVIRONMENT_KEY='"
fi
fails "same-uid shell cannot read /proc/<pid>/environ" "${NOBODY[@]}" cat /proc/$NB/environ
fails "same-uid shell cannot read /proc/<pid>/mem" "${NOBODY[@]}" head -c 16 /proc/$NB/mem
new_session bash-once
wait_for 20 "the nobody worker serves a session" all_done 1
check_report "as nobody"
kill -TERM "$NB"
for _ in $(seq 1 50); do kill -0 "$NB" 2>/dev/null || break; sleep 0.1; done
ok "nobody worker exited on SIGTERM" bash -c "! kill -0 $NB 2>/dev/null"
rm -rf "$PUB"

# --- a Kubernetes secret volume: 0440, owner root, group the pod's fsGroup -------
# (the worker runs as another uid and holds that group as a supplementary one)
K8S=$(mktemp -d /tmp/omni-wk-k8s.XXXXXX)
chmod 755 "$K8S"
mkdir "$K8S/w" && chown 65534:65534 "$K8S/w"
cp "$T/key" "$K8S/key" && chown 0:65533 "$K8S/key" && chmod 0440 "$K8S/key"
new_session bash-once
env ANTHROPIC_BASE_URL="$SIM_URL" timeout 30 setpriv --reuid=65534 --regid=65534 --groups=65533 \
    "$W" poll --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --environment-key-file "$K8S/key" \
    --max-items 1 --max-idle 1s --poll-idle-ms 50-100 --workdir "$K8S/w" >"$T/o" 2>"$T/e"
is "0440 key file of another uid, group the worker's supplementary one: served, exit 0" "$?" 0
wait_for 10 "the fsGroup worker's session completed" all_done 2
# the same file read by a process that does not hold the group is refused
env ANTHROPIC_BASE_URL="$SIM_URL" timeout 20 "$W" poll --environment-id "$ANTHROPIC_ENVIRONMENT_ID" \
    --environment-key-file "$K8S/key" --workdir "$T/w" >"$T/o" 2>"$T/e"
is "0440 key file of a group not the worker's: exit 3" "$?" 3
like "  names the chmod/chown that fixes it" "$(cat "$T/e")" "chmod 600 .* or chown :GROUP"
chmod 0460 "$K8S/key"
timeout 20 setpriv --reuid=65534 --regid=65534 --groups=65533 env ANTHROPIC_BASE_URL="$SIM_URL" "$W" poll \
    --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --environment-key-file "$K8S/key" \
    --workdir "$K8S/w" >"$T/o" 2>"$T/e"
is "group-writable key file (0460): exit 3" "$?" 3
like "  says group-writable" "$(cat "$T/e")" "writable or executable by its group"
rm -rf "$K8S"

# --- workspaces ------------------------------------------------------------------
wk timeout 20 "$W" poll --workspace 'ws!' --workdir "$T/w" >"$T/o" 2>"$T/e"
is "malformed --workspace: exit 2" "$?" 2
like "  names it" "$(cat "$T/e")" '--workspace "ws!" is not a workspace id'
ANTHROPIC_WORKSPACE_ID='a b' wk timeout 20 "$W" poll --workdir "$T/w" >"$T/o" 2>"$T/e"
is "malformed ANTHROPIC_WORKSPACE_ID: exit 2" "$?" 2
like "  names it" "$(cat "$T/e")" 'ANTHROPIC_WORKSPACE_ID "a b" is not a workspace id'

# --- the key file path end to end (root), in a workspace ------------------------
# (--workspace beats ANTHROPIC_WORKSPACE_ID; poll, ack, heartbeats, the
# session's events and stop all carry it, with the env key and the token)
: >"$T/req.log"
new_session bash-once
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_WORKSPACE_ID=wrkspc_env timeout 30 "$W" poll \
    --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --workspace wrkspc_wk \
    --environment-key-file "$T/key" --max-items 1 --max-idle 1s --poll-idle-ms 50-100 \
    --workdir "$T/w" >"$T/o" 2>"$T/e"
is "key file + --max-items 1: served and exited 0" "$?" 0
wait_for 10 "third session completed" all_done 3
unlike "key never logged" "$(cat "$T/e")" "$ANTHROPIC_ENVIRONMENT_KEY"
grep -E ' /v1/environments/[^ ]+/work/' "$T/req.log" | grep -v ' org ' >"$T/wk.log"
like "the worker's poll, ack, heartbeat were logged" \
    "$(grep -c '/work/poll' "$T/wk.log") $(grep -c '/ack ' "$T/wk.log") $(grep -c '/heartbeat ' "$T/wk.log")" \
    '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$'
is "  every worker request carried --workspace" \
    "$(grep -E ' (env|token) ' "$T/req.log" | grep -vc ' workspace=wrkspc_wk$')" 0
done_testing
