#!/usr/bin/env bash
# --sandbox microvm: each session's tools run in a QEMU microVM with its own
# kernel (TCG here: nested KVM does not work on this host), restored from a
# template saved at "agent ready". The six-tools scenario end to end, then
# part 1's attacks from inside the VM: the key, other sessions, the host's
# files and network, a fork bomb, memory, the disk, background processes
# surviving the session; a VM that dies mid-call; SIGTERM drain with a VM
# running. Loopback only; every wait is bounded; the cleanup kills QEMU.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/integration/lib-sim.sh"
. "$TOP/tests/integration/worker-lib.sh"
. "$TOP/tests/integration/attack-lib.sh"

VMDIR=${OMNI_VM_DIR:-$TOP/bin/microvm}
missing=""
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86_64"
command -v bwrap >/dev/null || missing="$missing bubblewrap"
[ -r "$VMDIR/vmlinuz" ] && [ -r "$VMDIR/initrd.img" ] ||
    missing="$missing the-guest-image($VMDIR: make microvm)"
[ "$(id -u)" = 0 ] || missing="$missing root"
if [ -n "$missing" ]; then
    echo "1..0 # SKIP needs:$missing"
    exit 0
fi
export OMNI_VM_DIR=$VMDIR

scratch_root vm

sim_start
COMMON=(--max-idle 2s --poll-idle-ms 50-150 --drain-timeout 3s --child-grace 5s
        --limit-pids 64 --limit-memory 1G --limit-tmp 64M --limit-workdir 64M
        --vm-accel tcg --vm-memory 256M ${OMNI_TEST_WK_ARGS:-})
start_vm_worker() { # CONC [extra...]
    local c=$1; shift
    wk_bg poll --sandbox microvm --concurrency "$c" "${COMMON[@]}" --workdir "$WROOT/work" "$@" \
        </dev/null >>"$T/worker.out"
}

# ---- 1. the six tools, in a VM ----------------------------------------------
start_vm_worker 2
wait_for 90 "the template VM was booted and saved" grep -q "microVM guest ready" "$T/worker.log"
like "TCG was used, and said" "$(cat "$T/worker.log")" 'accel=tcg'
like "a snapshot was saved" "$(cat "$T/worker.log")" 'snapshot=on'
mk_session six-tools
wait_for 90 "six-tools served in a microVM" all_done 1
check_report "microvm six-tools"

# ---- 2. attacks from inside the VM (part 1's, as a hostile tool call) ----------
SIM_PORT=${SIM_URL##*:}
HOST_KERNEL=$(uname -r)
# A: plants a marker in its own directory and a background process meant to
#    outlive the session; B: looks for A's files, the keys, the host.
cmd_session "echo A-$$ >mine.txt; (setsid sleep 300 </dev/null >/dev/null 2>&1 &); echo planted; sleep 6; echo a-done"
A=$SID
sleep 1
cmd_session \
    "uname -r; id -u; hostname; cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sed 's/^/iface:/'" \
    "ls -a \$(dirname \$PWD) 2>&1 | tr '\n' ' '; echo; cat \$(dirname \$PWD)/$A/mine.txt 2>&1 | sed 's/.*: //'" \
    "env | grep -c -E 'ANTHROPIC|sk-ant' ; grep -l -s sk-ant /proc/[0-9]*/environ /proc/cmdline 2>/dev/null | head -3; echo creds-scan-done" \
    "(exec 3<>/dev/tcp/127.0.0.1/$SIM_PORT) 2>/dev/null && echo api:open || echo api:blocked; (exec 3<>/dev/tcp/10.0.2.2/80) 2>/dev/null && echo gw:open || echo gw:blocked; getent hosts deb.debian.org || echo dns:none" \
    "touch /usr/x 2>&1 | head -1; unshare -Ur true 2>&1 | head -1; echo rc=\$?" \
    "perl -e '\$n = 0; my @k; for (1 .. 300) { my \$p = fork; last unless defined \$p; if (!\$p) { sleep 12; exit 0 } push @k, \$p; \$n++ } print \"forked=\$n\\n\"; kill 9, @k' 2>&1 | tail -1" \
    "python3 -c 'a = bytearray(600 << 20); print(\"allocated\")' 2>&1 | tail -1; echo after-mem" \
    "dd if=/dev/zero of=big bs=1M count=200 2>&1 | grep -m1 -o 'No space.*'; rm -f big; dd if=/dev/zero of=/tmp/big bs=1M count=200 2>&1 | grep -m1 -o 'No space.*'" \
    "echo still-serving"
B=$SID
wait_all() { local x; for x in "$@"; do sess_completed "$x" || return 1; done; }
wait_for 120 "both attack sessions done" wait_all "$A" "$B"
r=$(result "$B" 1)
like "[vm] the guest runs its own kernel (not the host's $HOST_KERNEL)" "$r" '^6\.1\.'
unlike "[vm] ... which is not the host's" "$(printf %s "$r" | head -1)" "^$HOST_KERNEL\$"
like "[vm] tools run as the session's uid, not root" "$(printf %s "$r" | sed -n 2p)" '^18790481[0-9][0-9]$'
like "[vm] the guest has loopback only (no network device)" "$r" '^iface:lo$'
unlike "[vm] ... and no other interface" "$r" 'iface:[^l]'
r=$(result "$B" 2)
unlike "[vm] another session's directory is not visible" "$(printf %s "$r" | head -1)" "$A"
like "[vm] nor its files" "$r" 'No such file or directory'
r=$(result "$B" 3)
like "[vm] no credential in any environment or the kernel command line" "$r" '^0'
unlike "[vm] ... nor in any process" "$r" '/proc/'
r=$(result "$B" 4)
like "[vm] the API on the host's loopback is out of reach" "$r" 'api:blocked'
like "[vm] no route anywhere" "$r" 'gw:blocked'
like "[vm] no DNS" "$r" 'dns:none'
r=$(result "$B" 5)
like "[vm] the host's /usr is read-only" "$r" 'Read-only file system'
like "[vm] no user namespaces (the seccomp filter holds in the guest)" "$r" 'Operation not permitted'
r=$(result "$B" 6)
forked=$(printf '%s\n' "$r" | sed -n 's/^forked=//p')
ok "[vm] a process flood is held to the limit (forked ${forked:-?} of 300)" test "${forked:-999}" -lt 64
r=$(result "$B" 7)
unlike "[vm] 600 MiB cannot be had in a 256 MiB guest" "$r" '^allocated'
r=$(result "$B" 8)
is "[vm] the workdir and /tmp are size-capped" "$(printf %s "$r" | grep -c 'No space left on device')" 2
is "[vm] the session is still served after all that" "$(result "$B" 9)" "still-serving"
ok "[vm] the worker lives on" kill -0 "$WK_PID"
like "[vm] the planting session worked" "$(result "$A" 1)" 'planted'
wait_for 20 "[vm] the sessions' VMs are gone when they end" sh -c "! pgrep -f '[q]emu.*$WROOT/work/sesn' >/dev/null"
# (a session's process on the host would run as a session uid: other
# programs on this machine may well be sleeping too)
ok "[vm] no process of the session is left on the host" \
    sh -c "! ps -eo uid=,args= | awk '\$1 >= 1879048192 && \$2 == \"sleep\" && \$3 == 300' | grep -q ."
ok "[vm] session directories removed" sh -c "! ls $WROOT/work | grep -q sesn"

# a result of control bytes (six bytes each once encoded: 100,000 of them,
# under read's 110,000-byte cap, are 600 kB) must not wedge the session, and extended attributes must not get around the directory's cap
# (QEMU passes user.* attributes through to the host's tmpfs)
cmd_session \
    "python3 -c 'open(\"ctl.txt\", \"wb\").write(b\"\\x01\" * 100000)'; echo made" \
    '{"name":"read","input":{"file_path":"ctl.txt"}}' \
    "python3 -c '
import os
t = 0
for i in range(3000):
    f = \"x%d\" % i
    try:
        open(f, \"w\").close(); os.setxattr(f, \"user.b\", b\"B\" * 65000); t += 65000
    except OSError as e:
        print(\"stopped:\", e.strerror); break
print(\"xattr_MiB\", t >> 20)' 2>&1 | tail -2" \
    "echo served-after"
E=$SID
wait_for 180 "[vm] the control-byte and xattr session is done" sess_completed "$E"
r=$(result "$E" 2)
like "[vm] a result too large once encoded is cut, with a note" "$r" 'result cut: .* bytes kept'
xm=$(result "$E" 3 | sed -n 's/^xattr_MiB //p')
ok "[vm] extended attributes stay within the directory's cap (${xm:-?} MiB of a 64 MiB directory)" \
    test "${xm:-999}" -lt 64
is "[vm] the session goes on after both" "$(result "$E" 4)" served-after

vm_of() { pgrep -f "[q]emu-system.*$WROOT/work/$1" | head -1; }

# ---- 3. a VM that dies mid-call: an error result, then a fresh VM -------------
cmd_session "sleep 20; echo not-reached" "echo after-crash"
C=$SID
wait_for 60 "[vm-death] the session's VM runs" sh -c "pgrep -f '[q]emu-system.*$WROOT/work/$C' >/dev/null"
sleep 3
kill -KILL "$(vm_of "$C")" 2>/dev/null
wait_for 60 "[vm-death] the session completes" sess_completed "$C"
is "[vm-death] the interrupted call is an error" "$(result_err "$C" 1)" true
like "[vm-death] ... saying the executor ended" "$(result "$C" 1)" 'ended unexpectedly'
is "[vm-death] the next call is served by a new VM" "$(result "$C" 2)" after-crash
wait_for 20 "[vm-death] the item is stopped, not wedged" sess_stopped "$C"

# ---- 4. SIGTERM drain with a VM running -----------------------------------------
cmd_session "sleep 30; echo not-reached"
D=$SID
wait_for 60 "[drain] the session's VM runs" sh -c "pgrep -f '[q]emu-system.*$WROOT/work/$D' >/dev/null"
sleep 3
kill -TERM "$WK_PID"
wk_wait 40
ok "[drain] the worker exits after SIGTERM" test "$WK_RC" != timeout
ok "[drain] no VM is left" sh -c "! pgrep -f '[q]emu-system.*$WROOT' >/dev/null"
wait_for 20 "[drain] the item is stopped" sess_stopped "$D"
is "[drain] the call past the drain timeout got an error result" "$(result_err "$D" 1)" true
ok "[drain] the template is removed" sh -c "! ls -a $WROOT/work | grep -q microvm"
check_report "microvm, all sessions"

# ---- 5. the accelerator: KVM only when a bounded test boot works ---------------
if [ -e /dev/kvm ]; then
    : >"$T/worker.log"
    wk_bg poll --sandbox microvm --vm-accel auto --vm-memory 256M --workdir "$WROOT/work-auto" \
        --poll-idle-ms 50-150 </dev/null >>"$T/worker.out"
    wait_for 90 "[accel] the worker chose an accelerator" grep -q "microVM guest ready" "$T/worker.log"
    log=$(cat "$T/worker.log")
    if grep -q 'accel=kvm' <<<"$log"; then
        like "[accel] KVM works here, and is said" "$log" 'accel=kvm'
    else
        like "[accel] KVM did not boot here: TCG, and why, is logged" "$log" 'KVM is not usable here.*reason='
    fi
    kill -TERM "$WK_PID"
    wk_wait 30
fi
done_testing
