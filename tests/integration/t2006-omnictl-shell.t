#!/usr/bin/env bash
# omnictl shell: libedit on a pty (tmux), Tab completion, history file;
# plain lines from a pipe through the same dispatcher; completion scripts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 7
ENV=$ANTHROPIC_ENVIRONMENT_ID

# --- non-terminal stdin ---------------------------------------------------
printf '%s\n' 'env list' '# a comment' '' 'stats -o json' 'help "stats"' >"$T/script"
out=$(ctl shell <"$T/script"); rc=$?
is "piped shell: exit 0 when every line succeeds" "$rc" 0
like "piped shell ran env list" "$out" "$ENV +omni-sim-default"
like "piped shell ran stats -o json" "$out" '"environments":\[\{"id":"'
like "piped shell: quoted word" "$out" 'usage: omnictl stats'
printf '%s\n' 'frobnicate' "sessions show 'sesn x'" 'env list' >"$T/script2"
ctl shell <"$T/script2" >"$T/o" 2>"$T/e"; rc=$?
is "piped shell: a failed line sets the exit code" "$rc" 2
is "  both errors reported, one line each" "$(wc -l <"$T/e")" 2
like "  single quotes keep the blank" "$(cat "$T/e")" 'invalid session id "sesn x"'
like "  later lines still run" "$(cat "$T/o")" "$ENV"
printf 'env list\nexit\nstats\n' | ctl shell >"$T/o"
unlike "exit stops reading" "$(cat "$T/o")" 'DEPTH'
printf 'sessions show "unterminated\n' | ctl shell >/dev/null 2>"$T/e"
like "unterminated quote reported" "$(cat "$T/e")" 'unterminated double quote'

# --- completion scripts ----------------------------------------------------
ctl completion bash >"$T/c.bash"
ok "bash completion is valid bash" bash -n "$T/c.bash"
comp() { bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _omnictl; echo "${COMPREPLY[*]}"' _ "$T/c.bash" "$@"; }
is "bash: commands" "$(comp omnictl st)" "stats stop"
is "bash: subcommands" "$(comp omnictl sessions c)" "create confirm"
is "bash: options" "$(comp omnictl stop --esc)" "--escalate"
is "bash: sub-command options" "$(comp omnictl sessions create --ag)" "--agent"
is "bash: output formats" "$(comp omnictl stats -o n)" "nagios"
is "bash: global options skipped" "$(comp omnictl --profile x work s)" "show stuck"
like "zsh completion" "$(ctl completion zsh)" '^#compdef omnictl'
is "completion fish: exit 2" "$(ctl completion fish 2>/dev/null; echo $?)" 2
for c in $("$BIN/omnictl" help | sed -n 's/^  \([a-z]*\) .*/\1/p; s/^  \([a-z]*\)$/\1/p' | sort -u); do
    like "bash completion knows $c" "$(cat "$T/c.bash")" "[ \"]$c[ \"|)]"
done

# --- colour: only on a terminal and without NO_COLOR -----------------------
if command -v script >/dev/null; then
    cat >"$T/run-stats" <<EOS
#!/bin/sh
. "$SIM_ENV"
export ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
exec "$BIN/omnictl" stats
EOS
    chmod +x "$T/run-stats"
    out=$(env -u NO_COLOR script -qc "$T/run-stats" /dev/null)
    like "tty without NO_COLOR: coloured header" "$out" $'\033\\[1mENVIRONMENT'
    out=$(NO_COLOR=1 script -qc "$T/run-stats" /dev/null)
    unlike "tty with NO_COLOR: no escapes" "$out" $'\033'
fi

# --- a terminal: tmux (capture-pane drops trailing blanks) -----------------------------------------------------
if ! command -v tmux >/dev/null; then
    echo "# tmux missing: skipping the pty tests"
    done_testing; exit $?
fi
E2=$(ctl env create scratch-env)
SOCK=omnictl-test-$$
HIST=$T/state/history
cat >"$T/run-shell" <<EOS
#!/bin/sh
. "$SIM_ENV"
export ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
export OMNI_HISTFILE="$HIST" NO_COLOR=1 TERM=xterm
exec "$BIN/omnictl" shell 2>"$T/shell.err"
EOS
chmod +x "$T/run-shell"
tmux -L "$SOCK" -f /dev/null new-session -d -x 160 -y 40 "$T/run-shell; echo SHELL-EXIT=\$?; sleep 5"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null; tmux -L "$SOCK-2" kill-server 2>/dev/null; _cleanup' EXIT
screen() { tmux -L "$SOCK" capture-pane -p -J; }
keys() { tmux -L "$SOCK" send-keys "$@"; }
wait_for 5 "prompt appears" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl>'"
keys 'env li' Tab
wait_for 3 "Tab completes a subcommand" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl> env list\$'"
keys Enter
wait_for 5 "the command runs" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omni-sim-default'"
keys "env show ${ENV:0:${#ENV}-3}" Tab
wait_for 3 "Tab completes an id seen in output" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl> env show $ENV'"
keys Enter
wait_for 5 "  and it runs" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'self_hosted'"
keys 'stop --esc' Tab
wait_for 3 "Tab completes an option" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl> stop --escalate\$'"
keys C-u 'st' Tab
wait_for 3 "ambiguous Tab lists candidates" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'stats  stop'"
keys C-u 'stats' Enter
wait_for 5 "stats in the shell" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'WORKERS'"
keys "env archive $E2" Enter
wait_for 5 "a terminal gets a confirmation prompt (on stderr)" bash -c "grep -q 'archive environment $E2.*\[y/N\]' '$T/shell.err'"
keys n Enter
wait_for 5 "  answering n does nothing" bash -c "grep -q 'not confirmed' '$T/shell.err'"
is "  the environment is not archived" "$(jget "$(ctl -o json env show "$E2")" archived_at)" null
keys "env archive $E2" Enter y Enter
wait_for 5 "  answering y archives" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'archived $E2'"
keys 'exit' Enter
wait_for 5 "exit leaves the shell with the last failure's code (1)" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'SHELL-EXIT=1'"
ok "history file written" test -s "$HIST"
like "history has the commands (libedit encodes blanks)" "$(cat "$HIST")" 'env(\\040| )list'
is "history file mode 600" "$(stat -c %a "$HIST")" 600
unlike "no key in the history" "$(cat "$HIST")" "$ANTHROPIC_API_KEY"
tmux -L "$SOCK" kill-server 2>/dev/null

# History is loaded again: Up recalls the last command.
SOCK=$SOCK-2
tmux -L "$SOCK" -f /dev/null new-session -d -x 160 -y 40 "$T/run-shell; echo SHELL-EXIT=\$?; sleep 5"
wait_for 5 "second shell prompt" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl>'"
keys Up
wait_for 3 "Up recalls history from the file" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'omnictl> exit'"
keys C-u C-d
wait_for 5 "Ctrl-D leaves the shell" bash -c "tmux -L $SOCK capture-pane -p | grep -q 'SHELL-EXIT=0'"
tmux -L "$SOCK" kill-server 2>/dev/null

done_testing
