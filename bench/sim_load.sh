#!/usr/bin/env bash
# bench/sim_load.sh — omni-sim under load, loopback only, with wrk (keep-alive).
#   1. GET .../work/stats (org key) for BENCH_SIM_SECS s: requests/s alone;
#   2. BENCH_SIM_POLLS (1000) connections each holding GET .../work/poll?block_ms=999
#      (environment key) on an empty queue: every poll is held ~999 ms. Polls
#      held at once = the sim's counters polls - polls_empty - deliveries (polls
#      begun and not yet answered), sampled every 0.5 s; checked against the
#      established connections the kernel shows (ss) and the sim's thread count
#      (one thread per connection);
#   3. stats requests/s again while those polls are held.
# Reports the sim's RSS and threads. Targets: >= 10,000 stats/s (alone and
# while polls are held) and >= 1,000 long-polls held at once; exit 1 if missed.
# Keys reach wrk through a header file read by bench/wrk_headers.lua, never argv.
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
BIN=${OMNI_BIN:-$TOP/bin}
SECS=${BENCH_SIM_SECS:-10}
POLLS=${BENCH_SIM_POLLS:-1000}
STATS_CONNS=${BENCH_SIM_STATS_CONNS:-32}
STATS_TARGET=10000
POLLS_TARGET=1000
W=$(mktemp -d "${TMPDIR:-/tmp}/omni-bench.XXXXXX")
SIM_PID=
POLL_PID=
cleanup() {
    [ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BIN/omni-sim" ] || { echo "bench: $BIN/omni-sim missing (make first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk not installed (OMNI_DEPS_BENCH=1 scripts/deps)" >&2; exit 1; }
command -v ss >/dev/null || { echo "bench: ss (iproute2) not installed" >&2; exit 1; }
# 1,000 polls + the stats connections + the sim's own: need more than 1024 fds
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((POLLS + STATS_CONNS + 64)) ]; then
    echo "bench: open-file limit $(ulimit -n) is too low for $POLLS polls" >&2
    exit 1
fi

"$BIN/omni-sim" --port 0 --env-file "$W/sim.env" --log-level warn >"$W/sim.out" 2>"$W/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do [ -s "$W/sim.env" ] && grep -q '^listening' "$W/sim.out" && break; sleep 0.05; done
[ -s "$W/sim.env" ] || { echo "bench: omni-sim did not start: $(head -3 "$W/sim.log")" >&2; exit 1; }
# shellcheck disable=SC1091
. "$W/sim.env"
PORT=${ANTHROPIC_BASE_URL##*:}
ENV=$ANTHROPIC_ENVIRONMENT_ID
(
    umask 077
    printf 'x-api-key: %s\nanthropic-version: 2023-06-01\nanthropic-beta: managed-agents-2026-04-01\n' \
        "$ANTHROPIC_API_KEY" >"$W/org.hdr"
    printf 'authorization: Bearer %s\nanthropic-version: 2023-06-01\nanthropic-beta: managed-agents-2026-04-01\nanthropic-worker-id: bench-poller\n' \
        "$ANTHROPIC_ENVIRONMENT_KEY" >"$W/env.hdr"
)
STATS_URL=$ANTHROPIC_BASE_URL/v1/environments/$ENV/work/stats
POLL_URL="$ANTHROPIC_BASE_URL/v1/environments/$ENV/work/poll?block_ms=999"
LUA=$TOP/bench/wrk_headers.lua

# sanity: both routes answer 200 with these headers
curl -sf -H "@$W/org.hdr" --max-time 5 "$STATS_URL" >/dev/null || { echo "bench: stats request failed" >&2; exit 1; }
curl -sf -H "@$W/env.hdr" --max-time 5 "$ANTHROPIC_BASE_URL/v1/environments/$ENV/work/poll?block_ms=1" >/dev/null ||
    { echo "bench: poll request failed" >&2; exit 1; }

# wrk_field FILE: "rps errors mean_latency_s" from wrk's text output
wrk_field() {
    awk '
        function secs(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1e6
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) / 1e3
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60
            if (v ~ /s$/) return substr(v, 1, length(v) - 1)
            return v
        }
        /^ +Latency/ { lat = secs($2) }
        /Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END { printf "%.0f %d %.4f\n", rps, err, lat }' "$1"
}
report_polls() { curl -sf --max-time 5 "$ANTHROPIC_BASE_URL/_sim/report" | "$TOP/tests/jget" "$1"; }
# in_flight: polls the sim has begun and not yet answered (one report, one read)
in_flight() {
    curl -sf --max-time 5 "$ANTHROPIC_BASE_URL/_sim/report" |
        perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print $j->{polls} - $j->{polls_empty} - $j->{deliveries}, "\n"'
}
sample_in_flight() { # COUNT OUTFILE: one sample every 0.5 s
    for _ in $(seq 1 "$1"); do in_flight; sleep 0.5; done >"$2"
}
# stat3 FILE: "min median max" of one number per line
stat3() { sort -n "$1" | awk '{v[NR] = $1} END{printf "%d %d %d\n", v[1], v[int((NR + 1) / 2)], v[NR]}'; }
now_s() { date +%s.%N; }
est() { ss -tnH state established "( sport = :$PORT )" 2>/dev/null | wc -l; }
proc() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SIM_PID/status"; }

run_stats() { # OUTFILE
    OMNI_WRK_HEADERS=$W/org.hdr wrk -t2 -c"$STATS_CONNS" -d"${SECS}s" --timeout 5s -s "$LUA" "$STATS_URL" >"$1" 2>&1
}

echo "omni-sim load on $(nproc) cores, loopback, wrk keep-alive ($(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'))"

# 1. stats alone
run_stats "$W/stats1.out" || { echo "bench: wrk failed: $(cat "$W/stats1.out")" >&2; exit 1; }
read -r s1_rps s1_err s1_lat <<<"$(wrk_field "$W/stats1.out")"
rss_idle=$(proc VmRSS)

# 2. long-polls held; 3. stats while they are held
POLL_SECS=$((SECS + 12))
OMNI_WRK_HEADERS=$W/env.hdr wrk -t1 -c"$POLLS" -d"${POLL_SECS}s" --timeout 5s -s "$LUA" "$POLL_URL" \
    >"$W/poll.out" 2>&1 &
POLL_PID=$!
sleep 3
e0=$(est)
sample_in_flight 10 "$W/held1"
e1=$(est) thr_polls=$(proc Threads) rss_polls=$(proc VmRSS)
( sleep 1; sample_in_flight $((SECS * 2 - 4)) "$W/held2" ) &
HELD_PID=$!
( sleep $((SECS / 2)); { est; proc Threads; proc VmRSS; } >"$W/mid" ) &
run_stats "$W/stats2.out" || { echo "bench: wrk failed: $(cat "$W/stats2.out")" >&2; exit 1; }
wait "$HELD_PID"
wait "$POLL_PID"
POLL_PID=
read -r s2_rps s2_err s2_lat <<<"$(wrk_field "$W/stats2.out")"
read -r _ pl_err pl_lat <<<"$(wrk_field "$W/poll.out")"
{ read -r e2; read -r thr_mid; read -r rss_mid; } <"$W/mid"
hwm=$(proc VmHWM)
polls_total=$(report_polls polls)
read -r h1_min h1_med h1_max <<<"$(stat3 "$W/held1")"
read -r h2_min h2_med h2_max <<<"$(stat3 "$W/held2")"
e2_polls=$((e2 - STATS_CONNS))

kib_mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k / 1024}'; }
printf '\n%-52s %14s\n' "measure" "value"
printf '%-52s %14s\n' "stats req/s alone ($STATS_CONNS conns, ${SECS}s)" "$s1_rps"
printf '%-52s %14s\n' "  mean stats latency alone" "$(awk -v l="$s1_lat" 'BEGIN{printf "%.2f ms", l * 1000}')"
printf '%-52s %14s\n' "long-poll connections ($POLLS, block_ms=999)" "$POLLS"
printf '%-52s %14s\n' "  mean poll latency (held time)" "$(awk -v l="$pl_lat" 'BEGIN{printf "%.0f ms", l * 1000}')"
printf '%-52s %14s\n' "  polls held at once, min/median/max (polls only)" "$h1_min/$h1_med/$h1_max"
printf '%-52s %14s\n' "  polls held at once, min/median/max (+ stats load)" "$h2_min/$h2_med/$h2_max"
printf '%-52s %14s\n' "  established poll conns (ss): start/end/+stats" "$e0/$e1/$e2_polls"
printf '%-52s %14s\n' "  poll requests served by the sim" "$polls_total"
printf '%-52s %14s\n' "stats req/s while the polls are held" "$s2_rps"
printf '%-52s %14s\n' "  mean stats latency while polls are held" "$(awk -v l="$s2_lat" 'BEGIN{printf "%.2f ms", l * 1000}')"
printf '%-52s %14s\n' "sim RSS idle after stats / polls held / both" "$(kib_mib "$rss_idle") / $(kib_mib "$rss_polls") / $(kib_mib "$rss_mid")"
printf '%-52s %14s\n' "sim peak RSS (VmHWM)" "$(kib_mib "$hwm")"
printf '%-52s %14s\n' "sim threads: polls held / with stats load" "$thr_polls / $thr_mid"
printf '%-52s %14s\n' "wrk errors (non-2xx + socket): stats, stats2, polls" "$s1_err, $s2_err, $pl_err"
echo

rc=0
verdict() { # DESC OK?
    if [ "$2" = 1 ]; then echo "$1: met"; else echo "$1: MISSED"; rc=1; fi
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}' && echo 1 || echo 0; }
verdict "stats req/s alone $s1_rps (target >= $STATS_TARGET)" "$(ge "$s1_rps" "$STATS_TARGET")"
verdict "stats req/s with $POLLS polls held $s2_rps (target >= $STATS_TARGET)" "$(ge "$s2_rps" "$STATS_TARGET")"
# held: all the target's polls in the sim at once (max of the samples, with and
# without stats load), most samples near that (a sample can fall in the ~1 ms
# between one poll's answer and the next), every connection established, and
# each poll held for its full block_ms
held_ok=1
for v in "$e1" "$e2_polls" "$h1_max" "$h2_max"; do [ "$v" -ge "$POLLS_TARGET" ] || held_ok=0; done
for v in "$h1_med" "$h2_med"; do [ "$v" -ge $((POLLS_TARGET * 98 / 100)) ] || held_ok=0; done
[ "$(ge "$pl_lat" 0.999)" = 1 ] || held_ok=0
verdict "concurrent long-polls held: max $h2_max, median $h2_med under stats load (target >= $POLLS_TARGET)" "$held_ok"
if [ "$s1_err" != 0 ] || [ "$s2_err" != 0 ] || [ "$pl_err" != 0 ]; then
    echo "errors during the run (non-2xx or socket errors): MISSED"
    rc=1
fi
exit $rc
