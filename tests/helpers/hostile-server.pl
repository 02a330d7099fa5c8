#!/usr/bin/env perl
# hostile-server.pl MODE PORTFILE [LIFETIME_SECONDS]
#
# A deliberately bad HTTP server on 127.0.0.1 (a free port, written to
# PORTFILE) for the t5200-hostile-*.t tests. Every request gets the same kind
# of bad answer (MODE); each connection is served by its own child, and the
# whole server exits after LIFETIME_SECONDS (default 120) whatever happens.
# Request lines are appended to PORTFILE.requests.
#
# Modes:
#   huge        200, Content-Length 20 MiB of JSON (over the 16 MiB cap)
#   huge-chunked 200, chunked, JSON that never stops growing (until the cap)
#   deep        200, 100,000 '[' (nesting far past any parser limit)
#   badutf8     200, well-formed JSON whose strings hold invalid UTF-8
#   ansi        200, valid JSON whose strings hold terminal escapes and C0 controls
#   nonjson     200, an HTML page labelled application/json
#   wrongtypes  200, JSON objects whose fields have the wrong types
#   silent      reads the request, never answers
#   slowloris   200 status line, then one header byte every 300 ms, forever
#   retry-forever 503 with retry-after: 99999
#   truncsse    JSON lists are empty; streams send a cut-off SSE frame and close
#   ssehuge     streams send one 'data:' line of 20 MiB without a newline
#   ssesilent   streams send headers and then nothing
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(_exit);

my ($mode, $portfile, $life) = @ARGV;
die "usage: hostile-server.pl MODE PORTFILE [LIFETIME]\n" unless $mode && $portfile;
$life ||= 120;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64,
                                ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';
alarm($life);
{
    open(my $pf, '>', "$portfile.tmp") or die "$portfile: $!\n";
    print $pf $srv->sockport, "\n";
    close $pf;
    rename("$portfile.tmp", $portfile) or die "rename: $!\n";
}

my $parent = $$;

# sleep up to N seconds, leaving as soon as the listening parent is gone
sub idle {
    my ($n) = @_;
    for (1 .. $n * 4) {
        _exit(0) if getppid() != $parent;
        select(undef, undef, undef, 0.25);
    }
}

sub reqlog {
    my ($line) = @_;
    if (open(my $l, '>>', "$portfile.requests")) { print $l "$line\n"; close $l; }
}

sub wr {
    my ($c, $s) = @_;
    my $off = 0;
    while ($off < length $s) {
        my $n = syswrite($c, $s, length($s) - $off, $off);
        _exit(0) unless defined $n && $n > 0;
        $off += $n;
    }
}

sub head {
    my ($c, $status, $type, $extra) = @_;
    wr($c, "HTTP/1.1 $status\r\nContent-Type: $type\r\nConnection: close\r\n" . ($extra // '') . "\r\n");
}

sub json {
    my ($c, $body) = @_;
    head($c, '200 OK', 'application/json', 'Content-Length: ' . length($body) . "\r\n");
    wr($c, $body);
}

sub serve {
    my ($c) = @_;
    my $req = '';
    local $SIG{ALRM} = sub { _exit(0) };
    alarm(30);
    while ($req !~ /\r\n\r\n/) {
        my $n = sysread($c, $req, 65536, length $req);
        return unless $n;
        return if length $req > 1 << 20;
    }
    my ($line) = $req =~ /^([^\r\n]*)/;
    reqlog($line);
    my ($len) = $req =~ /\r\ncontent-length:\s*(\d+)/i;
    if ($len) {
        my ($hdr, $body) = split /\r\n\r\n/, $req, 2;
        while (length($body) < $len) {
            my $n = sysread($c, $body, $len - length $body, length $body);
            last unless $n;
        }
    }
    my $stream = $line =~ m{/stream\b};
    alarm($life);

    if ($mode eq 'huge') {
        my $size = 20 * 1024 * 1024;
        head($c, '200 OK', 'application/json', "Content-Length: $size\r\n");
        my $chunk = '0,' x 32768;
        wr($c, '{"data":[');
        my $sent = 9;
        while ($sent + length($chunk) < $size - 2) { wr($c, $chunk); $sent += length $chunk; }
        wr($c, '0' x ($size - 2 - $sent) . ']}');
    } elsif ($mode eq 'huge-chunked') {
        head($c, '200 OK', 'application/json', "Transfer-Encoding: chunked\r\n");
        my $chunk = '"aaaaaaaaaaaaaaaa",' x 4096;
        wr($c, sprintf("%x\r\n%s\r\n", 9, '{"data":['));
        for (1 .. 100000) { wr($c, sprintf("%x\r\n%s\r\n", length $chunk, $chunk)); }
    } elsif ($mode eq 'deep') {
        json($c, '[' x 100000);
    } elsif ($mode eq 'badutf8') {
        my $e = "{\"id\":\"env_bad\xff\xfe\",\"name\":\"\xc3\x28\xed\xa0\x80\",\"type\":\"self_hosted\","
              . "\"description\":\"\xf8\x88\x80\x80\x80\",\"created_at\":\"2026-01-01T00:00:00Z\",\"archived_at\":null}";
        if ($line =~ m{/stats}) {
            json($c, "{\"type\":\"environment_stats\",\"environment_id\":\"env_bad\xff\",\"pending\":1,"
                   . "\"queue_depth\":1,\"oldest_queued_at\":\"2026\xff\",\"workers_polling\":0}");
        } elsif ($line =~ m{/work/poll}) {
            json($c, "{\"type\":\"work\",\"id\":\"work_\xff\xfe\",\"environment_id\":\"env_\xc3\x28\","
                   . "\"data\":{\"type\":\"session\",\"id\":\"sesn_\xed\xa0\x80\"},\"secret\":\"\xff\xff\"}");
        } elsif ($line =~ m{GET /v1/environments/[^/?\s]+[\s?]}) {
            json($c, $e);
        } else {
            json($c, "{\"data\":[$e],\"has_more\":false,\"first_id\":\"\xff\",\"last_id\":null}");
        }
    } elsif ($mode eq 'ansi') {
        # valid JSON whose strings carry terminal escape sequences and C0 controls
        my $x = '\\u001b]0;owned\\u0007\\u001b[2J\\u001b[31mred\\r\\u0008';
        my $e = "{\"id\":\"env_$x\",\"name\":\"n$x\",\"type\":\"self_hosted\",\"description\":\"d$x\","
              . "\"created_at\":\"2026-01-01T00:00:00Z\",\"archived_at\":null}";
        if ($line =~ m{GET /v1/environments/[^/?\s]+[\s?]}) {
            json($c, $e);
        } else {
            json($c, "{\"data\":[$e],\"has_more\":false,\"first_id\":null,\"last_id\":null}");
        }
    } elsif ($mode eq 'nonjson') {
        json($c, "<html><body>502 Bad Gateway (but with a 200)</body></html>\n");
    } elsif ($mode eq 'wrongtypes') {
        json($c, '{"type":7,"id":5,"data":"sesn","secret":{"a":1},"environment_id":[],'
               . '"has_more":"yes","next_page":12,"first_id":false,"last_id":{},"state":3,'
               . '"name":9,"pending":"many","queue_depth":-1e308,"oldest_queued_at":[],'
               . '"workers_polling":"x","created_at":1,"status":null,"events":7}');
    } elsif ($mode eq 'silent') {
        idle($life);
    } elsif ($mode eq 'slowloris') {
        wr($c, "HTTP/1.1 200 OK\r\nX-Slow: ");
        while (1) { wr($c, 'a'); idle(0.3); }
    } elsif ($mode eq 'retry-forever') {
        my $b = '{"type":"error","error":{"type":"overloaded_error","message":"try much later"}}';
        head($c, '503 Service Unavailable', 'application/json',
             "Retry-After: 99999\r\nretry-after-ms: 99999000\r\nContent-Length: " . length($b) . "\r\n");
        wr($c, $b);
    } elsif ($mode =~ /^sse/ || $mode eq 'truncsse') {
        if (!$stream) {
            my $now = POSIX::strftime("%Y-%m-%dT%H:%M:%SZ", gmtime);
            if ($line =~ m{/work/poll}) {
                sleep(1);
                head($c, '204 No Content', 'application/json', "Content-Length: 0\r\n");
            } elsif ($line =~ m{/heartbeat}) {
                json($c, "{\"type\":\"work_heartbeat\",\"last_heartbeat\":\"$now\",\"lease_extended\":true,"
                       . "\"state\":\"active\",\"ttl_seconds\":30}");
            } elsif ($line =~ m{GET /v1/sessions/[^/?\s]+[\s?]}) {
                json($c, "{\"type\":\"session\",\"id\":\"sesn_h1\",\"status\":\"running\",\"environment_id\":\"env_h\","
                       . "\"created_at\":\"$now\",\"updated_at\":\"$now\",\"metadata\":{},\"resources\":[]}");
            } elsif ($line =~ m{^POST}) {
                json($c, '{}');
            } else {
                json($c, '{"data":[],"has_more":false,"first_id":null,"last_id":null}');
            }
        } else {
            head($c, '200 OK', 'text/event-stream', '');
            if ($mode eq 'truncsse') {
                wr($c, "event: message\ndata: {\"type\":\"agent.message\",\"id\":\"sevt_1\",\"content\":[{\"ty");
            } elsif ($mode eq 'ssehuge') {
                wr($c, 'data: {"type":"agent.message","id":"sevt_1","x":"');
                my $chunk = 'a' x 65536;
                for (1 .. 320) { wr($c, $chunk); }
            } else {
                idle($life);
            }
        }
    } else {
        die "hostile-server.pl: unknown mode '$mode'\n";
    }
}

while (1) {
    my $c = $srv->accept or next;
    my $pid = fork();
    if (defined $pid && $pid == 0) {
        close $srv;
        serve($c);
        close $c;
        _exit(0);
    }
    close $c;
}
