# tests/console/lib.sh — tmux and API helpers for the omni-console tests
# (tests/integration/t4000-console-*.t). Source after tests/lib.sh.
#
#   con_setup                  sim_start first; writes $T/config (org key file,
#                              env key file), $T/config-nokey (no env key file)
#                              and $T/org.hdr (curl headers, 0600)
#   api METHOD PATH [BODY]     the API with the org key (never in argv)
#   mk SCENARIO TITLE [ENV]    create a session with a first message; prints its id
#   events SESSION             its event list; work_state SESSION: its work item's state
#   con_start [ARGS...]        omni-console in a private tmux server (100x30)
#   screen                     the pane's text; keys KEY...: send keys
#   wait_screen SECS REGEX     until the pane matches (silent; returns status)
#   con_exit_code              the console's exit status once it ended, else ""

CON_SOCK=omni-console-test-$$
CON_COLS=${CON_COLS:-100}
CON_ROWS=${CON_ROWS:-30}

# Each con_start gets a tmux server of its own: a new server on the socket of
# one just killed can find it still exiting ("server exited unexpectedly").
_con_socks=()
_con_cleanup() {
    local s
    for s in "${_con_socks[@]}"; do tmux -L "$s" kill-server 2>/dev/null; done
    _cleanup
}
trap _con_cleanup EXIT

con_setup() {
    umask 077
    printf '%s\n' "$ANTHROPIC_API_KEY" >"$T/org.key"
    printf '%s\n' "$ANTHROPIC_ENVIRONMENT_KEY" >"$T/env.key"
    {
        printf 'x-api-key: %s\n' "$ANTHROPIC_API_KEY"
        printf 'anthropic-version: 2023-06-01\n'
        printf 'anthropic-beta: managed-agents-2026-04-01\n'
        printf 'content-type: application/json\n'
    } >"$T/org.hdr"
    {
        printf 'authorization: Bearer %s\n' "$ANTHROPIC_ENVIRONMENT_KEY"
        printf 'anthropic-version: 2023-06-01\n'
        printf 'anthropic-beta: managed-agents-2026-04-01\n'
    } >"$T/env.hdr"
    cat >"$T/config" <<EOC
[default]
base_url = $SIM_URL
api_key_file = $T/org.key
env_key_file.$ANTHROPIC_ENVIRONMENT_ID = $T/env.key
EOC
    cat >"$T/config-nokey" <<EOC
[default]
base_url = $SIM_URL
api_key_file = $T/org.key
EOC
    umask 022
}

api() {
    curl -sS --max-time 10 -X "$1" -H @"$T/org.hdr" ${3:+--data-binary "$3"} "$SIM_URL$2"
}

# work_state SESSION: the state of the session's newest work item (env key).
work_state() {
    curl -sS --max-time 10 -H @"$T/env.hdr" \
        "$SIM_URL/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work?limit=1000" |
        perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); my $s = shift;
            my ($w) = sort { $b->{created_at} cmp $a->{created_at} }
                      grep { ($_->{data}{id} // "") eq $s } @{$j->{data}};
            print $w ? $w->{state} : "none"' "$1"
}

# events SESSION: the session's event list (JSON).
events() {
    api GET "/v1/sessions/$1/events?limit=1000"
}

mk() {
    local env=${3:-$ANTHROPIC_ENVIRONMENT_ID} body
    body=$(printf '{"agent":"%s","environment_id":"%s","title":"%s","metadata":{"sim_scenario":"%s"},"initial_events":[{"type":"user.message","content":[{"type":"text","text":"go"}]}]}' \
        "$OMNI_SIM_AGENT_ID" "$env" "$2" "$1")
    api POST /v1/sessions "$body" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p'
}

# con_start [ARGS...]: run the console (with $CON_BIN, default $BIN) in tmux.
con_start() {
    local bin=${CON_BIN:-$BIN} arg
    {
        printf '#!/bin/bash\n'
        printf 'export OMNI_CONFIG=%q LANG=%q TERM=xterm-256color\n' "${CON_CONFIG:-$T/config}" \
            "${CON_LANG:-C.UTF-8}"
        printf 'unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL ANTHROPIC_ENVIRONMENT_KEY\n'
        printf '%q' "$bin/omni-console"
        for arg in "$@"; do printf ' %q' "$arg"; done
        printf ' 2>%q\n' "$T/console.err"
        printf 'echo $? >%q\n' "$T/console.exit"
        printf 'sleep 600\n'
    } >"$T/run-console"
    chmod +x "$T/run-console"
    rm -f "$T/console.exit"
    CON_SOCK=omni-console-test-$$-${#_con_socks[@]}
    _con_socks+=("$CON_SOCK")
    tmux -L "$CON_SOCK" -f /dev/null new-session -d -x "$CON_COLS" -y "$CON_ROWS" "$T/run-console"
}

screen() {
    tmux -L "$CON_SOCK" capture-pane -p 2>/dev/null
}

keys() {
    tmux -L "$CON_SOCK" send-keys "$@"
}

_screen_has() {
    screen | grep -Eq -- "$1"
}

wait_screen() {
    until_ok "$1" _screen_has "$2"
}

con_exit_code() {
    cat "$T/console.exit" 2>/dev/null
}

# con_stop: end the tmux server, and wait (at most 5 s) until it is gone, so
# that the next con_start does not reach a server that is still shutting down.
con_stop() {
    local i
    tmux -L "$CON_SOCK" kill-server 2>/dev/null
    for i in $(seq 50); do
        tmux -L "$CON_SOCK" has-session 2>/dev/null || break
        sleep 0.1
    done
}
