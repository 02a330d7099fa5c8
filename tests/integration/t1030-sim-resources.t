#!/usr/bin/env bash
# omni-sim environments, agents and sessions (§5, §7).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start

# environments
api org POST /v1/environments '{"name":"ci","config":{"type":"self_hosted"},"description":"d","metadata":{"team":"infra"}}'
is "create 200" "$STATUS" 200
E=$(jget "$BODY" id)
like "env id" "$E" '^env_'
is "type" "$(jget "$BODY" type)" environment
is "metadata" "$(jget "$BODY" metadata.team)" infra
is "scope default" "$(jget "$BODY" scope)" organization
is "archived_at null" "$(jget "$BODY" archived_at)" null
api org POST /v1/environments '{"name":"nocfg"}'
is "config defaults to cloud (§16 Q19)" "$(jget "$BODY" config.type)" cloud
ECLOUD=$(jget "$BODY" id)
api org POST /v1/environments '{"config":{"type":"self_hosted"}}'
is "name required" "$STATUS" 400
api org POST /v1/environments '{"name":"x","config":{"type":"moon"}}'
is "bad config type" "$STATUS" 400
api org POST /v1/environments "{\"name\":\"x\",\"metadata\":{$(for i in $(seq 1 17); do printf '"k%d":"v",' "$i"; done | sed 's/,$//')}}"
is "17 metadata keys -> 400" "$STATUS" 400
is "invalid_metadata" "$(jget "$BODY" error.details.error_code)" invalid_metadata
api org POST /v1/environments "{\"name\":\"x\",\"metadata\":{\"$(head -c 65 /dev/zero | tr '\0' k)\":\"v\"}}"
is "65-char key -> 400" "$STATUS" 400
api org POST /v1/environments "{\"name\":\"x\",\"metadata\":{\"k\":\"$(head -c 513 /dev/zero | tr '\0' v)\"}}"
is "513-char value -> 400" "$STATUS" 400

api org POST "/v1/environments/$E" '{"name":"ci2","description":null,"metadata":{"team":"","new":"1"}}'
is "update 200" "$STATUS" 200
is "renamed" "$(jget "$BODY" name)" ci2
is "description cleared" "$(jget "$BODY" description)" null
is "empty string deletes metadata, new key added" "$(jget "$BODY" metadata)" '{"new":"1"}'
api org POST "/v1/environments/$E" '{"description":""}'
is "empty description stored" "$(jget "$BODY" description)" ""
api org POST "/v1/environments/$E" '{"config":{"type":"cloud"}}'
is "config type change -> 400" "$STATUS" 400
is "invalid_config_type_change" "$(jget "$BODY" error.details.error_code)" invalid_config_type_change
api org GET "/v1/environments/$E"
is "retrieve" "$(jget "$BODY" name)" ci2
api org GET /v1/environments/env_missing
is "unknown env -> 404" "$STATUS" 404

api org GET "/v1/environments?limit=1"
is "list page of one" "$(jget "$BODY" data.1 >/dev/null; echo $?)" 1
NP=$(jget "$BODY" next_page)
like "list next_page" "$NP" '^page_'
api org GET "/v1/environments?limit=1&page=$NP"
like "second page" "$(jget "$BODY" data.0.id)" '^env_'

api org POST "/v1/environments/$E/archive"
is "archive 200" "$STATUS" 200
like "archived_at set" "$(jget "$BODY" archived_at)" '^20'
api org POST "/v1/environments/$E" '{"name":"nope"}'
is "update archived -> 400" "$STATUS" 400
is "environment_archived" "$(jget "$BODY" error.details.error_code)" environment_archived
api org GET /v1/environments
unlike "archived hidden by default" "$BODY" "$E"
api org GET "/v1/environments?include_archived=true"
like "include_archived shows it" "$BODY" "$E"
api org POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$E\"}"
is "session on archived env -> 400" "$STATUS" 400
is "environment_archived code" "$(jget "$BODY" error.details.error_code)" environment_archived

api org DELETE "/v1/environments/$E"
is "delete 200" "$STATUS" 200
is "delete type" "$(jget "$BODY" type)" environment_deleted
api org GET "/v1/environments/$E"
is "deleted env -> 404" "$STATUS" 404

# agents
api org POST /v1/agents '{"name":"a2","model":"claude-x","tools":[{"type":"agent_toolset_20260401"}]}'
is "agent create" "$STATUS" 200
A2=$(jget "$BODY" id)
is "agent version" "$(jget "$BODY" version)" 1
api org GET /v1/agents
like "agent list" "$BODY" "$A2"
api org GET /v1/agents/agent_nope
is "unknown agent 404" "$STATUS" 404
api org POST /v1/agents '{}'
is "agent needs a name" "$STATUS" 400

# sessions
EID=$ANTHROPIC_ENVIRONMENT_ID
api org POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$EID\",\"title\":\"t1\",\"metadata\":{\"sim_scenario\":\"idle\"}}"
is "session create (agent id string)" "$STATUS" 200
S1=$(jget "$BODY" id)
like "session id" "$S1" '^sesn_'
is "starts idle" "$(jget "$BODY" status)" idle
is "agent snapshot" "$(jget "$BODY" agent.id)" "$OMNI_SIM_AGENT_ID"
is "skills array" "$(jget "$BODY" agent.skills)" '[]'
is "resources" "$(jget "$BODY" resources)" '[]'
is "title" "$(jget "$BODY" title)" t1
api org POST /v1/sessions "{\"agent\":{\"type\":\"agent\",\"id\":\"$A2\",\"version\":1},\"environment_id\":\"$EID\",\"metadata\":{\"sim_scenario\":\"idle\"}}"
is "session create (agent object)" "$(jget "$BODY" agent.id)" "$A2"
S2=$(jget "$BODY" id)
api org POST /v1/sessions "{\"agent\":{\"type\":\"agent_with_overrides\",\"id\":\"$A2\",\"model\":\"m-over\"},\"environment_id\":\"$EID\",\"metadata\":{\"sim_scenario\":\"idle\"}}"
is "agent_with_overrides" "$(jget "$BODY" agent.model)" m-over
S3=$(jget "$BODY" id)
api org POST /v1/sessions "{\"agent\":\"agent_nope\",\"environment_id\":\"$EID\"}"
is "unknown agent -> 404" "$STATUS" 404
api org POST /v1/sessions "{\"agent\":\"$A2\",\"environment_id\":\"env_nope\"}"
is "unknown environment -> 404" "$STATUS" 404
is "environment_not_found" "$(jget "$BODY" error.details.error_code)" environment_not_found
api org POST /v1/sessions "{\"agent\":\"$A2\"}"
is "environment_id required" "$STATUS" 400
api org POST /v1/sessions "{\"agent\":\"$A2\",\"environment_id\":\"$EID\",\"metadata\":{\"sim_scenario\":\"dance\"}}"
is "unknown scenario -> 400" "$STATUS" 400
api org POST /v1/sessions "{\"agent\":\"$A2\",\"environment_id\":\"$EID\",\"initial_events\":[$(for i in $(seq 1 51); do printf '{"type":"user.message","content":"x"},'; done | sed 's/,$//')]}"
is "51 initial events -> 400" "$STATUS" 400
api org POST /v1/sessions "{\"agent\":\"$A2\",\"environment_id\":\"$EID\",\"initial_events\":[{\"type\":\"agent.message\"}]}"
is "disallowed initial event type -> 400" "$STATUS" 400
api org POST /v1/sessions "{\"agent\":\"$A2\",\"environment_id\":\"$ECLOUD\",\"metadata\":{\"sim_scenario\":\"idle\"}}"
is "session on cloud env" "$STATUS" 200
SC=$(jget "$BODY" id)
api org POST "/v1/sessions/$SC/events" "{\"events\":[{\"type\":\"user.tool_result\",\"tool_use_id\":\"x\",\"content\":[]}]}"
is "user.tool_result refused on cloud env" "$STATUS" 400

api org GET /v1/sessions
is "list 200" "$STATUS" 200
is "default order desc" "$(jget "$BODY" data.0.id)" "$SC"
api org GET "/v1/sessions?order=asc&limit=2"
is "asc first" "$(jget "$BODY" data.0.id)" "$S1"
NP=$(jget "$BODY" next_page)
api org GET "/v1/sessions?order=asc&limit=2&page=$NP"
is "asc second page" "$(jget "$BODY" data.0.id)" "$S3"
is "prev_page present" "$(jget "$BODY" prev_page)" null
api org GET "/v1/sessions?agent_id=$A2"
is "agent_id filter" "$(jget "$BODY" data.3 >/dev/null; echo $?)/$(jget "$BODY" data.0.agent.id)" "1/$A2"
api org GET "/v1/sessions?environment_id=$ECLOUD"
is "environment_id filter" "$(jget "$BODY" data.0.id)" "$SC"
api org GET "/v1/sessions?statuses[]=running"
is "statuses[] filter" "$(jget "$BODY" data)" '[]'
api org GET "/v1/sessions?statuses=idle&statuses=running&limit=1"
is "statuses repeated filter" "$(jget "$BODY" data.0.status)" idle
api org GET "/v1/sessions?statuses=sleeping"
is "bad status -> 400" "$STATUS" 400
api org GET "/v1/sessions?created_at%5Bgt%5D=2999-01-01T00:00:00Z"
is "created_at[gt] filter" "$(jget "$BODY" data)" '[]'
api org GET "/v1/sessions?created_at[lt]=not-a-time"
is "bad timestamp -> 400" "$STATUS" 400
api org GET "/v1/sessions?order=sideways"
is "bad order -> 400" "$STATUS" 400

api org POST "/v1/sessions/$S1" '{"title":"renamed","metadata":{"extra":"1","sim_scenario":null}}'
is "update title" "$(jget "$BODY" title)" renamed
is "update metadata patch" "$(jget "$BODY" metadata)" '{"extra":"1"}'
api org POST "/v1/sessions/$S1" '{"title":5}'
is "bad title -> 400" "$STATUS" 400

api org POST "/v1/sessions/$S1/archive"
is "archive 200" "$STATUS" 200
is "archived -> terminated" "$(jget "$BODY" status)" terminated
api org GET "/v1/sessions/$S1/events?types=session.status_terminated"
like "status_terminated emitted" "$(jget "$BODY" data.0.type)" session.status_terminated
api org GET /v1/sessions
unlike "archived hidden from list" "$BODY" "$S1"
api org GET "/v1/sessions?include_archived=true"
like "include_archived lists it" "$BODY" "$S1"
api org POST "/v1/sessions/$S1/events" '{"events":[{"type":"user.message","content":"x"}]}'
is "send to archived session -> 400" "$STATUS" 400

api org DELETE "/v1/sessions/$S2"
is "delete 200" "$STATUS" 200
is "delete type" "$(jget "$BODY" type)" session_deleted
api org GET "/v1/sessions/$S2"
is "deleted session -> 404" "$STATUS" 404

done_testing
