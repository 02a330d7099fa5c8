#!/usr/bin/env bash
# omni-console --once exits by lib/exitcode.h: a key the API refuses (401)
# is a credentials fault (3), an unknown --env is "not found" (4), an
# unreachable API a runtime failure (1).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
S=$(mk idle "once-exit")
like "session created" "$S" '^sesn_'

# a wrong organisation key of the right shape: the API answers 401
wrong=$(cat "$T/org.key" | sed 's/.....$/zzzzz/')
umask 077
printf '%s\n' "$wrong" >"$T/wrong.key"
sed "s|^api_key_file = .*|api_key_file = $T/wrong.key|" "$T/config" >"$T/config-wrong"
umask 022
OMNI_CONFIG=$T/config-wrong "$BIN/omni-console" --once >"$T/out" 2>"$T/err"
is "a 401 (wrong org key) exits 3" "$?" 3
like "and says so" "$(cat "$T/err")" '401|nauthori|invalid'
unlike "without the key" "$(cat "$T/err")" "$wrong"

# a wrong environment key: the work list is refused (401) in --once
umask 077
printf '%s\n' "$(sed 's/.....$/zzzzz/' "$T/env.key")" >"$T/wrong-env.key"
sed "s|^env_key_file\..* = .*|env_key_file.$ANTHROPIC_ENVIRONMENT_ID = $T/wrong-env.key|" \
    "$T/config" >"$T/config-wrong-env"
umask 022
OMNI_CONFIG=$T/config-wrong-env "$BIN/omni-console" --once >"$T/out" 2>"$T/err"
is "a refused environment key exits 3" "$?" 3

OMNI_CONFIG=$T/config "$BIN/omni-console" --once --env env_01NOSUCHENVIRONMENT000000 >"$T/out" 2>"$T/err"
is "an unknown --env exits 4" "$?" 4
like "naming it" "$(cat "$T/err")" 'env_01NOSUCHENVIRONMENT000000.*not found'

OMNI_CONFIG=$T/config "$BIN/omni-console" --once --base-url http://127.0.0.1:1 >/dev/null 2>"$T/err"
is "unreachable: exit 1" "$?" 1
OMNI_CONFIG=$T/config "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "all fine: exit 0" "$?" 0

done_testing
