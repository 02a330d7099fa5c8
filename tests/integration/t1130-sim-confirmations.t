#!/usr/bin/env bash
# omni-sim refuses (400, naming what is wrong) a user.tool_confirmation for a
# tool use that does not exist in the session, that is not held (not an ask
# call), that was already answered (allow after deny, deny after allow, a
# second allow), that an interrupt cancelled, or that is confirmed twice in
# one request. Nothing refused is stored. (protocol.md is silent on the real
# API's answer here: chosen default, see sim/events.c.)
# A child thread's call (threads-ask) is confirmed by its tool_use_id alone
# (the server routes it, SDK 1.16 events.ts); a session_thread_id that is not
# the call's thread, or no thread of the session, is refused.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"

sim_start
confirm() { # SID ID VERDICT
    api org POST "/v1/sessions/$1/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$2\",\"result\":\"$3\"}]}"
}
n_confirmations() {
    api org GET "/v1/sessions/$1/events?limit=1000&types[]=user.tool_confirmation"
    printf '%s' "$BODY" | grep -o '"user.tool_confirmation"' | wc -l
}

new_session ask; A=$SID
read -r AID _ <<<"$(pending_calls "$A" | head -1)"
new_session bash-once; B=$SID
read -r BID _ <<<"$(pending_calls "$B" | head -1)"
new_session custom; C=$SID
read -r CID _ <<<"$(pending_calls "$C" | head -1)"

confirm "$A" sevt_nope allow
is "unknown tool use: 400" "$STATUS" 400
like "  says it does not exist" "$BODY" "does not name a tool use of this session"
confirm "$A" "$BID" allow
is "a tool use of another session: 400" "$STATUS" 400
confirm "$B" "$BID" allow
is "a call that is not held (allow): 400" "$STATUS" 400
like "  says it is not held" "$BODY" "not held for a confirmation"
confirm "$C" "$CID" allow
is "a custom tool use: 400" "$STATUS" 400
like "  says custom" "$BODY" "custom tool use"

api org POST "/v1/sessions/$A/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$AID\",\"result\":\"allow\"},{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$AID\",\"result\":\"deny\"}]}"
is "confirmed twice in one request: 400" "$STATUS" 400
like "  says twice" "$BODY" "confirmed twice"
is "  nothing stored" "$(n_confirmations "$A")" 0

confirm "$A" "$AID" deny
is "deny of the held call: 200" "$STATUS" 200
confirm "$A" "$AID" allow
is "allow after deny: 400" "$STATUS" 400
like "  says already answered" "$BODY" "already answered"
is "  one confirmation stored" "$(n_confirmations "$A")" 1

new_session ask; D=$SID
read -r DID _ <<<"$(pending_calls "$D" | head -1)"
confirm "$D" "$DID" allow
is "allow: 200" "$STATUS" 200
confirm "$D" "$DID" deny
is "deny after allow: 400" "$STATUS" 400
confirm "$D" "$DID" allow
is "a second allow: 400" "$STATUS" 400

new_session ask; E=$SID
read -r EID _ <<<"$(pending_calls "$E" | head -1)"
api org POST "/v1/sessions/$E/events" '{"events":[{"type":"user.interrupt"}]}'
is "interrupt: 200" "$STATUS" 200
confirm "$E" "$EID" allow
is "allow after an interrupt: 400" "$STATUS" 400
like "  says cancelled" "$BODY" "cancelled by an interrupt"
is "no protocol errors" "$(jget "$(sim_report)" protocol_errors)" 0

# a child thread's call, confirmed by its id alone
new_session threads-ask; F=$SID
api org GET "/v1/sessions/$F/events?types[]=agent.tool_use"
FID=$(jget "$BODY" data.0.id)
FTH=$(jget "$BODY" data.0.session_thread_id)
api org GET "/v1/sessions/$F/threads"
PTH=$(jget "$BODY" data.0.id)
like "threads-ask: the held call is the child thread's" "$FTH" '^sthr_'
ok "  not the primary thread's" test "$FTH" != "$PTH"
api org POST "/v1/sessions/$F/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$FID\",\"session_thread_id\":\"$PTH\",\"result\":\"allow\"}]}"
is "confirmation naming the wrong thread: 400" "$STATUS" 400
like "  says whose thread it is" "$BODY" "is not the thread of call"
api org POST "/v1/sessions/$F/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$FID\",\"session_thread_id\":\"sthr_nope\",\"result\":\"allow\"}]}"
is "confirmation naming no thread of the session: 400" "$STATUS" 400
confirm "$F" sevt_nope allow
is "unknown id, no thread: 400" "$STATUS" 400
is "  nothing stored" "$(n_confirmations "$F")" 0
confirm "$F" "$FID" allow
is "confirmation by the child's call id alone: 200" "$STATUS" 200
is "  routed to the call's thread" "$(jget "$BODY" data.0.session_thread_id)" "$FTH"
api org GET "/v1/sessions/$F/threads/$FTH/events?types[]=user.tool_confirmation"
is "  on the child thread's own stream" "$(jget "$BODY" data.0.tool_use_id)" "$FID"
api org GET "/v1/sessions/$F/events?order=desc&limit=1"
is "  the child thread runs again" "$(jget "$BODY" data.0.type)" session.status_running
post_result "$F" "$FID" "approved-in-thread"
is "result of the confirmed child call: 200" "$STATUS" 200
is "threads-ask completed" "$(jget "$(curl -sf --max-time 5 "$SIM_URL/_sim/report/sessions/$F")" completed)" true
is "still no protocol errors" "$(jget "$(sim_report)" protocol_errors)" 0
done_testing
