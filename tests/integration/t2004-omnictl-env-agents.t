#!/usr/bin/env bash
# omnictl env list|show|create|archive, agents list.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 5
ENV=$ANTHROPIC_ENVIRONMENT_ID

out=$(ctl env list)
like "env list header" "$out" '^ENVIRONMENT +NAME +TYPE +CREATED +ARCHIVED'
like "env list shows the sim env" "$out" "$ENV +omni-sim-default +self_hosted"
E2=$(ctl env create --description "for tests" staging-pool)
like "env create prints the id" "$E2" '^env_'
out=$(ctl env show "$E2")
like "env show: name" "$out" 'name +staging-pool'
like "env show: description" "$out" 'description +for tests'
json=$(ctl -o json env show "$E2")
is "env show -o json" "$(jget "$json" name)" staging-pool
json=$(ctl -o json env list)
is "env list -o json has both" "$(jget "$json" environments.1.id)" "$E2"
like "stats --all covers both" "$(ctl stats --all)" "$E2 +staging-pool"
out=$(ctl env archive --yes "$E2")
like "env archive" "$out" "archived $E2"
unlike "archived env hidden from env list" "$(ctl env list)" "$E2"
like "env list --archived shows it" "$(ctl env list --archived)" "$E2"
ctl env show env_01NOPE >/dev/null 2>"$T/e"; rc=$?
is "env show unknown: exit 4" "$rc" 4
is "env create without a name: exit 2" "$(ctl env create 2>/dev/null; echo $?)" 2
is "env show bad id: exit 2" "$(ctl env show '../x' 2>/dev/null; echo $?)" 2

out=$(ctl agents list)
like "agents list header" "$out" '^AGENT +NAME +MODEL +VERSION +CREATED'
like "agents list shows the sim agent" "$out" "$OMNI_SIM_AGENT_ID +omni-sim-agent"
is "agents list -o json" "$(jget "$(ctl -o json agents list)" agents.0.id)" "$OMNI_SIM_AGENT_ID"
is "agents without subcommand: exit 2" "$(ctl agents 2>/dev/null; echo $?)" 2

done_testing
