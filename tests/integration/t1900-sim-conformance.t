#!/usr/bin/env bash
# The official @anthropic-ai/sdk 1.16.0 (tests/conformance, pinned, unmodified)
# against omni-sim: operator calls, EnvironmentWorker serving scripted sessions,
# and a clean /_sim/report; the 1.16 behaviour (session threads and two
# threads' calls served at once with maxConcurrentCalls 2, the bash output
# cut, the read size limit, a confirmation by id alone, the 300 s lease,
# webhooks verified with webhooks.unwrap).
. "$(dirname "$0")/../lib.sh"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "1..0 # SKIP node/npm not installed"
    exit 0
fi
CONF=$TOP/tests/conformance
if [ ! -d "$CONF/node_modules/@anthropic-ai/sdk" ]; then
    (cd "$CONF" && npm ci --no-audit --no-fund >"$T/npm.log" 2>&1) ||
        { echo "Bail out! npm ci failed: $(tail -3 "$T/npm.log")"; exit 1; }
fi

# a skill for the SDK's setupSkills (conformance.mjs part 4)
mkdir -p "$T/conf-skill"
printf 'conformance skill\n' >"$T/conf-skill/SKILL.md"
printf '#!/bin/sh\necho conf\n' >"$T/conf-skill/run.sh"
chmod 0755 "$T/conf-skill/run.sh"
sim_start --skill "$T/conf-skill"
mkdir -p "$T/work"
# the SDK reads the keys from its environment in this child only
(
    export ANTHROPIC_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_ENVIRONMENT_ID ANTHROPIC_ENVIRONMENT_KEY OMNI_SIM_AGENT_ID
    cd "$CONF" && timeout 55 node conformance.mjs "$T/work"
) >"$T/conf.tap" 2>"$T/conf.err"
rc=$?
while IFS= read -r line; do
    case $line in
    "ok "*) _result 0 "sdk: ${line#ok * - }" ;;
    "not ok "*) _result 1 "sdk: ${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
    esac
done <"$T/conf.tap"
is "conformance script exit status" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/#   stderr: /' "$T/conf.err" | head -20 >&2

done_testing
