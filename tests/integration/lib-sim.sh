# lib-sim.sh — curl helpers for the omni-sim tests (t1*-sim-*.t). Source after
# tests/lib.sh and sim_start. Keys go to curl through header files (-H @file),
# never through argv.
#
#   api CRED METHOD PATH [BODY]   sets STATUS, BODY and HDRS (header file)
#       CRED: org (x-api-key), orgb (Bearer org key), env (Bearer env key),
#             none, both (x-api-key + Bearer), or a literal key value
#       API_WORKSPACE=ID sends anthropic-workspace-id, API_WORKER=ID anthropic-worker-id
#   hdr NAME                      a response header of the last api call
#   claim [ENV_ID] [ENV_KEY]      poll (block_ms=999) + ack + first heartbeat;
#                                 sets WID, TOK, SID_W, HB (last_heartbeat)
#   new_session [SCENARIO] [ENV_ID]   create a session with a user.message; sets SID

_sim_hfile() { # name value -> path of a private header file
    local f=$T/h.$1
    (umask 077; printf '%s\n' "$2" >"$f")
    printf '%s' "$f"
}

api() {
    local cred=$1 method=$2 path=$3 body=${4-}
    HDRS=$T/headers.$BASHPID
    local out=$T/body.$BASHPID
    local args=(-s -g -o "$out" -D "$HDRS" -w '%{http_code}' --max-time 15 -X "$method"
                -H "anthropic-version: ${API_VERSION:-2023-06-01}")
    [ -n "${API_NO_BETA-}" ] || args+=(-H "anthropic-beta: ${API_BETA:-managed-agents-2026-04-01}")
    case $cred in
    org) args+=(-H "@$(_sim_hfile org "x-api-key: $ANTHROPIC_API_KEY")") ;;
    orgb) args+=(-H "@$(_sim_hfile orgb "authorization: Bearer $ANTHROPIC_API_KEY")") ;;
    env) args+=(-H "@$(_sim_hfile env "authorization: Bearer $ANTHROPIC_ENVIRONMENT_KEY")") ;;
    both) args+=(-H "@$(_sim_hfile org "x-api-key: $ANTHROPIC_API_KEY")"
                 -H "@$(_sim_hfile env "authorization: Bearer $ANTHROPIC_ENVIRONMENT_KEY")") ;;
    none) ;;
    *) args+=(-H "@$(_sim_hfile lit "authorization: Bearer $cred")") ;;
    esac
    [ -n "${API_WORKER-}" ] && args+=(-H "anthropic-worker-id: $API_WORKER")
    [ -n "${API_WORKSPACE-}" ] && args+=(-H "anthropic-workspace-id: $API_WORKSPACE")
    [ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "$SIM_URL$path")
    BODY=$(cat "$out" 2>/dev/null)
    rm -f "$out"
}

hdr() {
    tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
        'BEGIN{FS=": "} tolower($1)==n {print substr($0, length($1)+3)}' | tail -1
}

b64url_json() { # decode a base64url secret
    local s=$1
    s=$(printf '%s' "$s" | tr '_-' '/+')
    while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
    printf '%s' "$s" | base64 -d
}

claim() {
    local env_id=${1:-$ANTHROPIC_ENVIRONMENT_ID} key=${2:-env}
    API_WORKER=${API_WORKER:-test-worker-1} api "$key" GET "/v1/environments/$env_id/work/poll?block_ms=999"
    WID=$(jget "$BODY" id) || return 1
    SID_W=$(jget "$BODY" data.id)
    TOK=$(b64url_json "$(jget "$BODY" secret)" | "$TOP/tests/jget" sessions_token)
    api "$TOK" POST "/v1/environments/$env_id/work/$WID/ack"
    [ "$STATUS" = 200 ] || return 1
    api "$TOK" POST "/v1/environments/$env_id/work/$WID/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"
    [ "$STATUS" = 200 ] || return 1
    HB=$(jget "$BODY" last_heartbeat)
}

new_session() {
    local scen=${1:-} env_id=${2:-$ANTHROPIC_ENVIRONMENT_ID} md='{}'
    [ -n "$scen" ] && md="{\"sim_scenario\":\"$scen\"}"
    api org POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$env_id\",\"metadata\":$md,\"initial_events\":[{\"type\":\"user.message\",\"content\":[{\"type\":\"text\",\"text\":\"go\"}]}]}"
    SID=$(jget "$BODY" id)
}

# pending_tool_uses SID CRED: ids of agent.tool_use events (one per line)
tool_uses() {
    api "${2:-org}" GET "/v1/sessions/$1/events?limit=1000&types[]=agent.tool_use&types[]=agent.custom_tool_use"
    printf '%s' "$BODY" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print "$_->{id}\n" for @{$j->{data}}'
}

# post_result SID TOOL_USE_ID TEXT [CRED] [KIND] [IS_ERROR]
post_result() {
    local sid=$1 id=$2 text=$3 cred=${4:-org} kind=${5:-user.tool_result} err=${6:-false}
    local field=tool_use_id
    [ "$kind" = user.custom_tool_result ] && field=custom_tool_use_id
    local jtext
    jtext=$(printf '%s' "$text" | perl -MJSON::PP -e 'local $/; print JSON::PP->new->allow_nonref->encode(<STDIN>)')
    api "$cred" POST "/v1/sessions/$sid/events" "{\"events\":[{\"type\":\"$kind\",\"$field\":\"$id\",\"is_error\":$err,\"content\":[{\"type\":\"text\",\"text\":$jtext}]}]}"
}

# event_input SID ID FIELD: input.FIELD of the tool use with that id
event_input() {
    api org GET "/v1/sessions/$1/events?limit=1000"
    printf '%s' "$BODY" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); for (@{$j->{data}}) { if ($_->{id} eq $ARGV[0]) { my $v = $_->{input}{$ARGV[1]}; print defined $v ? $v : "" } }' "$2" "$3"
}

# pending_calls SID: "id name kind" for every tool use without a result yet
pending_calls() {
    api org GET "/v1/sessions/$1/events?limit=1000"
    printf '%s' "$BODY" | perl -MJSON::PP -e '
        local $/; my $j = decode_json(<STDIN>); my (%done, @calls);
        for my $e (@{$j->{data}}) {
            if ($e->{type} =~ /^agent\.(custom_)?tool_use$/) { push @calls, $e }
            elsif ($e->{type} eq "user.tool_result") { $done{$e->{tool_use_id}} = 1 }
            elsif ($e->{type} eq "user.custom_tool_result") { $done{$e->{custom_tool_use_id}} = 1 }
        }
        for (@calls) { print "$_->{id} $_->{name} $_->{type}\n" unless $done{$_->{id}} }'
}
