#!/usr/bin/env bash
# omni-sim work queue: poll, ack, heartbeat leases, stop, list, stats (§6).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start --lease-ttl 2
E=$ANTHROPIC_ENVIRONMENT_ID
P=/v1/environments/$E/work

for bad in 0 1000 -1 abc ""; do
    api env GET "$P/poll?block_ms=$bad"
    is "block_ms='$bad' -> 400" "$STATUS" 400
done
like "block_ms error names the parameter" "$(jget "$BODY" error.message)" block_ms
api env GET "$P/poll?reclaim_older_than_ms=0"
is "reclaim_older_than_ms=0 -> 400" "$STATUS" 400
api env GET "$P/poll"
is "non-blocking empty poll" "$BODY" null
t0=$(date +%s%N)
api env GET "$P/poll?block_ms=600"
t1=$(date +%s%N)
is "blocking empty poll -> null" "$BODY" null
ok "long-poll waited ~600 ms" test $(( (t1 - t0) / 1000000 )) -ge 550

api env GET "$P/stats"
is "stats type" "$(jget "$BODY" type)" work_queue_stats
is "empty depth" "$(jget "$BODY" depth)" 0
is "empty pending" "$(jget "$BODY" pending)" 0
is "no oldest" "$(jget "$BODY" oldest_queued_at)" null
is "no workers yet (polls without worker id)" "$(jget "$BODY" workers_polling)" 0

# a long-poll is woken by a new session
( sleep 0.3; new_session idle >/dev/null ) &
WAKER=$!
t0=$(date +%s%N)
API_WORKER=w-A api env GET "$P/poll?block_ms=999"
t1=$(date +%s%N)
wait "$WAKER"
W1=$(jget "$BODY" id)
like "long-poll delivered the new item" "$W1" '^work_'
ok "delivered before the block expired" test $(( (t1 - t0) / 1000000 )) -lt 950
is "delivered item is queued" "$(jget "$BODY" state)" queued
is "data.type session" "$(jget "$BODY" data.type)" session
SEC=$(b64url_json "$(jget "$BODY" secret)")
like "secret carries a sessions token" "$(printf '%s' "$SEC" | "$TOP/tests/jget" sessions_token)" '^sk-ant-req-'
is "secret carries api_base_url" "$(printf '%s' "$SEC" | "$TOP/tests/jget" api_base_url)" "$SIM_URL"
unlike "secret is unpadded base64url" "$(jget "$BODY" secret)" '[=+/]'
api env GET "$P/stats"
is "pending after delivery" "$(jget "$BODY" pending)" 1
is "depth after delivery" "$(jget "$BODY" depth)" 0
like "oldest_queued_at set" "$(jget "$BODY" oldest_queued_at)" '^20[0-9-]+T'
is "workers_polling counts worker ids" "$(jget "$BODY" workers_polling)" 1
API_WORKER=w-B api env GET "$P/poll"
is "pending item not re-delivered before reclaim" "$BODY" null
api env GET "$P/stats"
is "two workers polling" "$(jget "$BODY" workers_polling)" 2
api env GET "$P/poll?reclaim_older_than_ms=1"
is "reclaim re-delivers an unacked item" "$(jget "$BODY" id)" "$W1"
TOK=$(b64url_json "$(jget "$BODY" secret)" | "$TOP/tests/jget" sessions_token)

api "$TOK" POST "$P/$W1/ack"
is "ack 200" "$STATUS" 200
is "ack -> starting" "$(jget "$BODY" state)" starting
like "acknowledged_at set" "$(jget "$BODY" acknowledged_at)" '^20'
api env POST "$P/$W1/ack"
is "second ack -> 409" "$STATUS" 409
api env GET "$P/stats"
is "acked item left the queue" "$(jget "$BODY" pending)/$(jget "$BODY" depth)" 0/0

api "$TOK" POST "$P/$W1/heartbeat"
is "heartbeat without expected_last_heartbeat -> 400" "$STATUS" 400
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=2026-01-01T00:00:00Z"
is "claiming with a timestamp while none is held -> 412" "$STATUS" 412
is "412 error_code" "$(jget "$BODY" error.details.error_code)" heartbeat_precondition_failed
is "412 error.type" "$(jget "$BODY" error.type)" invalid_request_error
is "412 current_state.state" "$(jget "$BODY" error.details.current_state.state)" starting
is "412 current_state.last_heartbeat" "$(jget "$BODY" error.details.current_state.last_heartbeat)" null
is "412 current_state.lease_extended" "$(jget "$BODY" error.details.current_state.lease_extended)" false
is "412 current_state.ttl_seconds" "$(jget "$BODY" error.details.current_state.ttl_seconds)" 2
like "412 message" "$(jget "$BODY" error.message)" '^Heartbeat precondition failed: expected 2026-01-01T00:00:00Z, actual was NULL$'
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=NO_HEARTBEAT&desired_ttl_seconds=1"
is "first heartbeat 200" "$STATUS" 200
is "heartbeat type" "$(jget "$BODY" type)" work_heartbeat
is "first heartbeat -> active" "$(jget "$BODY" state)" active
is "lease extended" "$(jget "$BODY" lease_extended)" true
is "desired ttl clamped to 10" "$(jget "$BODY" ttl_seconds)" 10
HB=$(jget "$BODY" last_heartbeat)
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"
is "NO_HEARTBEAT while a lease is held -> 412" "$STATUS" 412
is "412 shows the held heartbeat" "$(jget "$BODY" error.details.current_state.last_heartbeat)" "$HB"
ENC=$(printf '%s' "$HB" | sed 's/:/%3A/g; s/+/%2B/g')
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=$ENC&desired_ttl_seconds=5000"
is "exact echo 200" "$STATUS" 200
is "desired ttl clamped to 600" "$(jget "$BODY" ttl_seconds)" 600
HB2=$(jget "$BODY" last_heartbeat)
ok "heartbeat value changes" test "$HB2" != "$HB"
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=$ENC"
is "stale echo -> 412" "$STATUS" 412
api org GET "$P/$W1"
is "started_at set after first heartbeat" "$(jget "$BODY" started_at | cut -c1-2)" 20
is "latest_heartbeat_at" "$(jget "$BODY" latest_heartbeat_at)" "$HB2"

# graceful stop, then no comparison while stopping
api org POST "$P/$W1/stop" '{}'
is "graceful stop -> 204" "$STATUS" 204
is "204 has no body" "$BODY" ""
api org GET "$P/$W1"
is "state stopping" "$(jget "$BODY" state)" stopping
like "stop_requested_at" "$(jget "$BODY" stop_requested_at)" '^20'
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=whatever"
is "no precondition check while stopping" "$STATUS" 200
is "heartbeat reports stopping" "$(jget "$BODY" state)" stopping
api "$TOK" POST "$P/$W1/stop" '{"force":"yes"}'
is "non-boolean force -> 400" "$STATUS" 400
api "$TOK" POST "$P/$W1/stop" '{"force":true}'
is "force stop -> 204" "$STATUS" 204
api "$TOK" POST "$P/$W1/heartbeat?expected_last_heartbeat=whatever"
is "heartbeat on stopped item 200" "$STATUS" 200
is "lease_extended false once stopped" "$(jget "$BODY" lease_extended)" false
is "state stopped" "$(jget "$BODY" state)" stopped
api env POST "$P/$W1/stop" '{"force":true}'
is "stop of stopped item -> 409" "$STATUS" 409
is "409 says do not retry" "$(hdr x-should-retry)" false
api env POST "$P/work_nope/stop" '{}'
is "unknown work item -> 404" "$STATUS" 404
api env GET "/v1/environments/env_nope/work/poll"
is "unknown environment -> 404" "$STATUS" 404

# lease expiry re-queues (ttl 2 s)
new_session idle; S2=$SID
claim
W2=$WID
api org GET "$P/$W2"
is "second item active" "$(jget "$BODY" state)" active
sleep 2.5
api org GET "$P/$W2"
is "lease expired -> queued" "$(jget "$BODY" state)" queued
api "$TOK" POST "$P/$W2/heartbeat?expected_last_heartbeat=$(printf '%s' "$HB" | sed 's/:/%3A/g')"
is "old holder gets 412" "$STATUS" 412
is "412 shows queued" "$(jget "$BODY" error.details.current_state.state)" queued
is "412 shows cleared heartbeat" "$(jget "$BODY" error.details.current_state.last_heartbeat)" null
is "report counts the lost lease" "$(jget "$(sim_report)" leases_lost)" 1
claim
is "expired item is claimable again" "$WID" "$W2"
api "$TOK" POST "$P/$W2/stop" '{"force":true}'

# a user.message on a session without a live item enqueues a new one
api org POST "/v1/sessions/$S2/events" '{"events":[{"type":"user.message","content":[{"type":"text","text":"again"}]}]}'
is "message accepted" "$STATUS" 200
api env GET "$P/poll"
is "new item for the same session" "$(jget "$BODY" data.id)" "$S2"
W3=$(jget "$BODY" id)
ok "it is a different item" test "$W3" != "$W2"
api org POST "/v1/sessions/$S2/events" '{"events":[{"type":"user.message","content":[{"type":"text","text":"more"}]}]}'
api env GET "$P/stats"
is "no second item while one is live" "$(jget "$BODY" depth)" 0

# list (env key only) and pagination
for i in 1 2 3; do new_session idle >/dev/null; done
api env GET "$P?limit=2"
is "list 200" "$STATUS" 200
is "page of 2" "$(jget "$BODY" data.1.type)" work
NEXT=$(jget "$BODY" next_page)
like "next_page cursor" "$NEXT" '^page_'
api env GET "$P?limit=2&page=$NEXT"
like "second page" "$(jget "$BODY" data.0.id)" '^work_'
api env GET "$P?limit=1000"
is "list secret null" "$(jget "$BODY" data.0.secret)" null
api env GET "$P?limit=1001"
is "limit over 1000 -> 400" "$STATUS" 400
api env GET "$P?page=garbage"
is "bad cursor -> 400" "$STATUS" 400

# update (org only)
api org POST "$P/$W3" '{"metadata":{"team":"infra","gone":null}}'
is "update 200" "$STATUS" 200
is "metadata set" "$(jget "$BODY" metadata.team)" infra
api org POST "$P/$W3" '{"metadata":{"team":null}}'
is "null deletes" "$(jget "$BODY" metadata)" '{}'
api org POST "$P/$W3" '{"metadata":{"k":1}}'
is "non-string metadata -> 400" "$STATUS" 400
is "invalid_metadata code" "$(jget "$BODY" error.details.error_code)" invalid_metadata
api env POST "$P/$W3" '{"metadata":{}}'
is "env key cannot update work" "$STATUS" 403

# healthcheck items and --stop-reply 200 are covered in t1070
done_testing
