#!/usr/bin/env bash
# omnictl work list|show|stuck.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 4
ENV=$ANTHROPIC_ENVIRONMENT_ID

S=$(new_session)
ctl work list --env "$ENV" >"$T/o" 2>"$T/e"; rc=$?
is "work list without env_key_file: exit 3" "$rc" 3
like "  says which config line to add" "$(cat "$T/e")" "env_key_file\\.$ENV = PATH"
is "  nothing on stdout" "$(cat "$T/o")" ""

ctl_config
out=$(ctl work list)
like "work list header" "$out" '^WORK +STATE +TYPE +DATA +CREATED +HEARTBEAT'
like "work list shows the queued session item" "$out" "work_[A-Za-z0-9]+ +queued +session +$S"
json=$(ctl -o json work list --env "$ENV")
W=$(jget "$json" work.0.id)
is "work list -o json" "$(jget "$json" work.0.data.id)" "$S"
is "  no secret in listings" "$(jget "$json" work.0.secret; echo $?)" 1

out=$(ctl work show "$W")
like "work show: id" "$out" "^id +$W"
like "work show: state" "$out" 'state +queued'
is "work show -o json: state" "$(jget "$(ctl -o json work show --env "$ENV" "$W")" state)" queued
ctl work show work_01NOPE >/dev/null 2>"$T/e"; rc=$?
is "work show unknown: exit 4" "$rc" 4

# stuck: acked (starting) but never heartbeating.
ctl work stuck >"$T/o"; rc=$?
is "stuck: none -> exit 0" "$rc" 0
is "  and prints nothing (cron)" "$(cat "$T/o")" ""
WC=$(claim_work)
ctl work stuck --older-than 1h >/dev/null; rc=$?
is "stuck: younger than --older-than -> exit 0" "$rc" 0
sleep 1.2
out=$(ctl work stuck --older-than 1s); rc=$?
is "stuck: acked item without heartbeat -> exit 1" "$rc" 1
like "  lists it" "$out" "$WC +starting"
json=$(ctl -o json work stuck --older-than 1s)
is "  -o json" "$(jget "$json" work.0.id)" "$WC"
heartbeat "$WC"
ctl work stuck --older-than 1s >/dev/null; rc=$?
is "stuck: after a heartbeat it is no longer stuck" "$rc" 0
is "stuck: bad --older-than: exit 2" "$(ctl work stuck --older-than soon 2>/dev/null; echo $?)" 2

# An org key in the env key file is refused.
printf '%s\n' "$ANTHROPIC_API_KEY" >"$ENV_KEY_FILE"
ctl work list >"$T/o" 2>"$T/e"; rc=$?
is "org key in env_key_file refused: exit 3" "$rc" 3
unlike "  key not echoed" "$(cat "$T/e")" "$ANTHROPIC_API_KEY"

done_testing
