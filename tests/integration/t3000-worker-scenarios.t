#!/usr/bin/env bash
# omni-worker poll, in-process, concurrency 1: every sim scenario runs to
# completion; ask is held until the operator allows it; deny posts nothing;
# a custom tool the worker does not own is left for the app backend; SDK
# 1.16's texts: a bash output over 30,000 characters names a saved file the
# read tool then reads, a read over 110,000 bytes asks for a view_range.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
SCEN=(bash-once six-tools deny burst:12 noop-read:3 ask custom big-bash big-read)
SIDS=()
for s in "${SCEN[@]}"; do
    new_session "$s"
    SIDS+=("$SID")
done
ASK_SID=${SIDS[5]}
CUSTOM_SID=${SIDS[6]}

wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work"

# ask: the call must stay unanswered until the confirmation arrives
wait_for 20 "ask call emitted" test -n "$(first_event_id "$ASK_SID" agent.tool_use)"
ASK_ID=$(first_event_id "$ASK_SID" agent.tool_use)
sleep 1
api org GET "/v1/sessions/$ASK_SID/events?limit=1000&types[]=user.tool_result"
unlike "ask call not run before its confirmation" "$BODY" "$ASK_ID"
api org POST "/v1/sessions/$ASK_SID/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$ASK_ID\",\"result\":\"allow\"}]}"
is "confirmation accepted" "$STATUS" 200

# custom: the app backend answers; the worker leaves it alone
wait_for 30 "custom call emitted" test -n "$(first_event_id "$CUSTOM_SID" agent.custom_tool_use)"
CU_ID=$(first_event_id "$CUSTOM_SID" agent.custom_tool_use)
wait_for 10 "worker logged the custom tool as not owned" grep -q "not owned by this worker.*$CU_ID" "$T/worker.log"
post_result "$CUSTOM_SID" "$CU_ID" "order A-42: shipped" org user.custom_tool_result
is "app answered the custom tool" "$STATUS" 200

wait_for 40 "all ${#SCEN[@]} sessions completed and stopped" all_done ${#SCEN[@]}
check_report "in-process" 1

log=$(cat "$T/worker.log")
like "claims are logged" "$log" "claimed work work=work_"
like "tool calls are logged with duration and size" "$log" "tool call tool=bash .*duration_ms=[0-9]+ bytes=[0-9]+ is_error=false"
like "stops are logged" "$log" "work stopped \(force\)"
unlike "tool inputs are not logged by default" "$log" "input="
unlike "no key in the log" "$log" "$ANTHROPIC_ENVIRONMENT_KEY"
unlike "no sessions token in the log" "$log" "sk-ant-req"
DENY_SID=${SIDS[2]}
api org GET "/v1/sessions/$DENY_SID/events?limit=1000&types[]=user.tool_result"
is "denied call: only the server's synthetic result" "$(printf '%s' "$BODY" | grep -o '"tool_use_id"' | wc -l)" 1
unlike "denied call never ran" "$BODY" "this-must-not-run"
BIG_SID=${SIDS[7]}
like "big-bash: the result names the saved output in the session's directory" \
    "$(sess_field "$BIG_SID" saved_output)" "/\.omni-bash-output-[0-9a-f]+/[0-9a-f]+\.txt\$"
api org GET "/v1/sessions/$BIG_SID/events?limit=1000&types[]=user.tool_result"
like "big-bash: 1.16's cut note" "$BODY" "lines truncated\\] Full output saved to: "
api org GET "/v1/sessions/${SIDS[8]}/events?limit=1000&types[]=user.tool_result"
like "big-read: 1.16's refusal" "$BODY" "is 120000 bytes, exceeds 110000-byte limit. Use the view_range parameter"
ok "session workdirs removed" test -z "$(ls -A "$T/work" 2>/dev/null)"

kill -TERM "$WK_PID"
wk_wait 10
is "SIGTERM while idle: exit 0" "$WK_RC" 0
done_testing
