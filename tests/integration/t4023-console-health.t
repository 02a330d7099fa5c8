#!/usr/bin/env bash
# omni-console: the environments overview uses lib's saturated / no-worker
# rule with the environment's work list (env_key_file.<env>), says which it
# is, and counts STUCK items (lib's omni_work_stuck) in the overview.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/console/lib.sh"

sim_start
con_setup
ENV=$ANTHROPIC_ENVIRONMENT_ID
envapi() {
    curl -sS --max-time 10 -X "$1" -H @"$T/env.hdr" "$SIM_URL$2"
}
json_id() {
    perl -MJSON::PP -e 'my $t = join "", <STDIN>; my $j = decode_json($t); print $j->{id} // ""'
}
S1=$(mk idle "h-1")
S2=$(mk idle "h-2")
S3=$(mk idle "h-3")
like "sessions created" "$S1 $S2 $S3" '^sesn_[^ ]+ sesn_[^ ]+ sesn_'

# a worker took one item and heartbeats (busy: it does not poll); another
# was acknowledged and never heartbeats (stuck after 60 s); one waits
W1=$(envapi GET "/v1/environments/$ENV/work/poll" | json_id)
envapi POST "/v1/environments/$ENV/work/$W1/ack" >/dev/null
like "a heartbeat" "$(envapi POST "/v1/environments/$ENV/work/$W1/heartbeat?expected_last_heartbeat=NO_HEARTBEAT")" '"lease_extended":true'
W2=$(envapi GET "/v1/environments/$ENV/work/poll" | json_id)
envapi POST "/v1/environments/$ENV/work/$W2/ack" >/dev/null
ACKED=$(date +%s)
like "two items taken" "$W1 $W2" '^work_[^ ]+ work_'

CON_COLS=130 con_start --refresh 1
ok "saturated, not dead: WARNING" wait_screen 10 "WARN +omni-sim-default"
ok "the reason says saturated, and the work list" \
    wait_screen 5 "$ENV +WARNING: saturated: 1 session heartbeating"
ok "the work list: one live, none stuck yet" _screen_has "work list: 1 live, 0 STUCK"

con_stop
CON_CONFIG=$T/config-nokey CON_COLS=130 con_start --refresh 1
ok "without the key file the rule cannot tell, and says so" \
    wait_screen 10 "CRITICAL: work waiting, no worker polling \(busy or dead: no work list\)"
ok "and names what is missing" _screen_has "work list: no env key file"
ok "no STUCK count without the work list" _screen_has "CRIT +omni-sim-default +[0-9]+ +[0-9]+ +[^ ]+ +0 +- "

con_stop
CON_COLS=130 con_start --refresh 1 --stuck-after 3s
wait_screen 10 "WARN +omni-sim-default"
left=$(( ACKED + 4 - $(date +%s) ))
[ "$left" -gt 0 ] && sleep "$left"
ok "a STUCK item (--stuck-after 3s) is counted in the overview" wait_screen 10 "WARN +omni-sim-default +[0-9]+ +[0-9]+ +[^ ]+ +[0-9]+ +1 "
ok "and in words" wait_screen 5 "work list: 1 live, 1 STUCK"
out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once --stuck-after 3s 2>&1)
like "--once: the STUCK count and the reason" "$out" "WARNING +$ENV .* 1  saturated: 1 session heartbeating"

out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once 2>&1)
like "--once with the default stuck time (60s): not stuck yet" "$out" "WARNING +$ENV .* 0  saturated: 1 session heartbeating"
printf 'stuck_after = 2s\n' >>"$T/config"
out=$(OMNI_CONFIG=$T/config "$BIN/omni-console" --once 2>&1)
like "the profile's stuck_after is read" "$out" "WARNING +$ENV .* 1  saturated: 1 session heartbeating"
OMNI_CONFIG=$T/config "$BIN/omni-console" --once --stuck-after soon >/dev/null 2>"$T/e"
is "a bad --stuck-after: exit 2" "$?" 2
like "  naming it" "$(cat "$T/e")" '--stuck-after "soon" is not a positive duration'

done_testing
