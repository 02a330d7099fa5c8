#!/usr/bin/env bash
# omni-worker against hostile servers (tests/helpers/hostile-server.pl).
#   poll: every bad answer is logged as one "poll failed" line and backed off
#         from; SIGTERM ends the worker with exit 0 within a few seconds.
#   run:  a broken control plane ends the run by itself within a bounded time
#         (the item force-stopped, or released when the error is transient);
#         broken event streams are reconnected to with backoff; never a crash
#         (exit >= 128) or a hang.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/hostile-lib.sh"

ENV_KEY=sk-ant-oat01-hostile-$RANDOM$RANDOM-envkey
TOKEN=sk-ant-req01-hostile-$RANDOM$RANDOM-token
SECRET=$(printf '{"version":1,"sessions_token":"%s"}' "$TOKEN" | base64 -w0 | tr '+/' '-_' | tr -d '=')
(umask 077; printf '%s\n' "$SECRET" >"$T/secret")
mkdir -p "$T/wd"

# wstart NAME poll|run: a worker against H_URL in the background; pid in W_NAME.
# Each worker has its own workdir: they all serve the same fake session, and a
# session's directory is held by one runner at a time.
wstart() {
    local name=$1 mode=$2 args=()
    if [ "$mode" = run ]; then
        args=(run --work-id work_h1 --session-id sesn_h1 --work-secret-file "$T/secret")
    else
        args=(poll --poll-idle-ms 200-500)
    fi
    env ANTHROPIC_ENVIRONMENT_KEY=$ENV_KEY ANTHROPIC_ENVIRONMENT_ID=env_h \
        "$BIN/omni-worker" "${args[@]}" --base-url "$H_URL" --workdir "$T/wd-$name" \
        --drain-timeout 2s 2>"$T/$name.log" &
    _bg_pids+=("$!")
    eval "W_$name=$!; R_$name=$H_REQ"
}

# wstop NAME SECS: SIGTERM, wait up to SECS; sets RC (or "hang"), MS
wstop() {
    local pid s
    eval "pid=\$W_$1"
    s=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        RC=hang
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    else
        wait "$pid"
        RC=$?
    fi
    MS=$(elapsed_ms "$s")
}

# wwait NAME SECS: wait for the worker to exit by itself; sets RC (or "hang")
wwait() {
    local pid
    eval "pid=\$W_$1"
    for _ in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then RC=hang; else wait "$pid"; RC=$?; fi
}

lines_ok() { # every log line is one timestamped line (no raw multi-line text)
    ! grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (debug|info|warn|error) ' "$1" | grep -q .
}

# ---- poll: all modes at once ----------------------------------------------------
POLL_ERR="huge huge-chunked deep nonjson badutf8 retry-forever"
POLL_QUIET="wrongtypes ansi silent slowloris truncsse"
for m in $POLL_ERR $POLL_QUIET; do
    hostile "$m"
    wstart "p_${m//-/_}" poll
done
sleep 4
declare -A want=([huge]="larger than [0-9]+ bytes" [huge-chunked]="larger than [0-9]+ bytes"
                 [deep]="not valid JSON" [nonjson]="not valid JSON" [badutf8]="not a valid id"
                 [retry-forever]="503")
for m in $POLL_ERR $POLL_QUIET; do
    n=p_${m//-/_}
    eval "H_REQ=\$R_$n"
    ok "poll, $m: still running after 4 s" kill -0 "$(eval echo "\$W_$n")"
    r=$(reqs)
    # --poll-idle-ms 200-500: at most ~20 polls in 4 s; a tight loop would be thousands
    ok "poll, $m: backs off ($r requests in 4 s)" test "$r" -le 25
    if [ -n "${want[$m]:-}" ]; then
        like "poll, $m: says what was wrong" "$(grep 'poll failed' "$T/$n.log" | head -1)" "${want[$m]}"
    fi
    ok "poll, $m: log lines are single timestamped lines" lines_ok "$T/$n.log"
done
for m in $POLL_ERR $POLL_QUIET; do
    n=p_${m//-/_}
    wstop "$n" 10
    is "poll, $m: SIGTERM gives exit 0" "$RC" 0
    ok "poll, $m: SIGTERM honoured within 3 s (${MS} ms)" test "$MS" -le 3000
done

# ---- run: the control plane itself is broken -----------------------------------
RUN_FATAL="huge deep nonjson wrongtypes badutf8 ansi retry-forever"
for m in $RUN_FATAL; do
    hostile "$m"
    wstart "r_${m//-/_}" run
done
for m in $RUN_FATAL; do
    n=r_${m//-/_}
    wwait "$n" 20
    # a fatal answer ends the run and stops the item (exit 1); a transient
    # one (5xx, unparsable body) releases the item for re-delivery (exit 5:
    # whoever started the run must leave the item alone)
    ok "run, $m: ends by itself, exit 1 or 5 (got $RC)" test "$RC" = 1 -o "$RC" = 5
    if [ "$RC" = 5 ]; then
        like "run, $m: exit 5 is a release" "$(cat "$T/$n.log")" 'item released without stopping it'
    fi
    like "run, $m: the run ended with the item stopped or released" "$(cat "$T/$n.log")" \
        '(session run ended.*reason=fatal|item released without stopping it)'
    ok "run, $m: log lines are single timestamped lines" lines_ok "$T/$n.log"
done

# ---- run: broken event streams -------------------------------------------------
RUN_SSE="truncsse ssehuge ssesilent"
for m in $RUN_SSE; do
    hostile "$m"
    wstart "s_$m" run
done
sleep 5
for m in $RUN_SSE; do
    n=s_$m
    eval "H_REQ=\$R_$n"
    ok "run, $m: still serving after 5 s" kill -0 "$(eval echo "\$W_$n")"
    r=$(grep -c '/events/stream' "$H_REQ")
    ok "run, $m: stream reconnects back off ($r in 5 s)" test "$r" -le 12
done
like "run, ssehuge: the frame cap is named" "$(cat "$T/s_ssehuge.log")" 'frame larger than [0-9]+ bytes'
for m in $RUN_SSE; do
    wstop "s_$m" 10
    ok "run, $m: SIGTERM ends the run, no crash (rc $RC)" test "$RC" != hang -a "$RC" != "" -a "${RC/hang/999}" -lt 128
    ok "run, $m: SIGTERM honoured within 5 s (${MS} ms)" test "$MS" -le 5000
    like "run, $m: the item is stopped on the way out" "$(cat "$T/s_$m.log")" 'work stopped'
done

# ---- run: a server that never answers ------------------------------------------
TODO_WHY="worker: SIGTERM does not abort an in-flight heartbeat in 'run' (waits for the HTTP timeout); reported"
for m in silent slowloris; do
    hostile "$m"
    wstart "h_$m" run
done
sleep 2
for m in silent slowloris; do
    wstop "h_$m" 8
    todo_is "run, $m: SIGTERM honoured within 8 s" "$RC" 1
    ok "run, $m: no crash (rc $RC)" test "$RC" = hang -o "${RC/hang/0}" -lt 128
done

unlike "no key or token in any log" "$(cat "$T"/*.log 2>/dev/null)" "($ENV_KEY|$TOKEN)"
done_testing
