#!/usr/bin/env bash
# omnictl sessions create|list|show|events [--follow]|archive|interrupt|confirm.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 3 --cut-stream-after 3
ENV=$ANTHROPIC_ENVIRONMENT_ID
AG=$OMNI_SIM_AGENT_ID

S=$(ctl sessions create --agent "$AG" --env "$ENV" --title "first one" --metadata sim_scenario=bash-once --metadata team=ops --message "hello there")
like "create prints the session id" "$S" '^sesn_[A-Za-z0-9]+$'
printf 'line one\nline two\n' >"$T/msg"
json=$(ctl -o json sessions create --agent "$AG" --env "$ENV" --metadata sim_scenario=ask --message-file "$T/msg")
S2=$(jget "$json" id)
like "create -o json gives the session object" "$S2" '^sesn_'
is "  with its environment" "$(jget "$json" environment_id)" "$ENV"
ctl_config
S3=$(ctl sessions create --agent "$AG" --metadata sim_scenario=burst:10 --message go)
like "create uses the config's default environment" "$S3" '^sesn_'

fails "create without --agent" ctl sessions create --env "$ENV"
is "  exit 2" "$(ctl sessions create --env "$ENV" 2>/dev/null; echo $?)" 2
is "bad metadata: exit 2" "$(ctl sessions create --agent "$AG" --metadata novalue 2>/dev/null; echo $?)" 2
is "--message and --message-file together: exit 2" "$(ctl sessions create --agent "$AG" --message a --message-file "$T/msg" 2>/dev/null; echo $?)" 2
is "unreadable message file: exit 1" "$(ctl sessions create --agent "$AG" --message-file "$T/nope" 2>/dev/null; echo $?)" 1
ctl sessions create --agent agent_01NOPE --metadata sim_scenario=bash-once >"$T/o" 2>"$T/e"; rc=$?
ok "unknown agent fails" test "$rc" -ne 0
is "  nothing on stdout" "$(cat "$T/o")" ""
like "  API message with request id" "$(cat "$T/e")" 'request-id req_'

out=$(ctl sessions list)
like "list header" "$out" '^SESSION +STATUS +ENVIRONMENT +AGENT +CREATED +TITLE'
like "list shows the titled session" "$out" "$S +[a-z]+ +$ENV +$AG .*first one"
is "list --limit 1 gives one row" "$(ctl sessions list --limit 1 | tail -n +2 | wc -l)" 1
json=$(ctl -o json sessions list --env "$ENV")
ok "list -o json has 3 sessions" test "$(jget "$json" sessions.2.id)" != ""
is "list --status bogus: exit 2" "$(ctl sessions list --status bogus 2>/dev/null; echo $?)" 2
is "list --limit 0: exit 2" "$(ctl sessions list --limit 0 2>/dev/null; echo $?)" 2
ok "list --status idle works" ctl sessions list --status idle
ok "ls alias works" ctl sessions ls

out=$(ctl sessions show "$S")
like "show: id line" "$out" "^id +$S"
like "show: title" "$out" 'title +first one'
is "show -o json: metadata" "$(jget "$(ctl -o json sessions show "$S")" metadata.team)" ops
ctl sessions show sesn_01NOPE >"$T/o" 2>"$T/e"; rc=$?
is "show unknown: exit 4" "$rc" 4
is "  one line on stderr" "$(wc -l <"$T/e")" 1

ev=$(ctl sessions events "$S")
like "events: user.message with text" "$ev" 'user\.message +hello there'
like "events: tool use summary (name + command)" "$ev" 'agent\.tool_use +bash echo'
like "events: idle stop reason" "$ev" 'session\.status_idle +requires_action'
ev=$(ctl -o json sessions events "$S")
is "events -o json: JSON lines" "$(printf '%s\n' "$ev" | head -1 | "$TOP/tests/jget" type)" user.message
ev=$(ctl sessions events "$S2")
like "events: multi-line message shows its first line" "$ev" 'user\.message +line one$'

# Confirm an `ask` tool call (scenario ask holds one).
tu=$(ctl -o json sessions events "$S2" | grep '"agent.tool_use"' | head -1)
TU=$("$TOP/tests/jget" id <<<"$tu")
like "ask scenario produced a tool use" "$TU" '.'
out=$(ctl sessions confirm "$S2" "$TU" allow); rc=$?
is "confirm allow: exit 0" "$rc" 0
like "  says allowed" "$out" "allowed $TU"
like "  the confirmation is in the events" "$(ctl sessions events "$S2")" "user\\.tool_confirmation +$TU allow"
is "confirm with a bad verdict: exit 2" "$(ctl sessions confirm "$S2" "$TU" maybe 2>/dev/null; echo $?)" 2
is "confirm allow --message: exit 2" "$(ctl sessions confirm --message no "$S2" "$TU" allow 2>/dev/null; echo $?)" 2
is "confirm deny after allow: refused (2)" "$(ctl sessions confirm --message "not now" "$S2" "$TU" deny 2>/dev/null; echo $?)" 2

ok "interrupt" ctl sessions interrupt "$S"
like "  interrupt event recorded" "$(ctl sessions events "$S")" 'user\.interrupt'

# --follow through streams cut every 3 events: each event printed once, ends on terminate.
bg ctl -v -o json sessions events --follow "$S3" >"$T/follow.out" 2>"$T/follow.err"
FP=$BG_PID
sleep 1
for i in 1 2 3 4; do ctl sessions interrupt "$S3" >/dev/null; sleep 0.3; done
ok "archive" ctl sessions archive --yes "$S3"
wait_for 10 "--follow ends after the session terminates" bash -c "! kill -0 $FP 2>/dev/null"
n_all=$(grep -c . "$T/follow.out")
hist=$(ctl -o json sessions events "$S3" | wc -l)
is "--follow printed every event exactly once (vs the list)" "$n_all" "$hist"
like "--follow saw the terminate" "$(cat "$T/follow.out")" 'session\.status_terminated'
dups=$(while read -r l; do "$TOP/tests/jget" id <<<"$l"; done <"$T/follow.out" | sort | uniq -d)
like "--follow reconnected after the cut streams (-v)" "$(cat "$T/follow.err")" 'reconnecting'
unlike "-v trace never shows the key" "$(cat "$T/follow.err")" "$ANTHROPIC_API_KEY"
is "--follow: no duplicate ids" "$dups" ""
is "archived session shows terminated" "$(jget "$(ctl -o json sessions show "$S3")" status)" terminated

is "group without subcommand: exit 2" "$(ctl sessions 2>/dev/null; echo $?)" 2
is "unknown subcommand: exit 2" "$(ctl sessions frob 2>/dev/null; echo $?)" 2
is "malformed session id: exit 2" "$(ctl sessions show 'x y' 2>/dev/null; echo $?)" 2

done_testing
