#!/usr/bin/env bash
# bench/omnictl_stats.sh — `omnictl stats` as a whole process against omni-sim,
# side by side with curl making the same request and a one-shot official SDK
# script under node (bench/node/stats.mjs, @anthropic-ai/sdk 1.16.0).
# Wall time: hyperfine when installed, else a date +%s%N loop. Peak RSS:
# /usr/bin/time -f %M. Targets: omnictl within 1.3x of curl's wall time and
# at least 25x faster than the SDK script (exit 1 when missed).
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BIN=${OMNI_BIN:-$TOP/bin}
RUNS=${BENCH_RUNS:-100}
SDK_RUNS=${BENCH_SDK_RUNS:-10}
W=$(mktemp -d "${TMPDIR:-/tmp}/omni-bench.XXXXXX")
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

for p in omnictl omni-sim; do
    [ -x "$BIN/$p" ] || { echo "bench: $BIN/$p missing (make first)" >&2; exit 1; }
done
"$BIN/omni-sim" --port 0 --env-file "$W/sim.env" >"$W/sim.out" 2>"$W/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do [ -s "$W/sim.env" ] && grep -q '^listening' "$W/sim.out" && break; sleep 0.05; done
[ -s "$W/sim.env" ] || { echo "bench: omni-sim did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$W/sim.env"
export ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
export XDG_CONFIG_HOME=$W/config HOME=$W NO_COLOR=1   # no user config
ENV=$ANTHROPIC_ENVIRONMENT_ID
URL=$ANTHROPIC_BASE_URL/v1/environments/$ENV/work/stats
# curl reads its headers (with the key) from a file, not argv.
printf 'x-api-key: %s\nanthropic-version: 2023-06-01\nanthropic-beta: managed-agents-2026-04-01\n' \
    "$ANTHROPIC_API_KEY" >"$W/hdr"
chmod 600 "$W/hdr"

CTL=("$BIN/omnictl" -o json stats "$ENV")
CURL=(curl -sf -H "@$W/hdr" "$URL")
SDK=()
if command -v node >/dev/null; then
    if [ ! -d bench/node/node_modules/@anthropic-ai/sdk ] && command -v npm >/dev/null; then
        (cd bench/node && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
            echo "bench: npm ci in bench/node failed; SDK column skipped" >&2
    fi
    [ -d bench/node/node_modules/@anthropic-ai/sdk ] && SDK=(node "$TOP/bench/node/stats.mjs" "$ENV")
fi

# Sanity: each answers the same depth.
"${CTL[@]}" >"$W/ctl.json" || { echo "bench: omnictl stats failed" >&2; exit 1; }
"${CURL[@]}" >"$W/curl.json" || { echo "bench: curl failed" >&2; exit 1; }
[ ${#SDK[@]} -gt 0 ] && { "${SDK[@]}" >"$W/sdk.json" || { echo "bench: SDK script failed" >&2; SDK=(); }; }

jnum() { perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print $j->{results}[0]{$ARGV[0]}' "$1"; }

# mean_ms RUNS CMD...: mean wall time in ms.
mean_ms() {
    local runs=$1; shift
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 3 --runs "$runs" --export-json "$W/h.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 &&
            { jnum mean <"$W/h.json" | awk '{printf "%.2f", $1 * 1000}'; return; }
    fi
    local s e
    for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
    s=$(date +%s%N)
    for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1; done
    e=$(date +%s%N)
    awk -v d=$((e - s)) -v n="$runs" 'BEGIN{printf "%.2f", d / n / 1e6}'
}

# rss_kb CMD...: median peak RSS of 5 runs.
rss_kb() {
    if [ ! -x /usr/bin/time ]; then echo "-"; return; fi
    for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p
}

tool=$(command -v hyperfine >/dev/null && echo hyperfine || echo "date loop")
echo "omnictl stats vs curl vs official SDK (node) — one GET work/stats against omni-sim; wall time by $tool"
ctl_ms=$(mean_ms "$RUNS" "${CTL[@]}")
curl_ms=$(mean_ms "$RUNS" "${CURL[@]}")
ctl_rss=$(rss_kb "${CTL[@]}")
curl_rss=$(rss_kb "${CURL[@]}")
sdk_ms=- sdk_rss=-
if [ ${#SDK[@]} -gt 0 ]; then
    sdk_ms=$(mean_ms "$SDK_RUNS" "${SDK[@]}")
    sdk_rss=$(rss_kb "${SDK[@]}")
fi
printf '%-28s %12s %14s\n' "program" "mean wall ms" "peak RSS KiB"
printf '%-28s %12s %14s\n' "omnictl -o json stats" "$ctl_ms" "$ctl_rss"
printf '%-28s %12s %14s\n' "curl (same request)" "$curl_ms" "$curl_rss"
printf '%-28s %12s %14s\n' "node + @anthropic-ai/sdk" "$sdk_ms" "$sdk_rss"

rc=0
r1=$(awk -v a="$ctl_ms" -v b="$curl_ms" 'BEGIN{printf "%.2f", a / b}')
if awk -v r="$r1" 'BEGIN{exit !(r <= 1.3)}'; then v=met; else v=MISSED; rc=1; fi
echo "omnictl / curl wall time: ${r1}x (target <= 1.3x): $v"
if [ "$sdk_ms" != - ]; then
    r2=$(awk -v a="$sdk_ms" -v b="$ctl_ms" 'BEGIN{printf "%.1f", a / b}')
    if awk -v r="$r2" 'BEGIN{exit !(r >= 25)}'; then v=met; else v=MISSED; rc=1; fi
    echo "SDK / omnictl wall time: ${r2}x (target >= 25x): $v"
else
    echo "SDK / omnictl: skipped (node or bench/node/node_modules unavailable)"
fi
exit $rc
