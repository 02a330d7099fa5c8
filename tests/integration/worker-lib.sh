# worker-lib.sh — helpers for the omni-worker tests (t3*-worker-*.t). Source
# after tests/lib.sh, tests/integration/lib-sim.sh and sim_start.
#
#   wk CMD...                 run omni-worker with the environment id/key and
#                             base URL in its environment (never the org key)
#   wk_bg ARGS...             start `omni-worker ARGS` in the background
#                             (stderr to $T/worker.log); sets WK_PID
#   rep PATH                  a value from /_sim/report (jget path)
#   all_done N                true when N sessions completed and N items stopped
#   check_report DESC         the "nothing lost, nothing run twice" assertions
#   first_event_id SID TYPE   id of the first event of TYPE in a session
#   scratch_root NAME         WROOT: a 0755 directory under /tmp for sandboxed
#                             workers (reachable by session uids); at exit every
#                             process naming it is killed, its mounts undone

wk() {
    env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
        ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" "$@"
}

wk_bg() {
    bg env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
        ANTHROPIC_ENVIRONMENT_KEY="$ANTHROPIC_ENVIRONMENT_KEY" "$BIN/omni-worker" "$@" 2>>"$T/worker.log"
    WK_PID=$BG_PID
}

rep() {
    jget "$(sim_report)" "$1"
}

all_done() {
    local r
    r=$(sim_report) || return 1
    [ "$(jget "$r" sessions_completed)" -ge "$1" ] && [ "$(jget "$r" work_items.stopped)" -ge "$1" ] &&
        [ "$(jget "$r" work_items.active)" = 0 ] && [ "$(jget "$r" work_items.starting)" = 0 ]
}

check_report() { # DESC [DENIED]: DENIED calls are answered by the server, not us
    local r d=$1 denied=${2:-0}
    r=$(sim_report)
    is "$d: every call answered once" "$(jget "$r" results_received)" \
        "$(( $(jget "$r" tool_calls_emitted) - denied ))"
    is "$d: no duplicate results" "$(jget "$r" duplicate_results)" 0
    is "$d: no unanswered calls" "$(jget "$r" unanswered_calls)" 0
    is "$d: results match" "$(jget "$r" result_mismatches)" 0
    is "$d: no protocol errors" "$(jget "$r" protocol_errors)" 0
    is "$d: no item left unstopped" "$(jget "$r" items_not_stopped)" 0
    [ "$(jget "$r" problems)" = "[]" ] || echo "# sim problems: $(jget "$r" problems | head -c 2000)" >&2
}

first_event_id() {
    api org GET "/v1/sessions/$1/events?limit=1000"
    printf '%s' "$BODY" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); for (@{$j->{data}}) { if ($_->{type} eq $ARGV[0]) { print $_->{id}; last } }' "$2"
}

# wait until the worker exits (bounded); sets WK_RC
wk_wait() {
    local secs=$1 i
    for i in $(seq 1 $((secs * 10))); do
        kill -0 "$WK_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$WK_PID" 2>/dev/null; then WK_RC=timeout; return 1; fi
    wait "$WK_PID"
    WK_RC=$?
}

# new_session with retries (fault-injecting sims fail operator calls too)
mk_session() {
    local i
    for i in $(seq 1 30); do
        new_session "$@"
        [ "$STATUS" = 200 ] && [ -n "$SID" ] && return 0
        sleep 0.1
    done
    echo "# could not create a session: $STATUS $BODY" >&2
    return 1
}

# sess_field SID FIELD: a field of one session in /_sim/report
sess_field() {
    sim_report | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); for (@{$j->{sessions}}) { if ($_->{id} eq $ARGV[0]) { my $v = $_->{$ARGV[1]}; print JSON::PP::is_bool($v) ? ($v ? "true" : "false") : $v } }' "$1" "$2"
}

# work_state SID: state of the (latest) work item of a session (environment key)
work_state() {
    api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work?limit=1000"
    printf '%s' "$BODY" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); my $s = ""; for (@{$j->{data}}) { $s = $_->{state} if $_->{data}{id} eq $ARGV[0] } print $s' "$1"
}

scratch_root() {
    WROOT=$(mktemp -d "/tmp/omni-$1.XXXXXX")
    chmod 0755 "$WROOT"
    trap '_scratch_root_cleanup; _cleanup' EXIT
}
_scratch_root_cleanup() {
    local p
    for p in $(pgrep -f "$WROOT" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    sleep 0.2
    grep -o " $WROOT/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$WROOT"
}

# --metrics-listen (t32*): set WM_URL (http://127.0.0.1:PORT, or http://w with
# WM_SOCK, a unix socket path) first.
#   scrape PATH        the body; its HTTP status by `code`
#   m PREFIX           the sum of the /metrics samples whose name{labels
#                      start with PREFIX (integer part)
#   m_test PREFIX OP N test(1) on m, evaluated on each try of wait_for
scrape() {
    curl -s --max-time 5 ${WM_SOCK:+--unix-socket "$WM_SOCK"} -o "$T/scrape" -w '%{http_code}' \
        "$WM_URL$1" >"$T/code"
    cat "$T/scrape"
}
code() { cat "$T/code"; }
m() {
    scrape /metrics | awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { printf "%d\n", s }'
}
m_test() {
    test "$(m "$1")" "$2" "$3"
}
