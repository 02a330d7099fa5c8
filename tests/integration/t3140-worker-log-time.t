#!/usr/bin/env bash
# omni-worker log timestamps carry their zone: UTC, RFC 3339 with
# milliseconds and Z, in text and JSON, whatever TZ the host has (the form
# omnictl prints). Regression test: lib/log.c already did this at 584e63c.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
RFC='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
for fmt in text json; do
    new_session bash-once
    wk env TZ=America/New_York timeout 30 "$BIN/omni-worker" poll --log-format "$fmt" --max-items 1 \
        --max-idle 1s --poll-idle-ms 50-100 --workdir "$T/w" 2>"$T/$fmt.log" >/dev/null
    is "$fmt: served and exited 0" "$?" 0
    if [ "$fmt" = text ]; then
        ts=$(awk '{print $1}' "$T/$fmt.log")
    else
        ts=$(while read -r l; do jget "$l" ts; echo; done <"$T/$fmt.log")
    fi
    ok "$fmt: some records" test -n "$ts"
    bad=$(printf '%s\n' "$ts" | grep -Ev "$RFC" | head -3)
    is "$fmt: every timestamp is RFC 3339 UTC with Z" "$bad" ""
    first=$(printf '%s\n' "$ts" | head -1)
    now=$(date -u +%s)
    then=$(date -u -d "$first" +%s 2>/dev/null || echo 0)
    ok "$fmt: the timestamp is UTC (within 2 min of now, TZ ignored)" test $(( now - then )) -lt 120 -a $(( now - then )) -gt -120
done
done_testing
