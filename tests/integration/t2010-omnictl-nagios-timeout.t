#!/usr/bin/env bash
# omnictl stats -o nagios as a monitoring plugin: -t/--timeout bounds the
# whole check (default 8 s, below NRPE's 10 s) and a hung API is UNKNOWN (3),
# never a check killed by the scheduler; usage errors are one UNKNOWN line on
# stdout; with several environments the perfdata is per environment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"
. "$TOP/tests/integration/hostile-lib.sh"

# A loopback listener that accepts and never answers.
hostile silent
hung() { # OUT ARGS...: omnictl against the hung API; writes OUT.{out,rc,ms}
    local n=$1 s; shift
    s=$(date +%s%N)
    ANTHROPIC_API_KEY=sk-ant-api03-hung-$RANDOM-key ANTHROPIC_BASE_URL=$H_URL \
        timeout 60 "$BIN/omnictl" "$@" >"$T/$n.out" 2>"$T/$n.err"
    echo $? >"$T/$n.rc"
    elapsed_ms "$s" >"$T/$n.ms"
}

hung t2 stats -o nagios -t 2 env_hung
is "hung API, -t 2: exit 3 (UNKNOWN)" "$(cat "$T/t2.rc")" 3
one_line "hung API: one status line" "$T/t2.out"
like "hung API: UNKNOWN line says it timed out" "$(cat "$T/t2.out")" '^OMNI UNKNOWN - .*timed out'
ok "hung API, -t 2: ends within 5 s ($(cat "$T/t2.ms") ms)" test "$(cat "$T/t2.ms")" -le 5000

hung def stats -o nagios env_hung
is "hung API, default: exit 3 (UNKNOWN)" "$(cat "$T/def.rc")" 3
like "hung API, default: timed out" "$(cat "$T/def.out")" '^OMNI UNKNOWN - .*timed out after 8s'
ok "hung API, default: under NRPE's 10 s ($(cat "$T/def.ms") ms)" test "$(cat "$T/def.ms")" -lt 10000

hung long stats -o nagios --timeout 1500ms env_hung
is "--timeout 1500ms: exit 3" "$(cat "$T/long.rc")" 3
ok "--timeout 1500ms: ends within 4 s" test "$(cat "$T/long.ms")" -le 4000

hung tab stats -t 1 env_hung
is "-t with table output: runtime failure (1)" "$(cat "$T/tab.rc")" 1
like "  error names the timeout" "$(cat "$T/tab.err")" '^omnictl: stats timed out after 1s'

# Usage errors with -o nagios: one UNKNOWN line on stdout, exit 3.
for args in "stats -o nagios --no-such-flag" "stats -o nagios -t banana" \
    "stats -o nagios --textfile x" "--timeout xx stats -o nagios" "stats -o nagios --all env_a"; do
    # shellcheck disable=SC2086
    out=$(ANTHROPIC_API_KEY=sk-ant-api03-x-key ANTHROPIC_BASE_URL=$H_URL "$BIN/omnictl" $args 2>/dev/null)
    rc=$?
    is "usage error ($args): exit 3" "$rc" 3
    like "  an UNKNOWN line on stdout" "$out" '^OMNI UNKNOWN - '
    is "  exactly one line" "$(printf '%s\n' "$out" | wc -l | tr -d ' ')" 1
done

# Several environments: perfdata per environment, not summed.
sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID
E2=$(ctl -o json env create "second" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
like "second environment created" "$E2" '^env_'
new_session >/dev/null
out=$(ctl stats -o nagios --min-workers 0 "$ENV" "$E2"); rc=$?
is "two environments: OK" "$rc" 0
like "perfdata names the first environment" "$out" "'depth_$ENV'=1;10;50;0 'pending_$ENV'=0;;;0 'oldest_age_$ENV'=[0-9]+s;60;300;0 'workers_$ENV'=0;;;0"
like "perfdata names the second environment" "$out" "'depth_$E2'=0;10;50;0 'pending_$E2'=0;;;0 'oldest_age_$E2'=0s;60;300;0 'workers_$E2'=0;;;0\$"
unlike "no summed depth=" "$out" ' depth='
out=$(ctl stats -o nagios --min-workers 0 "$ENV")
like "one environment: plain labels as before" "$out" '\| depth=1;10;50;0 pending=0;;;0 oldest_age=[0-9]+s;60;300;0 workers=0;;;0$'
ok "-t on a healthy API: in time" ctl stats -o nagios --min-workers 0 -t 5s "$ENV"

done_testing
