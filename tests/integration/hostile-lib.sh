# hostile-lib.sh — helpers for the t5200-hostile-*.t tests. Source after
# tests/lib.sh. Each hostile server is tests/helpers/hostile-server.pl in one
# mode, on its own loopback port, killed at exit (and exiting by itself).
#
#   hostile MODE          start a server; sets H_URL, H_REQ (its request log)
#   todo_is / todo_like / todo_unlike   like is/like/unlike, but a failure is a
#                         TAP TODO (a known bug reported elsewhere: visible in
#                         the output, does not fail the run)
#   elapsed_ms START_NS   milliseconds since START_NS ($(date +%s%N))
#   one_line DESC FILE    FILE holds exactly one line

HOSTILE=$TOP/tests/helpers/hostile-server.pl

hostile() {
    local m=$1 pf=$T/hostile.$1.$RANDOM
    # output to a file: forked children outlive a killed parent briefly and
    # must not hold the TAP stream open
    bg perl "$HOSTILE" "$m" "$pf" "${HOSTILE_LIFE:-60}" >>"$T/hostile.log" 2>&1
    until_ok 10 test -s "$pf" || { echo "Bail out! hostile server $m did not start"; exit 1; }
    H_URL=http://127.0.0.1:$(cat "$pf")
    H_REQ=$pf.requests
}

_todo() { # rc desc
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2 # TODO $TODO_WHY"; else
        echo "not ok $_tap_n - $2 # TODO $TODO_WHY"; fi
}
todo_is() { [ "$2" = "$3" ]; _todo $? "$1"; }
todo_like() { printf '%s' "$2" | grep -Eq -- "$3"; _todo $? "$1"; }
todo_unlike() { ! printf '%s' "$2" | grep -Eq -- "$3"; _todo $? "$1"; }

elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

one_line() {
    is "$1" "$(wc -l <"$2" | tr -d ' ')" 1
}

# reqs: number of requests the last hostile server saw
reqs() { if [ -f "$H_REQ" ]; then wc -l <"$H_REQ" | tr -d ' '; else echo 0; fi; }
