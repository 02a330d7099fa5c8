#!/usr/bin/env bash
# bench/exporter.sh — `omnictl exporter` scrape time over BENCH_ENVS (20)
# environments on omni-sim: cold (--cache-ttl 0: every scrape gathers every
# environment's work stats), cached (--cache-ttl 10m: the text is served
# again), and BENCH_PARALLEL (8) concurrent cold scrapes (they share one
# collection). Wall time of each scrape by curl's time_total, BENCH_SCRAPES
# (50) scrapes each; the exporter's own omni_scrape_duration_seconds too.
# Prints the figures; exits 1 only when something fails to run.
set -u
cd "$(dirname "$0")/.."
BIN=${OMNI_BIN:-$PWD/bin}
NENV=${BENCH_ENVS:-20}
N=${BENCH_SCRAPES:-50}
PAR=${BENCH_PARALLEL:-8}
W=$(mktemp -d "${TMPDIR:-/tmp}/omni-bench-exporter.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in omnictl omni-sim; do
    [ -x "$BIN/$p" ] || { echo "exporter: $BIN/$p missing (make first)" >&2; exit 1; }
done
"$BIN/omni-sim" --port 0 --env-file "$W/sim.env" >"$W/sim.out" 2>"$W/sim.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$W/sim.env" ] && grep -q '^listening' "$W/sim.out" && break; sleep 0.05; done
[ -s "$W/sim.env" ] || { echo "exporter: omni-sim did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$W/sim.env"
export ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
export XDG_CONFIG_HOME=$W/config HOME=$W NO_COLOR=1 # no user config
for i in $(seq 2 "$NENV"); do
    "$BIN/omnictl" env create "bench-$i" >/dev/null || { echo "exporter: env create failed" >&2; exit 1; }
done
have=$("$BIN/omnictl" -o json stats --all | grep -o '"id":"env_[^"]*"' | wc -l)

# start TTL: an exporter on a free loopback port; sets URL.
start() {
    : >"$W/exp.err"
    "$BIN/omnictl" exporter --listen 127.0.0.1:0 --cache-ttl "$1" 2>"$W/exp.err" &
    PIDS+=($!)
    EXP=$!
    for _ in $(seq 1 100); do grep -q 'listening on' "$W/exp.err" && break; sleep 0.05; done
    URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$W/exp.err" | head -1)
    [ -n "$URL" ] || { echo "exporter: did not start: $(cat "$W/exp.err")" >&2; exit 1; }
}
stop() { kill "$EXP" 2>/dev/null; wait "$EXP" 2>/dev/null; }

# times N: curl time_total of N scrapes in a row (ms, one a line).
times() {
    for _ in $(seq 1 "$1"); do
        curl -sf --max-time 15 -o "$W/last" -w '%{time_total}\n' "$URL" || echo fail
    done | awk '$1 == "fail" { print "fail"; next } { printf "%.3f\n", $1 * 1000 }'
}
# summary LABEL: min/median/p95/max of the ms on stdin.
summary() {
    sort -g | awk -v l="$1" '{ v[NR] = $1; s += $1 } END {
        if (!NR) { print l ": no data"; exit }
        printf "%-28s n=%d  mean %.2f ms  median %.2f  p95 %.2f  min %.2f  max %.2f\n", l, NR, s / NR,
            v[int((NR + 1) / 2)], v[int(NR * 0.95 + 0.999)], v[1], v[NR] }'
}

echo "omnictl exporter: $have environments on omni-sim, $N scrapes each (curl time_total)"
start 0
times 2 >/dev/null # warm-up (connections, first list)
times "$N" >"$W/cold"
grep -q fail "$W/cold" && { echo "exporter: a cold scrape failed" >&2; exit 1; }
summary "cold (--cache-ttl 0)" <"$W/cold"
printf '%-28s %s s (the last scrape)\n' "collection (exporter's own)" \
    "$(sed -n 's/^omni_scrape_duration_seconds //p' "$W/last")"
ok_envs=$(grep -c '^omni_scrape_success{environment=.*} 1$' "$W/last")
echo "environments scraped ok: $ok_envs of $have"
# Concurrent cold scrapes.
for r in $(seq 1 5); do
    for i in $(seq 1 "$PAR"); do
        curl -sf --max-time 15 -o /dev/null -w '%{time_total}\n' "$URL" >"$W/par.$r.$i" &
    done
    wait $(jobs -p | grep -vxF -e "${PIDS[0]}" -e "$EXP") 2>/dev/null
done
cat "$W"/par.* | awk '{ printf "%.3f\n", $1 * 1000 }' | summary "$PAR concurrent, cold (x5)"
stop

start 10m
times 1 >/dev/null # fills the cache
times "$N" >"$W/cached"
grep -q fail "$W/cached" && { echo "exporter: a cached scrape failed" >&2; exit 1; }
summary "cached (--cache-ttl 10m)" <"$W/cached"
printf '%-28s %s bytes\n' "exposition size" "$(wc -c <"$W/last")"
stop
