#!/usr/bin/env bash
# omni-sim fault injection (seeded), request log, stop reply, health checks.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sequence() {
    local out="" i
    for i in $(seq 1 30); do api org GET /v1/environments; out="$out$STATUS "; done
    printf '%s' "$out"
}

sim_start --seed 42 --fault-5xx 0.4 --request-log "$T/req.log" --stop-reply 200
A=$(sequence)
like "5xx injected" "$A" '(500|503|529)'
like "some requests pass" "$A" '200'
api none GET /_sim/report
is "never faults /_sim routes" "$STATUS" 200
is "report shows the seed" "$(jget "$BODY" seed)" 42
kill -TERM "$SIM_PID"; wait "$SIM_PID"
sim_start --seed 42 --fault-5xx 0.4
B=$(sequence)
is "same seed replays the same faults" "$B" "$A"

api none POST /_sim/faults '{"fault-5xx":0,"fault-429":1,"retry-after-ms":1500}'
is "faults changed at run time" "$STATUS" 200
api org GET /v1/environments
is "429 injected" "$STATUS" 429
is "rate_limit_error" "$(jget "$BODY" error.type)" rate_limit_error
is "retry-after-ms header" "$(hdr retry-after-ms)" 1500
is "retry-after header (seconds)" "$(hdr retry-after)" 2
api none POST /_sim/faults '{"fault-429":0,"latency-ms":300}'
t0=$(date +%s%N); api org GET /v1/environments; t1=$(date +%s%N)
is "request passes again" "$STATUS" 200
ok "latency applied" test $(( (t1 - t0) / 1000000 )) -ge 290
api none POST /_sim/faults '{"latency-ms":0,"bogus":1}'
is "unknown fault name -> 400" "$STATUS" 400
api none POST /_sim/faults '{"fault-5xx":2}'
is "fraction out of range -> 400" "$STATUS" 400
api none GET /_sim/faults
is "rejected settings left unchanged" "$(jget "$BODY" latency-ms)" 300
api none POST /_sim/faults '{"latency-ms":0}'

# cut the stream after 2 events
api none POST /_sim/faults '{"cut-stream-after":2}'
new_session bash-once; S=$SID
stream() {
    curl -sN --max-time 10 -H "@$(_sim_hfile env "authorization: Bearer $ANTHROPIC_ENVIRONMENT_KEY")" \
        -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' \
        "$SIM_URL/v1/sessions/$1/events/stream" >"$2" &
    SPID=$!
    until_ok 5 grep -q connected "$2"
}
stream "$S" "$T/cut"
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "hello from omni-sim"
wait "$SPID"
is "stream ended by the fault" "$?" 0
is "exactly two events delivered" "$(grep -c '^event:' "$T/cut")" 2
is "report counts the cut" "$(jget "$(sim_report)" streams_cut)" 1

# SSE error frame after every 2 events
api none POST /_sim/faults '{"cut-stream-after":0,"sse-error-every":2}'
new_session bash-once; S=$SID
stream "$S" "$T/err"
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "hello from omni-sim"
wait "$SPID"
is "two events then an error frame" "$(grep '^event:' "$T/err" | tr '\n' ' ')" "event: user.tool_result event: session.status_running event: error "
like "error frame carries an envelope" "$(grep -A1 '^event: error' "$T/err" | tail -1)" '"type":"error"'
api none POST /_sim/faults '{"sse-error-every":0}'

# lease theft: every 2nd heartbeat is refused and the item re-queued
api none POST /_sim/faults '{"steal-lease-every":2}'
# drain older items first so the next claim is this session's
while api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll"; [ "$BODY" != null ]; do
    api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$(jget "$BODY" id)/stop" '{"force":true}'
done
new_session idle
claim
W_STOLEN=$WID
ENC=$(printf '%s' "$HB" | sed 's/:/%3A/g')
api "$TOK" POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WID/heartbeat?expected_last_heartbeat=$ENC"
is "stolen lease -> 412" "$STATUS" 412
is "stolen item is queued" "$(jget "$BODY" error.details.current_state.state)" queued
is "report counts theft" "$(jget "$(sim_report)" leases_stolen)" 1
api none POST /_sim/faults '{"steal-lease-every":0}'
claim
is "stolen item is claimable" "$WID" "$W_STOLEN"

# one-shot faults: fail-ack N, heartbeat-412-stopped N
api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WID/stop" '{"force":true}'
api none POST /_sim/faults '{"fail-ack":2,"heartbeat-412-stopped":1}'
is "fail-ack and heartbeat-412-stopped accepted" "$STATUS" 200
new_session idle
api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll?block_ms=999"
WF=$(jget "$BODY" id)
api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WF/ack"
is "fail-ack: first ack 503" "$STATUS" 503
api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WF/ack"
is "fail-ack: second ack 503" "$STATUS" 503
api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WF/ack"
is "fail-ack: the third ack goes through" "$STATUS" 200
api env POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WF/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"
is "heartbeat-412-stopped: 412" "$STATUS" 412
is "  current_state stopped" "$(jget "$BODY" error.details.current_state.state)" stopped
api org GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WF"
is "  and the item is stopped" "$(jget "$BODY" state)" stopped
api none GET /_sim/faults
is "the counts went down to 0" "$(jget "$BODY" fail-ack) $(jget "$BODY" heartbeat-412-stopped)" "0 0"

# health-check work item
api none POST "/_sim/environments/$ANTHROPIC_ENVIRONMENT_ID/healthcheck"
is "healthcheck enqueued" "$(jget "$BODY" data.type)" healthcheck
api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll"
is "healthcheck delivered" "$(jget "$BODY" data.type)" healthcheck

kill -TERM "$SIM_PID"; wait "$SIM_PID"
# first sim's request log and --stop-reply 200
ok "request log written" test -s "$T/req.log"
like "request log line format" "$(head -1 "$T/req.log")" '^20[0-9-]+T[0-9:.]+Z GET /v1/environments [0-9]{3} org [0-9]+us$'
unlike "request log holds no keys" "$(cat "$T/req.log")" 'sk-ant-'
sim_start --stop-reply 200
new_session idle
claim
api "$TOK" POST "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/$WID/stop" '{"force":true}'
is "--stop-reply 200 returns JSON" "$STATUS/$(jget "$BODY" state)" 200/stopped

done_testing
