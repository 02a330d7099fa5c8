#!/bin/bash
# firecracker.sh — per-session Firecracker microVM hand-off for
# `omni-worker poll --on-work`. DOCUMENTED TEMPLATE: it is not runnable in
# this repository's test environment (no KVM, no kernel/rootfs images), and
# it refuses to run until you fill in the three paths below.
#
# Why a microVM: bubblewrap (bwrap.sh) shares the host kernel; a microVM gives
# each session its own kernel, so a tool call that escapes its shell still
# meets a hypervisor boundary, not the host.
#
# Contract (protocol.md §10.2), the same as bwrap.sh:
#   - stdin: the claimed work item JSON; env: ANTHROPIC_WORK_ID,
#     ANTHROPIC_ENVIRONMENT_ID, ANTHROPIC_SESSION_ID, ANTHROPIC_ENVIRONMENT_KEY;
#   - this script BLOCKS until the session is over (until the VM powers off):
#     the poller posts a stop for the item as soon as the script returns, so
#     returning early would end a live session;
#   - SIGTERM from the poller must reach `omni-worker run` inside the VM so it
#     drains (here: the guest agent gets a shutdown request over the vsock /
#     serial console and the guest's init sends SIGTERM to the worker, which
#     then force-stops the item and exits; the VM powers off).
#
# Hand-off design:
#   1. Create a per-session directory (0700) with a small ext4 "config disk"
#      holding ONLY: the item's secret (file, mode 0600), the work/session/
#      environment ids, the base URL and extra worker options. The
#      environment key is NOT copied in: the sessions token in the secret is
#      the only credential the guest needs (omni-worker run
#      --work-secret-file). Never bake secrets into the rootfs image.
#   2. Boot the VM from a read-only rootfs image that contains /bin/bash,
#      the omni-worker binary and its libraries, with a fresh writable
#      scratch disk as the session workdir. The guest's init mounts the
#      config disk, runs
#        omni-worker run --work-secret-file /config/secret --workdir /work
#      and powers the VM off when it exits.
#   3. Networking: a tap device with egress only to the API endpoint (or a
#      proxy); nothing else. Without egress the worker cannot serve.
#   4. Wait for the firecracker process; forward SIGTERM as a guest shutdown
#      request (SendCtrlAltDel), then kill the VM after the poller's grace.
#   5. Remove the per-session directory and tap device.
set -u
umask 077

FC_BIN=${FC_BIN:-/usr/local/bin/firecracker}
FC_KERNEL=${FC_KERNEL:-}          # vmlinux built for Firecracker
FC_ROOTFS=${FC_ROOTFS:-}          # read-only rootfs image with omni-worker inside
FC_TAP=${FC_TAP:-}                # pre-created tap device with restricted egress

die() {
    echo "firecracker.sh: $*" >&2
    exit 1
}

[ -x "$FC_BIN" ] || die "firecracker binary \"$FC_BIN\" not found (set FC_BIN)"
[ -n "$FC_KERNEL" ] && [ -r "$FC_KERNEL" ] || die "set FC_KERNEL to a Firecracker kernel image"
[ -n "$FC_ROOTFS" ] && [ -r "$FC_ROOTFS" ] || die "set FC_ROOTFS to a rootfs image with omni-worker"
[ -n "$FC_TAP" ] || die "set FC_TAP to a tap device with egress to the API only"
[ -e /dev/kvm ] || die "/dev/kvm is not available"
: "${ANTHROPIC_WORK_ID:?}" "${ANTHROPIC_SESSION_ID:?}" "${ANTHROPIC_ENVIRONMENT_ID:?}"

WORK_JSON=$(head -c 1048576)
SECRET=$(printf '%s' "$WORK_JSON" | tr -d '\n' |
    sed -n 's/.*"secret"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9_=+/-]*\)".*/\1/p')
[ -n "$SECRET" ] || die "work item $ANTHROPIC_WORK_ID has no secret; refusing to copy the environment key into a VM"
unset ANTHROPIC_ENVIRONMENT_KEY WORK_JSON

D=$(mktemp -d "${TMPDIR:-/tmp}/omni-fc.XXXXXXXX") || die "cannot create a session directory"
trap 'rm -rf "$D"' EXIT

# 1. config disk (secret + ids only)
mkdir -m 0700 "$D/config"
printf '%s\n' "$SECRET" >"$D/config/secret"
unset SECRET
{
    printf 'ANTHROPIC_WORK_ID=%s\n' "$ANTHROPIC_WORK_ID"
    printf 'ANTHROPIC_SESSION_ID=%s\n' "$ANTHROPIC_SESSION_ID"
    printf 'ANTHROPIC_ENVIRONMENT_ID=%s\n' "$ANTHROPIC_ENVIRONMENT_ID"
    [ -n "${ANTHROPIC_BASE_URL:-}" ] && printf 'ANTHROPIC_BASE_URL=%s\n' "$ANTHROPIC_BASE_URL"
    printf 'OMNI_WORKER_ARGS=%s\n' "${OMNI_WORKER_ARGS:-}"
} >"$D/config/env"
truncate -s 4M "$D/config.ext4"
mkfs.ext4 -q -d "$D/config" "$D/config.ext4" || die "cannot build the config disk"
rm -rf "$D/config"
truncate -s "${FC_SCRATCH_SIZE:-2G}" "$D/scratch.ext4"
mkfs.ext4 -q "$D/scratch.ext4" || die "cannot build the scratch disk"

# 2. VM definition
cat >"$D/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$FC_KERNEL",
                  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off init=/sbin/omni-init"},
  "drives": [
    {"drive_id": "rootfs", "path_on_host": "$FC_ROOTFS", "is_root_device": true, "is_read_only": true},
    {"drive_id": "config", "path_on_host": "$D/config.ext4", "is_root_device": false, "is_read_only": true},
    {"drive_id": "scratch", "path_on_host": "$D/scratch.ext4", "is_root_device": false, "is_read_only": false}
  ],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$FC_TAP"}],
  "machine-config": {"vcpu_count": ${FC_VCPUS:-2}, "mem_size_mib": ${FC_MEM_MIB:-1024}}
}
EOF

# 3-4. boot, block until the guest powers off, forward SIGTERM as a shutdown request
"$FC_BIN" --api-sock "$D/api.sock" --config-file "$D/vm.json" &
FC=$!
shutdown_guest() {
    curl -s --unix-socket "$D/api.sock" -X PUT http://localhost/actions \
        -H 'content-type: application/json' -d '{"action_type":"SendCtrlAltDel"}' >/dev/null
}
trap shutdown_guest TERM INT
while :; do
    wait "$FC"
    rc=$?
    kill -0 "$FC" 2>/dev/null || break
done
exit "$rc"
