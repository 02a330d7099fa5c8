#!/usr/bin/env bash
# One table of exit codes (lib/exitcode.h): the same fault gives the same
# code in omnictl, omni-console, omni-worker and omni-sim, and every man page
# lists that table.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"

sim_start
umask 077
printf '%s\n' "$ANTHROPIC_API_KEY" >"$T/org.key"
printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/env.key"
printf 'sk-ant-api03-%s\n' "nosuchkeynosuchkeynosuchkey" >"$T/bad-org.key"
printf 'sk-ant-oat01-%s\n' "nosuchkeynosuchkeynosuchkey" >"$T/bad-env.key"
umask 022
cfg() { # cfg NAME ORG_KEY_FILE
    printf '[default]\nbase_url = %s\napi_key_file = %s\n' "$SIM_URL" "$2" >"$T/$1.cfg"
}
cfg good "$T/org.key"
cfg bad "$T/bad-org.key"
ctl() { OMNI_CONFIG=$T/$1.cfg "$BIN/omnictl" stats "$ANTHROPIC_ENVIRONMENT_ID" >/dev/null 2>&1; echo $?; }
con() { OMNI_CONFIG=$T/$1.cfg "$BIN/omni-console" --once >/dev/null 2>&1; echo $?; }
wkr() { # wkr KEYFILE: one poll pass of the worker, bounded
    env -u ANTHROPIC_API_KEY ANTHROPIC_BASE_URL="$SIM_URL" timeout 60 "$BIN/omni-worker" poll \
        --environment-id "$ANTHROPIC_ENVIRONMENT_ID" --environment-key-file "$1" \
        --workdir "$T/wd" --sandbox none >/dev/null 2>&1
    echo $?
}

# 3: a key the API refuses (401)
is "401: omnictl exits 3" "$(ctl bad)" 3
is "401: omni-console --once exits 3" "$(con bad)" 3
is "401: omni-worker exits 3" "$(wkr "$T/bad-env.key")" 3

# 3: a key file others may read
chmod 644 "$T/org.key" "$T/env.key"
is "loose key file: omnictl exits 3" "$(ctl good)" 3
is "loose key file: omni-console exits 3" "$(con good)" 3
is "loose key file: omni-worker exits 3" "$(wkr "$T/env.key")" 3
chmod 600 "$T/org.key" "$T/env.key"

# 2: a bad command line
OMNI_CONFIG=$T/good.cfg "$BIN/omnictl" --bogus >/dev/null 2>&1
is "unknown option: omnictl exits 2" "$?" 2
OMNI_CONFIG=$T/good.cfg "$BIN/omni-console" --bogus >/dev/null 2>&1
is "unknown option: omni-console exits 2" "$?" 2
"$BIN/omni-worker" poll --bogus >/dev/null 2>&1
is "unknown option: omni-worker exits 2" "$?" 2
"$BIN/omni-sim" --bogus >/dev/null 2>&1
is "unknown option: omni-sim exits 2" "$?" 2

# 1: the API cannot be reached (a loopback port nobody listens on)
port=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die; print $s->sockport')
printf '[default]\nbase_url = http://127.0.0.1:%s\napi_key_file = %s\ntimeout = 3s\n' "$port" "$T/org.key" >"$T/dead.cfg"
is "unreachable API: omnictl exits 1" "$(ctl dead)" 1
is "unreachable API: omni-console exits 1" "$(con dead)" 1

# Every man page's EXIT STATUS is the table: 1 runtime, 2 usage, 3
# configuration or credentials, 4 not found, 5 the worker's lost lease.
for m in "$TOP"/man/omnictl.1 "$TOP"/man/omni-console.1 "$TOP"/man/omni-worker.8 "$TOP"/man/omni-sim.1; do
    name=$(basename "$m")
    table=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh [A-Z]/p' "$m" |
        perl -ne 'if (/^\.It (\S+)/) { $c = $1; next } print "$c\t$_" if defined $c && !/^\.(El|Sh|Pp)/;
                  undef $c if /^\.(El|Sh)/')
    like "$name: 2 is a usage error" "$(printf '%s\n' "$table" | grep -i '^2' | head -1)" '[Uu]sage'
    like "$name: 3 is configuration or credentials" "$(printf '%s\n' "$table" | grep '^3' | tr '\n' ' ')" '[Cc]onfiguration.*credential|[Cc]redential.*configuration'
    unlike "$name: no key or config fault under 1 or 2" "$(printf '%s\n' "$table" | grep -E '^(1|2)\b')" 'key file|credential|[Cc]onfig'
    bad=$(printf '%s\n' "$table" | cut -f1 | sort -u | grep -vxE '[0-5]|128\+N' | tr '\n' ' ')
    is "$name: only codes of the table" "$bad" ""
done

done_testing
