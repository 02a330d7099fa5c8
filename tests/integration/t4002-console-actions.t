#!/usr/bin/env bash
# omni-console actions reach the simulator: interrupt, approve, deny, stop,
# force stop, each asked y/N first; new session; --readonly turns them all off.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
INT=$(mk idle "act-int")
APP=$(mk ask "act-approve")
DENY=$(mk ask "act-deny")
FORCE=$(mk idle "act-force")
STOP=$(mk idle "act-stop")
like "sessions created" "$INT $APP $DENY $FORCE $STOP" '^(sesn_[^ ]+ ){4}sesn_'

# select the row whose title matches: filter, then Enter closes the prompt
select_row() {
    keys /
    keys C-u
    keys -l "$1"
    keys Enter
    wait_screen 5 "^1 of [0-9]+ sessions"
}

con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
ok "starts on the environment's sessions (--env)" wait_screen 10 "of 5 sessions"
ok "held calls are known" wait_screen 15 "$APP .*1 ask"
wait_screen 15 "$DENY .*1 ask"

select_row act-int
keys i
ok "i: asks first" wait_screen 5 "interrupt session $INT\? \[y/N\]"
keys y
ok "i: status line reports the interrupt" wait_screen 5 "interrupt sent to $INT"
ok "i: user.interrupt reached the session" until_ok 5 bash -c "$(declare -f api events); T=$T SIM_URL=$SIM_URL; events $INT | grep -q '\"user.interrupt\"'"

select_row act-approve
keys a
wait_screen 5 "approve .* in $APP\? \[y/N\]"
keys y
ok "a: status line reports the approval" wait_screen 5 "approved tool call"
ev=$(events "$APP")
like "a: user.tool_confirmation allow posted" "$ev" '"type":"user.tool_confirmation"[^}]*"result":"allow"|"result":"allow"[^}]*"type":"user.tool_confirmation"'

select_row act-deny
keys d
wait_screen 5 "deny .* in $DENY\? \[y/N\]"
keys y
ok "d: status line reports the denial" wait_screen 5 "denied tool call"
ev=$(events "$DENY")
like "d: user.tool_confirmation deny posted" "$ev" '"result":"deny"'

select_row act-force
keys S
ok "S asks for confirmation" wait_screen 5 "force stop session $FORCE.*\? .*\[y/N\]"
keys n
ok "anything but y cancels" wait_screen 5 "cancelled"
is "cancelled: the work item is still queued" "$(work_state "$FORCE")" queued
keys S
wait_screen 5 "\[y/N\]"
keys y
ok "S y: status line reports the force stop" wait_screen 5 "force-stopped work"
is "S y: the work item is stopped" "$(work_state "$FORCE")" stopped

select_row act-stop
keys s
wait_screen 5 "stop session $STOP.*\? \[y/N\]"
keys y
ok "s: status line reports the graceful stop" wait_screen 5 "stop requested for work"
like "s: the work item is stopping or stopped" "$(work_state "$STOP")" '^(stopping|stopped)$'

# stopping without the environment key: told plainly, nothing sent (before asking)
con_stop
CON_CONFIG=$T/config-nokey con_start --env "$ANTHROPIC_ENVIRONMENT_ID"
wait_screen 10 "of 5 sessions"
select_row act-int
keys s
ok "s without the env key file: says what is missing" wait_screen 5 "needs env_key_file.$ANTHROPIC_ENVIRONMENT_ID in the config"

# new session: agent picker, first message
con_stop
con_start --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
wait_screen 10 "of 5 sessions"
keys n
ok "n: the agent picker lists the simulator's agent" wait_screen 15 "$OMNI_SIM_AGENT_ID"
keys Enter
ok "then asks for the first message" wait_screen 15 "first message"
keys -l "hello from the console"
keys Enter
ok "n: status line reports the new session" wait_screen 15 "created session sesn_"
ok "n: the new session is listed" wait_screen 15 "of 6 sessions"
new=$(screen | sed -n 's/.*created session \(sesn_[A-Za-z0-9_]*\).*/\1/p')
like "n: the first message reached it" "$(events "$new")" "hello from the console"

# --readonly: every action off
con_stop
RO=$(mk ask "act-ro")
con_start --readonly --refresh 1 --env "$ANTHROPIC_ENVIRONMENT_ID"
ok "--readonly: said at start" wait_screen 10 "read-only mode"
ok "--readonly: the header says so" _screen_has "READONLY"
wait_screen 15 "$RO .*1 ask"
select_row act-ro
for k in i a d s S n; do
    keys "$k"
    ok "--readonly: '$k' is refused" wait_screen 5 "read-only mode: .* is off"
    keys x  # clear nothing, just a no-op key
done
sleep 1
unlike "--readonly: nothing reached the session" "$(events "$RO")" 'user.interrupt|user.tool_confirmation'
is "--readonly: the work item is untouched" "$(work_state "$RO")" queued

done_testing
