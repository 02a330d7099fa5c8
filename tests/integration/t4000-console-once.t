#!/usr/bin/env bash
# omni-console --once: plain tables against omni-sim; options, credentials and
# exit codes (lib/exitcode.h: 0 ok, 1 runtime, 2 usage, 3 config/credentials, 4 not found).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start --request-log "$T/req.log"
con_setup
A=$(mk ask "once-ask")
B=$(mk bash-once "once-bash")
like "sessions created" "$A $B" '^sesn_[^ ]+ sesn_'

out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once 2>"$T/err")
rc=$?
is "--once exits 0" "$rc" 0
like "environments table" "$out" "CRITICAL +$ANTHROPIC_ENVIRONMENT_ID .*work waiting, no worker polling"
like "session rows" "$out" "$A .* 1 ask .*once-ask"
like "bash-once row, nothing held" "$out" "$B .* - .*once-bash"
like "work table (env key file configured)" "$out" "WORK of $ANTHROPIC_ENVIRONMENT_ID"
like "work rows name their session" "$out" "queued +work_[^ ]+ +$A"

out=$(OMNI_CONFIG=$T/config-nokey "$BIN/omni-console" --once 2>&1)
unlike "no work table without the env key file" "$out" "WORK of"

out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once --env "$ANTHROPIC_ENVIRONMENT_ID" --crit-depth 0 --warn-depth 0 2>&1)
like "--env limits the session tables" "$out" "SESSIONS of $ANTHROPIC_ENVIRONMENT_ID"

# thresholds: with a worker-free queue the level is CRITICAL whatever the ranges
# say; with a null-free OK queue they decide. An empty env shows OK.
EMPTY=$(api POST /v1/environments '{"name":"empty-env","config":{"type":"self_hosted"}}' | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once 2>&1)
like "an empty environment is OK" "$out" "OK +$EMPTY +empty-env"

# workspaces: --workspace > ANTHROPIC_WORKSPACE_ID > workspace_id, on every request
: >"$T/req.log"
OMNI_CONFIG=$T/config ANTHROPIC_WORKSPACE_ID=wrkspc_env "$BIN/omni-console" --once \
    --workspace wrkspc_con >/dev/null 2>"$T/err"
is "--workspace: exit 0" "$?" 0
is "  every /v1 request carried it (and some were made)" \
    "$(grep -c ' /v1/' "$T/req.log" | sed 's/^0$/none/') $(grep ' /v1/' "$T/req.log" | grep -vc ' workspace=wrkspc_con$')" \
    "$(grep -c ' /v1/' "$T/req.log") 0"
: >"$T/req.log"
OMNI_CONFIG=$T/config ANTHROPIC_WORKSPACE_ID=wrkspc_env "$BIN/omni-console" --once >/dev/null 2>&1
is "ANTHROPIC_WORKSPACE_ID without the flag" "$(sed -n 's/.* workspace=//p' "$T/req.log" | sort -u)" wrkspc_env
OMNI_CONFIG=$T/config "$BIN/omni-console" --once --workspace 'x;y' >/dev/null 2>"$T/err"
is "malformed --workspace: exit 2" "$?" 2
like "  one line naming it" "$(cat "$T/err")" '^omni-console: --workspace "x;y" is not a workspace id'
OMNI_CONFIG=$T/config ANTHROPIC_WORKSPACE_ID='x y' "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "malformed ANTHROPIC_WORKSPACE_ID: exit 2" "$?" 2
like "  names the variable" "$(cat "$T/err")" 'ANTHROPIC_WORKSPACE_ID "x y" is not a workspace id'

# credentials: org key from the environment; an environment key is refused
ANTHROPIC_API_KEY=$(cat "$T/org.key") ANTHROPIC_BASE_URL=$SIM_URL HOME=$T/none OMNI_CONFIG=$T/none \
    "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "org key from ANTHROPIC_API_KEY" "$?" 0
ANTHROPIC_API_KEY=$(cat "$T/env.key") ANTHROPIC_BASE_URL=$SIM_URL OMNI_CONFIG=$T/none \
    "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "an environment key as the org key: exit 3" "$?" 3
like "says why, without the key" "$(cat "$T/err")" "environment key"
unlike "the key is not echoed" "$(cat "$T/err")" "$(cat "$T/env.key")"
OMNI_CONFIG=$T/none "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "no key at all: exit 3" "$?" 3
OMNI_CONFIG=$T/config "$BIN/omni-console" --once --profile nosuch >/dev/null 2>"$T/err"
is "unknown profile: exit 3" "$?" 3
like "names the profile" "$(cat "$T/err")" '"nosuch"'
chmod 644 "$T/org.key"
OMNI_CONFIG=$T/config "$BIN/omni-console" --once >/dev/null 2>"$T/err"
is "group-readable key file: exit 3" "$?" 3
chmod 600 "$T/org.key"

# base URL precedence: --base-url beats the profile
OMNI_CONFIG=$T/config "$BIN/omni-console" --once --base-url http://127.0.0.1:1 >/dev/null 2>"$T/err"
is "--base-url wins over the profile (unreachable: exit 1)" "$?" 1

# usage errors: exit 2
OMNI_CONFIG=$T/config "$BIN/omni-console" --bogus >/dev/null 2>&1
is "unknown option: exit 2" "$?" 2
OMNI_CONFIG=$T/config "$BIN/omni-console" -n 0 >/dev/null 2>&1
is "-n 0: exit 2" "$?" 2
OMNI_CONFIG=$T/config "$BIN/omni-console" --once --warn-depth x >/dev/null 2>&1
is "bad threshold range: exit 2" "$?" 2
OMNI_CONFIG=$T/config "$BIN/omni-console" --refresh 1ms >/dev/null 2>&1
is "too fast a refresh: exit 2" "$?" 2
OMNI_CONFIG=$T/config "$BIN/omni-console" -n 1 </dev/null >/dev/null 2>"$T/err"
is "interactive mode without a terminal: exit 1" "$?" 1
like "says to use --once" "$(cat "$T/err")" "--once"
"$BIN/omni-console" --help | grep -q -- '--readonly'
is "--help prints the usage" "$?" 0

# the usage text and the man page list the same options
man=$TOP/man/omni-console.1
missing=
for o in $("$BIN/omni-console" --help | grep -oE -- '--[a-z-]+|-[a-zA-Z]\b' | sort -u); do
    grep -qE "^\.(Op )?Fl ${o#-}( |$)" "$man" || missing="$missing $o"
done
is "every option of the usage is in the man page SYNOPSIS" "$missing" ""
syn=$(sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$man" | grep -c '^\.Op Fl')
use=$("$BIN/omni-console" --help | grep -oE -- '\[-[^]]*\]' | wc -l)
is "as many options in the SYNOPSIS as in the usage" "$syn" "$use"

done_testing
