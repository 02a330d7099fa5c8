#!/usr/bin/env bash
# omnictl completion bash: --profile completes the config's profiles, file
# options (--textfile, --message-file) complete paths, ids complete from the
# ones omnictl printed before (omnictl __ids).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

"$BIN/omnictl" completion bash >"$T/comp.bash"
ok "completion bash: script generated" test -s "$T/comp.bash"
ok "script parses" bash -n "$T/comp.bash"

mkdir -p "$XDG_CONFIG_HOME/omni" "$T/files"
cat >"$XDG_CONFIG_HOME/omni/config" <<CFG
[default]
timeout = 30s
[profile staging]
base_url = http://127.0.0.1:1
[prod-eu]
base_url = http://127.0.0.1:2
CFG
: >"$T/files/metrics.prom"
: >"$T/files/message.txt"

# complete WORDS...: what _omnictl offers for the last word (one per line, sorted).
complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _omnictl; printf "%s\n" "${COMPREPLY[@]}" | sort' \
        _ "$T/comp.bash" "$@"
}

is "--profile <Tab>: every profile of the config" "$(complete_words "$BIN/omnictl" --profile '' | tr '\n' ' ')" "default prod-eu staging "
is "--profile st<Tab>" "$(complete_words "$BIN/omnictl" --profile st)" staging
is "stats --textfile <Tab>: paths" "$(complete_words "$BIN/omnictl" stats -o prom --textfile "$T/files/me")" "$T/files/message.txt
$T/files/metrics.prom"
is "sessions create --message-file <Tab>: paths" "$(complete_words "$BIN/omnictl" sessions create --message-file "$T/files/mes")" "$T/files/message.txt"
is "-o <Tab>" "$(complete_words "$BIN/omnictl" stats -o na)" nagios
is "work a<Tab>: annotate" "$(complete_words "$BIN/omnictl" work a)" annotate
is "work annotate --<Tab>" "$(complete_words "$BIN/omnictl" work annotate -- | tr '\n' ' ')" "--env --help --output "
is "--work<Tab>: the global --workspace" "$(complete_words "$BIN/omnictl" --work)" --workspace
is "--workspace <Tab>: nothing offered" "$(complete_words "$BIN/omnictl" --workspace '')" ""

sim_start --seed 1
ENV=$ANTHROPIC_ENVIRONMENT_ID
S=$(new_session)
ctl sessions list >/dev/null
ok "__ids lists what was printed" grep -qx "$S" <(ctl __ids)
ok "  and the environment" grep -qx "$ENV" <(ctl __ids)
ok "id cache is private (0600)" test "$(stat -c %a "$HOME/.cache/omni/ids")" = 600
is "stop <Tab>: the session id seen" "$(complete_words "$BIN/omnictl" stop "${S:0:8}" | grep -c "^$S\$")" 1
is "sessions show <Tab>: ids seen" "$(complete_words "$BIN/omnictl" sessions show "$S")" "$S"
is "--env <Tab>: environment ids only" "$(complete_words "$BIN/omnictl" work list --env '' | grep -v '^env_' | wc -l)" 0
like "--env <Tab>: the environment seen" "$(complete_words "$BIN/omnictl" work list --env '')" "$ENV"
is "sessions <Tab>: subcommands, not ids" "$(complete_words "$BIN/omnictl" sessions con)" confirm

done_testing
