#!/usr/bin/env bash
# Key rotation without ending live sessions (docs/SECURITY.md): mint a new
# environment key, swap the key file, SIGHUP (systemctl reload) the worker,
# revoke the old key. A session running across the swap completes on its own
# sessions token; nothing is lost or run twice. A missed reload is caught by
# re-reading the file once on a 401; a revoked key with no new file ends the
# worker with exit 3.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
E=$ANTHROPIC_ENVIRONMENT_ID
KEYF=$T/env-key
put_key() { # write the key file atomically (mode 0600)
    (umask 077; printf '%s\n' "$1" >"$KEYF.new") && mv -f "$KEYF.new" "$KEYF"
}
new_key() {
    api org POST "/_sim/environments/$E/keys"
    [ "$STATUS" = 200 ] || echo "# mint: $STATUS $BODY" >&2
    jget "$BODY" key
}
revoke() {
    api org POST "/_sim/environments/$E/keys/revoke" "{\"key\":\"$1\"}"
    is "old key revoked" "$STATUS" 200
}
K1=$ANTHROPIC_ENVIRONMENT_KEY
put_key "$K1"

bg env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$E" "$BIN/omni-worker" poll \
    --environment-key-file "$KEYF" --concurrency 2 --max-idle 1s --poll-idle-ms 50-150 \
    --workdir "$T/w" 2>"$T/worker.log"
WK_PID=$BG_PID
wait_for 10 "worker polls" grep -q "polling for work" "$T/worker.log"

# a session that runs across the swap
new_session long-bash:4
LONG=$SID
wait_for 15 "long session claimed" grep -q "claimed work.*$LONG" "$T/worker.log"

K2=$(new_key)
like "a second key was minted" "$K2" '^sk-ant-'
put_key "$K2"
kill -HUP "$WK_PID"
wait_for 10 "SIGHUP: the worker re-reads the key file" \
    grep -q "environment key re-read: polling with the new key reason=SIGHUP" "$T/worker.log"
revoke "$K1"
API_WORKER=probe api "$K1" GET "/v1/environments/$E/work/poll?block_ms=1"
is "the old key is refused now" "$STATUS" 401
ok "the worker is still running" kill -0 "$WK_PID"

new_session bash-once
wait_for 30 "both sessions completed, items stopped" all_done 2
is "the long session's call was answered once" "$(sess_field "$LONG" results_received)" 1

# a missed reload: the file changed, no SIGHUP; the old key is revoked
K3=$(new_key)
put_key "$K3"
revoke "$K2"
wait_for 15 "401 on poll: the key file is re-read once" \
    grep -q "environment key re-read: polling with the new key reason=\"poll refused\"" "$T/worker.log"
new_session bash-once
wait_for 30 "a session after the re-read completes" all_done 3
check_report "rotation"

# revoked with nothing new in the file: exit 3 (no restart loop)
revoke "$K3"
wk_wait 20
is "revoked key, file unchanged: exit 3" "$WK_RC" 3
like "says the file was re-read and the key is unchanged" "$(cat "$T/worker.log")" "the key is unchanged"
log=$(cat "$T/worker.log")
for k in "$K1" "$K2" "$K3"; do
    unlike "no key in the log" "$log" "$k"
done
done_testing
