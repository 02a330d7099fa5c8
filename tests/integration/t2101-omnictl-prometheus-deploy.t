#!/usr/bin/env bash
# deploy/prometheus: the Grafana dashboard is valid JSON with the panels the
# operators need (queue depth and age per environment, slots busy/held per
# worker, tool latency p50/p95 from the histogram, results per minute); every
# query and rule names only metrics `omnictl exporter` serves (taken from a
# live exporter on omni-sim) or omni-worker exports (worker-metrics.txt);
# every alert of both rule files has a `promtool test rules` case; promtool
# checks the rules, runs their tests and checks prometheus.yml (skipped, with
# the reason, when promtool cannot be fetched). docs/monitoring points here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

D=$TOP/deploy/prometheus
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

ok "docs/monitoring points to deploy/prometheus" grep -q 'deploy/prometheus' "$TOP/docs/monitoring/README.md"
for f in prometheus.yml omni-alerts.yml omni-alerts.test.yml omni-worker-alerts.yml \
    omni-worker-alerts.test.yml omni-dashboard.json worker-metrics.txt fetch-promtool README.md \
    omnictl-exporter.service; do
    ok "deploy/prometheus/$f" test -s "$D/$f"
done

# What omnictl exports, from a live exporter.
sim_start --seed 1
ctl_config
exporter_start --waiting
curl -sf --max-time 15 "$URL" >"$T/metrics.prom"
sed -n 's/^# HELP \(omni_[a-z_]*\) .*/\1/p' "$T/metrics.prom" >"$T/known"
grep -v '^#' "$D/worker-metrics.txt" >>"$T/known"
sort -u -o "$T/known" "$T/known"
ok "exporter and worker metric names known" test "$(wc -l <"$T/known")" -ge 30
used() { grep -o 'omni_[a-z_]*' "$1" | sort -u; }

# The dashboard.
J=$D/omni-dashboard.json
ok "dashboard is JSON with panels" "$TOP/tests/jget" panels.0.targets.0.expr <"$J"
grep -o '"expr": *"[^"\\]*\(\\.[^"\\]*\)*"' "$J" >"$T/exprs"
ok "dashboard queries found" test "$(wc -l <"$T/exprs")" -ge 15
is "dashboard names only exported metrics" "$(used "$J" | comm -23 - "$T/known")" ""
has() { grep -qE -- "$2" "$T/exprs" || { echo "no query matches $2" >&2; return 1; }; }
ok "panel: queue depth per environment" has x 'omni_work_queue_depth\{environment'
ok "panel: queue age per environment" has x 'omni_work_queue_oldest_queued_timestamp_seconds\{environment'
ok "panel: slots busy per worker" has x 'omni_worker_slots_busy'
ok "panel: slots held per worker" has x 'omni_worker_slots_held'
ok "panel: tool latency p50" has x 'histogram_quantile\(0\.5, .*omni_worker_tool_call_duration_seconds_bucket'
ok "panel: tool latency p95" has x 'histogram_quantile\(0\.95, .*omni_worker_tool_call_duration_seconds_bucket'
ok "panel: results per minute" has x 'rate\(omni_worker_result_posts_total.*\* 60'
# Every panel id unique.
is "panel ids unique" "$(grep -o '"id": *[0-9]*' "$J" | sort | uniq -d)" ""

# The rules: known metrics only; every alert has a unit test.
for r in omni-alerts omni-worker-alerts; do
    is "$r.yml names only exported metrics" "$(used "$D/$r.yml" | comm -23 - "$T/known")" ""
    sed -n 's/^ *- alert: *\([A-Za-z]*\).*/\1/p' "$D/$r.yml" | sort -u >"$T/$r.alerts"
    sed -n 's/^ *alertname: *\([A-Za-z]*\).*/\1/p' "$D/$r.test.yml" | sort -u >"$T/$r.tested"
    ok "$r.yml has alerts" test -s "$T/$r.alerts"
    is "$r: every alert has a unit test" "$(comm -23 "$T/$r.alerts" "$T/$r.tested" | tr '\n' ' ')" ""
done
for a in OmniNoWorker OmniSaturated OmniQueueOld OmniStuckItems OmniWorkerNotPolling \
    OmniWorkerSaturated OmniWorkerNotProgressing OmniScrapeFailing OmniExporterEnvironmentFailing; do
    ok "rule $a" grep -q "alert: $a\$" "$D/omni-alerts.yml" "$D/omni-worker-alerts.yml"
done

if PROMTOOL=$(OMNI_PROMTOOL_CACHE=${OMNI_PROMTOOL_CACHE:-/var/tmp/omni-promtool-$(id -u)} \
    "$D/fetch-promtool" 2>"$T/fetch.err"); then
    for r in omni-alerts omni-worker-alerts; do
        ok "promtool check rules $r.yml" "$PROMTOOL" check rules "$D/$r.yml"
        ok "promtool test rules $r.test.yml" bash -c 'cd "$1" && "$2" test rules "$3"' _ "$D" "$PROMTOOL" "$r.test.yml"
    done
    ok "promtool check config prometheus.yml" bash -c 'cd "$1" && "$2" check config prometheus.yml' _ "$D" "$PROMTOOL"
    ok "promtool check metrics (the exporter's output)" bash -c '"$1" check metrics <"$2"' _ "$PROMTOOL" "$T/metrics.prom"
else
    why=$(tail -1 "$T/fetch.err")
    for c in "check rules" "test rules" "check rules (worker)" "test rules (worker)" "check config" "check metrics"; do
        skip "promtool $c" "${why:-promtool unavailable}"
    done
fi

done_testing
