#!/usr/bin/env bash
# omni-sim refuses (400, naming what is wrong) a user.tool_confirmation for a
# tool use that does not exist in the session, that is not held (not an ask
# call), that was already answered (allow after deny, deny after allow, a
# second allow), that an interrupt cancelled, or that is confirmed twice in
# one request. Nothing refused is stored. (protocol.md is silent on the real
# API's answer here: chosen default, see sim/events.c.)
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
done_testing
