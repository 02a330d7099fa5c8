#!/usr/bin/env bash
# omnictl stats reads each environment's work list when the profile has its
# env_key_file: "saturated" (WARNING: live heartbeats) told from "no worker"
# (CRITICAL) in every output, stuck items shown; a failed listing is not
# fatal. work stuck --all checks every environment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID

# No key file: the rule cannot tell busy from dead, and says so.
new_session >/dev/null
out=$(ctl stats -o nagios "$ENV"); rc=$?
is "no work list, work waiting, no worker: CRITICAL" "$rc" 2
like "  says it has no work list" "$out" 'no work list'
json=$(ctl stats -o json "$ENV")
is "json: live unknown without a key" "$(jget "$json" environments.0.live)" null
is "json: note says why" "$(jget "$json" environments.0.work_list_note)" "no env_key_file"

ctl_config
# One worker holds a session (fresh heartbeat) while another waits.
W1=$(claim_work)
like "a worker claimed the first item" "$W1" '^work_'
heartbeat "$W1"
new_session >/dev/null
out=$(ctl stats -o nagios --min-workers 2 "$ENV"); rc=$?
is "live heartbeat, too few pollers: WARNING (saturated)" "$rc" 1
like "  the line says saturated" "$out" "^OMNI WARNING - $ENV: saturated: 1 session heartbeating"
like "  perfdata has live and stuck" "$out" 'live=1;;;0 stuck=0;;;0'
json=$(ctl stats -o json --min-workers 2 "$ENV")
is "json: level WARNING" "$(jget "$json" environments.0.level)" WARNING
is "json: cause saturated" "$(jget "$json" environments.0.cause)" saturated
is "json: live 1" "$(jget "$json" environments.0.live)" 1
is "json: stuck 0" "$(jget "$json" environments.0.stuck)" 0
out=$(ctl stats --min-workers 2 "$ENV")
like "table: LIVE STUCK WAITING HEALTH columns" "$out" 'WORKERS +LIVE +STUCK +WAITING +HEALTH'
like "table: saturated row" "$out" "$ENV .* 1 +0 +(-|[0-9]+) +WARNING: saturated"
prom=$(ctl stats -o prom --min-workers 2 "$ENV")
like "prom: saturated 1" "$prom" "omni_environment_saturated\\{environment=\"$ENV\"\\} 1"
like "prom: no_worker 0" "$prom" "omni_environment_no_worker\\{environment=\"$ENV\"\\} 0"
like "prom: live items" "$prom" "omni_work_items_live\\{environment=\"$ENV\"\\} 1"
like "prom: health level" "$prom" "omni_environment_health\\{environment=\"$ENV\"\\} 1"

# A claimed item that never heartbeats: stuck (threshold shortened for the test).
W2=$(claim_work)
like "second item claimed" "$W2" '^work_'
sleep 1.2
json=$(ctl stats -o json --stuck-after 1s "$ENV")
is "json: one stuck item" "$(jget "$json" environments.0.stuck)" 1
out=$(ctl stats -o nagios --stuck-after 1s --min-workers 0 "$ENV")
like "nagios names stuck items" "$out" "$ENV: 1 stuck"
like "table shows STUCK" "$(ctl stats --stuck-after 1s "$ENV")" "$ENV .* 1 +HEALTH|$ENV .* [0-9]+ +1 +"

# A broken key file: the listing fails, stats still answers.
printf 'nonsense\n' >"$T/bad.key"; chmod 600 "$T/bad.key"
sed -i "s#^env_key_file.*#env_key_file.$ENV = $T/bad.key#" "$XDG_CONFIG_HOME/omni/config"
json=$(ctl stats -o json "$ENV"); rc=$?
is "failed work listing is not fatal" "$rc" 0
is "  live unknown" "$(jget "$json" environments.0.live)" null
ctl_config

# work stuck --all: every environment.
out=$(ctl work stuck --all --older-than 1s); rc=$?
is "work stuck --all: stuck item -> exit 1" "$rc" 1
like "  lists it" "$out" "$W2"
E2=$(ctl -o json env create "second" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
ctl work stuck --all --older-than 1h >"$T/o" 2>"$T/e"; rc=$?
is "work stuck --all: env without key file -> exit 3 (not checked)" "$rc" 3
like "  names the environment not checked" "$(cat "$T/e")" "$E2 not checked"
ctl work stuck --all --older-than 1s >/dev/null 2>&1; rc=$?
is "work stuck --all: stuck wins over not checked -> exit 1" "$rc" 1
is "--all with --env: usage (2)" "$(ctl work stuck --all --env "$ENV" 2>/dev/null; echo $?)" 2

done_testing
