#!/usr/bin/env bash
# worker/spawn/bwrap.sh as the --on-work script: it execs `omni-worker run
# --work-stdin --sandbox bwrap` without the environment key, so the session
# runner holds only the item's sessions token (parsed from the work JSON, not
# matched with a pattern) and the tools run in a jail with no network and no
# credential. Findings of issue 11 tested here: (3) the key never reaches the
# sandbox, an item without a usable secret is refused, a JSON-escaped secret
# still works, and the key is not in the script's /proc environ for the
# session's life; (9) a lost lease (exit 5) gets no stop, the stop after a
# normal exit uses the sessions token, and bwrap.sh finds omni-worker without
# PATH.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

if ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP bubblewrap cannot create namespaces here"
    exit 0
fi
SCRIPT=$TOP/worker/spawn/bwrap.sh
sim_start --request-log "$T/requests.log"
SIM_PORT=${SIM_URL##*:}
export OMNI_WORKER_ARGS="--max-idle 1s --workdir $T/work"
ONWORK=$SCRIPT
if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    # valgrind checks the poller only: the script goes by a name that
    # --trace-children-skip (*/bash) leaves alone, with all it starts.
    export OMNI_WORKER_BIN=$_real_bin/omni-worker
    mkdir -p "$T/onwork"
    ln -s "$SCRIPT" "$T/onwork/bash"
    ONWORK=$T/onwork/bash
fi

# ---- 1. sessions served, tools in a jail without network --------------------
for s in six-tools bash-once burst:4; do mk_session "$s"; done
NET_PROBE="cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d \" \" | sed \"s/^/iface:/\"; (exec 3<>/dev/tcp/127.0.0.1/$SIM_PORT) 2>/dev/null && echo api:open || echo api:blocked; ls /run/omni 2>&1 | head -1; env | grep -c ^ANTHROPIC || true"
cmd_session "$NET_PROBE"
NETSID=$SID
# PATH without omni-worker: the poller hands its own binary to the script
wk_bg poll --on-work "$ONWORK" --concurrency 2 --poll-idle-ms 50-150
wait_for 40 "4 sessions served inside bubblewrap" all_done 4
check_report "bwrap"
log=$(cat "$T/worker.log")
like "the session runner used the sessions token" "$log" "credential=\"sessions token\""
unlike "never the environment key" "$log" "credential=\"environment key\""
unlike "bwrap.sh found omni-worker (not on PATH)" "$log" "omni-worker not found"
out=$(result "$NETSID" 1)
like "tools see only a loopback interface" "$out" "^iface:lo$"; unlike "... and no other" "$out" "iface:[^l]"
like "the API port on the host is not reachable from a tool" "$out" "api:blocked"
like "no relay socket or secret file in the sandbox" "$out" "No such file or directory"
like "no ANTHROPIC_* variable in a tool's environment" "$out" "^0\$"
ok "no session directory left" test -z "$(ls -A "$T/work" 2>/dev/null)"
# the stop after the script: with the item's sessions token (finding 9)
stops=$(grep -E 'POST /v1/environments/[^ ]+/work/[^ ]+/stop' "$T/requests.log")
ok "stops were posted" test -n "$stops"
unlike "no stop used the environment key" "$stops" " env "

# drain through the sandbox
: >"$T/worker.log"
mk_session long-bash:3
L=$SID
wait_for 20 "long call being served in the sandbox" bash -c "grep -q 'serving work.*$L' '$T/worker.log'"
sleep 1
RUNNER=$(pgrep -f "omni-worker run --work-stdin --sandbox bwrap" | head -1)
ok "the session runner is running" test -n "$RUNNER"
ok "the runner's /proc environ holds no environment key (finding 3)" \
    bash -c "! grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY' /proc/$RUNNER/environ"
ok "... and no ANTHROPIC_ENVIRONMENT_KEY at all" \
    bash -c "! tr '\0' '\n' </proc/$RUNNER/environ | grep -q '^ANTHROPIC_ENVIRONMENT_KEY='"
kill -TERM "$WK_PID"
wk_wait 30
is "exit 0 after SIGTERM" "$WK_RC" 0
is "the running call finished and its result was posted" "$(sess_field "$L" results_received)" 1
is "item stopped" "$(work_state "$L")" stopped

# ---- 2. the hand-off itself (finding 3) --------------------------------------
# run bwrap.sh as the poller would, with the environment key in its environment
handoff() { # JSON [extra env...]: exit status in RC, stderr in $T/handoff.err
    local json=$1
    shift
    printf '%s' "$json" | env ANTHROPIC_WORK_ID=work_x ANTHROPIC_SESSION_ID=sesn_x \
        ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" ANTHROPIC_BASE_URL="$SIM_URL" \
        ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" OMNI_WORKER_BIN="$BIN/omni-worker" \
        "$@" bash "$SCRIPT" >/dev/null 2>"$T/handoff.err"
    RC=$?
}
handoff '{"id":"work_01X","type":"work","data":{"type":"session","id":"sesn_01X"}}'
isnt_zero() { [ "$1" != 0 ]; }
ok "an item without a secret is refused" isnt_zero "$RC"
like "... saying why" "$(cat "$T/handoff.err")" "no secret and no environment key"
unlike "... without using the key" "$(cat "$T/handoff.err")" "serving work"
handoff '{"id":"work_01X","type":"work","data":{"type":"session","id":"sesn_01X"},"secret":"bm90LWpzb24"}'
ok "an unusable secret is refused, not replaced by the key" isnt_zero "$RC"
unlike "... nothing was served" "$(cat "$T/handoff.err")" "serving work"

# a real item whose secret is standard base64 with "/" escaped as "\/" in JSON
mk_session bash-once
ESC_SID=$SID
# poll and ack as the poller does (the first heartbeat is the runner's)
for _ in 1 2 3 4 5; do
    API_WORKER=test-worker-1 api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll?block_ms=999"
    SID_W=$(jget "$BODY" data.id 2>/dev/null)
    [ "$SID_W" = "$ESC_SID" ] && break
    echo "# poll: $STATUS $BODY" >&2
done
WID=$(jget "$BODY" id)
TOK=$(b64url_json "$(jget "$BODY" secret)" | "$TOP/tests/jget" sessions_token)
api "$TOK" POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WID/ack"
is "the item was claimed and acked" "$STATUS" 200
STD=$(printf '%s' "{\"version\":1,\"sessions_token\":\"$TOK\"}" | base64 -w0 | sed 's,/,\\/,g')
ITEM="{\"id\":\"$WID\",\"type\":\"work\",\"environment_id\":\"$ANTHROPIC_ENVIRONMENT_ID\",\"data\":{\"type\":\"session\",\"id\":\"$SID_W\"},\"secret\":\"$STD\"}"
handoff "$ITEM"
is "an item whose secret has JSON escapes is served" "$RC" 0
like "... with its sessions token" "$(cat "$T/handoff.err")" "credential=\"sessions token\""
wait_for 10 "that session completed" all_done 6
is "its item stopped" "$(work_state "$ESC_SID")" stopped

# ---- 3. a lost lease: exit 5 means "leave the item alone" (finding 9) --------
cat >"$T/lost.sh" <<'EOS'
#!/bin/bash
cat >/dev/null
exit 5
EOS
chmod +x "$T/lost.sh"
mk_session idle
LOST=$SID
: >"$T/requests.log"
: >"$T/worker.log"
wk_bg poll --on-work "$T/lost.sh" --max-items 1 --poll-idle-ms 50-150
wk_wait 20
is "worker exits 0 after the item" "$WK_RC" 0
like "the poller says it left the item alone" "$(cat "$T/worker.log")" "lost the lease; leaving the item alone"
ok "no stop was posted for it" bash -c "! grep -q '/stop' '$T/requests.log'"
isnt() { [ "$1" != "$2" ]; }
ok "the item is not stopped" isnt "$(work_state "$LOST")" stopped
done_testing
