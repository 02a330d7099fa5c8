#!/usr/bin/env bash
# Run libFuzzer targets on a copy of their seed corpora.
#
#   FUZZ_DIR=build-fuzz FUZZ_SECONDS=5 tests/fuzz/run.sh build-fuzz/fuzz_sse ...
#   FUZZ_RUNS=1000000 tests/fuzz/run.sh ...     (a number of executions instead)
#   FUZZ_JOBS=2 FUZZ_RUNS=10000000 ...          (2 processes sharing the corpus,
#                                                FUZZ_RUNS/2 executions each)
#
# Each target runs on a temporary copy of tests/fuzz/corpus/<target>/ (the
# committed corpus is never written), with tests/fuzz/<target>.dict when it
# exists, -rss_limit_mb=2048 and -print_final_stats=1. One summary line per
# target with its execution count; exit 1 if any target failed (a crash,
# leak, timeout or sanitizer report). Crash inputs and logs are kept under
# $FUZZ_DIR/artifacts/<target>/.
set -u

here=$(cd "$(dirname "$0")" && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
FUZZ_RUNS=${FUZZ_RUNS:-}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
# A bound on wall time even when counting runs.
FUZZ_MAX_SECONDS=${FUZZ_MAX_SECONDS:-3600}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}   # seconds for one input
FUZZ_JOBS=${FUZZ_JOBS:-1}          # parallel processes per target (libFuzzer -jobs)

if [ $# -eq 0 ]; then
    echo "usage: FUZZ_DIR=dir [FUZZ_SECONDS=n | FUZZ_RUNS=n] $0 fuzz-binary..." >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/omni-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
# Targets that make scratch trees (fuzz_tool_input) make them here: libFuzzer
# ends its jobs without running atexit handlers, and this goes with the trap.
export TMPDIR="$tmp"

fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        printf '%-22s FAIL: no executable %s\n' "$name" "$bin"
        fail=1
        continue
    fi
    corpus="$tmp/$name"
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$name" ]; then
        cp -p "$here/corpus/$name"/. "$corpus"/ 2>/dev/null || cp -R "$here/corpus/$name"/. "$corpus"/
    fi
    mkdir -p "$FUZZ_DIR/artifacts/$name"
    art=$(cd "$FUZZ_DIR/artifacts/$name" && pwd)
    rm -f "$art"/fuzz-*.log
    log="$art/fuzz.log"
    args=(-rss_limit_mb="$FUZZ_RSS_MB" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1
          -artifact_prefix="$art/" -close_fd_mask=1)
    if [ -f "$here/$name.dict" ]; then
        args+=(-dict="$here/$name.dict")
    fi
    if [ -n "$FUZZ_RUNS" ]; then
        args+=(-runs="$(( FUZZ_RUNS / FUZZ_JOBS ))" -max_total_time="$FUZZ_MAX_SECONDS")
    else
        args+=(-max_total_time="$FUZZ_SECONDS")
    fi
    start=$(date +%s)
    if [ "$FUZZ_JOBS" -gt 1 ]; then
        # each job logs to fuzz-N.log in the working directory; libFuzzer
        # copies every job's log into its own output when the job ends
        bin_abs=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
        (cd "$art" && "$bin_abs" "${args[@]}" -jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS" "$corpus") >"$log" 2>&1
        rc=$?
    else
        "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
        rc=$?
    fi
    secs=$(( $(date +%s) - start ))
    # with jobs, the executions of all of them
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{ n += $1 } END { if (NR) print n }')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    units=$(find "$corpus" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        printf '%-22s FAIL rc=%d execs=%s time=%ss (log %s)\n' "$name" "$rc" "${execs:-?}" "$secs" "$log"
        grep -m5 -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
        fail=1
    else
        printf '%-22s ok   execs=%s cov=%s corpus=%s time=%ss\n' "$name" "${execs:-?}" "${cov:-?}" "$units" "$secs"
    fi
done
exit $fail
