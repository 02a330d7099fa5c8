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

# ---- SDK 1.16 scenarios ----
# threads:2: the primary thread and a child each make one call at once; each
# thread's idle lists its own call, the session's lists both
new_session threads:2; S=$SID
api org GET "/v1/sessions/$S/events?limit=1000"
EVS=$BODY
evtypes() { printf '%s' "$1" | perl -MJSON::PP -e 'local $/; print join ",", map { $_->{type} } @{decode_json(<STDIN>)->{data}}'; }
like "threads:2: thread_created, both calls, idles" "$(evtypes "$EVS")" \
    'session.thread_status_running,session.thread_created,session.thread_status_running,agent.tool_use,agent.tool_use,session.thread_status_idle,session.thread_status_idle,session.status_idle$'
P0=$(jget "$EVS" data.5.id); C0=$(jget "$EVS" data.6.id); CT=$(jget "$EVS" data.6.session_thread_id)
is "  the primary's call names no thread" "$(jget "$EVS" data.5.session_thread_id)" ""
is "  the child's idle lists its call" "$(jget "$EVS" data.7.stop_reason.event_ids.0)/$(jget "$EVS" data.7.session_thread_id)" "$C0/$CT"
is "  the session's idle lists both" "$(jget "$EVS" data.9.stop_reason.event_ids | tr -cd ',' | wc -c)" 1
api org GET "/v1/sessions/$S/threads?limit=1"
is "threads list page 1: the primary" "$(jget "$BODY" data.0.parent_thread_id)/$(jget "$BODY" next_page)" "null/page_1"
PT=$(jget "$BODY" data.0.id)
api org GET "/v1/sessions/$S/threads?limit=1&page=page_1"
is "threads list page 2: the child" "$(jget "$BODY" data.0.id)/$(jget "$BODY" data.0.parent_thread_id)/$(jget "$BODY" data.0.status)" "$CT/$PT/idle"
api org GET "/v1/sessions/$S/threads?statuses[]=running"
is "statuses filter: none running" "$(jget "$BODY" data | tr -d '[]')" ""
api org GET "/v1/sessions/$S/threads?statuses[]=asleep"
is "statuses filter: unknown status -> 400" "$STATUS" 400
api org GET "/v1/sessions/$S/threads/sthr_nope"
is "unknown thread -> 404" "$STATUS" 404
api org GET "/v1/sessions/sesn_nope/threads"
is "threads of an unknown session -> 404" "$STATUS" 404
api org GET "/v1/sessions/$S/threads/$CT/events"
is "the child's own stream: its call without session_thread_id" "$(jget "$BODY" data.1.id)/$(jget "$BODY" data.1.session_thread_id)" "$C0/"
# results that ran one after the other, then at once
post_result "$S" "$C0" "omni-sim-thread-call 1 start=100.0 end=101.0"
api org GET "/v1/sessions/$S/events?limit=1000"
like "  the child's result: routed, running, idle end_turn" "$(evtypes "$BODY")" \
    'user.tool_result,session.thread_status_running,session.thread_status_idle,session.status_idle$'
post_result "$S" "$P0" "omni-sim-thread-call 0 start=101.5 end=102.5"
is "threads:2 completed" "$(sess "$S" completed)/$(sess "$S" unanswered_calls)/$(sess "$S" duplicate_results)" true/0/0
is "  sequential runs: calls_overlapped false" "$(sess "$S" calls_overlapped)/$(sess "$S" overlap_ms)" false/-500
api org GET "/v1/sessions/$S/events?order=desc&limit=2"
is "  the primary's idle end_turn, then the session's" "$(jget "$BODY" data.1.type)/$(jget "$BODY" data.1.session_thread_id)" "session.thread_status_idle/$PT"
api org POST "/v1/sessions/$S/threads/$PT/archive"
is "archiving the primary thread -> 400" "$STATUS" 400
new_session threads:2; S=$SID
read -r id _ <<<"$(pending_calls "$S" | tail -1)"
CT=$(api org GET "/v1/sessions/$S/events?types[]=agent.tool_use"; jget "$BODY" data.1.session_thread_id)
api org POST "/v1/sessions/$S/events" "{\"events\":[{\"type\":\"user.interrupt\",\"session_thread_id\":\"$CT\"}]}"
api org GET "/v1/sessions/$S/events?order=desc&limit=2"
is "interrupting the child alone: it idles end_turn, the session waits on the primary's call" \
    "$(jget "$BODY" data.1.stop_reason.type)/$(jget "$BODY" data.1.session_thread_id)/$(jget "$BODY" data.0.stop_reason.event_ids | tr -cd ',' | wc -c)" "end_turn/$CT/0"
is "  its call is not unanswered" "$(sess "$S" unanswered_calls)/$(sess "$S" completed)" 1/false
new_session threads:3; S=$SID
i=0
for id in $(pending_calls "$S" | cut -d' ' -f1); do
    post_result "$S" "$id" "omni-sim-thread-call $i start=10$i.0 end=11$i.0"
    i=$((i + 1))
done
is "threads:3: three threads, overlapping runs" "$(sess "$S" threads)/$(sess "$S" calls_overlapped)/$(sess "$S" overlap_ms)" 3/true/8000
new_session threads:2; S=$SID
read -r id _ <<<"$(pending_calls "$S" | tail -1)"
CT=$(api org GET "/v1/sessions/$S/threads?statuses[]=idle"; jget "$BODY" data.1.id)
api org POST "/v1/sessions/$S/threads/$CT/archive"
is "archiving a child thread -> terminated" "$STATUS/$(jget "$BODY" status)" 200/terminated
post_result "$S" "$id" "late"
is "  a result for its call is refused (400)" "$STATUS" 400

# big-bash: the result must name the saved output; then a read of it with view_range
new_session big-bash; S=$SID
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
is "big-bash: bash seq" "$name $(event_input "$S" "$id" command)" "bash seq 1 20000"
post_result "$S" "$id" "$(printf '1\n2\n3\n\n... [19990 lines truncated] Full output saved to: /tmp/bash-output-x/y.txt — use read with view_range to read specific portions. ...')"
is "  saved output recorded" "$(sess "$S" saved_output)/$(sess "$S" result_mismatches)" "/tmp/bash-output-x/y.txt/0"
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
api org GET "/v1/sessions/$S/events?types[]=agent.tool_use&order=desc&limit=1"
is "  then a read of it with view_range" "$name $(jget "$BODY" data.0.input.file_path) $(jget "$BODY" data.0.input.view_range)" "read /tmp/bash-output-x/y.txt [19991,20000]"
post_result "$S" "$id" "$(seq 19991 20000)"
is "  big-bash completed, no mismatch" "$(sess "$S" completed)/$(sess "$S" result_mismatches)" true/0
new_session big-bash; S=$SID
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "$(seq 1 20000)"
is "big-bash: an uncut output is a mismatch, and no read follows" "$(sess "$S" result_mismatches)/$(sess "$S" completed)/$(sess "$S" tool_calls_emitted)" 1/true/1

# big-read: the refusal above 110,000 bytes is the expected answer, then a view_range read
new_session big-read; S=$SID
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "120000"
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
F=$(event_input "$S" "$id" file_path)
post_result "$S" "$id" "read: $F is 120000 bytes, exceeds 110000-byte limit. Use the view_range parameter to read specific line ranges, e.g. view_range: [1, 500]." org user.tool_result true
read -r id name _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "$(printf '00100\n00101\n00102')"
is "big-read: refusal then range, no mismatch" "$(sess "$S" completed)/$(sess "$S" result_mismatches)/$(sess "$S" tool_calls_emitted)" true/0/3
new_session big-read; S=$SID
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "120000"
read -r id _ <<<"$(pending_calls "$S" | head -1)"
post_result "$S" "$id" "$(seq -w 1 100)"
is "big-read: a whole read of the big file is a mismatch" "$(sess "$S" result_mismatches)" 1

# budget:2: two calls, then idle with budget_reached
new_session budget:2; S=$SID
for i in 1 2; do
    read -r id _ <<<"$(pending_calls "$S" | head -1)"
    post_result "$S" "$id" "budget-call-$i"
done
api org GET "/v1/sessions/$S/events?order=desc&limit=1"
is "budget:2: idle with budget_reached" "$(jget "$BODY" data.0.stop_reason.type)/$(sess "$S" budget_used)/$(sess "$S" budget_reached)" budget_reached/2/true

# webhooks go to loopback only
curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'content-type: application/json' -d '{"url":"http://192.0.2.1/hook","key":"whsec_MDEyMzQ1Njc4OWFiY2RlZg=="}' "$SIM_URL/_sim/webhooks" >"$T/wh"
is "webhook URL off loopback -> 400" "$(cat "$T/wh")" 400
curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'content-type: application/json' -d '{"url":"http://127.0.0.1:9/hook","key":"secret"}' "$SIM_URL/_sim/webhooks" >"$T/wh"
is "webhook key without whsec_ -> 400" "$(cat "$T/wh")" 400

# the lease TTL is the real API's 300 s by default
claim
is "heartbeat ttl_seconds 300 by default" "$(jget "$BODY" ttl_seconds)" 300

for bad in burst burst:0 burst:x busy:-1 "six-tools:3" "noop-read:" threads:0 threads:9 threads-ask:1 big-bash:2 budget:0; do
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
