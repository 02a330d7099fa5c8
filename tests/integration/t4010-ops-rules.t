#!/usr/bin/env bash
# omnictl and omni-console read one profile and judge a queue by one rule
# (lib/profile.c, lib/health.c): the same inputs give both the same verdict,
# exit code and message. Each case here is one where the two used to differ.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
EMPTY=$(api POST /v1/environments '{"name":"rules-empty","config":{"type":"self_hosted"}}' | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
like "an empty environment" "$EMPTY" '^env_'

# config VARIANT LINES...: $T/config plus lines, as $T/config-VARIANT
variant() {
    local name=$1
    shift
    { cat "$T/config"; printf '%s\n' "$@"; } >"$T/config-$name"
}
console() { "$BIN/omni-console" --once "$@"; }
omnictl() { "$BIN/omnictl" "$@"; }

# 1. An empty queue has no age: "warn_age = 10:" (alert below 10 s) must not
#    fire on it. omnictl used to read an empty queue's age as 0 and warn.
variant age 'warn_age = 10:' 'min_workers = 0'
out=$(OMNI_CONFIG=$T/config-age omnictl stats -o nagios "$EMPTY")
is "omnictl: empty queue with warn_age 10: is OK (0)" "$?" 0
like "  the OK line" "$out" '^OMNI OK - 1 environment, depth 0'
out=$(OMNI_CONFIG=$T/config-age console 2>&1)
like "console: the same environment is OK" "$out" "OK +$EMPTY +rules-empty"

# 2. A bad timeout in the profile is a config error for both, in the same words.
variant tmo 'timeout = soon'
OMNI_CONFIG=$T/config-tmo omnictl stats "$EMPTY" >/dev/null 2>"$T/e1"
is "omnictl: bad timeout in the config: exit 3" "$?" 3
OMNI_CONFIG=$T/config-tmo console >/dev/null 2>"$T/e2"
is "console: bad timeout in the config: exit 3" "$?" 3
like "  omnictl names the line and key" "$(cat "$T/e1")" 'config-tmo:5: "timeout" is not a duration'
is "  both say the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"

# 3. A bad threshold in the config is a config error (3) in both; the same
#    value given as a flag is a usage error (2) in both.
variant th 'crit_depth = x:1'
OMNI_CONFIG=$T/config-th omnictl stats "$EMPTY" >/dev/null 2>"$T/e1"
is "omnictl: bad crit_depth in the config: exit 3" "$?" 3
OMNI_CONFIG=$T/config-th console >/dev/null 2>"$T/e2"
is "console: bad crit_depth in the config: exit 3" "$?" 3
is "  both say the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"
like "  naming the key" "$(cat "$T/e2")" 'config key "crit_depth": bad range "x:1"'
OMNI_CONFIG=$T/config omnictl stats --crit-depth x:1 "$EMPTY" >/dev/null 2>"$T/e1"
is "omnictl: bad --crit-depth: exit 2" "$?" 2
OMNI_CONFIG=$T/config console --crit-depth x:1 >/dev/null 2>"$T/e2"
is "console: bad --crit-depth: exit 2" "$?" 2
is "  both say the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"
OMNI_CONFIG=$T/config omnictl stats --min-workers lots "$EMPTY" >/dev/null 2>"$T/e1"
is "omnictl: bad --min-workers: exit 2" "$?" 2
OMNI_CONFIG=$T/config console --min-workers lots >/dev/null 2>"$T/e2"
is "console: bad --min-workers: exit 2" "$?" 2
is "  both say the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"

# 4. Profiles and keys: the same messages.
OMNI_CONFIG=$T/config omnictl --profile nosuch stats >/dev/null 2>"$T/e1"
is "omnictl: unknown profile: exit 3" "$?" 3
OMNI_CONFIG=$T/config console --profile nosuch >/dev/null 2>"$T/e2"
is "console: unknown profile: exit 3" "$?" 3
is "  both say the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"
OMNI_CONFIG=$T/config OMNI_PROFILE=nosuch omnictl stats >/dev/null 2>&1
is "omnictl: OMNI_PROFILE is read: exit 3" "$?" 3
OMNI_CONFIG=$T/config OMNI_PROFILE=nosuch console >/dev/null 2>&1
is "console: OMNI_PROFILE is read: exit 3" "$?" 3
OMNI_CONFIG=$T/none ANTHROPIC_BASE_URL=$SIM_URL ANTHROPIC_API_KEY=$(cat "$T/env.key") omnictl stats >/dev/null 2>"$T/e1"
is "omnictl: an environment key as the org key: exit 3" "$?" 3
OMNI_CONFIG=$T/none ANTHROPIC_BASE_URL=$SIM_URL ANTHROPIC_API_KEY=$(cat "$T/env.key") console >/dev/null 2>"$T/e2"
is "console: an environment key as the org key: exit 3" "$?" 3
is "  both say the same, but for the program's name" \
    "$(sed 's/^omnictl: //; s/omnictl runs/PROG runs/' "$T/e1")" \
    "$(sed 's/^omni-console: //; s/omni-console runs/PROG runs/' "$T/e2")"
OMNI_CONFIG=$T/none omnictl stats >/dev/null 2>"$T/e1"
OMNI_CONFIG=$T/none console >/dev/null 2>"$T/e2"
like "no key at all: omnictl says where to put it" "$(cat "$T/e1")" 'ANTHROPIC_API_KEY or add "api_key_file = PATH" to \[default\]'
is "  and the console the same" "$(sed 's/^omnictl: //' "$T/e1")" "$(sed 's/^omni-console: //' "$T/e2")"

# 5. Base URL precedence: --base-url, then ANTHROPIC_BASE_URL, then the
#    profile. A dead loopback port in the variable must lose to the flag and
#    win over the profile, in both.
ln=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
OMNI_CONFIG=$T/config ANTHROPIC_BASE_URL=http://127.0.0.1:$ln omnictl --timeout 3s stats "$EMPTY" >/dev/null 2>&1
is "omnictl: ANTHROPIC_BASE_URL beats the profile (dead port: exit 1)" "$?" 1
OMNI_CONFIG=$T/config ANTHROPIC_BASE_URL=http://127.0.0.1:$ln console >/dev/null 2>&1
is "console: ANTHROPIC_BASE_URL beats the profile (dead port: exit 1)" "$?" 1
OMNI_CONFIG=$T/config ANTHROPIC_BASE_URL=http://127.0.0.1:$ln omnictl --base-url "$SIM_URL" stats "$EMPTY" >/dev/null 2>&1
is "omnictl: --base-url beats ANTHROPIC_BASE_URL" "$?" 0
OMNI_CONFIG=$T/config ANTHROPIC_BASE_URL=http://127.0.0.1:$ln console --base-url "$SIM_URL" >/dev/null 2>&1
is "console: --base-url beats ANTHROPIC_BASE_URL" "$?" 0

done_testing
