#!/usr/bin/env bash
# omnictl sessions confirm checks the session's events before posting: the
# call must be held and unanswered (an interrupt settles held calls); a
# made-up id is 4, a call not held or already answered is 2, nothing is sent;
# on success it reports the event the server recorded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID

tool_use_of() { # SESSION: the first agent.tool_use id (waits for it)
    local tu=""
    for _ in $(seq 50); do
        tu=$(ctl -o json sessions events "$1" | grep '"agent.tool_use"' | head -1)
        [ -n "$tu" ] && break
        sleep 0.1
    done
    "$TOP/tests/jget" id <<<"$tu"
}
confirmations() { ctl sessions events "$1" | grep -c 'user\.tool_confirmation'; }

S=$(new_session ask)
TU=$(tool_use_of "$S")
like "ask scenario holds a tool call" "$TU" '.'

ctl sessions confirm "$S" toolu_madeup123 allow >"$T/o" 2>"$T/e"; rc=$?
is "made-up tool use id: exit 4 (not found)" "$rc" 4
like "  one clear line" "$(cat "$T/e")" '^omnictl: sessions confirm: no tool call toolu_madeup123 in session '
is "  nothing on stdout" "$(cat "$T/o")" ""
is "  nothing posted" "$(confirmations "$S")" 0

out=$(ctl sessions confirm "$S" "$TU" allow); rc=$?
is "held call, allow: exit 0" "$rc" 0
like "  reports what the server recorded" "$out" "^allowed $TU in $S: the server recorded [A-Za-z0-9_]+ at 20"
json=$(ctl -o json sessions confirm "$S" "$TU" allow 2>/dev/null); rc=$?
is "allow again: exit 2" "$rc" 2

ctl sessions confirm "$S" "$TU" deny >"$T/o" 2>"$T/e"; rc=$?
is "deny after allow: exit 2" "$rc" 2
like "  says already answered, with the answer" "$(cat "$T/e")" "already answered \\(user\\.tool_confirmation allow at "
is "  only the one confirmation posted" "$(confirmations "$S")" 1

# A call that was never held (permission allow).
S2=$(new_session bash-once)
TU2=$(tool_use_of "$S2")
like "bash-once produced a tool use" "$TU2" '.'
ctl sessions confirm "$S2" "$TU2" allow >"$T/o" 2>"$T/e"; rc=$?
is "call not held: exit 2" "$rc" 2
like "  says not held" "$(cat "$T/e")" "was not held for confirmation \\(permission allow\\)"

# An interrupt settles a held call.
S3=$(new_session ask)
TU3=$(tool_use_of "$S3")
ok "interrupt" ctl sessions interrupt "$S3"
ctl sessions confirm "$S3" "$TU3" allow >"$T/o" 2>"$T/e"; rc=$?
is "held call settled by an interrupt: exit 2" "$rc" 2
like "  says no longer held" "$(cat "$T/e")" "no longer held \\(settled by user\\.interrupt"

S4=$(new_session ask)
TU4=$(tool_use_of "$S4")
json=$(ctl -o json sessions confirm --message nope "$S4" "$TU4" deny)
is "json: result deny" "$(jget "$json" result)" deny
like "json: event_id of the recorded confirmation" "$(jget "$json" event_id)" '.'

done_testing
