#!/usr/bin/env bash
# omnictl stop: by work id (org key) and by session id (env key file),
# --wait, --escalate, --force, --interrupt, already stopped, missing key file.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 2
ENV=$ANTHROPIC_ENVIRONMENT_ID

# Session id without an env key file: a message saying how to configure it.
S=$(new_session)
ctl stop --yes "$S" >"$T/o" 2>"$T/e"; rc=$?
is "session id without env_key_file: exit 3" "$rc" 3
is "  nothing on stdout" "$(cat "$T/o")" ""
like "  says the config line to add" "$(cat "$T/e")" "env_key_file\\.$ENV = PATH"
like "  or to pass the work id" "$(cat "$T/e")" 'pass the work id'
is "  one line" "$(wc -l <"$T/e")" 1

ctl_config
# Loose key file refused.
chmod 644 "$ENV_KEY_FILE"
ctl stop --yes "$S" >"$T/o" 2>"$T/e"; rc=$?
is "loose env key file refused: exit 3" "$rc" 3
like "  names chmod 600" "$(cat "$T/e")" '600'
unlike "  never prints the key" "$(cat "$T/e")" "$ANTHROPIC_ENVIRONMENT_KEY"
chmod 600 "$ENV_KEY_FILE"

# A queued session item stops at once.
out=$(ctl stop --yes "$S"); rc=$?
is "stop by session id: exit 0" "$rc" 0
like "  reports the work item and session" "$out" "work_[A-Za-z0-9]+ \\(session $S\\)"
out=$(ctl stop --yes "$S"); rc=$?
is "stopping a stopped item succeeds" "$rc" 0
like "  and says so" "$out" 'already stopped'

# An active item: graceful stop leaves it stopping; --wait runs out; --escalate force-stops.
S2=$(new_session)
W2=$(claim_work)
heartbeat "$W2"
is "claimed item is active" "$(jget "$(ctl -o json work show "$W2")" state)" active
ctl stop --yes --wait=1 "$W2" >"$T/o" 2>"$T/e"; rc=$?
is "--wait without a worker acting: exit 1" "$rc" 1
like "  says not stopped and the state" "$(cat "$T/e")" 'not stopped after 1s \(state stopping\)'
out=$(ctl -o json stop --yes --wait=1 --escalate "$W2" 2>/dev/null); rc=$?
is "--escalate force-stops after the wait: exit 1 (the wait ended without stopped)" "$rc" 1
is "  json state stopped" "$(jget "$out" state)" stopped
is "  json work id" "$(jget "$out" work_id)" "$W2"
is "  json session id" "$(jget "$out" session_id)" "$S2"

# --force with --interrupt on a live session item.
S3=$(new_session)
W3=$(claim_work)
out=$(ctl stop --yes --force --interrupt --wait "$S3"); rc=$?
is "--force --interrupt --wait by session id: exit 0" "$rc" 0
like "  stopped" "$out" "stopped $W3"
ev=$(ctl sessions events "$S3")
like "  user.interrupt was sent" "$ev" 'user\.interrupt'

# Errors.
ctl stop --yes nonsense_id >/dev/null 2>"$T/e"; rc=$?
is "unknown id kind is a usage error (2)" "$rc" 2
ctl stop --yes 'work_bad/id' >/dev/null 2>"$T/e"; rc=$?
is "malformed id is a usage error (2)" "$rc" 2
ctl stop --yes work_01DOESNOTEXIST >"$T/o" 2>"$T/e"; rc=$?
is "unknown work id: exit 4 (not found)" "$rc" 4
like "  API message and request id" "$(cat "$T/e")" '404.*request-id req_'
is "  nothing on stdout" "$(cat "$T/o")" ""
ctl stop --yes --escalate "$W2" >/dev/null 2>&1; rc=$?
is "--escalate without --wait is a usage error" "$rc" 2
ctl stop >/dev/null 2>"$T/e"; rc=$?
is "missing id: usage (2)" "$rc" 2
like "  prints usage" "$(cat "$T/e")" '^omnictl: stop: missing arguments'
ctl stop --wait=abc "$W2" >/dev/null 2>&1; rc=$?
is "bad --wait value: usage (2)" "$rc" 2

done_testing
