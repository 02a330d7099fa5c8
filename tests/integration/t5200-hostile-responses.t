#!/usr/bin/env bash
# omnictl against hostile servers (tests/helpers/hostile-server.pl): every bad
# answer ends in one clear error line and exit 1 within a bounded time, never a
# crash (exit >= 128) or a hang; `sessions events --follow` keeps reconnecting
# with backoff and stops on SIGTERM.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/hostile-lib.sh"

ORG_KEY=sk-ant-api03-hostile-$RANDOM$RANDOM-key
mkdir -p "$XDG_CONFIG_HOME/omni"
: >"$XDG_CONFIG_HOME/omni/config"

# ctl_h NAME ARGS...: omnictl --timeout 1s against H_URL; $T/NAME.{out,err,rc,ms}
ctl_h() {
    local name=$1 s rc; shift
    s=$(date +%s%N)
    ANTHROPIC_API_KEY=$ORG_KEY ANTHROPIC_BASE_URL=$H_URL timeout -s KILL 60 \
        "$BIN/omnictl" --timeout 1s "$@" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    echo "$rc" >"$T/$name.rc"
    elapsed_ms "$s" >"$T/$name.ms"
}

check_err() { # name mode regex max_ms
    local n=$1
    is "$2: exit 1" "$(cat "$T/$n.rc")" 1
    one_line "$2: one error line" "$T/$n.err"
    like "$2: the error names what was wrong" "$(cat "$T/$n.err")" "^omnictl: .*$3"
    is "$2: nothing on stdout" "$(wc -c <"$T/$n.out" | tr -d ' ')" 0
    local ms; ms=$(cat "$T/$n.ms")
    ok "$2: bounded time (${ms} ms <= $4 ms)" test "$ms" -le "$4"
}

# The slow ones run in the background while the quick ones are checked.
hostile silent;    ( ctl_h silent-stats stats env_h ) & slow1=$!
hostile slowloris; ( ctl_h slow-stats stats env_h ) & slow2=$!
hostile silent;    ( ctl_h silent-show env show env_h ) & slow3=$!

hostile huge
ctl_h huge-stats stats env_h
check_err huge-stats "huge body (stats)" "larger than [0-9]+ bytes" 10000
ctl_h huge-list env list
check_err huge-list "huge body (env list)" "larger than [0-9]+ bytes" 10000

hostile huge-chunked
ctl_h hugec-list env list
check_err hugec-list "endless chunked body" "larger than [0-9]+ bytes" 10000

hostile deep
ctl_h deep-stats stats env_h
check_err deep-stats "100,000 nested arrays" "not valid JSON" 5000

hostile nonjson
ctl_h nonjson-show env show env_h
check_err nonjson-show "200 with an HTML body" "not valid JSON" 5000

hostile wrongtypes
ctl_h wt-stats stats env_h
check_err wt-stats "wrong types (stats)" 'field "[a-z_]+" is not' 5000
ctl_h wt-list env list
check_err wt-list "wrong types (env list)" '(no "data" array|is not)' 5000
ctl_h wt-sessions sessions list
check_err wt-sessions "wrong types (sessions list)" '(no "data" array|is not)' 5000
ctl_h wt-nagios -o nagios stats env_h
is "wrong types, nagios: UNKNOWN (3), never CRITICAL" "$(cat "$T/wt-nagios.rc")" 3

hostile retry-forever
ctl_h retry-stats stats env_h
check_err retry-stats "503 with retry-after 99999" "503" 15000

# Strings from the server reach a terminal: escapes and invalid UTF-8.
hostile ansi
ctl_h ansi-list env list
is "terminal escapes in names: env list succeeds" "$(cat "$T/ansi-list.rc")" 0
is "terminal escapes in names: no ESC byte reaches stdout (env list)" \
    "$(tr -cd '\033' <"$T/ansi-list.out" | wc -c | tr -d ' ')" 0
ctl_h ansi-show env show env_h
is "terminal escapes in names: no C0 control reaches stdout (env show)" \
    "$(tr -cd '\000-\010\013-\037' <"$T/ansi-show.out" | wc -c | tr -d ' ')" 0
ctl_h ansi-json -o json env list
is "terminal escapes, -o json: escaped, no raw control bytes" \
    "$(tr -cd '\000-\010\013-\037' <"$T/ansi-json.out" | wc -c | tr -d ' ')" 0

hostile badutf8
ctl_h bad-list -o json env list
ok "invalid UTF-8: no crash (exit < 128)" test "$(cat "$T/bad-list.rc")" -lt 128
is "invalid UTF-8: -o json output is valid UTF-8" \
    "$(perl -MEncode -e 'local $/; my $s = <STDIN>; eval { Encode::decode("UTF-8", $s, Encode::FB_CROAK); 1 } ? print "valid" : print "invalid"' <"$T/bad-list.out")" valid
ctl_h bad-stats stats env_h
ok "invalid UTF-8 in stats: no crash" test "$(cat "$T/bad-stats.rc")" -lt 128

# --follow against broken streams: stays up, backs off, stops on SIGTERM.
for m in truncsse ssehuge ssesilent; do
    hostile "$m"
    ANTHROPIC_API_KEY=$ORG_KEY ANTHROPIC_BASE_URL=$H_URL \
        "$BIN/omnictl" --timeout 2s sessions events --follow sesn_h1 >"$T/f-$m.out" 2>"$T/f-$m.err" &
    fp=$!
    _bg_pids+=("$fp")
    eval "follow_$m=$fp; req_$m=$H_REQ"
done
sleep 5
for m in truncsse ssehuge ssesilent; do
    eval "fp=\$follow_$m; H_REQ=\$req_$m"
    ok "follow, $m: still running after 5 s (no crash, no exit)" kill -0 "$fp"
    n=$(reqs)
    ok "follow, $m: reconnects with backoff ($n requests in 5 s)" test "$n" -le 30
    kill -TERM "$fp"
    s=$(date +%s%N)
    for _ in $(seq 1 50); do kill -0 "$fp" 2>/dev/null || break; sleep 0.1; done
    wait "$fp"
    rc=$?
    ok "follow, $m: SIGTERM ends it promptly ($(elapsed_ms "$s") ms)" test "$(elapsed_ms "$s")" -le 5000
    ok "follow, $m: ended by our SIGTERM or cleanly, not a crash (rc $rc)" \
        test "$rc" -eq 0 -o "$rc" -eq 1 -o "$rc" -eq 130 -o "$rc" -eq 143
done

wait $slow1 $slow2 $slow3
check_err silent-stats "server that never answers (stats)" "timed out" 15000
check_err slow-stats "slowloris headers" "timed out" 15000
check_err silent-show "server that never answers (env show)" "timed out" 15000

unlike "no key in any output" "$(cat "$T"/*.out "$T"/*.err 2>/dev/null)" "$ORG_KEY"
done_testing
