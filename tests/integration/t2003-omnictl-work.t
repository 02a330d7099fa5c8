#!/usr/bin/env bash
# omnictl work list|show|annotate|stuck.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/omnictl-lib.sh"

sim_start --seed 4
ENV=$ANTHROPIC_ENVIRONMENT_ID

S=$(new_session)
ctl work list --env "$ENV" >"$T/o" 2>"$T/e"; rc=$?
is "work list without env_key_file: exit 3" "$rc" 3
like "  says which config line to add" "$(cat "$T/e")" "env_key_file\\.$ENV = PATH"
is "  nothing on stdout" "$(cat "$T/o")" ""

ctl_config
out=$(ctl work list)
like "work list header" "$out" '^WORK +STATE +TYPE +DATA +CREATED +HEARTBEAT'
like "work list shows the queued session item" "$out" "work_[A-Za-z0-9]+ +queued +session +$S"
json=$(ctl -o json work list --env "$ENV")
W=$(jget "$json" work.0.id)
is "work list -o json" "$(jget "$json" work.0.data.id)" "$S"
is "  no secret in listings" "$(jget "$json" work.0.secret; echo $?)" 1

out=$(ctl work show "$W")
like "work show: id" "$out" "^id +$W"
like "work show: state" "$out" 'state +queued'
is "work show -o json: state" "$(jget "$(ctl -o json work show --env "$ENV" "$W")" state)" queued
ctl work show work_01NOPE >/dev/null 2>"$T/e"; rc=$?
is "work show unknown: exit 4" "$rc" 4

# stuck: acked (starting) but never heartbeating.
ctl work stuck >"$T/o"; rc=$?
is "stuck: none -> exit 0" "$rc" 0
is "  and prints nothing (cron)" "$(cat "$T/o")" ""
WC=$(claim_work)
ctl work stuck --older-than 1h >/dev/null; rc=$?
is "stuck: younger than --older-than -> exit 0" "$rc" 0
sleep 1.2
out=$(ctl work stuck --older-than 1s); rc=$?
is "stuck: acked item without heartbeat -> exit 1" "$rc" 1
like "  lists it" "$out" "$WC +starting"
json=$(ctl -o json work stuck --older-than 1s)
is "  -o json" "$(jget "$json" work.0.id)" "$WC"
heartbeat "$WC"
ctl work stuck --older-than 1s >/dev/null; rc=$?
is "stuck: after a heartbeat it is no longer stuck" "$rc" 0
is "stuck: bad --older-than: exit 2" "$(ctl work stuck --older-than soon 2>/dev/null; echo $?)" 2

# annotate: a metadata merge patch (KEY=VALUE sets, KEY= deletes, others kept)
out=$(ctl work annotate "$W" team=infra owner=alice 2>"$T/e"); rc=$?
is "annotate: exit 0" "$rc" 0
like "  prints the resulting metadata (table)" "$out" '^KEY +VALUE'
like "  team" "$out" 'team +infra'
like "  owner" "$out" 'owner +alice'
json=$(ctl -o json work annotate --env "$ENV" "$W" team=ops 'note=two words, = and ü')
is "  a later annotate merges: team changed" "$(jget "$json" team)" ops
is "  owner kept" "$(jget "$json" owner)" alice
is "  value with blanks, '=' and UTF-8" "$(jget "$json" note)" 'two words, = and ü'
json=$(ctl -o json work annotate "$W" owner= note=)
is "  KEY= deletes" "$json" '{"team":"ops"}'
json=$(ctl -o json work annotate "$W" gone=)
is "  deleting an absent key is no error" "$json" '{"team":"ops"}'
json=$(ctl -o json work annotate "$W" a=1 a=2)
is "  a key given twice: the last wins" "$(jget "$json" a)" 2
ctl work annotate "$W" noequals >"$T/o" 2>"$T/e"; rc=$?
is "annotate KEY without '=': exit 2" "$rc" 2
like "  one line naming the word" "$(cat "$T/e")" '"noequals" is not KEY=VALUE'
is "  one line" "$(wc -l <"$T/e")" 1
ctl work annotate "$W" =v >/dev/null 2>&1; is "annotate empty key: exit 2" "$?" 2
ctl work annotate "$W" "$(printf 'k%.0s' $(seq 65))=v" >/dev/null 2>"$T/e"; rc=$?
is "annotate 65-byte key: exit 2" "$rc" 2
like "  names the limit" "$(cat "$T/e")" '1 to 64 bytes'
ctl work annotate "$W" "k=$(printf 'v%.0s' $(seq 513))" >/dev/null 2>"$T/e"; rc=$?
is "annotate 513-byte value: exit 2" "$rc" 2
like "  names the limit" "$(cat "$T/e")" 'at most 512 bytes'
ctl work annotate "$W" "k=$(printf 'a\tb')" >/dev/null 2>&1; is "annotate control character: exit 2" "$?" 2
ctl work annotate "$W" $(for i in $(seq 17); do printf 'k%d=v ' "$i"; done) >/dev/null 2>"$T/e"; rc=$?
is "annotate 17 keys at once: exit 2" "$rc" 2
like "  names the limit" "$(cat "$T/e")" 'at most 16 keys'
ctl work annotate work_01NOPE k=v >/dev/null 2>&1; is "annotate unknown item: exit 4" "$?" 4
ctl work annotate 'bad id' k=v >/dev/null 2>&1; is "annotate bad id: exit 2" "$?" 2
ctl work annotate "$W" >/dev/null 2>&1; is "annotate without KEY=VALUE: exit 2" "$?" 2
# the item's limit counts the merged result, not the patch (omni-sim as the API)
ctl work annotate "$W" team= a= >/dev/null
json=$(ctl -o json work annotate "$W" $(for i in $(seq 16); do printf 'k%d=v ' "$i"; done))
is "annotate up to 16 keys on the item" "$(jget "$json" k16)" v
ctl work annotate "$W" k17=v >/dev/null 2>"$T/e"; rc=$?
is "a 17th key on the item: exit 1 (400 from the API)" "$rc" 1
like "  invalid_metadata" "$(cat "$T/e")" 'invalid_metadata|more than 16'
json=$(ctl -o json work annotate "$W" k1= k17=v)
is "  deleting one makes room in the same patch" "$(jget "$json" k17) $(jget "$json" k1; echo $?)" "v 1"

# An org key in the env key file is refused.
printf '%s\n' "$ANTHROPIC_API_KEY" >"$ENV_KEY_FILE"
ctl work list >"$T/o" 2>"$T/e"; rc=$?
is "org key in env_key_file refused: exit 3" "$rc" 3
unlike "  key not echoed" "$(cat "$T/e")" "$ANTHROPIC_API_KEY"

done_testing
