#!/usr/bin/env bash
# worker/spawn/firecracker-config: the Firecracker --config-file JSON for a
# microVM session is well formed and air-gapped (no network interface, root
# = initramfs, only the work drive writable), and every bad input is refused
# with exit 2, one line on stderr naming the problem and nothing on stdout.
# The config is generated and checked here, never booted (no Firecracker, no
# KVM in CI).
. "$(dirname "$0")/../lib.sh"

command -v jq >/dev/null || { echo "1..0 # SKIP jq not installed (apt-get install jq)"; exit 0; }
FC=$TOP/worker/spawn/firecracker-config
cd "$T" || exit 1

# Fake images: an ELF header for the kernel, an ext4 superblock magic for the
# work disk (the script checks both), anything for the initrd and usr disk.
mkdir -p img run "dir with \"quote\""
{ printf '\177ELF\002\001\001'; head -c 200 /dev/zero; } >img/vmlinux
printf 'initramfs' >img/initrd.img
truncate -s 4M img/work.ext4
printf '\123\357' | dd of=img/work.ext4 bs=1 seek=1080 conv=notrunc status=none
printf 'usr' >img/usr.img
printf 'initramfs' >initrd.outside
cp img/vmlinux "dir with \"quote\"/vmlinux"
{ head -c 514 /dev/zero; printf 'HdrS'; head -c 100 /dev/zero; } >img/vmlinuz
K=$T/img/vmlinux I=$T/img/initrd.img W=$T/img/work.ext4 U=$T/img/usr.img S=$T/run/v.sock

ok "firecracker-config is executable" test -x "$FC"

# --- a valid invocation ----------------------------------------------------
out=$("$FC" --kernel "$K" --initrd "$I" --workdir-disk "$W" --usr-disk "$U" \
    --vsock-uds "$S" --cid 7 --mem-mib 1024 --vcpus 2 \
    --boot-args "console=ttyS0 reboot=k panic=1 quiet" 2>err)
is "valid config: exit 0" "$?" 0
is "valid config: nothing on stderr" "$(cat err)" ""
ok "valid config: jq parses it" jq -e . <<<"$out"
q() { jq -c "$1" <<<"$out"; }
is "top-level keys are exactly the expected ones" "$(q 'keys')" \
    '["boot-source","drives","machine-config","network-interfaces","vsock"]'
is "no network interface" "$(q '(."network-interfaces" // []) | length')" 0
is "boot-source: kernel path" "$(q '."boot-source".kernel_image_path')" "\"$K\""
is "boot-source: initrd path" "$(q '."boot-source".initrd_path')" "\"$I\""
is "boot-source: boot args" "$(q '."boot-source".boot_args')" '"console=ttyS0 reboot=k panic=1 quiet"'
is "boot-source: exactly these keys" "$(q '."boot-source" | keys')" '["boot_args","initrd_path","kernel_image_path"]'
is "two drives, work then usr" "$(q '[.drives[].drive_id]')" '["work","usr"]'
is "work drive: the image, read-write" \
    "$(q '.drives[] | select(.drive_id == "work") | [.path_on_host, .is_read_only]')" "[\"$W\",false]"
is "usr drive: the image, read-only" \
    "$(q '.drives[] | select(.drive_id == "usr") | [.path_on_host, .is_read_only]')" "[\"$U\",true]"
is "only the work drive is writable" "$(q '[.drives[] | select(.is_read_only != true) | .drive_id]')" '["work"]'
is "no root drive (the initramfs is the root)" "$(q '[.drives[] | select(.is_root_device != false)] | length')" 0
is "vsock: uds path and cid" "$(q '.vsock | [.uds_path, .guest_cid]')" "[\"$S\",7]"
is "machine-config" "$(q '."machine-config"')" '{"vcpu_count":2,"mem_size_mib":1024,"smt":false}'

# --- defaults, no usr disk -------------------------------------------------
out=$("$FC" --kernel "$K" --initrd "$I" --workdir-disk "$W" --vsock-uds "$S" --cid 3 2>err)
is "minimal config: exit 0" "$?" 0
is "minimal config: one drive, work, read-write" "$(q '.drives | map([.drive_id, .is_read_only])')" '[["work",false]]'
is "minimal config: default machine" "$(q '."machine-config" | [.vcpu_count, .mem_size_mib]')" '[1,512]'
like "minimal config: default boot args" "$(q '."boot-source".boot_args')" '^"console=ttyS0 '
is "largest cid accepted" \
    "$("$FC" --kernel "$K" --initrd "$I" --workdir-disk "$W" --vsock-uds "$S" --cid 4294967294 2>/dev/null | jq .vsock.guest_cid)" 4294967294

# --- escaping: a path with a quote and spaces survives as data ---------------
QK="$T/dir with \"quote\"/vmlinux"
out=$("$FC" --kernel "$QK" --initrd "$I" --workdir-disk "$W" --vsock-uds "$S" --cid 3 2>err)
is "quoted path: exit 0" "$?" 0
is "quoted path: round-trips through the JSON" "$(jq -r '."boot-source".kernel_image_path' <<<"$out")" "$QK"

# --- --chroot: paths as the jailed firecracker sees them --------------------
out=$("$FC" --chroot "$T" --kernel "$K" --initrd "$I" --workdir-disk "$W" --usr-disk "$U" \
    --vsock-uds "$S" --cid 3 2>err)
is "chroot: exit 0" "$?" 0
is "chroot: paths relative to the jail" \
    "$(q '[."boot-source".kernel_image_path, ."boot-source".initrd_path, .drives[].path_on_host, .vsock.uds_path]')" \
    '["/img/vmlinux","/img/initrd.img","/img/work.ext4","/img/usr.img","/run/v.sock"]'

# --- bad inputs --------------------------------------------------------------
# refused "description" "stderr regex" args...: exit 2, nothing on stdout, one
# line on stderr that matches.
refused() {
    local d=$1 re=$2 rc
    shift 2
    "$FC" "$@" >"$T/bad.out" 2>"$T/bad.err"
    rc=$?
    is "$d: exit 2" "$rc" 2
    is "$d: nothing on stdout" "$(wc -c <"$T/bad.out")" 0
    is "$d: one line on stderr" "$(wc -l <"$T/bad.err")" 1
    like "$d: names the problem" "$(cat "$T/bad.err")" "$re"
}
good=(--kernel "$K" --initrd "$I" --workdir-disk "$W" --vsock-uds "$S")
refused "relative kernel path" '--kernel .*not an absolute path' \
    --kernel img/vmlinux --initrd "$I" --workdir-disk "$W" --vsock-uds "$S" --cid 3
refused "relative socket path" '--vsock-uds .*not an absolute path' \
    --kernel "$K" --initrd "$I" --workdir-disk "$W" --vsock-uds run/v.sock --cid 3
refused "missing initrd file" "--initrd .*$T/img/nope.*does not exist" \
    --kernel "$K" --initrd "$T/img/nope" --workdir-disk "$W" --vsock-uds "$S" --cid 3
refused "missing usr disk" '--usr-disk .*does not exist' "${good[@]}" --usr-disk "$T/img/none" --cid 3
refused "missing socket directory" '--vsock-uds directory .*does not exist' \
    --kernel "$K" --initrd "$I" --workdir-disk "$W" --vsock-uds "$T/nodir/v.sock" --cid 3
refused "cid 2 (the host)" '--cid 2 is out of range \(3\.\.4294967294\)' "${good[@]}" --cid 2
refused "cid 2^32-1" '--cid 4294967295 is out of range' "${good[@]}" --cid 4294967295
refused "non-numeric cid" '--cid "3x" is not a decimal number' "${good[@]}" --cid 3x
refused "no cid" 'missing --cid' "${good[@]}"
refused "vcpus 0" '--vcpus 0 is out of range \(1\.\.32\)' "${good[@]}" --cid 3 --vcpus 0
refused "vcpus 33" '--vcpus 33 is out of range' "${good[@]}" --cid 3 --vcpus 33
refused "mem 64" '--mem-mib 64 is out of range \(128\.\.32768\)' "${good[@]}" --cid 3 --mem-mib 64
refused "a boot arg with a double quote" '--boot-args contains a quote' \
    "${good[@]}" --cid 3 --boot-args 'console=ttyS0 init="/bin/sh"'
refused "a boot arg with a single quote" '--boot-args contains a quote' \
    "${good[@]}" --cid 3 --boot-args "panic=1 x='y'"
refused "a boot arg with a newline" '--boot-args contains a newline' \
    "${good[@]}" --cid 3 --boot-args $'panic=1\nip=dhcp'
refused "an unknown option" 'unknown option "--net"' "${good[@]}" --cid 3 --net tap0
refused "an option given twice" '--cid given twice' "${good[@]}" --cid 3 --cid 4
refused "a bzImage kernel" 'bzImage, not an uncompressed vmlinux' \
    --kernel "$T/img/vmlinuz" --initrd "$I" --workdir-disk "$W" --vsock-uds "$S" --cid 3
refused "a work disk that is not ext4" '--workdir-disk .*not an ext4 image' \
    --kernel "$K" --initrd "$I" --workdir-disk "$U" --vsock-uds "$S" --cid 3
refused "usr disk = work disk" 'same file' "${good[@]}" --usr-disk "$W" --cid 3
: >"$S"
refused "socket path already taken" '--vsock-uds .*already exists' "${good[@]}" --cid 3
rm -f "$S"
refused "a path outside --chroot" '--initrd .*outside --chroot' \
    --chroot "$T/img" --kernel "$K" --initrd "$T/initrd.outside" --workdir-disk "$W" --vsock-uds "$T/img/v.sock" --cid 3

done_testing
