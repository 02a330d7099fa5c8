#!/usr/bin/env bash
# omnictl stats: table, json, prom (+ atomic textfile), nagios (thresholds,
# UNKNOWN on failure), retries through 429/5xx, timeouts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID

ok "stats (table) succeeds" ctl stats
out=$(ctl stats)
like "table has a header" "$out" '^ENVIRONMENT +NAME +DEPTH +PENDING +OLDEST +AGE +WORKERS'
like "table lists the sim environment" "$out" "$ENV +omni-sim-default +0 +0 "
unlike "no colour when piped / NO_COLOR" "$out" $'\033'

json=$(ctl stats -o json)
is "json: environment id" "$(jget "$json" environments.0.id)" "$ENV"
is "json: depth" "$(jget "$json" environments.0.depth)" 0
is "json: pending" "$(jget "$json" environments.0.pending)" 0
is "json: oldest_queued_at null when empty" "$(jget "$json" environments.0.oldest_queued_at)" null
is "json: oldest_age_seconds" "$(jget "$json" environments.0.oldest_age_seconds)" 0
is "json: workers_polling" "$(jget "$json" environments.0.workers_polling)" 0
like "json: generated_at is RFC 3339" "$(jget "$json" generated_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$'
json=$(ctl stats -o json "$ENV")
is "json: name null when given by id" "$(jget "$json" environments.0.name)" null

# Queue one item: depth 1, no worker -> nagios CRITICAL (the default rule).
new_session >/dev/null
json=$(ctl stats -o json "$ENV")
is "depth counts the queued item" "$(jget "$json" environments.0.depth)" 1
like "oldest_queued_at set" "$(jget "$json" environments.0.oldest_queued_at)" '^20'

out=$(ctl stats -o nagios "$ENV"); rc=$?
is "nagios: work waiting and no worker is CRITICAL (2)" "$rc" 2
like "nagios: one status line" "$out" '^OMNI CRITICAL - .*no|OMNI CRITICAL - .*0 workers polling'
is "nagios: exactly one line" "$(printf '%s\n' "$out" | wc -l)" 1
like "nagios: perfdata carries the default thresholds" "$out" '\| depth=1;10;50;0 pending=0;;;0 oldest_age=[0-9]+s;60;300;0 workers=0;;1:;0$'

ctl stats -o nagios --min-workers 0 "$ENV" >/dev/null; rc=$?
is "nagios: --min-workers 0 turns the worker rule off" "$rc" 0
out=$(ctl stats -o nagios --min-workers 0 --warn-depth 0 "$ENV"); rc=$?
is "nagios: depth 1 outside 0 -> WARNING (1)" "$rc" 1
like "nagios: WARNING line names the env" "$out" "^OMNI WARNING - $ENV: depth 1"
ctl stats -o nagios --min-workers 0 --warn-depth 0 --crit-depth '~:0' "$ENV" >/dev/null; rc=$?
is "nagios: ~:0 critical range -> CRITICAL" "$rc" 2
ctl stats -o nagios --min-workers 0 --crit-depth '@1:5' "$ENV" >/dev/null; rc=$?
is "nagios: @1:5 alerts inside -> CRITICAL" "$rc" 2
ctl stats -o nagios --min-workers 0 --crit-depth '2:' "$ENV" >/dev/null; rc=$?
is "nagios: 2: alerts below 2 -> CRITICAL" "$rc" 2
ctl stats -o nagios --min-workers 0 --warn-age 5m --crit-age 1h "$ENV" >/dev/null; rc=$?
is "nagios: duration thresholds accepted, young item OK" "$rc" 0
out=$(ctl stats -o nagios --min-workers 0 --warn-age 5m --crit-age 1h "$ENV")
like "nagios: age thresholds in seconds in perfdata" "$out" 'oldest_age=[0-9]+s;300;3600;0'
out=$(ctl stats -o nagios --warn-depth 'x:1' "$ENV"); rc=$?
is "nagios: bad range is UNKNOWN (3)" "$rc" 3
like "nagios: bad range line" "$out" '^OMNI UNKNOWN - .*bad range'
ctl stats -o nagios --no-such-flag >/dev/null 2>&1; rc=$?
is "nagios: usage error is UNKNOWN (3)" "$rc" 3

poll_only
json=$(ctl stats -o json "$ENV")
is "a polling worker is counted" "$(jget "$json" environments.0.workers_polling)" 1
out=$(ctl stats -o nagios "$ENV"); rc=$?
is "nagios: work waiting with a worker polling is OK" "$rc" 0
like "nagios OK line" "$out" '^OMNI OK - 1 environment, depth [01], pending [01], oldest [0-9]+s, 1 worker \|'

# prom
prom=$(ctl stats -o prom "$ENV")
like "prom: HELP line" "$prom" '# HELP omni_work_queue_depth '
like "prom: TYPE gauge" "$prom" '# TYPE omni_work_queue_depth gauge'
like "prom: depth sample labelled by environment" "$prom" "omni_work_queue_depth\\{environment=\"$ENV\"\\} [0-9]+"
like "prom: pending" "$prom" "omni_work_queue_pending\\{environment=\"$ENV\"\\}"
like "prom: oldest age" "$prom" "omni_work_queue_oldest_age_seconds\\{environment=\"$ENV\"\\} [0-9.]+"
like "prom: workers" "$prom" "omni_workers_polling\\{environment=\"$ENV\"\\} 1"
like "prom: scrape success" "$prom" 'omni_stats_scrape_success 1'
like "prom: scrape timestamp" "$prom" 'omni_stats_scrape_timestamp_seconds [0-9]+\.[0-9]+'
unlike "prom: no per-session labels" "$prom" 'session(_id)?="|sesn_'
bad=$(printf '%s\n' "$prom" | grep -Ev '^(# (HELP|TYPE) omni_[a-z_]+ .+|omni_[a-z_]+(\{environment="[A-Za-z0-9_-]+"(,name="([^"\\]|\\.)*")?\})? [0-9.e+-]+)$')
is "prom: every line is HELP, TYPE or a sample" "$bad" ""

mkdir -p "$T/tf"
ok "prom --textfile succeeds" ctl stats -o prom --textfile "$T/tf/omni.prom" "$ENV"
is "textfile: nothing on stdout" "$(cat "$T/last.out")" ""
like "textfile content" "$(cat "$T/tf/omni.prom")" 'omni_stats_scrape_success 1'
is "textfile: no temp files left" "$(ls "$T/tf")" "omni.prom"
is "textfile: mode 644" "$(stat -c %a "$T/tf/omni.prom")" 644
# Atomicity: a reader never sees a partial file while writers loop.
( for i in $(seq 1 30); do ctl stats -o prom --textfile "$T/tf/omni.prom" "$ENV"; done ) &
wpid=$!
partial=0
while kill -0 $wpid 2>/dev/null; do
    c=$(cat "$T/tf/omni.prom" 2>/dev/null)
    case $c in *omni_stats_scrape_timestamp_seconds*) ;; *) partial=1 ;; esac
done
wait $wpid
is "textfile: readers never saw a partial file" "$partial" 0
is "textfile: still no temp files" "$(ls "$T/tf")" "omni.prom"
fails "--textfile without -o prom is a usage error" ctl stats --textfile "$T/x"
is "usage error exit code 2" "$(ctl stats --textfile "$T/x" 2>/dev/null; echo $?)" 2

# Retries through faults: 429 at 30% (seeded) still succeeds.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
sim_start --fault-429 0.3 --fault-5xx 0.1 --seed 1
fails_n=0
for i in 1 2 3 4 5 6 7 8; do ctl stats -o json "$ANTHROPIC_ENVIRONMENT_ID" >/dev/null 2>&1 || fails_n=$((fails_n+1)); done
is "stats succeeds through 429/5xx faults (8 runs)" "$fails_n" 0
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# Timeouts: the API answers after 3 s, --timeout 300ms gives up well before.
sim_start --latency-ms 3000
start=$(date +%s%N)
ctl --timeout 300ms stats "$ANTHROPIC_ENVIRONMENT_ID" >"$T/o" 2>"$T/e"; rc=$?
el=$(( ($(date +%s%N) - start) / 1000000 ))
is "timeout: exit 1" "$rc" 1
is "timeout: nothing on stdout" "$(cat "$T/o")" ""
is "timeout: one line on stderr" "$(wc -l <"$T/e")" 1
like "timeout: says it timed out" "$(cat "$T/e")" '[Tt]ime'
# under valgrind, its own start-up (seconds on a busy 2-core machine) is added
bound=2900; [ "${OMNI_VALGRIND:-0}" = 1 ] && bound=$((bound + 3000))
ok "timeout: bounded (<${bound} ms incl. retries)" test "$el" -lt "$bound"
ctl --timeout 300ms stats -o nagios "$ANTHROPIC_ENVIRONMENT_ID" >"$T/o" 2>/dev/null; rc=$?
is "timeout in nagios mode is UNKNOWN" "$rc" 3
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# Connection refused: nagios UNKNOWN, never CRITICAL; prom textfile marks failure.
out=$(ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY "$BIN/omnictl" --base-url "$SIM_URL" --timeout 2s stats -o nagios "$ENV"); rc=$?
is "refused: nagios UNKNOWN (3)" "$rc" 3
like "refused: UNKNOWN line" "$out" '^OMNI UNKNOWN - '
ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY "$BIN/omnictl" --base-url "$SIM_URL" stats -o prom --textfile "$T/tf/omni.prom" "$ENV" 2>"$T/e"; rc=$?
is "refused: prom exit 1" "$rc" 1
like "refused: textfile says scrape failed" "$(cat "$T/tf/omni.prom")" 'omni_stats_scrape_success 0'
ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY "$BIN/omnictl" --base-url "$SIM_URL" stats >"$T/o" 2>"$T/e"; rc=$?
is "refused: table exit 1" "$rc" 1
is "refused: nothing on stdout" "$(cat "$T/o")" ""
is "refused: one error line" "$(wc -l <"$T/e")" 1

# The default depth thresholds (10 / 50) apply with no option or profile setting.
sim_start
ENV=$ANTHROPIC_ENVIRONMENT_ID
for _ in $(seq 1 11); do new_session >/dev/null; done
out=$(ctl stats -o nagios --min-workers 0 --warn-age 1d --crit-age 1d "$ENV"); rc=$?
is "nagios: depth 11 is WARNING under the default warn-depth 10" "$rc" 1
like "nagios: the default WARNING names the depth" "$out" "^OMNI WARNING - $ENV: depth 11"

done_testing
