# attack-lib.sh — helpers for t5300-worker-attacks.t. Source after tests/lib.sh,
# tests/integration/lib-sim.sh, tests/integration/worker-lib.sh and sim_start.
#
#   cmd_session CMD...        a session of scenario cmd:N whose calls are CMD...
#                             (a bash command, or a JSON tool spec {"name":...});
#                             sets SID. Each CMD is at most 512 characters.
#                             $CMD_SESSION_META (a JSON object) adds metadata.
#   script_calls FILE         prints (one per line, NUL-free) the bash calls that
#                             rebuild FILE as ./.a.sh in the workdir (gzip +
#                             base64 in chunks) and run it: `bash .a.sh`
#   script_session FILE [CMD...]  cmd_session with script_calls FILE, then CMD...
#   results SID               every tool call of the session in order:
#                             "@@CALL n name is_error" then the result text
#   result SID N              text of the Nth call's result ("" if none yet)
#   result_err SID N          true/false (is_error of the Nth result)
#   nresults SID              how many results the session has
#   sess_completed SID        the session's turn ended (sim report)
#   user_messages SID         texts of every user.message of the session
#   start_listener NAME       a loopback TCP listener recording what it gets in
#                             $T/NAME.log; sets L_PORT

cmd_session() {
    local body
    body=$(perl -MJSON::PP -e '
        my ($agent, $env, @c) = @ARGV;
        for (@c) { die "a call is longer than 512 characters\n" if length($_) > 512 }
        die "more than 15 calls\n" if @c > 15;
        my %m = (sim_scenario => "cmd:" . scalar(@c));
        if ($ENV{CMD_SESSION_META}) { my $x = decode_json($ENV{CMD_SESSION_META}); @m{keys %$x} = values %$x }
        $m{"sim_cmd_" . ($_ + 1)} = $c[$_] for 0 .. $#c;
        print JSON::PP->new->canonical->encode({agent => $agent, environment_id => $env,
            metadata => \%m,
            initial_events => [{type => "user.message", content => [{type => "text", text => "go"}]}]});
    ' "$OMNI_SIM_AGENT_ID" "$ANTHROPIC_ENVIRONMENT_ID" "$@") || return 1
    local i
    for i in $(seq 1 20); do
        api org POST /v1/sessions "$body"
        SID=$(jget "$BODY" id 2>/dev/null)
        [ "$STATUS" = 200 ] && [ -n "$SID" ] && return 0
        sleep 0.2
    done
    echo "# could not create a session: $STATUS $BODY" >&2
    return 1
}

script_calls() {
    local b64 first=1 chunk
    b64=$(gzip -9c <"$1" | base64 -w0)
    while [ -n "$b64" ]; do
        chunk=${b64:0:480}
        b64=${b64:480}
        if [ $first = 1 ]; then
            printf "printf %%s '%s' >.a.b64\n" "$chunk"
            first=0
        else
            printf "printf %%s '%s' >>.a.b64\n" "$chunk"
        fi
    done
    printf '%s\n' 'base64 -d .a.b64 | gunzip >.a.sh && bash .a.sh'
}

script_session() {
    local f=$1; shift
    local calls=()
    mapfile -t calls < <(script_calls "$f")
    cmd_session "${calls[@]}" "$@"
}

_events() {
    api org GET "/v1/sessions/$1/events?limit=1000"
    printf '%s' "$BODY"
}

results() {
    _events "$1" | perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } or exit 0;
        my (@calls, %res);
        for my $e (@{$j->{data}}) {
            push @calls, $e if $e->{type} eq "agent.tool_use";
            $res{$e->{tool_use_id}} = $e if $e->{type} eq "user.tool_result";
        }
        my $n = 0;
        for my $c (@calls) {
            $n++;
            my $r = $res{$c->{id}} or next;
            my $t = join "", map { $_->{text} // "" } @{$r->{content} || []};
            binmode STDOUT, ":utf8";
            print "\@\@CALL $n $c->{name} ", ($r->{is_error} ? "true" : "false"), "\n$t\n";
        }'
}

_result_field() { # SID N text|err
    _events "$1" | perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } or exit 0;
        my ($want, $what) = @ARGV; my (@calls, %res);
        for my $e (@{$j->{data}}) {
            push @calls, $e if $e->{type} eq "agent.tool_use";
            $res{$e->{tool_use_id}} = $e if $e->{type} eq "user.tool_result";
        }
        my $c = $calls[$want - 1] or exit 0;
        my $r = $res{$c->{id}} or exit 0;
        binmode STDOUT, ":utf8";
        if ($what eq "err") { print $r->{is_error} ? "true" : "false" }
        else { print join "", map { $_->{text} // "" } @{$r->{content} || []} }' "$2" "$3"
}
result() { _result_field "$1" "$2" text; }
result_err() { _result_field "$1" "$2" err; }

nresults() {
    _events "$1" | perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } or do { print 0; exit 0 };
        print scalar grep { $_->{type} eq "user.tool_result" } @{$j->{data}}'
}
has_results() { [ "$(nresults "$1")" -ge "$2" ]; }

sess_completed() { [ "$(sess_field "$1" completed)" = true ]; }
sess_stopped() { [ "$(work_state "$1")" = stopped ]; }

user_messages() {
    _events "$1" | perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } or exit 0;
        for my $e (@{$j->{data}}) {
            next unless $e->{type} eq "user.message";
            print join("", map { $_->{text} // "" } @{$e->{content} || []}), "\n";
        }'
}

# start_listener NAME: records every connection's bytes in $T/NAME.log (60 s life)
start_listener() {
    local pf=$T/$1.port
    bg perl -MIO::Socket::INET -e '
        my ($pf, $log) = @ARGV;
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 16,
                                      ReuseAddr => 1) or die "listen: $!\n";
        $SIG{CHLD} = "IGNORE"; alarm 90;
        open(my $p, ">", "$pf.tmp") or die; print $p $s->sockport, "\n"; close $p; rename "$pf.tmp", $pf;
        while (1) {
            my $c = $s->accept or next;
            open(my $l, ">>", $log); select((select($l), $| = 1)[0]);
            print $l "--- connection\n";
            my $rin = ""; vec($rin, fileno($c), 1) = 1;
            my $end = time + 2;
            while (time < $end) {
                my $r = $rin;
                last unless select($r, undef, undef, 0.2) >= 0;
                next unless vec($r, fileno($c), 1);
                my $n = sysread($c, my $b, 65536);
                last unless $n;
                print $l $b;
            }
            close $l; close $c;
        }' "$pf" "$T/$1.log" 2>>"$T/$1.err"
    until_ok 10 test -s "$pf" || { echo "Bail out! listener $1 did not start"; exit 1; }
    L_PORT=$(cat "$pf")
}
