#!/usr/bin/env bash
# omni-sim session events: list, send, SSE stream (§8).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start --ping-interval 1
E=$ANTHROPIC_ENVIRONMENT_ID

new_session bash-once
S=$SID
api org GET "/v1/sessions/$S/events"
is "list 200" "$STATUS" 200
is "first event is the user message" "$(jget "$BODY" data.0.type)" user.message
like "events carry sevt_ ids" "$(jget "$BODY" data.0.id)" '^sevt_'
like "processed_at" "$(jget "$BODY" data.0.processed_at)" '^20[0-9-]+T[0-9:.]+Z$'
is "then running" "$(jget "$BODY" data.1.type)" session.status_running
is "then the tool use" "$(jget "$BODY" data.2.type)" agent.tool_use
is "tool name" "$(jget "$BODY" data.2.name)" bash
is "evaluated_permission" "$(jget "$BODY" data.2.evaluated_permission)" allow
is "then idle" "$(jget "$BODY" data.3.type)" session.status_idle
is "requires_action" "$(jget "$BODY" data.3.stop_reason.type)" requires_action
TU=$(jget "$BODY" data.2.id)
is "event_ids name the tool use" "$(jget "$BODY" data.3.stop_reason.event_ids.0)" "$TU"
is "next_page null at the end" "$(jget "$BODY" next_page)" null
T2=$(jget "$BODY" data.2.processed_at)

api org GET "/v1/sessions/$S/events?limit=1"
is "limit 1" "$(jget "$BODY" data.1 >/dev/null; echo $?)" 1
NP=$(jget "$BODY" next_page)
api org GET "/v1/sessions/$S/events?limit=1&page=$NP"
is "cursor page 2" "$(jget "$BODY" data.0.type)" session.status_running
api org GET "/v1/sessions/$S/events?order=desc&limit=1"
is "desc starts at the newest" "$(jget "$BODY" data.0.type)" session.status_idle
api org GET "/v1/sessions/$S/events?types[]=agent.tool_use&types[]=user.message"
is "types[] filter" "$(jget "$BODY" data.0.type),$(jget "$BODY" data.1.type)" user.message,agent.tool_use
api org GET "/v1/sessions/$S/events?types=session.status_idle"
is "types= filter" "$(jget "$BODY" data.0.type)" session.status_idle
api org GET "/v1/sessions/$S/events?created_at[gte]=$T2"
is "created_at[gte]" "$(jget "$BODY" data.0.type)" agent.tool_use
api org GET "/v1/sessions/$S/events?created_at[gt]=$T2"
is "created_at[gt]" "$(jget "$BODY" data.0.type)" session.status_idle
api org GET "/v1/sessions/$S/events?created_at[lte]=$T2&order=desc"
is "created_at[lte] desc" "$(jget "$BODY" data.0.type)" agent.tool_use
api org GET "/v1/sessions/$S/events?limit=1001"
is "limit over 1000 -> 400" "$STATUS" 400
api org GET "/v1/sessions/sesn_nope/events"
is "unknown session -> 404" "$STATUS" 404

# send validation
api org POST "/v1/sessions/$S/events" '{"events":[]}'
is "empty events -> 400" "$STATUS" 400
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"agent.message"}]}'
is "agent events cannot be sent" "$STATUS" 400
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"user.tool_result","tool_use_id":"sevt_nope","content":[]}]}'
is "result for an unknown tool use -> 400" "$STATUS" 400
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"system.message","content":"x"},{"type":"user.message","content":"y"}]}'
is "system.message must be last" "$STATUS" 400
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"user.tool_confirmation","tool_use_id":"x","result":"maybe"}]}'
is "bad confirmation result" "$STATUS" 400
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"user.tool_result","tool_use_id":"'"$TU"'","is_error":"no","content":[]}]}'
is "non-boolean is_error" "$STATUS" 400

# stream: only events after attach, full JSON, pings
curl -sN -g --max-time 20 -H "@$(_sim_hfile env "authorization: Bearer $ANTHROPIC_ENVIRONMENT_KEY")" \
    -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' \
    -H 'accept: application/json' -D "$T/sse.h" "$SIM_URL/v1/sessions/$S/events/stream" >"$T/sse" &
CURL=$!
until_ok 5 grep -q connected "$T/sse"
ok "stream attached" grep -q connected "$T/sse"
like "content-type text/event-stream" "$(tr -d '\r' <"$T/sse.h")" 'content-type: text/event-stream'
like "stream has request-id" "$(tr -d '\r' <"$T/sse.h")" 'request-id: req_'
post_result "$S" "$TU" "hello from omni-sim" env
is "result accepted" "$STATUS" 200
like "echo carries server id" "$(jget "$BODY" data.0.id)" '^sevt_'
until_ok 5 grep -q 'event: session.status_idle' "$T/sse"
unlike "no replay of older events" "$(cat "$T/sse")" 'event: user.message|event: agent.tool_use'
like "result echoed on the stream" "$(cat "$T/sse")" 'event: user.tool_result'
ok "event name equals data type" perl -ne 'BEGIN{$ok=1;$n=0} if (/^event: (.*)$/) {$ev=$1} elsif (/^data: (.*)$/) { $n++; my $d=$1; if ($ev ne "ping" && $d !~ /^\{"type":"\Q$ev\E","id":"/) {$ok=0} } END{exit !($ok && $n>=4)}' "$T/sse"
like "end_turn on the stream" "$(grep '^data: {"type":"session.status_idle"' "$T/sse")" end_turn
sleep 1.3
like "ping frame" "$(cat "$T/sse")" $'event: ping\ndata: \\{"type":"ping"\\}'
api org POST "/v1/sessions/$S/archive"
wait "$CURL"
is "stream closes after termination" "$?" 0
like "status_terminated delivered last" "$(grep '^event:' "$T/sse" | grep -v ping | tail -1)" 'session.status_terminated'

# a child thread's own stream (threads:2): its events after attach, no
# session_thread_id on its result, and the end at its termination
new_session threads:2
S3=$SID
api org GET "/v1/sessions/$S3/events?types[]=agent.tool_use"
CTU=$(jget "$BODY" data.1.id)
CTH=$(jget "$BODY" data.1.session_thread_id)
curl -sN --max-time 10 -H "@$T/h.env" -H 'anthropic-version: 2023-06-01' \
    -H 'anthropic-beta: managed-agents-2026-04-01' "$SIM_URL/v1/sessions/$S3/threads/$CTH/stream" >"$T/sse3" &
CURL=$!
until_ok 5 grep -q connected "$T/sse3"
post_result "$S3" "$CTU" "omni-sim-thread-call 1 start=1 end=2" env
until_ok 5 grep -q 'end_turn' "$T/sse3"
is "thread stream: the result, running, its message, idle end_turn" \
    "$(grep '^event:' "$T/sse3" | grep -v ping | cut -d' ' -f2 | tr '\n' ,)" \
    "user.tool_result,session.thread_status_running,agent.message,session.thread_status_idle,"
unlike "  the result on the thread's own stream names no thread" "$(grep '^data: {"type":"user.tool_result"' "$T/sse3")" session_thread_id
api org POST "/v1/sessions/$S3/threads/$CTH/archive"
wait "$CURL"
is "thread stream ends when the thread is archived" "$?" 0
like "  session.thread_status_terminated last" "$(grep '^event:' "$T/sse3" | tail -1)" 'session.thread_status_terminated'

# delete emits session.deleted on open streams
new_session idle
S2=$SID
curl -sN --max-time 10 -H "@$T/h.env" -H 'anthropic-version: 2023-06-01' \
    -H 'anthropic-beta: managed-agents-2026-04-01' "$SIM_URL/v1/sessions/$S2/events/stream" >"$T/sse2" &
CURL=$!
until_ok 5 grep -q connected "$T/sse2"
api org DELETE "/v1/sessions/$S2"
wait "$CURL"
is "stream ends on delete" "$?" 0
like "session.deleted on the stream" "$(cat "$T/sse2")" 'event: session.deleted'

# a stream on a terminated session ends at once
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "@$T/h.env" -H 'anthropic-version: 2023-06-01' \
    -H 'anthropic-beta: managed-agents-2026-04-01' "$SIM_URL/v1/sessions/$S/events/stream")
is "stream of a terminated session returns promptly" "$code" 200

done_testing
