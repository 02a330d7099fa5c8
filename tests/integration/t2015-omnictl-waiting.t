#!/usr/bin/env bash
# omnictl sessions list --waiting: sessions with a tool call held for a
# person (unanswered, not settled by an interrupt), with their count; stats
# counts them per environment (WAITING column, json waiting, prom
# omni_sessions_waiting, nagios perfdata).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID

held_tool_use() { # SESSION: its agent.tool_use id, once the call is held
    local tu=""
    for _ in $(seq 50); do
        tu=$(ctl -o json sessions events "$1" | grep '"agent.tool_use"' | head -1)
        [ -n "$tu" ] && ctl sessions show "$1" | grep -q idle && break
        sleep 0.1
    done
    "$TOP/tests/jget" id <<<"$tu"
}

A=$(new_session ask); TA=$(held_tool_use "$A")
B=$(new_session ask); TB=$(held_tool_use "$B")
C=$(new_session bash-once); held_tool_use "$C" >/dev/null
D=$(new_session ask); held_tool_use "$D" >/dev/null

out=$(ctl sessions list --waiting); rc=$?
is "list --waiting: exit 0" "$rc" 0
like "  HELD column" "$out" '^SESSION +STATUS +ENVIRONMENT +AGENT +CREATED +HELD +TITLE'
like "  lists a waiting session with its count" "$out" "$A +idle .* 1 +-"
unlike "  not a session whose call ran" "$out" "$C"
is "  three waiting" "$(printf '%s\n' "$out" | grep -c '^sesn_')" 3

json=$(ctl stats --waiting -o json "$ENV")
is "stats json: waiting 3" "$(jget "$json" environments.0.waiting)" 3
like "stats table: WAITING column" "$(ctl stats --waiting "$ENV")" 'STUCK +WAITING +HEALTH'
like "stats prom: omni_sessions_waiting" "$(ctl stats --waiting -o prom "$ENV")" "omni_sessions_waiting\\{environment=\"$ENV\"\\} 3"
like "stats nagios: waiting in perfdata" "$(ctl stats --waiting -o nagios --min-workers 0 "$ENV")" 'waiting=3;;;0'

ctl sessions confirm "$A" "$TA" allow >/dev/null
ctl sessions interrupt "$D" >/dev/null
out=$(ctl sessions list --waiting)
unlike "answered call: no longer waiting" "$out" "$A"
unlike "interrupted session: no longer waiting" "$out" "$D"
like "the other one still waits" "$out" "$B"
json=$(ctl -o json sessions list --waiting)
is "json: held_calls" "$(jget "$json" sessions.0.held_calls)" 1
is "json: the one waiting" "$(jget "$json" sessions.0.id)" "$B"
is "json: stats waiting 1" "$(jget "$(ctl stats --waiting -o json "$ENV")" environments.0.waiting)" 1
is "without --waiting, stats reads no event lists: waiting unknown" "$(ctl stats -o json "$ENV" | grep -o '"waiting":[^,}]*')" '"waiting":null'
is "--waiting with --status running: usage (2)" "$(ctl sessions list --waiting --status running 2>/dev/null; echo $?)" 2

done_testing
