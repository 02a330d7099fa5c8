#!/usr/bin/env bash
# omni-console under AddressSanitizer + UBSan (and LeakSanitizer): -n runs on
# each view and an interactive run through the detail view exit 0 cleanly.
# Uses $OMNI_ASAN_BIN/omni-console, else builds build-console-asan/.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

if [ -n "${OMNI_ASAN_BIN:-}" ]; then
    ASAN_BIN=$OMNI_ASAN_BIN
else
    ASAN_BIN=$TOP/build-console-asan/bin
    make -C "$TOP" -j4 B=console-asan SANITIZE=address,undefined build-console-asan/bin/omni-console \
        >"$T/build.log" 2>&1
    ok "sanitizer build (make B=console-asan SANITIZE=address,undefined)" test $? -eq 0
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98

sim_start
con_setup
mk ask "asan-ask" >/dev/null
mk bash-once "asan-bash" >/dev/null
mk custom "asan-custom" >/dev/null

clean_run() { # DESC: the console ended 0 with no sanitizer report
    until_ok 20 test -s "$T/console.exit"
    is "$1: exit 0" "$(con_exit_code)" 0
    unlike "$1: no sanitizer report" "$(cat "$T/console.err")" 'Sanitizer|runtime error|LeakSanitizer'
}

CON_BIN=$ASAN_BIN con_start -n 3 --refresh 0.3
clean_run "environments view, -n 3"
con_stop

CON_BIN=$ASAN_BIN con_start -n 5 --refresh 0.3 --env "$ANTHROPIC_ENVIRONMENT_ID"
clean_run "sessions view (events fetched), -n 5"
con_stop

CON_BIN=$ASAN_BIN con_start --refresh 0.3 --env "$ANTHROPIC_ENVIRONMENT_ID"
wait_screen 15 "asan-ask"
keys w
wait_screen 10 "work items"
keys w '>' r /
keys -l asan
keys Enter
wait_screen 10 "asan-ask"
keys G Enter
ok "detail view under ASan" wait_screen 10 "stream: live"
tmux -L "$CON_SOCK" resize-window -x 60 -y 15
keys i
wait_screen 5 "interrupt"
keys Escape q
clean_run "interactive run through every view"

done_testing
