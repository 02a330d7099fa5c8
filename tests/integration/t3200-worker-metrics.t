#!/usr/bin/env bash
# omni-worker poll --metrics-listen: one endpoint for the worker and its
# session children. The counters move as the simulator's report says (six
# tools, ask held then allowed), /readyz goes 503 while a call is outstanding
# past --stuck-call and 200 after, /healthz 200, `omni-worker status` shows
# the slots, no key in any answer, and silent scrapers do not stall the worker.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

sim_start
SOCK=$T/metrics.sock

WM_SOCK=$SOCK WM_URL=http://w

new_session six-tools
SIX=$SID
new_session ask
ASK=$SID

wk_bg poll --concurrency 3 --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work" \
    --metrics-listen "unix:$SOCK" --stuck-call 2s

wait_for 10 "the endpoint answers" test -S "$SOCK"
body=$(scrape /healthz)
is "/healthz 200" "$(code)" 200
like "/healthz says why" "$body" "^ok: the poll loop turned"

# ask: held for a confirmation -> slots_held 1 (the call is not outstanding)
ask_emitted() { test -n "$(first_event_id "$ASK" agent.tool_use)"; }
wait_for 20 "ask call emitted" ask_emitted
wait_for 10 "a held slot is counted" m_test omni_worker_slots_held = 1
st=$("$BIN/omni-worker" status "unix:$SOCK")
like "status shows the held session" "$st" "$ASK .*held"
ASK_ID=$(first_event_id "$ASK" agent.tool_use)
api org POST "/v1/sessions/$ASK/events" "{\"events\":[{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"$ASK_ID\",\"result\":\"allow\"}]}"
is "confirmation accepted" "$STATUS" 200

wait_for 40 "both sessions completed and stopped" all_done 2
check_report "six-tools + ask"
sleep 0.5
emitted=$(rep tool_calls_emitted)
received=$(rep results_received)
calls=$(( $(m 'omni_worker_tool_calls_total{tool="') ))
ok_calls=$(m 'omni_worker_tool_calls_total')
posted=$(( $(m 'omni_worker_result_posts_total{outcome="posted"}') + $(m 'omni_worker_result_posts_total{outcome="reposted"}') ))
is "tool calls counted = calls emitted" "$calls" "$emitted"
is "results posted counted = results received" "$posted" "$received"
is "every served call counted once in the histogram" "$(m 'omni_worker_tool_call_duration_seconds_count')" "$emitted"
for t in bash read write edit glob grep; do
    like "six-tools: $t counted" "$(scrape /metrics)" "omni_worker_tool_calls_total\{tool=\"$t\",outcome=\"(ok|error)\"\} [1-9]"
done
is "sessions completed" "$(m 'omni_worker_sessions_served_total{outcome="completed"}')" 2
is "items claimed" "$(m 'omni_worker_items_total{event="claimed"}')" 2
is "items acked" "$(m 'omni_worker_items_total{event="acked"}')" 2
is "items stopped" "$(m 'omni_worker_items_total{event="stopped"}')" 2
like "heartbeats ok counted" "$(m 'omni_worker_heartbeats_total{outcome="ok"}')" "^[1-9]"
like "polls found work" "$(m 'omni_worker_polls_total{outcome="work"}')" "^[2-9]"
wait_for 5 "no slot busy once done (children reaped)" m_test omni_worker_slots_busy = 0
is "slots configured" "$(m omni_worker_slots_configured)" 3
like "a result post time" "$(m omni_worker_last_result_posted_timestamp_seconds)" "^1[0-9]{9}"
body=$(scrape /metrics)
like "text format 0.0.4 with HELP/TYPE" "$body" "^# HELP omni_worker_build_info"
like "histogram buckets up to 300 s" "$body" 'omni_worker_tool_call_duration_seconds_bucket\{tool="bash",le="300"\}'
unlike "no session id as a label" "$body" "$SIX|$ASK|sesn_|work_"
unlike "no key in /metrics" "$body" "$ANTHROPIC_ENVIRONMENT_KEY|sk-ant"

# a call outstanding past --stuck-call: /readyz 503 with the reason, then 200
new_session long-bash:4
LB=$SID
wait_for 20 "the long call runs" m_test omni_worker_slots_busy = 1
sleep 0.3
scrape /readyz >/dev/null
is "/readyz 200 while the call is young" "$(code)" 200
wait_for 10 "/readyz 503 past --stuck-call" sh -c "curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' http://w/readyz | grep -q 503"
body=$(scrape /readyz)
like "/readyz names the stuck slot and tool" "$body" "stuck: slot [0-9]+ .*tool bash"
like "oldest outstanding call > 2s" "$(scrape /metrics | grep '^omni_worker_oldest_outstanding_call_seconds')" " [2-9]\."
st=$("$BIN/omni-worker" status "unix:$SOCK")
like "status: item, session, tool and how long" "$st" "work_[^ ]+ +$LB +bash +[0-9.]+ "
unlike "no key in /readyz or status" "$body$st" "$ANTHROPIC_ENVIRONMENT_KEY|sk-ant"

# silent scrapers (connect, send nothing) while the call ends: no stall
perl -MIO::Socket::UNIX -e '
    my @s; for (1..12) { push @s, IO::Socket::UNIX->new(Peer => $ARGV[0]) } sleep 6' "$SOCK" &
SLOW=$!
_bg_pids+=("$SLOW")
wait_for 20 "the long session completes despite the silent scrapers" all_done 3
sleep 0.3
scrape /readyz >/dev/null
is "/readyz 200 again" "$(code)" 200
scrape /metrics >/dev/null
is "a scrape is answered while silent clients hold connections" "$(code)" 200
wait "$SLOW" 2>/dev/null
check_report "after the long call"

kill -USR1 "$WK_PID"
wait_for 5 "SIGUSR1 writes the status to the log" grep -q "status: .* slots busy" "$T/worker.log"
unlike "no key in the log" "$(cat "$T/worker.log")" "$ANTHROPIC_ENVIRONMENT_KEY"

kill -TERM "$WK_PID"
wk_wait 10
is "SIGTERM: exit 0" "$WK_RC" 0
ok "the socket is removed at exit" test ! -e "$SOCK"
"$BIN/omni-worker" status "unix:$SOCK" >/dev/null 2>&1
is "status: no endpoint, exit 1" "$?" 1
"$BIN/omni-worker" status >/dev/null 2>&1
is "status without an address: exit 2" "$?" 2

# flags: a bad address is a usage error (2); one that cannot be bound: 1
wk "$BIN/omni-worker" poll --metrics-listen "nope" --workdir "$T/work" 2>"$T/err"
is "bad --metrics-listen: exit 2" "$?" 2
wk "$BIN/omni-worker" poll --metrics-listen "unix:$T/no/such/dir/s" --workdir "$T/work" 2>"$T/err"
is "cannot bind: exit 1" "$?" 1
SIMPORT=${SIM_URL##*:}
wk "$BIN/omni-worker" poll --metrics-listen "127.0.0.1:$SIMPORT" --workdir "$T/work" 2>"$T/err"
is "port in use: exit 1" "$?" 1
like "the reason is said" "$(cat "$T/err")" "cannot listen on --metrics-listen"
done_testing
