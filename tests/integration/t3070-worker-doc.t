#!/usr/bin/env bash
# omni-worker help and man page stay in step: every option in the usage text
# is documented in man/omni-worker.8 and every documented option is accepted.
. "$(dirname "$0")/../lib.sh"

W=$BIN/omni-worker
help=$("$W" help)
is "help exits 0" "$?" 0
man=$(cat "$TOP/man/omni-worker.8")
opts=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
ok "usage lists options" test -n "$opts"
for o in $opts; do
    like "man page documents $o" "$man" "Fl -${o#--}([^a-z-]|$)"
done
for o in $(printf '%s\n' "$man" | grep -oE -- 'Fl -[a-z][a-z0-9-]+' | sed 's/^Fl -/--/' | sort -u); do
    case $o in --environment-key|--work-secret) continue ;; esac
    like "help mentions $o" "$help" "$o([^a-z-]|$)"
done
for c in 0 1 2 3; do
    like "man page documents exit status $c" "$man" "^\.It $c\$"
done
"$W" >/dev/null 2>&1
is "no command: usage error (exit 2)" "$?" 2
# The tool defaults are SDK 1.16's, and the whole-call limit stays above bash's.
like "help: bash timeout 295s" "$help" "--bash-timeout DUR +default bash timeout \\(default 295s\\)"
like "help: tool timeout 325s" "$help" "--tool-timeout DUR +wall limit of any tool call \\(default 325s\\)"
like "man: bash timeout 295 s" "$man" "Default bash timeout \\(default 295s"
like "man: tool timeout 325 s" "$man" "Wall-clock limit of any tool call \\(default 325s"
out=$("$W" run --bash-max-timeout 400s 2>&1)
is "bash max at or above the tool timeout: usage error (exit 2)" "$?" 2
like "  says which limit" "$out" "--bash-max-timeout \\(400000 ms\\) must be below --tool-timeout \\(325000 ms\\)"
out=$("$W" run --tool-timeout 10s --bash-timeout 20s 2>&1)
is "bash default at or above the tool timeout: usage error (exit 2)" "$?" 2
like "  says which limit" "$out" "--bash-timeout \\(20000 ms\\) must be below --tool-timeout \\(10000 ms\\)"
done_testing
