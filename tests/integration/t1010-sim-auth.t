#!/usr/bin/env bash
# omni-sim credentials and headers (protocol.md §2, §3.2, §4.1, §14.1-2).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start --request-log "$T/req.log"
E=$ANTHROPIC_ENVIRONMENT_ID

api none GET /v1/environments
is "no credential -> 401" "$STATUS" 401
is "401 envelope type" "$(jget "$BODY" type)" error
is "401 error.type" "$(jget "$BODY" error.type)" authentication_error
like "envelope carries request_id" "$(jget "$BODY" request_id)" '^req_'
is "request-id header matches body" "$(hdr request-id)" "$(jget "$BODY" request_id)"
api both GET /v1/environments
is "x-api-key and Bearer together -> 401" "$STATUS" 401
api sk-ant-api03-not-a-real-key GET /v1/environments
is "unknown key -> 401" "$STATUS" 401
unlike "error never echoes the key" "$BODY" 'not-a-real-key'
api org GET /v1/environments
is "org key via x-api-key" "$STATUS" 200
like "success has request-id" "$(hdr request-id)" '^req_'
api orgb GET /v1/environments
is "org key via Bearer" "$STATUS" 200

API_WORKSPACE=wrkspc_01ABC api org GET /v1/environments
is "a well-formed anthropic-workspace-id is accepted" "$STATUS" 200
like "  and recorded in the request log" "$(tail -1 "$T/req.log")" ' GET /v1/environments 200 org [0-9]+us workspace=wrkspc_01ABC$'
API_WORKSPACE='wrkspc/../x' api org GET /v1/environments
is "a malformed anthropic-workspace-id -> 400" "$STATUS" 400
is "  invalid_request_error" "$(jget "$BODY" error.type)" invalid_request_error
like "  names the header" "$(jget "$BODY" error.message)" 'anthropic-workspace-id'
like "  logged as invalid" "$(tail -1 "$T/req.log")" ' 400 org [0-9]+us workspace=invalid$'
api org GET /v1/environments
like "no header, no workspace field" "$(tail -1 "$T/req.log")" ' 200 org [0-9]+us$'

API_NO_BETA=1 api org GET /v1/environments
is "missing beta header -> 400" "$STATUS" 400
like "beta error names the header" "$(jget "$BODY" error.message)" 'anthropic-beta'
API_BETA="foo-2025-01-01,managed-agents-2026-04-01" api org GET /v1/environments
is "beta list with several values" "$STATUS" 200
API_VERSION=2026-10-21 api org GET /v1/environments
is "version 2026-10-21 accepted" "$STATUS" 200
API_VERSION=2020-01-01 api org GET /v1/environments
is "unknown version -> 400" "$STATUS" 400
api org GET "/v1/environments?beta=true"
is "?beta=true accepted" "$STATUS" 200
api org GET /v1/nothing-here
is "unknown route -> 404" "$STATUS" 404
is "404 type" "$(jget "$BODY" error.type)" not_found_error
api org PUT /v1/environments
is "wrong method -> 405" "$STATUS" 405

# environment key scope
api env GET /v1/environments
is "env key cannot list environments -> 403" "$STATUS" 403
is "403 type" "$(jget "$BODY" error.type)" permission_error
api env POST /v1/environments '{"name":"x","config":{"type":"self_hosted"}}'
is "env key cannot create environments" "$STATUS" 403
api env GET "/v1/environments/$E"
is "env key reads its own environment" "$STATUS" 200
api env GET "/v1/environments/$E/work/stats"
is "env key reads stats" "$STATUS" 200
api env GET "/v1/environments/$E/work"
is "env key lists work" "$STATUS" 200
api org GET "/v1/environments/$E/work"
is "org key cannot list work -> 403" "$STATUS" 403
api org GET "/v1/environments/$E/work/poll"
is "org key cannot poll -> 403" "$STATUS" 403
api env POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$E\"}"
is "env key cannot create sessions" "$STATUS" 403

# a second environment: keys do not cross
api org POST /v1/environments '{"name":"second","config":{"type":"self_hosted"}}'
E2=$(jget "$BODY" id)
api none GET "/_sim/environments/$E2/key"
is "introspection key route" "$STATUS" 200
K2=$(jget "$BODY" key)
like "second key is an env key" "$K2" '^sk-ant-oat01-'
api "$K2" GET "/v1/environments/$E/work/poll"
is "other env's key cannot poll -> 403" "$STATUS" 403
api "$K2" GET "/v1/environments/$E2/work/poll"
is "own key polls" "$STATUS" 200
is "empty poll body is null" "$BODY" null
like "empty poll is JSON" "$(hdr content-type)" 'application/json'

# sessions token reaches only its own item and session
new_session bash-once; S1=$SID
new_session bash-once; S2=$SID
claim
is "claimed the first session" "$SID_W" "$S1"
api "$TOK" GET "/v1/sessions/$S1"
is "token reads its own session" "$STATUS" 200
api "$TOK" GET "/v1/sessions/$S2"
is "token cannot read another session -> 403" "$STATUS" 403
api "$TOK" GET "/v1/sessions/$S2/events"
is "token cannot list another session's events" "$STATUS" 403
api "$TOK" GET "/v1/environments/$E/work/poll"
is "token cannot poll -> 403" "$STATUS" 403
api "$TOK" GET "/v1/environments/$E/work/$WID"
is "token cannot retrieve work (org only)" "$STATUS" 403
api env GET "/v1/environments/$E/work/$WID"
is "env key cannot retrieve work (org only)" "$STATUS" 403
api org GET "/v1/environments/$E/work/$WID"
is "org key retrieves work" "$STATUS" 200
is "retrieved work has no secret" "$(jget "$BODY" secret)" null
api org POST "/v1/environments/$E/work/$WID/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"
is "org key cannot heartbeat" "$STATUS" 403
api "$K2" POST "/v1/environments/$E/work/$WID/stop" '{}'
is "other env key cannot stop" "$STATUS" 403
api env GET "/v1/sessions/$S2"
is "env key reads sessions of its environment" "$STATUS" 200
api "$K2" GET "/v1/sessions/$S2"
is "env key of another environment cannot" "$STATUS" 403
api none GET /v1/sessions
is "no credential on sessions -> 401" "$STATUS" 401

# hostile input
api org POST /v1/environments '{"name":'
is "bad JSON -> 400" "$STATUS" 400
like "bad JSON message" "$(jget "$BODY" error.message)" 'not valid JSON'
api org POST /v1/environments '[1,2]'
is "non-object body -> 400" "$STATUS" 400
head -c 1100000 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "@$T/h.org" -H 'anthropic-version: 2023-06-01' \
       -H 'anthropic-beta: managed-agents-2026-04-01' -H 'content-type: application/json' \
       --data-binary "@$T/big" "$SIM_URL/v1/environments")
is "body over 1 MiB -> 413" "$code" 413
api org GET "/v1/environments/$(head -c 3000 /dev/zero | tr '\0' x)"
like "very long id is a clean 4xx" "$STATUS" '^4'
api none GET /_sim/report
is "still alive" "$STATUS" 200

done_testing
