#!/usr/bin/env bash
# omni-sim exit statuses follow lib/exitcode.h: a refused key file is 3
# (configuration), usage 2, a failure to listen 1; the man page lists them.
. "$(dirname "$0")/../lib.sh"

printf 'sk-ant-api03-provisioned-org-key\n' >"$T/org.key"
chmod 644 "$T/org.key"
"$BIN/omni-sim" --port 0 --org-key-file "$T/org.key" >/dev/null 2>"$T/e"
is "group-readable org key file: exit 3" "$?" 3
unlike "key never printed" "$(cat "$T/e")" "provisioned-org-key"
"$BIN/omni-sim" --port 0 --env-key-file "$T/missing.key" >/dev/null 2>"$T/e"
is "missing env key file: exit 3" "$?" 3
"$BIN/omni-sim" --no-such-flag >/dev/null 2>&1
is "usage: exit 2" "$?" 2
"$BIN/omni-sim" --port 0 --tls-cert "$T/org.key" >/dev/null 2>&1
is "--tls-cert without --tls-key: exit 2" "$?" 2
"$BIN/omni-sim" --listen 999.1.1.1 --port 0 >/dev/null 2>&1
is "cannot listen: exit 1" "$?" 1

got=$(awk '/^\.Sh EXIT STATUS/{f=1;next} /^\.Sh/{f=0} f && /^\.It [0-9]+$/{print $2}' "$TOP/man/omni-sim.1" | tr '\n' ' ')
is "omni-sim.1 EXIT STATUS lists 0 1 2 3" "$got" "0 1 2 3 "
done_testing
