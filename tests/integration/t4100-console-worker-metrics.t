#!/usr/bin/env bash
# omni-console shows the workers' slots when the profile names their metrics
# URLs (worker_metrics.<env_id>, comma-separated): busy/held/configured per
# worker under the selected environment; a worker that hangs or refuses shows
# "FETCH FAILED" with the reason and never holds the UI (fetched on the
# network thread, 1.5 s timeout). The "workers" are tiny loopback perl
# servers serving a fixed exposition (no omni-worker needed).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"
CON_COLS=220

# serve MODE BODYFILE PORTFILE: answer every request with the body (ok) or
# read the request and never answer (hang). Loopback, for this test only;
# exec, so the cleanup (bg) ends the perl itself.
serve() {
    exec perl -MIO::Socket::INET -e '
        my ($mode, $file, $pf) = @ARGV;
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 16,
                                      ReuseAddr => 1) or die "listen: $!";
        open my $p, ">", "$pf.tmp" or die; print $p $s->sockport, "\n"; close $p;
        rename "$pf.tmp", $pf;
        my @held;
        while (my $c = $s->accept) {
            { local $/ = "\r\n\r\n"; my $req = <$c>; }
            if ($mode eq "hang") { push @held, $c; next; }
            open my $f, "<", $file or die; my $b = do { local $/; <$f> }; close $f;
            print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n",
                     "Content-Length: ", length($b), "\r\n\r\n", $b;
            close $c;
        }' "$1" "$2" "$3"
}

cat >"$T/w1.prom" <<'EOP'
# HELP omni_worker_build_info Build.
# TYPE omni_worker_build_info gauge
omni_worker_build_info{version="0.0.0-test"} 1
# HELP omni_worker_slots_configured Slots.
# TYPE omni_worker_slots_configured gauge
omni_worker_slots_configured 4
# TYPE omni_worker_slots_busy gauge
omni_worker_slots_busy 2
# TYPE omni_worker_slots_held gauge
omni_worker_slots_held 1
omni_worker_tool_call_duration_seconds_bucket{tool="bash",le="0.1"} 3
EOP
bg serve ok "$T/w1.prom" "$T/w1.port"
bg serve hang /dev/null "$T/w2.port"
until_ok 10 test -s "$T/w1.port" -a -s "$T/w2.port" || { echo "Bail out! perl servers did not start"; exit 1; }
P1=$(cat "$T/w1.port")
P2=$(cat "$T/w2.port")
ok "the fixed exposition is served" bash -c 'curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | grep -q "^omni_worker_slots_busy 2"' _ "$P1"

sim_start
con_setup
ENV=$ANTHROPIC_ENVIRONMENT_ID
cp "$T/config" "$T/config-plain"
echo "worker_metrics.$ENV = http://127.0.0.1:$P1/metrics, http://127.0.0.1:$P2/metrics,http://127.0.0.1:1/metrics" >>"$T/config"

con_start --refresh 1
ok "environments view" wait_screen 10 "omni-sim-default"
ok "worker 1: busy 2/4 held 1" wait_screen 15 "workers: 127\\.0\\.0\\.1:$P1 busy 2/4 held 1"
ok "worker 2 (hangs): FETCH FAILED, timed out" wait_screen 15 "127\\.0\\.0\\.1:$P2 FETCH FAILED: Timeout"
ok "worker 3 (refused): FETCH FAILED" _screen_has "127\\.0\\.0\\.1:1 FETCH FAILED: (Couldn't connect|Could not connect)"

# The UI answers keys at once while a fetch hangs.
for i in 1 2 3; do
    t0=$(date +%s%N)
    keys '?'
    wait_screen 3 "[Kk]eys" && keys Escape
    ms=$((($(date +%s%N) - t0) / 1000000))
    ok "help opens within 1 s while a worker hangs (#$i: ${ms} ms)" test "$ms" -lt 1000
    sleep 0.4
done

sed -i 's/^omni_worker_slots_busy 2/omni_worker_slots_busy 3/' "$T/w1.prom"
ok "new figures at the next refresh" wait_screen 15 "127\\.0\\.0\\.1:$P1 busy 3/4 held 1"
ok "the console still runs" test -z "$(con_exit_code)"
con_stop

# Without worker_metrics: no workers line.
CON_CONFIG=$T/config-plain con_start --refresh 1
ok "environments view (no worker metrics)" wait_screen 10 "work list:"
sleep 1.5
unlike "no workers line" "$(screen)" "workers:"
con_stop

# A bad key in the config is refused as before; worker_metrics. is a known key.
ok "omnictl accepts the profile with worker_metrics" env OMNI_CONFIG="$T/config" \
    ANTHROPIC_API_KEY= "$BIN/omnictl" --base-url "$SIM_URL" stats -o json

done_testing
