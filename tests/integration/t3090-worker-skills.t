#!/usr/bin/env bash
# Skills end to end: omni-sim serves --skill directories (zip) and archives
# uploaded through /_sim/skills (tar.gz, some hostile); omni-worker downloads
# the agent's skills with the item credential and unpacks them in-process
# into <workdir>/<session>/skills/<name> (kept here with --keep-workdir).
# Hostile members never write outside, specials are skipped, a same-named
# second skill is not overwritten, a missing skill does not stop the others.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"

mkdir -p "$T/skills/pdf-tools/scripts" "$T/skills/pdf-tools/data" "$T/skills/helper" \
    "$T/outside" "$T/tarred/tar-skill/bin"
printf -- '---\nname: pdf-tools\n---\nUse scripts/run.sh\n' >"$T/skills/pdf-tools/SKILL.md"
printf '#!/bin/sh\necho pdf\n' >"$T/skills/pdf-tools/scripts/run.sh"
chmod 0755 "$T/skills/pdf-tools/scripts/run.sh"
printf 'private\n' >"$T/skills/pdf-tools/data/notes.txt"
chmod 0600 "$T/skills/pdf-tools/data/notes.txt"
printf 'helper skill\n' >"$T/skills/helper/SKILL.md"
printf 'tar skill\n' >"$T/tarred/tar-skill/SKILL.md"
printf '#!/bin/sh\n' >"$T/tarred/tar-skill/bin/tool"
chmod 0700 "$T/tarred/tar-skill/bin/tool"
tar -czf "$T/tarred.tgz" -C "$T/tarred" tar-skill

# hostile archives (perl's Archive::Tar writes names as given)
perl -MArchive::Tar -e '
    my ($out, $outside) = @ARGV;
    my $t = Archive::Tar->new;
    $t->add_data("evil/ok.txt", "fine\n");
    $t->add_data("evil/link", "", {type => Archive::Tar::Constant::SYMLINK(), linkname => $outside});
    $t->add_data("evil/link/pwn", "through the link\n");
    $t->add_data("evil/hard", "", {type => Archive::Tar::Constant::HARDLINK(), linkname => "/etc/passwd"});
    $t->add_data("evil/fifo", "", {type => Archive::Tar::Constant::FIFO()});
    $t->write("$out/specials.tgz", Archive::Tar::Constant::COMPRESS_GZIP()) or die $t->error;
    $t = Archive::Tar->new;
    $t->add_data("trav/ok.txt", "ok\n");
    $t->add_data("../../../t3090-escape", "escaped\n");
    $t->add_data("$outside/abs-escape", "escaped\n");
    $t->write("$out/traversal.tgz", Archive::Tar::Constant::COMPRESS_GZIP()) or die $t->error;
' "$T" "$T/outside"
ok "hostile archives built" test -s "$T/specials.tgz" -a -s "$T/traversal.tgz"

sim_start --skill-format zip --skill "$T/skills/pdf-tools" --skill "$T/skills/helper/" \
    --request-log "$T/requests.log"
skills=$(curl -sf "$SIM_URL/_sim/skills")
skill_id() { # NAME: id of the first skill with that name
    printf '%s' "$skills" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); for (@{$j->{data}}) { if ($_->{name} eq $ARGV[0]) { print $_->{id}; last } }' "$1"
}
upload() { # FILE NAME [SKILL_ID]: sets UP (the version JSON)
    local q="name=$2"
    [ -n "${3-}" ] && q="$q&skill_id=$3"
    UP=$(curl -sf --max-time 10 -H 'content-type: application/octet-stream' \
        --data-binary "@$1" "$SIM_URL/_sim/skills?$q")
}
PDF=$(skill_id pdf-tools)
HELPER=$(skill_id helper)
HELPER_V=$(printf '%s' "$skills" | perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); for (@{$j->{data}}) { print $_->{latest_version} if $_->{name} eq "helper" }')
like "--skill dirs provisioned" "$PDF $HELPER" '^skill_[A-Za-z0-9]+ skill_[A-Za-z0-9]+$'

api env GET "/v1/skills/$PDF/versions/latest"
is "version retrieve with the env key" "$STATUS" 200
is "GA shape: type" "$(jget "$BODY" type)" skill_version
is "GA shape: name" "$(jget "$BODY" name)" pdf-tools
like "GA shape: id" "$(jget "$BODY" id)" '^skver_'
PDF_V=$(jget "$BODY" id)
API_NO_BETA=1 api org GET "/v1/skills/$PDF/versions/$PDF_V"
is "no anthropic-beta needed on skill routes" "$STATUS" 200
API_NO_BETA=1 api org GET "/v1/skills/$PDF/versions/$PDF_V/content" 2>/dev/null # binary body
is "content" "$STATUS" 200
is "a --skill-format zip archive" "$(hdr content-type)" application/zip
api none GET "/v1/skills/$PDF/versions/latest"
is "no credential: 401" "$STATUS" 401
api org GET "/v1/skills/skill_nope/versions/latest"
is "unknown skill: 404" "$STATUS" 404

upload "$T/tarred.tgz" tar-skill
TARSK=$(jget "$UP" skill_id)
upload "$T/specials.tgz" specials
SPEC=$(jget "$UP" skill_id)
upload "$T/traversal.tgz" traversal
TRAV=$(jget "$UP" skill_id)
printf 'not an archive' >"$T/junk"
upload "$T/junk" junk
JUNK=$(jget "$UP" skill_id)
# a second skill named like the first: must not overwrite it
upload "$T/tarred.tgz" "pdf-tools"
DUPE=$(jget "$UP" skill_id)
# a name that tries to climb: only its last component is used
upload "$T/tarred.tgz" "../../../climber"
CLIMB=$(jget "$UP" skill_id)
# two versions of one skill, as anthropic-type skill "xlsx": latest wins
printf 'old\n' >"$T/tarred/tar-skill/SKILL.md"
tar -czf "$T/old.tgz" -C "$T/tarred" tar-skill
upload "$T/old.tgz" xlsx xlsx
printf 'new\n' >"$T/tarred/tar-skill/SKILL.md"
tar -czf "$T/new.tgz" -C "$T/tarred" tar-skill
upload "$T/new.tgz" xlsx xlsx
XLSX_V2=$(jget "$UP" id)
api org GET /v1/skills/xlsx/versions/latest
is "latest resolves to the newest version" "$(jget "$BODY" id)" "$XLSX_V2"
like "uploads return ids" "$TARSK $SPEC $TRAV $JUNK $DUPE $CLIMB" '^(skill_[A-Za-z0-9]+ ?){6}$'

api org POST /v1/agents '{"name":"bad","skills":[{"type":"other","skill_id":"x"}]}'
is "agent skills: bad type refused" "$STATUS" 400
api org POST /v1/agents '{"name":"bad","skills":[{"type":"custom","skill_id":"../x"}]}'
is "agent skills: bad skill_id refused" "$STATUS" 400
sk() { printf '{"type":"%s","skill_id":"%s"%s}' "$1" "$2" "${3:+,\"version\":\"$3\"}"; }
api org POST /v1/agents "{\"name\":\"skilled\",\"skills\":[$(sk custom "$PDF"),$(sk custom "$HELPER" "$HELPER_V"),$(sk custom "$TARSK" latest),$(sk custom "$SPEC"),$(sk custom "$TRAV"),$(sk custom "$JUNK"),$(sk custom skill_missing),$(sk custom "$DUPE"),$(sk custom "$CLIMB"),$(sk anthropic xlsx)]}"
is "agent with skills created" "$STATUS" 200
AGENT=$(jget "$BODY" id)
is "version defaults to latest" "$(jget "$BODY" skills.0.version)" latest

OMNI_SIM_AGENT_ID=$AGENT new_session bash-once
S=$SID
api org GET "/v1/sessions/$S"
is "the session snapshots the agent's skills" "$(jget "$BODY" agent.skills.9.skill_id)" xlsx

wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work" --keep-workdir
wait_for 30 "session served and stopped" all_done 1
check_report "skills"
kill -TERM "$WK_PID"
wk_wait 10
is "worker exit 0" "$WK_RC" 0

D=$T/work/$S/skills
mode() { stat -c %a "$1" 2>/dev/null; }
is "skills dir 0700" "$(mode "$D")" 700
is "pdf-tools: SKILL.md" "$(cat "$D/pdf-tools/SKILL.md" 2>/dev/null | sed -n 2p)" "name: pdf-tools"
is "pdf-tools: wrapper stripped" "$(test -e "$D/pdf-tools/pdf-tools" && echo yes || echo no)" no
is "pdf-tools: skill dir 0700" "$(mode "$D/pdf-tools")" 700
is "pdf-tools: sub dir 0700" "$(mode "$D/pdf-tools/scripts")" 700
is "pdf-tools: executable stays 0755" "$(mode "$D/pdf-tools/scripts/run.sh")" 755
is "pdf-tools: 0600 becomes 0644" "$(mode "$D/pdf-tools/data/notes.txt")" 644
is "pdf-tools: script content" "$(cat "$D/pdf-tools/scripts/run.sh" 2>/dev/null)" "$(printf '#!/bin/sh\necho pdf')"
is "helper (explicit version): SKILL.md" "$(cat "$D/helper/SKILL.md" 2>/dev/null)" "helper skill"
is "tar-skill (tar.gz): SKILL.md" "$(cat "$D/tar-skill/SKILL.md" 2>/dev/null)" "tar skill"
is "tar-skill: 0700 file becomes 0755" "$(mode "$D/tar-skill/bin/tool")" 755
is "specials: regular file extracted" "$(cat "$D/specials/ok.txt" 2>/dev/null)" fine
ok "specials: symlink not created (a plain directory instead)" test -d "$D/specials/link" -a ! -L "$D/specials/link"
is "specials: the through-link file stayed inside" "$(cat "$D/specials/link/pwn" 2>/dev/null)" "through the link"
ok "specials: hardlink skipped" test ! -e "$D/specials/hard"
ok "specials: fifo skipped" test ! -e "$D/specials/fifo"
ok "traversal: whole archive refused" test ! -e "$D/traversal"
ok "junk: not installed" test ! -e "$D/junk"
is "climbing name: last component only" "$(cat "$D/climber/SKILL.md" 2>/dev/null)" "tar skill"
is "xlsx: latest version installed" "$(cat "$D/xlsx/SKILL.md" 2>/dev/null)" new
is "same-name skill did not overwrite the first" "$(cat "$D/pdf-tools/SKILL.md" 2>/dev/null | sed -n 2p)" "name: pdf-tools"
is "nothing written outside" "$(ls -A "$T/outside")" ""
ok "no traversal escape anywhere under the scratch dir" test -z "$(find "$T" -name 't3090-escape' -o -name abs-escape)"
is "only the expected skill directories" "$(ls -A "$D" | sort | tr '\n' ' ')" \
    "climber helper pdf-tools specials tar-skill xlsx "
is "no staging directory left" "$(find "$D" -name '.skill-stage-*' | wc -l)" 0

log=$(cat "$T/worker.log")
like "install logged" "$log" "skill installed .*dir=pdf-tools"
like "symlink skip logged" "$log" "member skipped.*member=evil/link type=symlink"
like "traversal refusal logged" "$log" "skill not installed .*skill=$TRAV.*has a .*\.\..* component"
like "missing skill logged" "$log" "skill not installed .*skill=skill_missing.*404"
like "same-name skill logged" "$log" "skill not installed .*skill=$DUPE.*already exists"
unlike "no sessions token in the log" "$log" "sk-ant-req"
like "downloads used the sessions token" "$(cat "$T/requests.log")" "GET /v1/skills/$PDF/versions/[^ ]+/content 200 token"

# without --keep-workdir the skills go with the session directory
OMNI_SIM_AGENT_ID=$AGENT new_session bash-once
S2=$SID
wk_bg poll --max-idle 1s --poll-idle-ms 50-150 --workdir "$T/work2" --http-debug
wait_for 30 "second session served" all_done 2
until_ok 10 grep -q "session run ended.*session=$S2" "$T/worker.log"
like "second run installed skills" "$(grep "session=$S2" "$T/worker.log")" "skill installed"
# the request's own header block: up to its response (other threads trace too)
trace=$(grep -A12 '^> GET /v1/skills/[^ ]*/content' "$T/worker.log" | sed '/^</q')
like "content requested with Accept: application/binary" "$trace" "^> Accept: application/binary"
unlike "and no second Accept header" "$trace" "Accept: application/json"
unlike "no sessions token in the traced log" "$(cat "$T/worker.log")" "sk-ant-req"
unlike "no anthropic-beta on the GA skill routes" "$trace" "anthropic-beta"
ok "session directory (with skills) removed" test ! -e "$T/work2/$S2"
kill -TERM "$WK_PID"
wk_wait 10
is "second worker exit 0" "$WK_RC" 0
unlike "no sanitizer report from the worker" "$(cat "$T/worker.log")" "runtime error|Sanitizer"
unlike "no sanitizer report from the sim" "$(cat "$SIM_LOG")" "runtime error|Sanitizer"
done_testing
