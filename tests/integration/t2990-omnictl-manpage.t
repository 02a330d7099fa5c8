#!/usr/bin/env bash
# man/omnictl.1 and the command table cannot drift: every usage line (from
# `omnictl __usage`) must appear in the rendered COMMANDS list, and every
# option (from `omnictl __options`) must be documented.
. "$(dirname "$0")/../lib.sh"

MAN=$TOP/man/omnictl.1
ok "man page exists" test -f "$MAN"
if ! command -v groff >/dev/null; then
    echo "# groff missing: comparing against the mdoc source only"
fi
render() {
    if command -v groff >/dev/null; then
        groff -mandoc -Tascii -P-c -rLL=400n -rHY=0 "$MAN" 2>"$T/groff.err" | col -b
    else
        sed -e 's/^\.[A-Z][a-z] //; s/ Ns //g' "$MAN"
    fi
}
# Collapse blanks so layout does not matter.
norm() { tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }
render | norm >"$T/man.txt"
ok "man page renders" test -s "$T/man.txt"
is "groff reports no warnings" "$(cat "$T/groff.err" 2>/dev/null)" ""

"$BIN/omnictl" __usage >"$T/usage" || echo "Bail out! omnictl __usage failed"
ok "__usage lists commands" test "$(wc -l <"$T/usage")" -ge 15
while IFS= read -r u; do
    line=$(printf '%s\n' "${u#omnictl }" | norm)
    ok "man page documents: $line" grep -qF -- "$line" "$T/man.txt"
done <"$T/usage"

# Usage lines in help come from the same table.
help=$("$BIN/omnictl" help)
while IFS= read -r u; do
    ok "help shows: ${u#omnictl }" grep -qF -- "${u#omnictl }" <<<"$help"
done <"$T/usage"

"$BIN/omnictl" __options >"$T/options"
while IFS=$'\t' read -r cmd opt; do
    ok "man page documents $cmd $opt" grep -qE -- "(^| |\\[)$opt([] =]|\$)" "$T/man.txt"
    u=$(grep -E "^omnictl $cmd( |\$)" "$T/usage")
    ok "usage of $cmd shows $opt" grep -qE -- "$opt([] =[]|\$)" <<<"$u"
done <"$T/options"

# Global options and exit codes.
for g in --profile --base-url --timeout --workspace --verbose --version --output; do
    ok "man page documents global $g" grep -qF -- "$g" "$T/man.txt"
done
for code in 0 1 2 3 4; do
    ok "exit status $code documented" grep -qE "^ *$code +[a-zA-Z]" "$T/man.txt"
done
ok "cron example: nagios" grep -qF 'omnictl stats -o nagios' "$T/man.txt"
ok "cron example: textfile" grep -qF -- '--textfile /var/lib/node_exporter' "$T/man.txt"

done_testing
