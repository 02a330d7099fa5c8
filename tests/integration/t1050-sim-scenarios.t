#!/usr/bin/env bash
# omni-sim scripted agent scenarios and the report's bookkeeping.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-sim.sh"

sim_start
rep() { jget "$(sim_report)" "$1"; }
sess() { # sess SID FIELD: per-session report field (GET /_sim/report/sessions/{id})
    jget "$(curl -sf --max-time 5 "$SIM_URL/_sim/report/sessions/$1")" "$2"
}

# six-tools answered correctly, as a worker would
new_session six-tools; S=$SID
for step in 1 2 3 4 5 6; do
    read -r id name _ <<<"$(pending_calls "$S" | head -1)"
    f=$(event_input "$S" "$id" file_path)
    case $name in
    write) txt="wrote 40 bytes to $f" ;;
    read) txt=$'alpha '"$S"$'\nbeta\n' ;;
    edit) txt="edited $f (1 replacement(s))" ;;
    glob) txt=$prev_file ;;
    grep) txt="$prev_file:2:gamma" ;;
    bash) txt=$(printf 'alpha %s\ngamma\n' "$S") ;;
    esac
    [ -n "$f" ] && prev_file=$f
    post_result "$S" "$id" "$txt"
    is "six-tools step $step ($name) accepted" "$STATUS" 200
done
is "six-tools: order of tools" "$(api org GET "/v1/sessions/$S/events?limit=1000&types=agent.tool_use"; printf '%s' "$BODY" | perl -MJSON::PP -e 'local $/; print join ",", map { $_->{name} } @{decode_json(<STDIN>)->{data}}')" write,read,edit,glob,grep,bash
is "six-tools completed" "$(sess "$S" completed)" true
is "six-tools no mismatches" "$(rep result_mismatches)" 0
api org GET "/v1/sessions/$S/events?order=desc&limit=1"
is "turn ends with end_turn" "$(jget "$BODY" data.0.stop_reason.type)" end_turn
is "session idle" "$(api org GET "/v1/sessions/$S"; jget "$BODY" status)" idle

# a wrong result is a mismatch; a duplicate is counted; the wrong kind is a protocol error
new_session six-tools; S=$SID
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "wrote 40 bytes"
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "something else"
is "wrong read content -> mismatch" "$(rep result_mismatches)" 1
like "mismatch explained" "$(jget "$(sim_report)" problems.0)" 'read .*expected'
post_result "$S" "$id" "again"
is "duplicate accepted" "$STATUS" 200
is "duplicate counted" "$(rep duplicate_results)" 1
is "per-session duplicate" "$(sess "$S" duplicate_results)" 1
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "x" org user.custom_tool_result
is "wrong result kind accepted" "$STATUS" 200
is "wrong kind is a protocol error" "$(rep protocol_errors)" 1
is "wrong kind leaves it unanswered" "$(sess "$S" unanswered_calls)" 1

# ask: confirmation allow, then the result
new_session ask; S=$SID
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
api org GET "/v1/sessions/$S/events?types=agent.tool_use"
is "ask permission" "$(jget "$BODY" data.0.evaluated_permission)" ask
api org POST "/v1/sessions/$S/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$id\",\"result\":\"allow\"}]}"
is "confirmation accepted" "$STATUS" 200
post_result "$S" "$id" "approved-by-operator"
is "ask completed" "$(sess "$S" completed)" true
is "no protocol error for a confirmed run" "$(rep protocol_errors)" 1

# ask: result before confirmation is a protocol error
new_session ask; S=$SID
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "approved-by-operator"
is "unconfirmed run counted" "$(rep protocol_errors)" 2

# ask: deny -> synthetic error result, turn ends
new_session ask; S=$SID
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
api org POST "/v1/sessions/$S/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$id\",\"result\":\"deny\",\"deny_message\":\"no thanks\"}]}"
api org GET "/v1/sessions/$S/events?types=user.tool_result"
is "deny appends an error result" "$(jget "$BODY" data.0.is_error)" true
like "deny message kept" "$BODY" 'no thanks'
is "denied session completes" "$(sess "$S" completed)" true

# deny scenario: evaluated deny needs nothing from the worker
new_session deny; S=$SID
is "deny scenario completes alone" "$(sess "$S" completed)" true
is "deny leaves nothing unanswered" "$(sess "$S" unanswered_calls)" 0

# custom tool: answered with user.custom_tool_result
new_session custom; S=$SID
read -r id name kind <<<"$(pending_calls "$S" | head -1)"
is "custom tool use" "$kind" agent.custom_tool_use
post_result "$S" "$id" "order shipped" org user.custom_tool_result
is "custom completed" "$(sess "$S" completed)" true

# burst:3 -> three calls at once; partial answers re-announce the rest
new_session burst:3; S=$SID
is "three pending at once" "$(pending_calls "$S" | wc -l)" 3
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "$(event_input "$S" "$id" command | sed 's/^echo //')"
api org GET "/v1/sessions/$S/events?order=desc&limit=1"
is "idle re-announces the two left" "$(jget "$BODY" data.0.stop_reason.event_ids | tr -cd ',' | wc -c)" 1
for id in $(pending_calls "$S" | cut -d' ' -f1); do
    post_result "$S" "$id" "$(event_input "$S" "$id" command | sed 's/^echo //')"
done
is "burst completed" "$(sess "$S" completed)" true

# interrupt ends the turn, nothing left unanswered
new_session busy:30; S=$SID
api org GET "/v1/sessions/$S/events?types=agent.tool_use"
is "busy runs sleep" "$(jget "$BODY" data.0.input.command)" "sleep 30"
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"user.interrupt"}]}'
api org GET "/v1/sessions/$S/events?order=desc&limit=1"
is "interrupt -> end_turn" "$(jget "$BODY" data.0.stop_reason.type)" end_turn
is "interrupted call not unanswered" "$(sess "$S" unanswered_calls)" 0

# noop-read:2 -> write then two reads; idle has no calls; long-bash input
new_session noop-read:2; S=$SID
for i in 1 2 3; do
    read -r id name _ <<<"$(pending_calls "$S" | head -1)"
    [ "$name" = write ] && post_result "$S" "$id" "wrote 2 bytes" || post_result "$S" "$id" $'x\n'
done
is "noop-read completed" "$(sess "$S" tool_calls_emitted)/$(sess "$S" completed)" 3/true
new_session idle; S=$SID
is "idle completes without calls" "$(sess "$S" tool_calls_emitted)/$(sess "$S" completed)" 0/true
new_session long-bash:2; S=$SID
api org GET "/v1/sessions/$S/events?types=agent.tool_use"
like "long-bash command" "$(jget "$BODY" data.0.input.command)" '^sleep 2; echo long-bash-done$'

# a second message during a turn runs another turn afterwards
new_session bash-once; S=$SID
api org POST "/v1/sessions/$S/events" '{"events":[{"type":"user.message","content":"again"}]}'
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "hello from omni-sim"
is "queued message starts turn 2" "$(pending_calls "$S" | wc -l)" 1
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "hello from omni-sim"
is "two turns completed" "$(sess "$S" turns_completed)" 2

for bad in burst burst:0 burst:x busy:-1 "six-tools:3" "noop-read:"; do
    api org POST /v1/sessions "{\"agent\":\"$OMNI_SIM_AGENT_ID\",\"environment_id\":\"$ANTHROPIC_ENVIRONMENT_ID\",\"metadata\":{\"sim_scenario\":\"$bad\"}}"
    is "bad scenario '$bad' -> 400" "$STATUS" 400
done

# the one-session report route agrees with the full report and knows its sessions
is "one-session report matches the full report" \
    "$(sess "$S" results_received)" \
    "$(sim_report | perl -MJSON::PP -e 'local $/; for (@{decode_json(<STDIN>)->{sessions}}) { print $_->{results_received} if $_->{id} eq $ARGV[0] }' "$S")"
api none GET /_sim/report/sessions/sesn_nosuchsession
is "one-session report of an unknown session: 404" "$STATUS" 404

done_testing
