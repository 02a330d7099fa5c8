#!/usr/bin/env bash
# omni-sim key rotation at run time: POST /_sim/environments/{id}/keys mints a
# new environment key (old ones stay valid), .../keys/revoke refuses one from
# then on (401); both need the organisation key; sessions tokens already
# issued keep working.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"

sim_start
E=$ANTHROPIC_ENVIRONMENT_ID
K1=$ANTHROPIC_ENVIRONMENT_KEY

api none POST "/_sim/environments/$E/keys"
is "mint without a credential: 401" "$STATUS" 401
api env POST "/_sim/environments/$E/keys"
is "mint with the environment key: 403" "$STATUS" 403
api org POST "/_sim/environments/$E/keys"
is "mint with the org key: 200" "$STATUS" 200
K2=$(jget "$BODY" key)
like "a new environment key" "$K2" '^sk-ant-oat01-'
api org POST "/_sim/environments/env_nope/keys"
is "unknown environment: 404" "$STATUS" 404

new_session bash-once
claim "$E" "$K1"
ok "the old key still polls before revocation" test -n "$WID"
API_WORKER=w2 api "$K2" GET "/v1/environments/$E/work/poll?block_ms=1"
is "the new key polls" "$STATUS" 200

api env POST "/_sim/environments/$E/keys/revoke" "{\"key\":\"$K1\"}"
is "revoke with the environment key: 403" "$STATUS" 403
api org POST "/_sim/environments/$E/keys/revoke" "{\"key\":\"$K1\"}"
is "revoke: 200" "$STATUS" 200
api "$K1" GET "/v1/environments/$E/work/poll?block_ms=1"
is "the revoked key is refused: 401" "$STATUS" 401
api org POST "/_sim/environments/$E/keys/revoke" "{\"key\":\"$K1\"}"
is "revoking it again: 404" "$STATUS" 404
api "$TOK" POST "/v1/environments/$E/work/$WID/heartbeat?expected_last_heartbeat=$HB"
is "a sessions token issued before keeps working" "$STATUS" 200
api "$K2" GET "/v1/environments/$E/work/poll?block_ms=1"
is "the new key still polls" "$STATUS" 200
done_testing
