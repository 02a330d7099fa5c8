#!/usr/bin/env bash
# omnictl --watch SECS (stats, sessions list, work list) redraws until
# interrupted; -o wide adds columns; times carry their zone: UTC ("Z", as
# the worker and console logs) unless --local-time (local, with its offset).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID
ctl_config
S=$(new_session)
W=$(claim_work)
heartbeat "$W"

# --watch: interrupted once two whole frames are out (a frame is whole when the
# next one's header follows it; bounded: 15 s for them).
_frames() { grep -c '^Every 1s: omnictl ' "$T/watch.out" 2>/dev/null; }
_two_frames() { [ "$(_frames)" -ge 3 ]; }
watch_frames() { # ARGS...: run with --watch, SIGINT after two frames; prints the frame count
    local pid
    ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY ANTHROPIC_BASE_URL=$ANTHROPIC_BASE_URL \
        timeout -s KILL 30 "$BIN/omnictl" "$@" >"$T/watch.out" 2>"$T/watch.err" &
    pid=$!
    until_ok 15 _two_frames
    kill -INT "$pid" 2>/dev/null
    # timeout(1) passes the INT on to omnictl and reports its status
    wait "$pid"
    echo $? >"$T/watch.rc"
    _frames
}
n=$(watch_frames stats --watch 1 "$ENV")
is "stats --watch: interrupted -> exit 0" "$(cat "$T/watch.rc")" 0
ok "stats --watch: redrawn ($n frames)" test "$n" -ge 3 -a "$n" -le 5
ok "  every whole frame has the table" test "$(grep -c '^ENVIRONMENT ' "$T/watch.out")" -ge $((n - 1))
like "  frame header carries a UTC time" "$(head -1 "$T/watch.out")" '^Every 1s: omnictl stats  20[0-9-]+T[0-9:]+Z$'
unlike "  no screen clearing when piped" "$(cat "$T/watch.out")" $'\033'
n=$(watch_frames sessions list --watch 1)
ok "sessions list --watch: redrawn ($n frames)" test "$n" -ge 2
n=$(watch_frames work list --watch 1)
ok "work list --watch: redrawn ($n frames)" test "$n" -ge 2
is "--watch 0: usage (2)" "$(ctl stats --watch 0 2>/dev/null; echo $?)" 2
is "--watch on a command without it: usage (2)" "$(ctl env list --watch 1 2>/dev/null; echo $?)" 2
is "--watch with -o prom: usage (2)" "$(ctl stats -o prom --watch 1 2>/dev/null; echo $?)" 2

# -o wide
out=$(ctl work list -o wide)
like "work list -o wide: more columns" "$out" '^WORK +STATE +TYPE +DATA +CREATED +HEARTBEAT +ACKNOWLEDGED +STARTED +STOP-REQUESTED +STOPPED +ENVIRONMENT$'
like "  the acknowledged time" "$out" "$W +active .* 20[0-9-]+T[0-9:]+Z +20[0-9-]+T[0-9:]+Z +20"
unlike "work list (table): not the wide columns" "$(ctl work list)" 'ACKNOWLEDGED'
like "sessions list -o wide" "$(ctl sessions list -o wide)" '^SESSION +STATUS +ENVIRONMENT +AGENT +CREATED +TITLE +UPDATED +ARCHIVED$'
like "stats -o wide" "$(ctl stats -o wide "$ENV")" 'HEALTH +ACTIVE +HELD$'
like "global -o wide" "$(ctl -o wide work list)" 'ACKNOWLEDGED'
ok "-o wide on a command without wide columns prints its table" ctl env list -o wide

# Times: UTC with Z by default, local with the offset under --local-time.
utc=$(ctl sessions list)
like "sessions list: times in UTC with Z" "$utc" "$S +[a-z]+ .* 20[0-9-]+T[0-9:]+Z"
loc=$(TZ=XST-05:30 ctl --local-time sessions list)
like "--local-time: local time with its offset" "$loc" "$S +[a-z]+ .* 20[0-9-]+T[0-9:]+\\+05:30"
u=$(printf '%s\n' "$utc" | grep "^$S" | grep -oE '20[0-9-]+T[0-9:]+Z')
l=$(printf '%s\n' "$loc" | grep "^$S" | grep -oE '20[0-9-]+T[0-9:]+\+05:30')
is "  the same instant" "$(date -u -d "$l" +%s)" "$(date -u -d "$u" +%s)"
json=$(TZ=XST-05:30 ctl --local-time -o json work show "$W")
like "json stays UTC" "$(jget "$json" created_at)" 'Z$'
out=$(TZ=XST-05:30 ctl --local-time stop --yes --force "$W")
like "stop report times follow --local-time" "$out" 'force stop requested at 20[0-9-]+T[0-9:]+\+05:30'

done_testing
