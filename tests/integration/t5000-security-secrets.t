#!/usr/bin/env bash
# Secrets across the whole system, while it runs (docs/SECURITY.md):
#  - no key or token in the argv of any running omni program or tool child;
#  - tool children carry no ANTHROPIC_* variable and no key value;
#  - omni-worker processes (supervisor and per-session children) no longer
#    hold the environment key or a sessions token in /proc/<pid>/environ;
#  - no key or token in any log or error text, even with HTTP tracing on
#    (omnictl -v, omni-worker --http-debug --log-level debug);
#  - key files readable by group or others are refused (omnictl, omni-sim);
#    keys are never taken from argv.
# (The worker's own credential intake and non-dumpable state, checked as an
# unprivileged uid, are in t3010-worker-creds.t.)
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start --log-level debug
ORG=$ANTHROPIC_API_KEY
ENVK=$ANTHROPIC_ENVIRONMENT_KEY
# Any full-length credential: a leak of an unknown token (sessions tokens are
# minted per item) is caught by shape as well as by value.
CRED_RE='sk-ant-(api|oat|req)[0-9]{2}-[A-Za-z0-9_-]{16,}'

ctl() { ANTHROPIC_API_KEY=$ORG ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" "$@"; }

# ---- a running system --------------------------------------------------------------
SIDS=()
for i in 1 2; do
    sid=$(ctl sessions create --agent "$OMNI_SIM_AGENT_ID" --env "$ANTHROPIC_ENVIRONMENT_ID" \
        --metadata sim_scenario=long-bash:4 --message "sleep for a while" 2>>"$T/ctl.err")
    SIDS+=("$sid")
done
ok "two long-running sessions created" test -n "${SIDS[0]}" -a -n "${SIDS[1]}"

(umask 077; printf '%s\n' "$ENVK" >"$T/env.key")
mkdir -p "$T/work"
bg env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    ANTHROPIC_ENVIRONMENT_KEY="$ENVK" "$BIN/omni-worker" poll --concurrency 2 \
    --http-debug --log-level debug --log-inputs --workdir "$T/work" --poll-idle-ms 100-200 --max-idle 1s \
    2>"$T/worker1.log"
W1=$BG_PID
bg env ANTHROPIC_BASE_URL="$SIM_URL" "$BIN/omni-worker" poll \
    --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --environment-key-file "$T/env.key" \
    --http-debug --workdir "$T/work" --poll-idle-ms 100-200 --max-idle 1s 2>"$T/worker2.log"
W2=$BG_PID
bg env ANTHROPIC_API_KEY="$ORG" ANTHROPIC_BASE_URL="$SIM_URL" "$BIN/omnictl" -v \
    sessions events --follow "${SIDS[0]}" >"$T/follow.out" 2>"$T/follow.err"
FOLLOW=$BG_PID

# descendants PID...: the pids and all their descendants
descendants() {
    local all="$*" frontier="$*" next p
    while [ -n "$frontier" ]; do
        next=
        for p in $frontier; do
            for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do next="$next $c"; done
        done
        all="$all $next"
        frontier=$next
    done
    echo $all
}
tool_children() { # descendants that are not omni programs
    local p
    for p in $(descendants "$W1" "$W2"); do
        case "$(readlink /proc/"$p"/exe 2>/dev/null)" in
        */omni-worker|"") ;;
        *) echo "$p" ;;
        esac
    done
}
sleeping_tool() { tool_children | while read -r p; do
    tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | grep -q '^sleep ' && echo "$p"; done | grep -q .; }

wait_for 20 "tool calls are running (a sleep under the workers)" sleeping_tool

PIDS=$(descendants "$SIM_PID" "$W1" "$W2" "$FOLLOW")
NPIDS=$(echo "$PIDS" | wc -w)
ok "processes to inspect: sim, 2 workers, omnictl and their children ($NPIDS)" test "$NPIDS" -ge 6

argv_clean() {
    local p
    for p in $PIDS; do
        [ -r /proc/"$p"/cmdline ] || continue
        if tr '\0' ' ' </proc/"$p"/cmdline | grep -Eq -- "$CRED_RE|$ORG|$ENVK"; then
            echo "pid $p argv holds a credential" >&2
            return 1
        fi
    done
}
ok "no credential in the argv of any running process" argv_clean

env_clean_tools() {
    local p n=0
    for p in $(tool_children); do
        [ -r /proc/"$p"/environ ] || continue
        n=$((n + 1))
        if tr '\0' '\n' </proc/"$p"/environ | grep -Eq -- "^ANTHROPIC_|$CRED_RE"; then
            echo "tool pid $p environment holds ANTHROPIC_* or a credential" >&2
            return 1
        fi
    done
    [ "$n" -gt 0 ]
}
ok "tool children: no ANTHROPIC_* variable, no credential in environ" env_clean_tools

env_clean_workers() {
    local p n=0
    for p in $(descendants "$W1" "$W2"); do
        [ "$(readlink /proc/"$p"/exe 2>/dev/null)" = "$(readlink -f "$BIN/omni-worker")" ] || continue
        n=$((n + 1))
        if grep -aEq -- "$CRED_RE" /proc/"$p"/environ; then
            echo "worker pid $p environ holds a credential" >&2
            return 1
        fi
    done
    echo "checked $n omni-worker processes" >&2
    [ "$n" -ge 3 ]   # two supervisors and at least one per-session child
}
ok "omni-worker processes (supervisors and session children): no credential in environ" \
    env_clean_workers

wait_for 40 "both sessions completed" all_done 2
check_report "secrets run"
kill -TERM "$W1" "$W2" "$FOLLOW"
for _ in $(seq 1 100); do kill -0 "$W1" 2>/dev/null || kill -0 "$W2" 2>/dev/null || break; sleep 0.1; done

# ---- logs and errors -----------------------------------------------------------------
like "HTTP tracing was on in worker 1 (the log test means something)" \
    "$(cat "$T/worker1.log")" '(> |< |GET |POST )'
like "HTTP tracing was on in omnictl" "$(cat "$T/follow.err")" '(GET|POST) '
for f in sim.log worker1.log worker2.log follow.err follow.out ctl.err; do
    unlike "no credential in $f" "$(cat "$T/$f" 2>/dev/null)" "$CRED_RE|$ORG|$ENVK"
done

# Error paths that handle a key: a wrong key, an env key given as an org key.
ANTHROPIC_API_KEY=sk-ant-api03-WRONGwrongWRONGwrong1234 ANTHROPIC_BASE_URL=$SIM_URL \
    "$BIN/omnictl" -v stats >"$T/o" 2>"$T/e"
is "omnictl with a wrong key: exit 1 or 3" "$(( $? == 1 || $? == 3 ))" 1
unlike "omnictl with a wrong key: the key is not echoed" "$(cat "$T/e" "$T/o")" 'WRONGwrong'
ANTHROPIC_API_KEY=$ENVK ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" stats >"$T/o" 2>"$T/e"
is "omnictl given an environment key: exit 3" "$?" 3
unlike "omnictl given an environment key: not echoed" "$(cat "$T/e" "$T/o")" "$CRED_RE"

# ---- key files and argv -------------------------------------------------------------
mkdir -p "$XDG_CONFIG_HOME/omni"
printf '%s\n' "$ORG" >"$T/org.key"
echo "api_key_file = $T/org.key" >"$XDG_CONFIG_HOME/omni/config"
# (640 with a group the process does not hold; 640 of its own group is fine)
for mode in 644 640 604 660 460; do
    chmod "$mode" "$T/org.key"
    if [ "$mode" = 640 ]; then chgrp 65533 "$T/org.key"; else chgrp "$(id -g)" "$T/org.key"; fi
    ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" stats >"$T/o" 2>"$T/e"
    is "omnictl api_key_file mode $mode: refused (exit 3)" "$?" 3
    like "omnictl api_key_file mode $mode: says how to fix it" "$(cat "$T/e")" '(600|group|others)'
    unlike "omnictl api_key_file mode $mode: key not shown" "$(cat "$T/e" "$T/o")" "$ORG"
done
chgrp "$(id -g)" "$T/org.key"
chmod 640 "$T/org.key"
ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" stats >"$T/o" 2>"$T/e"
is "omnictl api_key_file mode 640 of the process's own group: accepted" "$?" 0
chmod 600 "$T/org.key"
ln -sf "$T/org.key" "$T/org.link"
chmod 644 "$T/org.key"
echo "api_key_file = $T/org.link" >"$XDG_CONFIG_HOME/omni/config"
ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" stats >"$T/o" 2>"$T/e"
is "omnictl api_key_file via a symlink to a loose file: refused (exit 3)" "$?" 3
chmod 600 "$T/org.key"
echo "api_key_file = $T/org.key" >"$XDG_CONFIG_HOME/omni/config"
ANTHROPIC_BASE_URL=$SIM_URL "$BIN/omnictl" stats >"$T/o" 2>"$T/e"
is "omnictl api_key_file mode 600: accepted" "$?" 0

"$BIN/omnictl" --api-key "$ORG" stats >"$T/o" 2>"$T/e"
is "omnictl --api-key on the command line: usage error (exit 2)" "$?" 2
unlike "omnictl --api-key: the value is not echoed" "$(cat "$T/e" "$T/o")" "$ORG"

chmod 644 "$T/env.key"
env ANTHROPIC_BASE_URL="$SIM_URL" timeout 10 "$BIN/omni-worker" poll \
    --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --environment-key-file "$T/env.key" \
    --workdir "$T/work" >"$T/o" 2>"$T/e"
rc=$?
ok "omni-worker key file mode 644: refused (exit $rc)" test "$rc" -eq 2 -o "$rc" -eq 3
unlike "omni-worker key file mode 644: key not shown" "$(cat "$T/e" "$T/o")" "$ENVK"

printf '%s\n' "$ORG" >"$T/sim-org.key"
chmod 644 "$T/sim-org.key"
timeout 10 "$BIN/omni-sim" --port 0 --org-key-file "$T/sim-org.key" >"$T/o" 2>"$T/e"
is "omni-sim --org-key-file mode 644: refused (exit 3: a credentials fault)" "$?" 3
unlike "omni-sim: key not shown" "$(cat "$T/e" "$T/o")" "$ORG"

done_testing
