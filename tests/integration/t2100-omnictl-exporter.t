#!/usr/bin/env bash
# omnictl exporter: /metrics carries the same metric names as
# `stats -o prom` (one renderer) plus omni_scrape_success{environment} and
# omni_scrape_duration_seconds; the cache (--cache-ttl) serves a collection
# again; concurrent scrapes succeed; a slow client does not hold others; an
# API that hangs answers omni_stats_scrape_success 0 within --scrape-timeout;
# a non-loopback address is refused without --listen-any; SIGTERM exits 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID
ctl_config
new_session >/dev/null

fails "without --listen: usage (2)" ctl exporter
is "status 2" "$(ctl exporter 2>/dev/null; echo $?)" 2
is "non-loopback refused (2)" "$(ctl exporter --listen 0.0.0.0:0 2>"$T/nl.err"; echo $?)" 2
like "says why" "$(cat "$T/nl.err")" "not a loopback address.*--listen-any"
is "bad --cache-ttl (2)" "$(ctl exporter --listen 127.0.0.1:0 --cache-ttl soon 2>/dev/null; echo $?)" 2
is "name, not number (2)" "$(ctl exporter --listen localhost:0 2>/dev/null; echo $?)" 2

scrape() { curl -sf --max-time 15 "$URL"; }
tsof() { sed -n 's/^omni_stats_scrape_timestamp_seconds //p'; }

exporter_start --cache-ttl 2s --scrape-timeout 3s
like "listening URL printed" "$URL" '^http://127\.0\.0\.1:[0-9]+/metrics$'
m1=$(scrape)
like "queue depth of the environment" "$m1" "omni_work_queue_depth\\{environment=\"$ENV\"\\} [0-9]+"
like "environment info" "$m1" "omni_environment_info\\{environment=\"$ENV\",name=\"omni-sim-default\"\\} 1"
like "per-environment scrape success" "$m1" "omni_scrape_success\\{environment=\"$ENV\"\\} 1"
like "scrape duration" "$m1" 'omni_scrape_duration_seconds [0-9]+\.[0-9]{3}'
like "scrape ok" "$m1" 'omni_stats_scrape_success 1'

# The same names as stats -o prom.
ctl stats -o prom --all | sed -n 's/^# HELP \([a-z_]*\) .*/\1/p' | sort -u >"$T/stats.names"
printf '%s\n' "$m1" | sed -n 's/^# HELP \([a-z_]*\) .*/\1/p' | sort -u >"$T/exp.names"
is "every stats -o prom metric is exported" "$(comm -23 "$T/stats.names" "$T/exp.names")" ""
is "the exporter adds only the scrape series" "$(comm -13 "$T/stats.names" "$T/exp.names" | tr '\n' ' ')" \
    "omni_scrape_duration_seconds omni_scrape_success "

m2=$(scrape)
is "within --cache-ttl: the cached collection" "$(tsof <<<"$m2")" "$(tsof <<<"$m1")"
sleep 2.2
m3=$(scrape)
ok "after --cache-ttl: a new collection" test "$(tsof <<<"$m3")" != "$(tsof <<<"$m1")"

# Concurrent scrapes (cache expired): all succeed, sharing one collection.
sleep 2.2
pids=()
for i in 1 2 3 4 5 6; do curl -sf --max-time 15 -o "$T/c$i" "$URL" & pids+=($!); done
wait "${pids[@]}"
n=0
for i in 1 2 3 4 5 6; do grep -q 'omni_stats_scrape_success 1' "$T/c$i" && n=$((n + 1)); done
is "6 concurrent scrapes answered" "$n" 6
is "they share one collection" "$(cat "$T"/c[1-6] | tsof | sort -u | wc -l)" 1

# A slow client (headers never finished) does not hold another scrape.
exec 7<>/dev/tcp/127.0.0.1/"$(sed 's/.*:\([0-9]*\)\/.*/\1/' <<<"$URL")"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&7
t0=$(date +%s%N)
ok "a scrape beside a stalled client" scrape
ok "... within 2 s" test $((($(date +%s%N) - t0) / 1000000)) -lt $((2000 * _WAIT_FACTOR))
exec 7>&-
is "404 elsewhere" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${URL%/metrics}/nope")" 404

# The API hangs: the scrape answers within --scrape-timeout, as a failure.
sleep 2.2
kill -STOP "$SIM_PID"
t0=$(date +%s%N)
m4=$(scrape)
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$SIM_PID"
like "hung API: scrape failed" "$m4" 'omni_stats_scrape_success 0'
ok "answered within the scrape timeout (${ms} ms)" test "$ms" -ge 2500 -a "$ms" -lt $((5000 * _WAIT_FACTOR))
wait_for 10 "the next scrape succeeds again" bash -c 'curl -sf --max-time 10 "$1" | grep -q "omni_stats_scrape_success 1"' _ "$URL"

kill -TERM "$EXP_PID"
wait "$EXP_PID"
is "SIGTERM: exit 0" "$?" 0
like "says it stopped" "$(cat "$T/exp.err")" 'exporter: stopped'

# SIGTERM while a scrape waits on a hung API: the scrape answers, exit 0 at once.
exporter_start --cache-ttl 0 --scrape-timeout 20s
kill -STOP "$SIM_PID"
curl -s --max-time 30 -o "$T/during" "$URL" &
CURL_PID=$!
sleep "$((_WAIT_FACTOR))"
t0=$(date +%s%N)
kill -TERM "$EXP_PID"
wait "$EXP_PID"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$SIM_PID"
wait "$CURL_PID"
is "SIGTERM during a hung collection: exit 0" "$rc" 0
ok "... within 3 s (${ms} ms)" test "$ms" -lt $((3000 * _WAIT_FACTOR))
like "the waiting scrape got a failure" "$(cat "$T/during")" 'omni_stats_scrape_success 0'

done_testing
