#!/usr/bin/env bash
# worker/spawn/bwrap.sh as the --on-work script: each session runs
# `omni-worker run` inside bubblewrap with its own workdir and only the item's
# secret; SIGTERM reaches the sandboxed worker, which drains. By default the
# sandbox has no network: the worker reaches the API only through the socat
# relay on /run/omni/api.sock, and nothing in the sandbox can connect to the
# host (its loopback included).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

if ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "1..0 # SKIP bubblewrap cannot create namespaces here"
    exit 0
fi
if ! command -v socat >/dev/null; then
    echo "Bail out! socat is missing (scripts/deps installs it)"
    exit 1
fi
SCRIPT=$TOP/worker/spawn/bwrap.sh
sim_start
SIM_PORT=${SIM_URL##*:}
unset OMNI_BWRAP_SHARE_NET
export OMNI_WORKER_BIN=$BIN/omni-worker OMNI_BWRAP_ROOT=$T
export OMNI_WORKER_ARGS="--max-idle 1s"
ONWORK=$SCRIPT
if [ "${OMNI_VALGRIND:-0}" = 1 ]; then
    # valgrind checks the poller only: the script goes by a name that
    # --trace-children-skip (*/bash) leaves alone, with all it starts.
    OMNI_WORKER_BIN=$_real_bin/omni-worker
    mkdir -p "$T/onwork"
    ln -s "$SCRIPT" "$T/onwork/bash"
    ONWORK=$T/onwork/bash
fi

relays() { # socat relays of sandboxes under $T still running
    pgrep -f "socat -lp omni-relay UNIX-LISTEN:$T/" || true
}
relay_up() { test -n "$(relays)"; }
relay_gone() { test -z "$(relays)"; }

# ---- 1. sessions served through the relay, no network in the sandbox --------
for s in six-tools bash-once burst:4; do mk_session "$s"; done
wk_bg poll --on-work "$ONWORK" --concurrency 2 --poll-idle-ms 50-150
wait_for 40 "3 sessions served inside bubblewrap (no network, API relay)" all_done 3
check_report "bwrap relay"
log=$(cat "$T/worker.log")
like "sandboxed worker used the sessions token" "$log" "credential=\"sessions token\""
unlike "no environment key file was needed" "$log" "has no secret"
unlike "the relay reported no error" "$log" "omni-relay.* E "
ok "sandbox directories removed" test -z "$(ls -d "$T"/omni-bwrap.* 2>/dev/null)"
ok "no relay left running" relay_gone

# drain through the sandbox (and the relay, which must outlive the SIGTERM)
: >"$T/worker.log"
mk_session long-bash:3
L=$SID
wait_for 20 "long call being served in the sandbox" bash -c "grep -q 'serving work.*$L' '$T/worker.log'"
sleep 1
ok "the sandboxed worker holds no environment key in its environment" \
    bash -c "for p in \$(pgrep -f '/run/omni-bin/omni-worker run'); do ! grep -qF -- '$ANTHROPIC_ENVIRONMENT_KEY' /proc/\$p/environ || exit 1; done"
like "the sandboxed worker talks to the API through the relay socket" \
    "$(pgrep -af '/run/omni-bin/omni-worker run')" "--api-socket /run/omni/api.sock --ignore-secret-base-url"
ok "one relay runs for the sandbox" relay_up
kill -TERM "$WK_PID"
wk_wait 30
is "exit 0 after SIGTERM" "$WK_RC" 0
is "the running call finished and its result was posted" "$(sess_field "$L" results_received)" 1
is "result is the real output" "$(sess_field "$L" result_mismatches)" 0
is "item stopped" "$(work_state "$L")" stopped
until_ok 5 relay_gone
ok "relay stopped with its sandbox" relay_gone

# ---- 2. what a process in the sandbox can reach --------------------------
# The script runs OMNI_WORKER_BIN as the sandbox's program: a probe in its
# place sees exactly what the worker, and so every tool it runs, sees.
PROBE=$T/probe.sh
cat >"$PROBE" <<EOF
#!/bin/bash
echo "args: \$*"
echo "interfaces: \$(awk -F: 'NR > 2 { gsub(/ /, "", \$1); printf "%s ", \$1 }' /proc/net/dev)"
if (exec 3<>/dev/tcp/127.0.0.1/$SIM_PORT) 2>/dev/null; then echo "direct-api: open"; else echo "direct-api: blocked"; fi
if (exec 3<>/dev/tcp/127.0.0.1/@OTHER@) 2>/dev/null; then echo "other-port: open"; else echo "other-port: blocked"; fi
if [ -S /run/omni/api.sock ]; then
    echo "via-socket: \$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket /run/omni/api.sock "$SIM_URL/_sim/report")"
else
    echo "via-socket: none"
fi
EOF
# a second loopback listener on the host, not the API: another omni-sim
bg "$BIN/omni-sim" --port 0 --env-file "$T/other.env" >"$T/other.out" 2>/dev/null
OTHER_PID=$BG_PID
until_ok 10 grep -q '^listening on ' "$T/other.out"
OTHER=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$T/other.out")
sed -i "s/@OTHER@/$OTHER/" "$PROBE"
chmod 0755 "$PROBE"
ok "the host can reach the second listener (port $OTHER)" bash -c "exec 3<>/dev/tcp/127.0.0.1/$OTHER"

probe() { # extra env...: run bwrap.sh once with the probe as its program
    printf '{"id":"work_probe","secret":"c2VjcmV0"}' |
        env ANTHROPIC_WORK_ID=work_probe ANTHROPIC_SESSION_ID=sesn_probe \
            ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" ANTHROPIC_BASE_URL="$SIM_URL" \
            OMNI_WORKER_BIN="$PROBE" OMNI_BWRAP_ROOT="$T" "$@" bash "$SCRIPT" 2>"$T/probe.err"
}
out=$(probe)
is "probe: sandbox exited 0" "$?" 0
like "probe: only a loopback interface" "$out" "^interfaces: lo \$"
like "probe: the API port on the host is not reachable directly" "$out" "^direct-api: blocked\$"
like "probe: another host loopback port is not reachable" "$out" "^other-port: blocked\$"
like "probe: the API answers through the relay socket" "$out" "^via-socket: 200\$"
like "probe: the program was told to use the socket" "$out" "--api-socket /run/omni/api.sock"
like "probe: and to ignore the secret's api_base_url" "$out" "--ignore-secret-base-url"
like "probe: the program got the secret file" "$out" "--work-secret-file /run/omni/secret"
ok "probe: relay gone after the sandbox" relay_gone
ok "probe: sandbox directory removed" test -z "$(ls -d "$T"/omni-bwrap.* 2>/dev/null)"

# the opt-in: the host network, no relay (also shows the probe can see "open")
out=$(probe OMNI_BWRAP_SHARE_NET=1)
is "share-net probe: exit 0" "$?" 0
like "share-net probe: the API port is reachable directly" "$out" "^direct-api: open\$"
like "share-net probe: so is the other port" "$out" "^other-port: open\$"
like "share-net probe: no relay socket" "$out" "^via-socket: none\$"
unlike "share-net probe: no --api-socket" "$out" "api-socket"
kill "$OTHER_PID" 2>/dev/null

# bad relay targets are refused before anything starts
for u in ftp://example.invalid "http://a,b:1" "http://h:99999" "https://user@h" "http://h:x"; do
    probe ANTHROPIC_BASE_URL="$u" >/dev/null
    isnt_rc=$?
    ok "bad base URL \"$u\" refused" test "$isnt_rc" -ne 0
    like "bad base URL \"$u\": message names it" "$(cat "$T/probe.err")" "base URL \"$u\""
done
ok "no sandbox directory left by refused URLs" test -z "$(ls -d "$T"/omni-bwrap.* 2>/dev/null)"
long=/tmp/$(printf 'x%.0s' $(seq 1 120))/api.sock
wk "$BIN/omni-worker" run --work-id work_x --session-id sesn_x --api-socket "$long" 2>"$T/long.err"
is "omni-worker: an over-long --api-socket is a usage error" "$?" 2
like "omni-worker: the message says why" "$(cat "$T/long.err")" "API socket path .* is too long"

# neither the relay nor the sandbox outlives a killed script (parent-death
# signal; the poller sends SIGKILL after --child-grace)
SLEEPER=$T/sleeper.sh
printf '#!/bin/bash\nsleep 30\n' >"$SLEEPER"
chmod 0755 "$SLEEPER"
printf '{"secret":"c2VjcmV0"}' |
    env ANTHROPIC_WORK_ID=work_sleep ANTHROPIC_SESSION_ID=sesn_sleep \
        ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" ANTHROPIC_BASE_URL="$SIM_URL" \
        OMNI_WORKER_BIN="$SLEEPER" OMNI_BWRAP_ROOT="$T" bash "$SCRIPT" >/dev/null 2>&1 &
SPID=$!
sandbox_gone() { ! pgrep -f "bwrap .*$T/sleeper.sh" >/dev/null; }
sandbox_up() { ! sandbox_gone; }
until_ok 5 sandbox_up
ok "sleeper: relay running" relay_up
ok "sleeper: sandbox running" sandbox_up
kill -KILL "$SPID"
wait "$SPID" 2>/dev/null
until_ok 5 relay_gone
ok "sleeper: relay ended when the script was killed" relay_gone
until_ok 5 sandbox_gone
ok "sleeper: sandbox ended when the script was killed" sandbox_gone
# (if not: end what is left of this test's sandboxes, by pid)
for p in $(relays) $(pgrep -f "bwrap .*$T/sleeper.sh"); do kill -KILL "$p" 2>/dev/null; done
rm -rf "$T"/omni-bwrap.*
done_testing
