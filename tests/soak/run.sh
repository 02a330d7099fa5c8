#!/usr/bin/env bash
# tests/soak/run.sh — a bounded soak of omni-worker against a faulty omni-sim,
# loopback only (`make soak`). Writes its figures to docs/RELIABILITY.md
# (between the soak markers) and exits 1 when a must-be-zero figure is not.
#
# What runs:
#   omni-sim  --fault-5xx 0.10 --fault-429 0.05 (retry-after 250 ms),
#             --cut-stream-after 20, --jitter-ms 300, --steal-lease-every 100,
#             --lease-ttl 10 (the simulator's minimum), seeded with SOAK_SEED
#   SOAK_WORKERS omni-worker poll --concurrency SOAK_CONCURRENCY --max-idle 1s
#   a feeder creating SOAK_SESSIONS sessions (scenario burst:SOAK_CALLS),
#     keeping the queue shallow so sessions start while the chaos goes on
#   chaos: about every SOAK_KILL_EVERY seconds one worker's whole process tree
#     (supervisor, session children, tool processes) gets SIGKILL, as in a
#     host crash, and is restarted 1-3 s later; about every SOAK_STOP_EVERY
#     seconds `omnictl stop` (graceful) hits a running session.
#
# Environment (all optional):
#   SOAK_SECONDS=600     wall-time bound for the feeding/serving phase
#   SOAK_SESSIONS=1000   sessions to create
#   SOAK_CALLS=10        tool calls per session (burst:N)
#   SOAK_SEED=<random>   seeds the simulator's faults and this script's choices
#   SOAK_WORKERS=3  SOAK_CONCURRENCY=8  SOAK_KILL_EVERY=20  SOAK_STOP_EVERY=45
#   SOAK_DOC=1           write the figures into docs/RELIABILITY.md (0: don't)
#   SOAK_DIR=<mktemp>    where logs, the report and the figures go (kept)
#   OMNI_BIN             programs to test (an ASan build works: its reports
#                        are counted as crashes)
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${OMNI_BIN:-$TOP/bin}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_SESSIONS=${SOAK_SESSIONS:-1000}
SOAK_CALLS=${SOAK_CALLS:-10}
SOAK_SEED=${SOAK_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000000 + 1 ))}
SOAK_WORKERS=${SOAK_WORKERS:-3}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-8}
SOAK_KILL_EVERY=${SOAK_KILL_EVERY:-20}
SOAK_STOP_EVERY=${SOAK_STOP_EVERY:-45}
SOAK_DOC=${SOAK_DOC:-1}
SOAK_DIR=${SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/omni-soak.XXXXXX")}
DRAIN_SECONDS=120       # after the serving phase: let the created sessions finish
QUEUE_TARGET=$((SOAK_WORKERS * SOAK_CONCURRENCY * 2))

RANDOM=$SOAK_SEED       # the chaos schedule replays with the seed
mkdir -p "$SOAK_DIR/work" "$SOAK_DIR/home"
export HOME=$SOAK_DIR/home XDG_CONFIG_HOME=$SOAK_DIR/home/.config
unset ANTHROPIC_API_KEY ANTHROPIC_ENVIRONMENT_KEY ANTHROPIC_BASE_URL ANTHROPIC_ENVIRONMENT_ID \
      OMNI_PROFILE OMNI_CONFIG

say() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s; }
rnd() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); } # rnd LO HI

for p in omni-sim omni-worker omnictl; do
    [ -x "$BIN/$p" ] || { say "missing $BIN/$p (run make first)"; exit 2; }
done
command -v perl >/dev/null || { say "perl is needed"; exit 2; }

SIM_PID=
declare -a WPID WKILLED
cleanup() {
    local i
    for i in "${!WPID[@]}"; do [ -n "${WPID[$i]}" ] && tree_kill "${WPID[$i]}" KILL; done
    [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null
    [ -n "${FEED_PID:-}" ] && kill -TERM "$FEED_PID" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# descendants PID: PID and every process below it
descendants() {
    local all=$1 frontier=$1 next p c
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
tree_kill() { # PID SIGNAL: stop the tree first so nothing escapes, then signal it
    local pids
    pids=$(descendants "$1")
    kill -STOP $pids 2>/dev/null
    pids="$pids $(descendants "$1")"
    kill -"$2" $pids 2>/dev/null
    if [ "$2" = KILL ]; then
        wait "$1" 2>/dev/null # reap here: no job notice on stderr
    else
        kill -CONT $pids 2>/dev/null
    fi
}

# ---- the simulator -------------------------------------------------------------
"$BIN/omni-sim" --port 0 --env-file "$SOAK_DIR/sim.env" --seed "$SOAK_SEED" \
    --fault-5xx 0.10 --fault-429 0.05 --retry-after-ms 250 --cut-stream-after 20 \
    --jitter-ms 300 --steal-lease-every 100 --lease-ttl 10 --log-level warn \
    >"$SOAK_DIR/sim.out" 2>"$SOAK_DIR/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do [ -s "$SOAK_DIR/sim.env" ] && break; sleep 0.1; done
[ -s "$SOAK_DIR/sim.env" ] || { say "omni-sim did not start: $(head -3 "$SOAK_DIR/sim.log")"; exit 1; }
# shellcheck disable=SC1091
. "$SOAK_DIR/sim.env"
SIM_URL=$ANTHROPIC_BASE_URL
ORG_KEY=$ANTHROPIC_API_KEY
ENV_KEY=$ANTHROPIC_ENVIRONMENT_KEY
ENV_ID=$ANTHROPIC_ENVIRONMENT_ID
AGENT_ID=$OMNI_SIM_AGENT_ID
unset ANTHROPIC_API_KEY ANTHROPIC_ENVIRONMENT_KEY ANTHROPIC_BASE_URL ANTHROPIC_ENVIRONMENT_ID

# Keys reach curl through header files and omnictl through key files: never argv.
(umask 077
 printf 'x-api-key: %s\nanthropic-version: 2023-06-01\nanthropic-beta: managed-agents-2026-04-01\ncontent-type: application/json\n' \
     "$ORG_KEY" >"$SOAK_DIR/org.hdr"
 printf '%s\n' "$ORG_KEY" >"$SOAK_DIR/org.key"
 printf '%s\n' "$ENV_KEY" >"$SOAK_DIR/env.key")
mkdir -p "$XDG_CONFIG_HOME/omni"
printf 'base_url = %s\napi_key_file = %s\nenvironment = %s\nenv_key_file.%s = %s\ntimeout = 20s\n' \
    "$SIM_URL" "$SOAK_DIR/org.key" "$ENV_ID" "$ENV_ID" "$SOAK_DIR/env.key" \
    >"$XDG_CONFIG_HOME/omni/config"

report() { curl -sf --max-time 20 "$SIM_URL/_sim/report"; }
jq_() { perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); my $v = $j;
    for (split /\./, $ARGV[0]) { $v = ref $v eq "ARRAY" ? $v->[$_] : $v->{$_} } print defined $v ? $v : ""' "$1"; }

say "seed $SOAK_SEED, $SOAK_SESSIONS sessions x $SOAK_CALLS calls, $SOAK_WORKERS workers x $SOAK_CONCURRENCY, ${SOAK_SECONDS}s, dir $SOAK_DIR"
SIM_RSS_START=$(awk '/^VmRSS/ {print $2}' /proc/"$SIM_PID"/status)

# ---- workers ---------------------------------------------------------------------
STARTS=0
worker_start() { # index
    local i=$1
    env ANTHROPIC_BASE_URL="$SIM_URL" "$BIN/omni-worker" poll --environment-id "$ENV_ID" \
        --environment-key-file "$SOAK_DIR/env.key" --worker-id "soak-$i-$STARTS" \
        --concurrency "$SOAK_CONCURRENCY" --max-idle 1s --poll-idle-ms 100-300 \
        --workdir "$SOAK_DIR/work/w$i" --drain-timeout 10s \
        2>>"$SOAK_DIR/worker-$i.log" &
    WPID[$i]=$!
    WKILLED[$i]=0
    STARTS=$((STARTS + 1))
}
for i in $(seq 0 $((SOAK_WORKERS - 1))); do mkdir -p "$SOAK_DIR/work/w$i"; worker_start "$i"; done

# ---- the feeder (a background loop; sessions created are listed in created.txt) ----
feeder() {
    local made=0 body sid st depth i
    body=$(printf '{"agent":"%s","environment_id":"%s","metadata":{"sim_scenario":"burst:%d"},"initial_events":[{"type":"user.message","content":[{"type":"text","text":"soak"}]}]}' \
        "$AGENT_ID" "$ENV_ID" "$SOAK_CALLS")
    while [ "$made" -lt "$SOAK_SESSIONS" ]; do
        depth=$(curl -sf --max-time 10 "$SIM_URL/_sim/report" | jq_ work_items.queued)
        if [ -n "$depth" ] && [ "$depth" -ge "$QUEUE_TARGET" ]; then sleep 0.5; continue; fi
        for i in 1 2 3 4 5; do
            [ "$made" -lt "$SOAK_SESSIONS" ] || break
            for _ in $(seq 1 50); do   # 5xx/429 are injected here too: retry
                st=$(curl -s --max-time 20 -o "$SOAK_DIR/feed.body" -w '%{http_code}' \
                    -H @"$SOAK_DIR/org.hdr" --data-binary "$body" "$SIM_URL/v1/sessions")
                if [ "$st" = 200 ]; then
                    sid=$(jq_ id <"$SOAK_DIR/feed.body")
                    echo "$sid" >>"$SOAK_DIR/created.txt"
                    made=$((made + 1))
                    break
                fi
                sleep 0.2
            done
        done
    done
}
: >"$SOAK_DIR/created.txt"
feeder 2>>"$SOAK_DIR/feeder.log" &
FEED_PID=$!

# ---- the serving phase with chaos -----------------------------------------------------
START=$(now)
DEADLINE=$((START + SOAK_SECONDS))
NEXT_KILL=$((START + $(rnd $((SOAK_KILL_EVERY / 2)) $((SOAK_KILL_EVERY * 3 / 2)))))
NEXT_STOP=$((START + $(rnd $((SOAK_STOP_EVERY / 2)) $((SOAK_STOP_EVERY * 3 / 2)))))
declare -a RESTART_AT
KILLS=0 STOPS_OK=0 STOPS_FAILED=0 UNEXPECTED_EXITS=0 SUPERVISOR_STATUS=
: >"$SOAK_DIR/stopped.txt"
LAST_SAY=0
while :; do
    t=$(now)
    r=$(report) || { say "report failed"; sleep 1; continue; }
    printf '%s' "$r" >"$SOAK_DIR/report.json"
    created=$(wc -l <"$SOAK_DIR/created.txt")
    completed=$(jq_ sessions_completed <"$SOAK_DIR/report.json")
    nstopped=$(wc -l <"$SOAK_DIR/stopped.txt")
    busy=$(( $(jq_ work_items.queued <"$SOAK_DIR/report.json") + $(jq_ work_items.starting <"$SOAK_DIR/report.json") + $(jq_ work_items.active <"$SOAK_DIR/report.json") + $(jq_ work_items.stopping <"$SOAK_DIR/report.json") ))
    if [ $((t - LAST_SAY)) -ge 30 ]; then
        say "t=$((t - START))s created=$created completed=$completed operator-stopped=$nstopped busy-items=$busy kills=$KILLS"
        LAST_SAY=$t
    fi
    if [ "$created" -ge "$SOAK_SESSIONS" ] && [ "$busy" -eq 0 ] &&
        [ $((completed + nstopped)) -ge "$SOAK_SESSIONS" ]; then
        say "all sessions done after $((t - START))s"
        break
    fi
    if [ "$t" -ge "$DEADLINE" ]; then
        say "time bound reached ($SOAK_SECONDS s): draining"
        break
    fi
    # workers: restart the killed ones when due; note any that died on their own
    for i in "${!WPID[@]}"; do
        p=${WPID[$i]}
        if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            st=$?
            if [ "${WKILLED[$i]}" = 0 ]; then
                UNEXPECTED_EXITS=$((UNEXPECTED_EXITS + 1))
                SUPERVISOR_STATUS="$SUPERVISOR_STATUS w$i:$st"
                say "worker $i exited by itself (status $st): restarting"
                worker_start "$i"
            else
                WPID[$i]=
            fi
        fi
        if [ -z "${WPID[$i]}" ] && [ "$t" -ge "${RESTART_AT[$i]:-0}" ]; then
            worker_start "$i"
        fi
    done
    if [ "$t" -ge "$NEXT_KILL" ]; then
        i=$(rnd 0 $((SOAK_WORKERS - 1)))
        if [ -n "${WPID[$i]}" ]; then
            tree_kill "${WPID[$i]}" KILL
            WKILLED[$i]=1
            KILLS=$((KILLS + 1))
            RESTART_AT[$i]=$((t + $(rnd 1 3)))
            echo "$(date -u +%FT%TZ) SIGKILL worker $i tree" >>"$SOAK_DIR/chaos.log"
        fi
        NEXT_KILL=$((t + $(rnd $((SOAK_KILL_EVERY / 2)) $((SOAK_KILL_EVERY * 3 / 2)))))
    fi
    if [ "$t" -ge "$NEXT_STOP" ]; then
        # a session in mid-run (some results in, not completed): stop it gracefully
        sid=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
            my %done = map { s/\s+\z//; ($_ => 1) } grep { /\S/ }
                do { open my $s, "<", $ARGV[1]; local $/ = "\n"; <$s> };
            my @c = grep { !$_->{completed} && !$done{$_->{id}} && $_->{results_received} > 0 }
                @{$j->{sessions}};
            @c = grep { !$_->{completed} && !$done{$_->{id}} } @{$j->{sessions}} unless @c;
            print $c[$ARGV[0] % @c]{id} if @c' "$RANDOM" "$SOAK_DIR/stopped.txt" \
            <"$SOAK_DIR/report.json")
        if [ -n "$sid" ]; then
            if timeout 60 "$BIN/omnictl" stop --yes "$sid" >>"$SOAK_DIR/omnictl.log" 2>&1; then
                STOPS_OK=$((STOPS_OK + 1))
                echo "$sid" >>"$SOAK_DIR/stopped.txt"
            else
                STOPS_FAILED=$((STOPS_FAILED + 1))
                # it may have been stopped before the error (e.g. a 5xx on a retry):
                # count it as operator-stopped when its item did stop
                echo "$sid" >>"$SOAK_DIR/stop-failed.txt"
            fi
            echo "$(date -u +%FT%TZ) omnictl stop $sid" >>"$SOAK_DIR/chaos.log"
        fi
        NEXT_STOP=$((t + $(rnd $((SOAK_STOP_EVERY / 2)) $((SOAK_STOP_EVERY * 3 / 2)))))
    fi
    sleep 1
done
SERVE_SECONDS=$(( $(now) - START ))
kill -TERM "$FEED_PID" 2>/dev/null
wait "$FEED_PID" 2>/dev/null
FEED_PID=

# ---- drain: every worker up, then wait for the last sessions, then SIGTERM ----
for i in "${!WPID[@]}"; do
    p=${WPID[$i]}
    if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then
        # killed by the chaos just before the bound (already reaped), or gone: start again
        [ -n "$p" ] && [ "${WKILLED[$i]}" = 0 ] && { wait "$p"; UNEXPECTED_EXITS=$((UNEXPECTED_EXITS + 1)); }
        worker_start "$i"
    fi
done
end=$(( $(now) + DRAIN_SECONDS ))
while [ "$(now)" -lt "$end" ]; do
    report >"$SOAK_DIR/report.json" || break
    busy=$(( $(jq_ work_items.queued <"$SOAK_DIR/report.json") + $(jq_ work_items.starting <"$SOAK_DIR/report.json") + $(jq_ work_items.active <"$SOAK_DIR/report.json") + $(jq_ work_items.stopping <"$SOAK_DIR/report.json") ))
    [ "$busy" -eq 0 ] && break
    sleep 1
done
TERM_BAD=0
for i in "${!WPID[@]}"; do
    p=${WPID[$i]}
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null
done
for i in "${!WPID[@]}"; do
    p=${WPID[$i]}
    [ -n "$p" ] || continue
    for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
        TERM_BAD=$((TERM_BAD + 1)); say "worker $i did not exit 30 s after SIGTERM"
        tree_kill "$p" KILL
    fi
    wait "$p"
    st=$?
    [ "$st" -eq 0 ] || { TERM_BAD=$((TERM_BAD + 1)); say "worker $i exited $st after SIGTERM"; }
    WPID[$i]=
done
sleep 1
report >"$SOAK_DIR/report.json"
SIM_RSS_END=$(awk '/^VmRSS/ {print $2}' /proc/"$SIM_PID"/status)
kill -TERM "$SIM_PID"
wait "$SIM_PID"
SIM_RC=$?
SIM_PID=

# ---- figures ------------------------------------------------------------------------------
CHILD_CRASHES=$(cat "$SOAK_DIR"/worker-*.log | grep -c 'session child crashed' || true)
SAN=$(cat "$SOAK_DIR"/worker-*.log "$SOAK_DIR/sim.log" | grep -cE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' || true)
CALLS_LOGGED=$(cat "$SOAK_DIR"/worker-*.log | grep -c 'tool call tool=' || true)
LEAKED_KEYS=$(cat "$SOAK_DIR"/*.log "$SOAK_DIR/sim.out" | grep -cE "$ORG_KEY|$ENV_KEY|sk-ant-req[0-9]{2}-[A-Za-z0-9_-]{16,}" || true)
touch "$SOAK_DIR/stop-failed.txt"

perl -MJSON::PP -e '
    local $/; open my $f, "<", $ARGV[0] or die; my $r = decode_json(<$f>); close $f;
    my %stopped = map { s/\s+\z//; ($_ => 1) } grep { /\S/ } do { open my $s, "<", $ARGV[1]; local $/ = "\n"; <$s> };
    my %stopfail = map { s/\s+\z//; ($_ => 1) } grep { /\S/ } do { open my $s, "<", $ARGV[2]; local $/ = "\n"; <$s> };
    my ($lost, $incomplete, $op_unanswered, $op_sessions, $done) = (0, 0, 0, 0, 0);
    for my $s (@{$r->{sessions}}) {
        if ($stopped{$s->{id}} || ($stopfail{$s->{id}} && !$s->{completed})) {
            $op_sessions++; $op_unanswered += $s->{unanswered_calls}; next;
        }
        if ($s->{completed}) { $done++ } else { $incomplete++ }
        $lost += $s->{unanswered_calls};
    }
    my $w = $r->{work_items};
    my $redeliv = $r->{deliveries} - scalar(@{$r->{sessions}});
    $redeliv = 0 if $redeliv < 0;
    my %f = (
        sessions_created => scalar(@{$r->{sessions}}),
        sessions_completed => $done,
        sessions_operator_stopped => $op_sessions,
        sessions_incomplete => $incomplete,
        tool_calls_emitted => $r->{tool_calls_emitted},
        results_received => $r->{results_received},
        results_lost => $lost,
        unanswered_after_operator_stop => $op_unanswered,
        duplicate_results => $r->{duplicate_results},
        unknown_results => $r->{unknown_results},
        result_mismatches => $r->{result_mismatches},
        protocol_errors => $r->{protocol_errors},
        items_not_stopped => $r->{items_not_stopped},
        items_left_busy => $w->{queued} + $w->{starting} + $w->{active} + $w->{stopping},
        leases_lost_and_requeued => $r->{leases_lost},
        leases_stolen_412 => $r->{leases_stolen},
        redeliveries => $redeliv,
        deliveries => $r->{deliveries},
        faults_5xx => $r->{faults_5xx},
        faults_429 => $r->{faults_429},
        streams_cut => $r->{streams_cut},
        requests => $r->{requests}{total},
        heartbeats => $r->{heartbeats},
    );
    print "$_=$f{$_}\n" for sort keys %f;
' "$SOAK_DIR/report.json" "$SOAK_DIR/stopped.txt" "$SOAK_DIR/stop-failed.txt" >"$SOAK_DIR/figures.env" ||
    { say "cannot read the final report"; exit 1; }
{
    echo "seed=$SOAK_SEED"
    echo "serve_seconds=$SERVE_SECONDS"
    echo "workers=$SOAK_WORKERS"
    echo "concurrency=$SOAK_CONCURRENCY"
    echo "worker_tree_kills=$KILLS"
    echo "worker_starts=$STARTS"
    echo "omnictl_stops=$STOPS_OK"
    echo "omnictl_stops_failed=$STOPS_FAILED"
    echo "unexpected_worker_exits=$UNEXPECTED_EXITS"
    echo "session_child_crashes=$CHILD_CRASHES"
    echo "sanitizer_reports=$SAN"
    echo "sigterm_exit_not_zero=$TERM_BAD"
    echo "sim_exit=$SIM_RC"
    echo "tool_calls_logged=$CALLS_LOGGED"
    echo "credential_leaks_in_logs=$LEAKED_KEYS"
    echo "sim_rss_kb_start=$SIM_RSS_START"
    echo "sim_rss_kb_end=$SIM_RSS_END"
} >>"$SOAK_DIR/figures.env"
# shellcheck disable=SC1091
. "$SOAK_DIR/figures.env"

fail=0
must_zero() {
    local name=$1 v=${!1}
    if [ "$v" != 0 ]; then fail=1; echo "FAIL $name=$v (must be 0)"; else echo "ok   $name=0"; fi
}
echo "== soak figures (seed $SOAK_SEED, dir $SOAK_DIR)"
for k in results_lost duplicate_results result_mismatches protocol_errors unknown_results \
         items_not_stopped items_left_busy sessions_incomplete unexpected_worker_exits \
         session_child_crashes sanitizer_reports sigterm_exit_not_zero sim_exit \
         credential_leaks_in_logs; do
    must_zero "$k"
done
sed 's/^/     /' "$SOAK_DIR/figures.env"
# what went wrong, session by session (for the bug report)
perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
    my %op = map { s/\s+\z//; ($_ => 1) } grep { /\S/ }
        do { open my $s, "<", $ARGV[0]; local $/ = "\n"; <$s> };
    print "problem: $_\n" for @{$j->{problems}};
    for (@{$j->{sessions}}) {
        next unless $_->{duplicate_results} || $_->{result_mismatches} || $_->{protocol_errors} ||
            (!$_->{completed} && $_->{unanswered_calls} && !$op{$_->{id}});
        print "session: ", JSON::PP->new->canonical->encode($_), "\n";
    }' "$SOAK_DIR/stopped.txt" <"$SOAK_DIR/report.json" >"$SOAK_DIR/problems.txt"
if [ -s "$SOAK_DIR/problems.txt" ]; then
    echo "== anomalies ($SOAK_DIR/problems.txt; grep the session and work ids in worker-*.log)"
    head -20 "$SOAK_DIR/problems.txt" | cut -c1-240
fi

# ---- docs/RELIABILITY.md --------------------------------------------------------------------
if [ "$SOAK_DOC" = 1 ]; then
    DOC=$TOP/docs/RELIABILITY.md
    TABLE=$SOAK_DIR/table.md
    {
        echo "<!-- soak:begin (written by tests/soak/run.sh; do not edit by hand) -->"
        echo "Last run: $(date -u +%Y-%m-%dT%H:%MZ), seed **$SOAK_SEED**, result **$([ $fail = 0 ] && echo PASS || echo FAIL)**."
        echo "Replay the schedule and faults with \`SOAK_SEED=$SOAK_SEED SOAK_SESSIONS=$SOAK_SESSIONS SOAK_CALLS=$SOAK_CALLS SOAK_SECONDS=$SOAK_SECONDS make soak\`."
        echo
        echo "| figure | value | must be |"
        echo "|---|---:|---|"
        row() { echo "| $1 | ${!2} | ${3:-} |"; }
        row "sessions created" sessions_created
        row "sessions completed" sessions_completed
        row "sessions stopped by \`omnictl stop\` mid-run" sessions_operator_stopped
        row "sessions neither completed nor operator-stopped" sessions_incomplete 0
        row "tool calls emitted by the scripted agent" tool_calls_emitted
        row "tool results received" results_received
        row "results lost (calls never answered, operator stops excluded)" results_lost 0
        row "calls left unanswered by operator stops" unanswered_after_operator_stop
        row "duplicate result posts" duplicate_results 0
        row "results that did not match the call" result_mismatches 0
        row "results for unknown calls" unknown_results 0
        row "protocol errors seen by the simulator" protocol_errors 0
        row "work items never stopped" items_not_stopped 0
        row "work items still queued/active at the end" items_left_busy 0
        row "worker process trees SIGKILLed (chaos)" worker_tree_kills
        row "worker (re)starts" worker_starts
        row "leases expired after a kill and re-queued" leases_lost_and_requeued
        row "leases stolen (412 on heartbeat)" leases_stolen_412
        row "re-deliveries (items claimed again = leases recovered)" redeliveries
        row "\`omnictl stop\` issued" omnictl_stops
        row "\`omnictl stop\` that failed" omnictl_stops_failed
        row "workers exiting on their own (crash)" unexpected_worker_exits 0
        row "session children crashed" session_child_crashes 0
        row "sanitizer reports" sanitizer_reports 0
        row "workers not exiting 0 on the final SIGTERM" sigterm_exit_not_zero 0
        row "credentials found in any log" credential_leaks_in_logs 0
        row "injected 5xx" faults_5xx
        row "injected 429" faults_429
        row "event streams cut" streams_cut
        row "requests served by the simulator" requests
        row "tool calls logged by workers (includes calls re-run after a kill)" tool_calls_logged
        row "serving phase, seconds" serve_seconds
        echo "| workers x concurrency | $workers x $concurrency | |"
        echo "| omni-sim RSS start / end, KiB | $sim_rss_kb_start / $sim_rss_kb_end | |"
        echo "<!-- soak:end -->"
    } >"$TABLE"
    if [ -f "$DOC" ] && grep -q '^<!-- soak:begin' "$DOC"; then
        perl -0pi -e 'BEGIN { local $/; open my $t, "<", shift @ARGV; $tbl = <$t> }
            s/<!-- soak:begin.*?<!-- soak:end -->\n/$tbl/s' "$TABLE" "$DOC"
    else
        { echo; echo "## Soak results"; echo; cat "$TABLE"; } >>"$DOC"
    fi
    say "figures written to $DOC"
fi
exit $fail
