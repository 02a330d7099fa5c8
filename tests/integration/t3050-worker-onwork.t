#!/usr/bin/env bash
# omni-worker --on-work (protocol.md §10.2) with a tiny script that runs
# `omni-worker run`; `run` on its own (secret file, no environment key);
# an unrunnable script is fatal.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
W=$BIN/omni-worker

# --- the on-work script ------------------------------------------------------
cat >"$T/on-work.sh" <<EOS
#!/bin/bash
umask 077
json=\$(cat)
printf '%s\n' "\$json" >"$T/stdin.\$ANTHROPIC_WORK_ID"
for v in ANTHROPIC_WORK_ID ANTHROPIC_ENVIRONMENT_ID ANTHROPIC_SESSION_ID ANTHROPIC_WORKSPACE_ID; do
    printf '%s=%s\n' "\$v" "\${!v}"
done >"$T/env.\$ANTHROPIC_WORK_ID"
[ -n "\${ANTHROPIC_ENVIRONMENT_KEY:-}" ] && echo "key present" >>"$T/env.\$ANTHROPIC_WORK_ID"
echo "hello-from-script-stdout \$ANTHROPIC_WORK_ID"
d=\$(mktemp -d)
printf '%s' "\$json" | sed -n 's/.*"secret":"\\([^"]*\\)".*/\\1/p' >"\$d/secret"
unset ANTHROPIC_ENVIRONMENT_KEY      # the session runs on its sessions token only
exec "$W" run --work-secret-file "\$d/secret" --workdir "$T/work" --max-idle 1s
EOS
chmod +x "$T/on-work.sh"

for s in bash-once six-tools burst:5; do mk_session "$s"; done
wk_bg poll --on-work "$T/on-work.sh" --concurrency 2 --poll-idle-ms 50-150 --workspace wrkspc_onwork
wait_for 40 "3 sessions served through --on-work" all_done 3
check_report "on-work"
log=$(cat "$T/worker.log")
like "script stdout goes to the worker's stderr" "$log" "hello-from-script-stdout work_"
like "the poller posts a stop after the script" "$log" "work stopped work=work_.*(already stopped)"
like "the child used the sessions token" "$log" "credential=\"sessions token\""
f=$(ls "$T"/env.work_* | head -1)
wid=${f##*/env.}
like "script got ANTHROPIC_WORK_ID" "$(cat "$f")" "ANTHROPIC_WORK_ID=$wid"
like "script got ANTHROPIC_SESSION_ID" "$(cat "$f")" "ANTHROPIC_SESSION_ID=sesn_"
like "script got ANTHROPIC_ENVIRONMENT_ID" "$(cat "$f")" "ANTHROPIC_ENVIRONMENT_ID=$ANTHROPIC_ENVIRONMENT_ID"
like "script got the poller's --workspace as ANTHROPIC_WORKSPACE_ID" "$(cat "$f")" "ANTHROPIC_WORKSPACE_ID=wrkspc_onwork"
like "script got the environment key (contract)" "$(cat "$f")" "key present"
like "script stdin is the raw poll JSON" "$(cat "$T/stdin.$wid")" "\"id\":\"$wid\".*\"secret\":\""
kill -TERM "$WK_PID"
wk_wait 15
is "on-work poller: exit 0 on SIGTERM" "$WK_RC" 0

# --- unrunnable script: fatal --------------------------------------------------
: >"$T/worker.log"
mk_session bash-once
wk_bg poll --on-work "$T/does-not-exist.sh" --poll-idle-ms 50-150
wk_wait 15
is "missing --on-work script: exit 1" "$WK_RC" 1
like "clear error" "$(cat "$T/worker.log")" "cannot run the --on-work script"
printf '#!/bin/sh\necho hi\n' >"$T/noexec.sh"
: >"$T/worker.log"
mk_session bash-once
wk_bg poll --on-work "$T/noexec.sh" --poll-idle-ms 50-150
wk_wait 15
is "non-executable --on-work script: exit 1" "$WK_RC" 1

# --- run on its own ---------------------------------------------------------------
# claim an item by hand (poll + ack, no heartbeat: run starts from NO_HEARTBEAT)
mk_session bash-once
RUN_SID=$SID
claim_noheartbeat() {
    local i
    for i in $(seq 1 50); do
        API_WORKER=test-claimer api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll?block_ms=999"
        [ "$(jget "$BODY" data.id 2>/dev/null)" = "$RUN_SID" ] && break
        # another session's leftover item: stop it
        [ -n "$(jget "$BODY" id 2>/dev/null)" ] && api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$(jget "$BODY" id)/stop" '{"force":true}'
    done
    WID=$(jget "$BODY" id)
    SECRET=$(jget "$BODY" secret)
    api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WID/ack"
}
claim_noheartbeat
is "claimed the run item" "$STATUS" 200
(umask 022; printf '%s\n' "$SECRET" >"$T/secret")
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_WORK_ID="$WID" ANTHROPIC_SESSION_ID="$RUN_SID" \
    "$W" run --work-secret-file "$T/secret" --workdir "$T/work" >"$T/o" 2>"$T/e"
is "run: loose secret file refused (exit 3)" "$?" 3
like "run: says chmod 600" "$(cat "$T/e")" "chmod 600"
chmod 600 "$T/secret"
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_SESSION_ID="$RUN_SID" "$W" run --work-secret-file "$T/secret" >"$T/o" 2>"$T/e"
is "run: missing work id (exit 2)" "$?" 2
like "run: names the missing id" "$(cat "$T/e")" "missing work id"
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_WORK_ID="$WID" ANTHROPIC_SESSION_ID="$RUN_SID" \
    timeout 30 "$W" run --work-secret-file "$T/secret" --workdir "$T/work" --max-idle 1s >"$T/o" 2>"$T/e"
is "run: served the item with the secret only (no environment key), exit 0" "$?" 0
is "run: session completed" "$(sess_field "$RUN_SID" completed)" true
is "run: its result arrived once" "$(sess_field "$RUN_SID" duplicate_results)" 0
is "run: item stopped" "$(work_state "$RUN_SID")" stopped
unlike "run: no secret or token in the log" "$(cat "$T/e")" "$SECRET|sk-ant-req"
is "run prints nothing on stdout" "$(cat "$T/o")" ""
done_testing
