#!/usr/bin/env bash
# make bench: run every bench/*.sh (except this runner) in turn; each prints
# its own figures. BENCH_ONLY=name runs just bench/name.sh.
set -u
cd "$(dirname "$0")/.."
export OMNI_BIN=${OMNI_BIN:-$PWD/bin}
fail=0
for b in bench/*.sh; do
    name=$(basename "$b" .sh)
    [ "$name" = run ] && continue
    [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ] && continue
    echo "=== bench: $name"
    if ! bash "$b"; then
        echo "=== bench $name FAILED" >&2
        fail=1
    fi
done
exit $fail
