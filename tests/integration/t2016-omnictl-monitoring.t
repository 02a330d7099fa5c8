#!/usr/bin/env bash
# Prometheus: omnictl stats -o prom exports the environment's name
# (omni_environment_info), the oldest queued item as a timestamp and gauges
# for active, held and stuck items; deploy/prometheus/omni-alerts.yml passes
# `promtool check rules` and its unit tests (`promtool test rules`); the
# Grafana dashboard and the rules name only metrics omnictl exports.
# promtool comes from Debian's prometheus package, downloaded and unpacked
# into a cache by deploy/prometheus/fetch-promtool (never installed); the
# promtool checks are skipped, with the reason, when that fails.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

MON=$TOP/deploy/prometheus
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID
ctl_config
new_session ask >/dev/null
W=$(claim_work)
heartbeat "$W"
S2=$(new_session bash-once)
W2=$(claim_work)
new_session >/dev/null
sleep 1.2

prom=$(ctl stats -o prom --all --waiting --stuck-after 1s)
like "omni_environment_info with the name" "$prom" "omni_environment_info\\{environment=\"$ENV\",name=\"omni-sim-default\"\\} 1"
like "oldest queued item as a timestamp" "$prom" "omni_work_queue_oldest_queued_timestamp_seconds\\{environment=\"$ENV\"\\} 1[0-9]{9}\\.[0-9]{3}"
like "active items" "$prom" "omni_work_items_active\\{environment=\"$ENV\"\\} 1"
like "stuck items" "$prom" "omni_work_items_stuck\\{environment=\"$ENV\"\\} 1"
like "held calls" "$prom" "omni_tool_calls_held\\{environment=\"$ENV\"\\} [0-9]+"
ts=$(printf '%s\n' "$prom" | sed -n "s/^omni_work_queue_oldest_queued_timestamp_seconds{environment=\"$ENV\"} \\([0-9]*\\).*/\\1/p")
now=$(date +%s)
ok "the timestamp is in the past minute ($ts vs $now)" test $((now - ts)) -ge 0 -a $((now - ts)) -lt 60
json=$(ctl stats -o json "$ENV")
is "name label escaped: a quote in a name" "$(ctl -o json env create 'we "quote"' >/dev/null; ctl stats -o prom --all | grep -c 'name="we \\"quote\\""')" 1

# The exported metric names (HELP lines).
printf '%s\n' "$prom" | sed -n 's/^# HELP \(omni_[a-z_]*\) .*/\1/p' | sort -u >"$T/exported"
ok "exported metrics listed" test "$(wc -l <"$T/exported")" -ge 16
used() { grep -o 'omni_[a-z_]*' "$1" | sort -u; }
# The dashboard also shows the worker's metrics and the exporter's scrape series.
{ cat "$T/exported"; grep -v '^#' "$MON/worker-metrics.txt"; printf '%s\n' omni_scrape_success omni_scrape_duration_seconds; } | sort -u >"$T/known"
is "dashboard names only exported metrics" "$(used "$MON/omni-dashboard.json" | comm -23 - "$T/known")" ""
is "alert rules name only exported metrics" "$(used "$MON/omni-alerts.yml" | comm -23 - "$T/exported")" ""
ok "dashboard is JSON with panels" "$TOP/tests/jget" panels.0.targets.0.expr <"$MON/omni-dashboard.json"

if PROMTOOL=$(OMNI_PROMTOOL_CACHE=${OMNI_PROMTOOL_CACHE:-/var/tmp/omni-promtool-$(id -u)} \
    "$MON/fetch-promtool" 2>"$T/fetch.err"); then
    ok "promtool check rules" "$PROMTOOL" check rules "$MON/omni-alerts.yml"
    ok "promtool test rules" bash -c 'cd "$1" && "$2" test rules omni-alerts.test.yml' _ "$MON" "$PROMTOOL"
    printf '%s\n' "$prom" >"$T/metrics.prom"
    ok "promtool check metrics (omnictl's output)" bash -c '"$1" check metrics <"$2"' _ "$PROMTOOL" "$T/metrics.prom"
else
    why=$(tail -1 "$T/fetch.err")
    skip "promtool check rules" "${why:-promtool unavailable}"
    skip "promtool test rules" "${why:-promtool unavailable}"
    skip "promtool check metrics" "${why:-promtool unavailable}"
fi

done_testing
