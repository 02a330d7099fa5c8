#!/usr/bin/env bash
# make demo's non-terminal path: scripts/demo with stdout to a file prints the
# console's tables, exits 0, keeps keys out of argv and leaves no process behind.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$T/tmp"
TMPDIR=$T/tmp DEMO_SETTLE=3 OMNI_BIN=$BIN bash "$TOP/scripts/demo" >"$T/demo.out" 2>"$T/demo.err" &
DEMO=$!
# while it runs: no key in any process's argv
if until_ok 15 bash -c "ls $T/tmp/omni-demo.*/sim.env" && sleep 2; then
    envf=$(ls "$T"/tmp/omni-demo.*/sim.env | head -1)
    org=$(sed -n 's/^ANTHROPIC_API_KEY=//p' "$envf")
    envk=$(sed -n 's/^ANTHROPIC_ENVIRONMENT_KEY=//p' "$envf")
    args=$(ps -eo args)
    ok "keys were read from the env file" test -n "$org" -a -n "$envk"
    ok "the org key is in no process's argv" test "${args/"$org"/}" = "$args"
    ok "the environment key is in no process's argv" test "${args/"$envk"/}" = "$args"
else
    ok "the demo wrote the simulator's env file" false
fi
wait "$DEMO"
is "demo exits 0" "$?" 0
out=$(cat "$T/demo.out")
like "environments table" "$out" "^ENVIRONMENTS"
like "the served environment" "$out" "omni-sim-default"
like "the unserved environment is CRITICAL" "$out" "CRITICAL +env_[^ ]+ +demo-unserved .*no worker polling"
like "the session list" "$out" "SESSIONS of env_"
like "ask sessions wait for approval" "$out" "1 ask +[^ ]+ +demo ask"
like "the custom session is listed" "$out" "demo custom"
like "work items (the demo's profile has the env key file)" "$out" "WORK of env_"
if [ -x "$BIN/omni-worker" ]; then
    like "workers were started" "$(cat "$T/demo.err")" "worker 1: omni-worker poll --concurrency 4"
    like "and they claimed work" "$out" "(active|stopped|stopping|starting) +work_"
fi
sleep 0.5
left=$(ps -eo pid,args | grep -F "$T/tmp" | grep -v grep)
is "no process left behind" "$left" ""
is "the temporary directory is gone" "$(ls "$T/tmp")" ""

# TERM while it runs: still cleans up (a background job ignores INT)
TMPDIR=$T/tmp DEMO_SETTLE=30 OMNI_BIN=$BIN bash "$TOP/scripts/demo" >/dev/null 2>&1 &
DEMO=$!
until_ok 15 bash -c "ls $T/tmp/omni-demo.*/config"
t0=$(date +%s)
kill -TERM "$DEMO"
wait "$DEMO"
is "terminated demo exits 143" "$?" 143
ok "and at once" test $(( $(date +%s) - t0 )) -le 8
sleep 0.5
left=$(ps -eo pid,args | grep -F "$T/tmp" | grep -v grep)
is "interrupted: no process left behind" "$left" ""

done_testing
