#!/usr/bin/env bash
# A longer fuzzing campaign: every target for N executions (default 1000000).
#
#   tests/fuzz/campaign.sh [N] [fuzz-binary...]
#
# Without binaries, runs every fuzz_* executable in $FUZZ_DIR (default
# build-fuzz). Uses run.sh (temporary corpus copies, crash detection) and
# prints its per-target execution counts. FUZZ_MAX_SECONDS bounds each
# target's wall time (default 3600).
set -u
here=$(cd "$(dirname "$0")" && pwd)
N=${1:-1000000}
[ $# -gt 0 ] && shift
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
if [ $# -eq 0 ]; then
    set -- $(find "$FUZZ_DIR" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
fi
if [ $# -eq 0 ]; then
    echo "campaign: no fuzz targets in $FUZZ_DIR (run make fuzz first)" >&2
    exit 2
fi
echo "campaign: $N runs per target, $# targets"
FUZZ_RUNS=$N FUZZ_DIR=$FUZZ_DIR exec bash "$here/run.sh" "$@"
