#!/usr/bin/env bash
# Escape attempts against the contained omni-worker (beyond t5300): every
# tool call is hostile code. The worker runs as root (as in CI), with
# --sandbox none and --sandbox bwrap, --concurrency 4 and --concurrency 1.
#
# Each attack below was a demonstrated break of the first contained worker
# (a red-team pass); "[defence]" assertions check the fix:
#
#   1. user namespaces: omni-exec's seccomp filter denies CLONE_NEWUSER in
#      root mode too (the non-root mode also has --disable-userns)
#   2. kernel keyrings (shared by uid, not namespaced: a slot's next session,
#      or with open permissions a concurrent one, could read them): add_key,
#      request_key and keyctl are denied by the seccomp filter
#   3. pty exhaustion (the number of ptys is one host-wide limit): a sandbox
#      has no /dev/pts at all
#   4. none mode: the host's abstract unix sockets are out of reach (Landlock
#      scope, kernel >= 6.12; the network is the host's)
#   5. none mode: /sys/fs/cgroup is hidden (it named every other session and
#      host pids); cgroup files are read-only in any case
#   6. the executor: killed by a tool, the next call is served by a fresh one;
#      its /proc entries are closed to the tools
#   7. memory held in socket buffers is charged to the session
#   8. leftovers: SIGKILL of the poller takes the serve-item runners along
#      (their parent-death signal: they stop at once and clean up); at
#      --concurrency 1 the sandbox dies with it and a restart sweeps the rest
#
# Loopback only; every loop and wait is bounded; keys planted by the test are
# invalidated at exit (as the slot uids), processes killed by pid.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

MARK=esc$RANDOM$RANDOM
UID_BASE=1879048192
LIMITS=(--limit-pids 64 --limit-memory 256M --limit-tmp 64M --limit-workdir 64M)
COMMON=(--max-idle 1s --poll-idle-ms 50-150 --drain-timeout 2s --child-grace 3s)
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # skip needs root (the worker's root mode is under test)"
    exit 0
fi
if ! [ -x "$PY" ] || ! command -v bwrap >/dev/null || ! bwrap --unshare-all --ro-bind / / true 2>/dev/null; then
    echo "1..0 # skip needs $PY and a working bubblewrap"
    exit 0
fi

WROOT=$(mktemp -d /tmp/omni-escape.XXXXXX)
chmod 0755 "$WROOT"
mkdir -m 1777 "$WROOT/tmp"
# key cleaner, run as each slot uid (keys are only reachable by their owner)
cat >"$WROOT/kclean.py" <<'EOF'
import ctypes as C, sys
S = C.CDLL(None).syscall; S.restype = L = C.c_long
for l in open("/proc/keys"):
    if sys.argv[1] in l:
        S(250, 21, L(int(l.split()[0], 16)))  # KEYCTL_INVALIDATE
EOF
chmod 0644 "$WROOT/kclean.py"
ALL_SIDS=()
_escape_cleanup() {
    local u p
    for u in 0 1 2 3 4; do
        setpriv --reuid=$((UID_BASE + u)) --regid=$((UID_BASE + u)) --clear-groups \
            "$PY" "$WROOT/kclean.py" "omni-rt-$MARK" 2>/dev/null
    done
    for p in $(pgrep -f "$WROOT" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    for p in $(grep -l "$MARK" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
        [ "$p" != $$ ] && kill -KILL "$p" 2>/dev/null
    done
    sleep 0.3
    grep -o " $WROOT/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$WROOT"
}
trap '_escape_cleanup; _cleanup' EXIT

sim_start

# ---- tool-call payloads ------------------------------------------------------
wcall() { # FILE NAME: a write tool call putting FILE's text into NAME
    perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $c = <$f>;
        print JSON::PP->new->canonical->encode({name => "write", input => {file_path => $ARGV[1], content => $c}})' "$1" "$2"
}
# pty.py HOLD: open ptys until the kernel says no (forking past RLIMIT_NOFILE), hold them
cat >"$T/pty.py" <<'EOF'
import os,sys,time,errno,resource as R
h=R.getrlimit(7)[1];R.setrlimit(7,(h,h));k=[];f=0;t=float(sys.argv[1])
while 1:
 try:k.append(os.openpty())
 except OSError as x:
  if x.errno==errno.EMFILE and f<12:
   f+=1
   if os.fork()==0:
    for a,b in k:os.close(a);os.close(b)
    k=[];continue
  else:print("pty-stop",x.errno,flush=True)
  time.sleep(t);break
EOF
# k.py p DESC VALUE: add a user key to the user keyring, open to all; k.py r DESC: read it back
cat >"$T/k.py" <<'EOF'
import ctypes as C,sys
S=C.CDLL(None).syscall;S.restype=L=C.c_long
m,d=sys.argv[1],sys.argv[2];e=d.encode()
if m=="p":v=sys.argv[3].encode();k=S(248,b"user",e,v,len(v),L(-4));print("kp",k,S(250,5,L(k),L(0x3f3f3f3f)))
else:
 b=C.create_string_buffer(99);s={S(250,10,L(-4),b"user",e,0)}|{int(l.split()[0],16) for l in open("/proc/keys") if d in l}
 for k in s:
  if k>0:n=S(250,11,L(k),b,99);print("READ",b.raw[:max(n,0)].decode())
EOF
# sock.py: 768 MiB in unix socket buffers (the session's memory limit is 256 MiB)
cat >"$T/sock.py" <<'EOF'
import socket as s,time
t=0;k=[];c=b"x"*65536
while t<(768<<20):
 a,b=s.socketpair();a.setsockopt(1,7,1<<30);a.setblocking(0);k.append((a,b))
 while 1:
  try:t+=a.send(c)
  except BlockingIOError:break
print("queued_MiB",t>>20,flush=True);time.sleep(3)
EOF
W_PTY=$(wcall "$T/pty.py" pty.py)
W_K=$(wcall "$T/k.py" k.py)
W_SOCK=$(wcall "$T/sock.py" sock.py)
PYC="PATH=/usr/bin:/bin; python3"

# a root listener on the host's abstract unix socket @omni-rt-$MARK (60 s life)
bg "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(b"\0omni-rt-" + sys.argv[1].encode()); s.listen(8); s.settimeout(2)
end = time.time() + 300
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.send(b"HOST-ABSTRACT-" + sys.argv[1].encode() + b"\n"); c.close()' "$MARK" 2>>"$T/abstract.err"
ABS_CONNECT="$PYC -c 'import socket; s=socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(b\"\\0omni-rt-$MARK\"); print(\"abstract-connected\", s.recv(99))' 2>&1 | tail -1"

start_worker() { # MODE CONC [extra...]
    local m=$1 c=$2; shift 2
    TMPDIR=$WROOT/tmp wk_bg poll --sandbox "$m" --concurrency "$c" "${LIMITS[@]}" "${COMMON[@]}" \
        --workdir "$WROOT/work-$m" "$@" </dev/null >>"$T/worker.out"
}
wait_all() { # SECS DESC SID...
    local secs=$1 d=$2; shift 2
    _all_completed() { local x; for x in "$@"; do sess_completed "$x" || return 1; done; }
    wait_for "$secs" "$d" _all_completed "$@"
}
# processes of this test's sandboxes (bwrap/omni-exec name $WROOT; tools run inside it)
sandbox_procs() {
    local p out=""
    for p in /proc/[0-9]*; do
        case "$(readlink "$p/cwd" 2>/dev/null) $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" in
        *"$WROOT/work"*) out="$out ${p#/proc/}" ;;
        esac
    done
    printf '%s' "${out# }"
}
sess_cgroups() { local s; for s in "$@"; do find /sys/fs/cgroup -maxdepth 6 -type d -name "sess-$s" 2>/dev/null; done; }
my_mounts() { grep -c " $WROOT/" /proc/mounts; }

run_mode() { # MODE: --concurrency 4
    local M=$1
    echo "# ---- mode $M, --concurrency 4 ----"
    start_worker "$M" 4
    sleep 0.3
    ok "[defence] $M: worker started" kill -0 "$WK_PID"

    # 3. pty hog (P) and its victim (Q); 2. keyring across slots (K1 plants, K2 reads)
    cmd_session "$W_PTY" "timeout 30 python3 pty.py 14 >pty.out 2>&1 & sleep 5; cat pty.out" "sleep 10; echo p-done"
    local P=$SID
    cmd_session "$W_K" "$PYC k.py p omni-rt-$MARK-$M-x LIVE-$MARK-$M; id -u; sleep 8"
    local K1=$SID
    sleep 1.5
    cmd_session "sleep 4; $PYC -c 'import os; os.openpty(); print(\"pty-ok\")' 2>&1 | tail -1"
    local Q=$SID
    cmd_session "sleep 2" "$W_K" "$PYC k.py r omni-rt-$MARK-$M-x; id -u"
    local K2=$SID
    wait_all 60 "$M: pty and keyring sessions done" "$P" "$K1" "$Q" "$K2"
    local rp rq rk1 rk2
    rp=$(result "$P" 2) rq=$(result "$Q" 1) rk1=$(result "$K1" 2) rk2=$(result "$K2" 3)
    # the number of ptys is one host-wide limit: a sandbox has none to hoard
    like "[defence] $M: a session gets no pseudo-terminal to hoard (ENOENT)" "$rp" "pty-stop 2\$"
    unlike "[defence] $M: nor does another" "$rq" "pty-ok"
    unlike "[defence] $M: no key can be planted (add_key is denied)" "$rk1" "^kp [1-9]"
    # keyrings are per uid, not per session: omni-exec's seccomp filter denies them
    unlike "[defence] $M: a concurrent session cannot read a key another session planted" "$rk2" "LIVE-$MARK-$M"
    ok "[defence] $M: the two sessions ran as different uids ($(printf %s "$rk1" | tail -1) $(printf %s "$rk2" | tail -1))" \
        test "$(printf %s "$rk1" | tail -1)" != "$(printf %s "$rk2" | tail -1)"

    # 1. user namespaces; 6. executor; 5. cgroups; 4. abstract sockets; 7. memory
    cmd_session "sleep 10; echo e-done"
    local E=$SID
    sleep 1
    cmd_session "unshare -Ur sh -c 'id -u; mount -t tmpfs x /tmp && echo userns-mount-ok' 2>&1; echo rc=\$?" \
        "X=\$(pgrep -x omni-exec); echo exec=\$X; ls /proc/\$X/fd 2>&1 | head -1; head -c 64 /proc/\$X/environ 2>&1; echo" \
        "kill -KILL \$(pgrep -x omni-exec); sleep 2; echo not-reached" \
        "echo next-call-$MARK" \
        "d=\$(ls -d /sys/fs/cgroup/pids/omni-worker-*/sess-\$(basename \$PWD) 2>/dev/null); echo own=\$d; echo 1000 >\"\$d/pids.max\" 2>&1; echo \$\$ >/sys/fs/cgroup/pids/cgroup.procs 2>&1; cat \"\$d/pids.max\" 2>&1" \
        "ls -d /sys/fs/cgroup/*/omni-worker-*/sess-* /sys/fs/cgroup/memory/*/*/omni-worker-*/sess-* 2>/dev/null | grep -c $E || true" \
        "$ABS_CONNECT" \
        "$W_SOCK" "python3 sock.py 2>&1 | tail -1; echo rc=\$?" \
        "$PYC -c 'import ctypes,errno; l=ctypes.CDLL(None,use_errno=True); [print(n+\":\"+errno.errorcode.get(-l.syscall(nr,0,0,0,0,0) and ctypes.get_errno(),\"ok\")) for n,nr in ((\"io_uring\",425),(\"perf\",298))]'"
    local X=$SID
    wait_all 60 "$M: probe session done" "$X" "$E"
    [ -n "${ESCAPE_VERBOSE:-}" ] && results "$X" | sed 's/^/#   /' >&2
    local r1
    r1=$(result "$X" 1)
    unlike "[defence] $M: tools cannot create a user namespace (unshare -Ur)" "$r1" "userns-mount-ok|^0\$"
    like "[defence] $M: omni-exec's fds are closed to the tools" "$(result "$X" 2)" "Permission denied"
    unlike "[defence] $M: omni-exec's environment is closed to the tools" "$(result "$X" 2)" "PATH=|HOME="
    like "[defence] $M: killing omni-exec fails that call" "$(result "$X" 3)" "executor ended"
    is "[defence] $M: the next call is served by a fresh executor" "$(result "$X" 4)" "next-call-$MARK"
    local r5
    r5=$(result "$X" 5)
    unlike "[defence] $M: a session cannot raise its own pids.max" "$r5" "^1000\$"
    local r6 r7 r9
    r6=$(result "$X" 6) r7=$(result "$X" 7) r9=$(result "$X" 9)
    if [ "$M" = none ]; then
        like "[defence] $M: cgroup files are read-only" "$r5" "Read-only file system"
        is "[defence] $M: a session cannot see another running session's cgroup (its id)" "$r6" 0
        unlike "[defence] $M: the host's abstract unix sockets are out of reach (Landlock scope)" "$r7" "abstract-connected"
    else
        unlike "[defence] $M: no cgroup of another session visible" "$r6" "^[1-9]"
        unlike "[defence] $M: the host's abstract unix sockets are out of reach" "$r7" "abstract-connected"
    fi
    unlike "[defence] $M: 768 MiB of socket buffers did not fit in a 256 MiB session" "$r9" "queued_MiB 7"
    like "[defence] $M: io_uring is denied (seccomp: EPERM, not EFAULT)" "$(result "$X" 10)" "io_uring:EPERM"
    like "[defence] $M: perf_event_open is denied likewise" "$(result "$X" 10)" "perf:EPERM"
    like "[defence] $M: and the result names the memory limit" "$r9" "memory limit"

    # 8a. SIGKILL of the poller at --concurrency 4
    cmd_session "sleep 12; echo slept"
    local L=$SID
    until_ok 15 test -n "$(sandbox_procs)"
    sleep 1
    kill -KILL "$WK_PID"
    sleep 3
    local left
    left=$(sandbox_procs)
    is "[defence] $M: 3 s after SIGKILL of the poller, no sandbox process of its sessions runs" "$left" ""
    until_ok 30 test -z "$(sandbox_procs)"
    sleep 1
    is "[defence] $M: the orphaned runners cleaned their mounts in the end" "$(my_mounts)" 0
    ALL_SIDS+=("$P" "$K1" "$Q" "$K2" "$E" "$X" "$L")
}

run_mode none
run_mode bwrap

# ---- --concurrency 1 (runner in the poller), bwrap: persistence through keyrings ----
echo "# ---- bwrap, --concurrency 1 ----"
start_worker bwrap 1
cmd_session "$W_K" "$PYC k.py p omni-rt-$MARK-seq LEFTOVER-$MARK; echo planted-by=\$(id -u)"
S1=$SID
wait_all 30 "c1: planting session done" "$S1"
wait_for 15 "c1: planting session stopped" sess_stopped "$S1"
cmd_session "$W_K" "$PYC k.py r omni-rt-$MARK-seq; echo reader=\$(id -u)" \
    "unshare -Ur id -u 2>&1 | tail -1"
S2=$SID
wait_all 30 "c1: reading session done" "$S2"
unlike "[defence] c1: the first session could not plant a key" "$(result "$S1" 2)" "^kp [1-9]"
unlike "[defence] c1: a later session (same slot uid) cannot read what an ended session left" \
    "$(result "$S2" 2)" "LEFTOVER-$MARK"
unlike "[defence] c1: tools cannot create a user namespace (in-process runner)" "$(result "$S2" 3)" "^0\$"

# 8b. SIGKILL of the poller at --concurrency 1: bwrap dies with it
cmd_session "sleep 15; echo slept"
S3=$SID
until_ok 20 test -n "$(sandbox_procs)"
sleep 1
kill -KILL "$WK_PID"
sleep 2
is "[defence] c1: the sandbox died with the poller (SIGKILL)" "$(sandbox_procs)" ""
echo "# after SIGKILL: $(my_mounts) session mount(s) and $(sess_cgroups "$S3" | wc -l) cgroup dir(s) left"
start_worker bwrap 1
sleep 2
ok "[defence] c1: the restarted worker swept the dead worker's cgroups" test -z "$(sess_cgroups "$S3")"
kill -TERM "$WK_PID"
wk_wait 20
is "[defence] c1: no session mount left after the restarted worker's clean stop" "$(my_mounts)" 0
ALL_SIDS+=("$S1" "$S2" "$S3")

# ---- leftovers of everything above ----
is "[defence] no sandbox process left" "$(sandbox_procs)" ""
is "[defence] no cgroup of any session left" "$(sess_cgroups "${ALL_SIDS[@]}")" ""
unlike "[defence] no crash in the worker logs" "$(cat "$T/worker.log")" "crashed|AddressSanitizer"
done_testing
