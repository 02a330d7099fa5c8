#!/usr/bin/env bash
# The environment key file is named by path (the systemd unit reads
# /etc/omni/env-key so that a reload can pick up a rotated key): a tool call
# must not read it, in any executor the host can run, before or after a
# rotation (a new file moved over the old path, then SIGHUP). Its directory is
# even handed to the tools (--readonly-path, an operator's mistake): the file
# itself stays masked in the sandbox and unreadable to the session uids.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

scratch_root keyfile
mkdir -m 0755 "$WROOT/etc" "$WROOT/tmp" && chmod 1777 "$WROOT/tmp"
sim_start
E=$ANTHROPIC_ENVIRONMENT_ID
KEYF=$WROOT/etc/env-key
put_key() { (umask 077; printf '%s\n' "$1" >"$KEYF.new") && mv -f "$KEYF.new" "$KEYF"; }

# The calls of a session trying to get at the key: read it, list and search
# its directory, look for it through the worker's /proc entries.
PROBES=("cat $KEYF; echo rc=\$?"
    "ls -la $WROOT/etc 2>&1; grep -rs sk-ant- $WROOT/etc; echo done"
    "for p in /proc/[0-9]*; do cat \$p/environ \$p/cmdline 2>/dev/null | tr '\\\\0' '\\\\n' | grep -a sk-ant-; done; echo scanned")

modes=(none)
if [ "$(id -u)" = 0 ] && command -v bwrap >/dev/null && bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    modes+=(bwrap)
else
    echo "# bwrap mode skipped: needs root and working user namespaces"
fi

for M in "${modes[@]}"; do
    K1=$(api org POST "/_sim/environments/$E/keys" >/dev/null; jget "$BODY" key)
    like "[$M] a fresh environment key" "$K1" '^sk-ant-'
    put_key "$K1"
    : >"$T/worker-$M.log"
    TMPDIR=$WROOT/tmp bg env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$E" \
        "$BIN/omni-worker" poll --environment-key-file "$KEYF" --sandbox "$M" --concurrency 2 \
        --max-idle 1s --poll-idle-ms 50-150 --workdir "$WROOT/w-$M" \
        --readonly-path "$WROOT/etc" 2>"$T/worker-$M.log"
    WK_PID=$BG_PID
    wait_for 10 "[$M] worker polls" grep -q "polling for work" "$T/worker-$M.log"

    cmd_session "${PROBES[@]}"
    S1=$SID
    wait_for 30 "[$M] the probing session ran its calls" has_results "$S1" 3
    r=$(results "$S1")
    unlike "[$M] no call read the key" "$r" "$K1"
    unlike "[$M] no key of any kind in the results" "$r" 'sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{16,}'
    like "[$M] the read was refused" "$(result "$S1" 1)" 'rc=[1-9]'
    unlike "[$M] the key file is masked, even inside a --readonly-path" "$(result "$S1" 2)" '(^|\n)-[^\n]* env-key'

    # rotation: a new key moved over the old path, then a reload
    K2=$(api org POST "/_sim/environments/$E/keys" >/dev/null; jget "$BODY" key)
    put_key "$K2"
    kill -HUP "$WK_PID"
    wait_for 10 "[$M] the worker re-read its key file" grep -q "environment key re-read: polling with the new key reason=SIGHUP" "$T/worker-$M.log"
    cmd_session "${PROBES[@]}"
    S2=$SID
    wait_for 30 "[$M] a session after the rotation ran its calls" has_results "$S2" 3
    r=$(results "$S2")
    unlike "[$M] after rotation: the new key is not read" "$r" "$K2"
    unlike "[$M] after rotation: nor the old one" "$r" "$K1"
    unlike "[$M] after rotation: the new file is masked too" "$(result "$S2" 2)" '(^|\n)-[^\n]* env-key'
    unlike "[$M] the worker log holds no key" "$(cat "$T/worker-$M.log")" 'sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{16,}'

    kill -TERM "$WK_PID"
    until_ok 30 bash -c "! kill -0 $WK_PID 2>/dev/null"
done

done_testing
