#!/usr/bin/env bash
# omnictl stop --wait --escalate tells what happened and when: the graceful
# wait ran out (state, time), the force stop was sent (escalated, time), the
# server reported stopped, and the worker's run may go on until it notices
# (15-60 s); the exit is 1 because the wait ended without `stopped`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ctl_config
TS='20[0-9-]+T[0-9:]+Z'

S=$(new_session)
W=$(claim_work)
heartbeat "$W"
ctl stop --yes --wait=1 --escalate "$S" >"$T/o" 2>"$T/e"; rc=$?
is "escalated stop: exit 1 (wait ended without stopped)" "$rc" 1
out=$(cat "$T/o")
unlike "  never a bare 'stopped' line" "$out" '^stopped '
like "  headline says force-stopped (escalated)" "$out" "^force-stopped \\(escalated\\) $W \\(session $S\\): stopped"
like "  graceful request time" "$out" "graceful stop requested at $TS"
like "  the wait's end, with the state" "$out" "wait of 1s ended at $TS: state stopping, not stopped"
like "  when it escalated" "$out" "escalated: force stop sent at $TS"
like "  when the server said stopped" "$out" "server reported stopped at $TS"
like "  what is still running" "$out" "still running: the worker's run of session $S \\(last heartbeat $TS\\) until .* within 15-60 s"
like "  stderr says it escalated" "$(cat "$T/e")" "did not stop within --wait=1s; escalated to a force stop"

S2=$(new_session)
W2=$(claim_work)
heartbeat "$W2"
json=$(ctl -o json stop --yes --wait=1 --escalate "$W2" 2>/dev/null); rc=$?
is "json: exit 1" "$rc" 1
is "json: escalated true" "$(jget "$json" escalated)" true
like "json: escalated_at" "$(jget "$json" escalated_at)" "^20"
is "json: wait_ended_state" "$(jget "$json" wait_ended_state)" stopping
like "json: requested_at" "$(jget "$json" requested_at)" "^20"
is "json: may_still_run" "$(jget "$json" may_still_run)" true

# A graceful stop that the worker honours inside the wait: exit 0, no escalation.
S3=$(new_session)
out=$(ctl stop --yes --wait=2 --escalate "$S3"); rc=$?
is "queued item stops inside the wait: exit 0" "$rc" 0
unlike "  no escalation" "$out" 'escalat'
unlike "  nothing still running" "$out" 'still running'

# --force on a running item: stopped on the server, the run goes on a while.
S4=$(new_session)
W4=$(claim_work)
heartbeat "$W4"
out=$(ctl stop --yes --force "$W4"); rc=$?
is "--force: exit 0" "$rc" 0
like "  says the run may still go on" "$out" 'still running: .* within 15-60 s'

done_testing
