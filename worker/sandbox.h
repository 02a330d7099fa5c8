/*
 * sandbox — start one session's tool executor (omni-exec) inside a
 * bubblewrap jail. The kernel does the isolating (namespaces, cgroups, a uid
 * of its own); bubblewrap sets the namespaces and mounts up. Two host
 * backends share everything but the file system view and the network:
 *
 *   none   the host's file system read-only, the host network; the session's
 *          own PID, mount, IPC and UTS namespaces, private /tmp, /var/tmp and
 *          /dev/shm (size-capped tmpfs), the worker's directory of sessions
 *          hidden under an empty tmpfs with only this session's directory
 *          bound back, the worker's credential files and the host's
 *          cgroup tree masked;
 *   bwrap  a minimal read-only system (/usr, the usual symlinks, a few files
 *          of /etc), no network at all (a new network namespace with only
 *          loopback), and the same private /tmp, workdir and namespaces.
 *
 * Identity: when the worker runs as root, bubblewrap runs privileged (no user
 * namespace) with only CAP_SETUID/CAP_SETGID kept, and omni-exec drops to the
 * session's own uid and gid (--uid/--gid) before it runs anything, with
 * no_new_privs set. Otherwise bubblewrap makes a user namespace mapping the
 * worker's uid, with every capability dropped and further user namespaces
 * disabled (--disable-userns).
 *
 * Both: no pseudo-terminals (/dev/pts is empty: the number of ptys is one
 * host-wide limit). omni-exec adds its own seccomp filter and Landlock
 * domain (guest/harden.h).
 *
 * The channel to the runner is the executor's standard input and output: one
 * end of a socketpair (a socket cannot be opened again through /proc/PID/fd,
 * unlike a pipe). Nothing secret is in the executor's argv or environment.
 */
#ifndef OMNI_SANDBOX_H
#define OMNI_SANDBOX_H

#include <sys/types.h>

#include "err.h"

enum sandbox_kind { SANDBOX_NONE = 0, SANDBOX_BWRAP, SANDBOX_MICROVM };

/*
 * microvm: the executor runs as the guest agent of a QEMU microVM with its
 * own kernel (microvm.h builds the guest and its snapshot). QEMU itself runs
 * in the bwrap backend's jail (no network, a minimal read-only system, the
 * session's directory only), as the session's uid (-runas) under QEMU's own
 * seccomp sandbox. The guest has no network device; its only links to the
 * host are the executor's virtio-serial port, the host's /usr read-only and
 * the session's directory (virtio-9p), and an entropy source.
 */
struct sandbox_vm {
    const char *qemu;   /* qemu-system-x86_64, absolute */
    const char *kernel; /* bzImage, absolute */
    const char *initrd; /* the guest's initramfs, absolute */
    long mem_mib;
    int vcpus;
    long tsc_khz; /* the host's TSC rate (kHz), told to the guest */
    int kvm;      /* 1: -accel kvm -cpu host; 0: TCG */
    int console;  /* the guest's console to our stderr (debugging) */
    int nic;      /* a restricted user-mode NIC (the egress allow-list) */
    int state_fd; /* >= 0: restore this saved VM (-incoming) */
    int qmp_fd;   /* >= 0: a QMP channel (template builds) */
};

#define SANDBOX_BWRAP_PATHS "/usr/bin/bwrap:/bin/bwrap:/usr/local/bin/bwrap"
#define SANDBOX_HOSTNAME "omni-sandbox"
#define SANDBOX_ARGV_MAX 512

/* the microVM: machine, TCG settings, kernel command line, the agent's port */
#define SANDBOX_VM_MACHINE "microvm,x-option-roms=off,rtc=on"
#define SANDBOX_VM_TCG "tcg,tb-size=64"
#define SANDBOX_VM_TCG_CPU "max"
/* + tsc_early_khz: under TCG the guest reads the host's TSC and microvm gives
 * it nothing to calibrate that against (no HPET, no PM timer, and the PIT
 * calibration mostly fails): without the rate the kernel may hang early.
 * tsc=reliable keeps the watchdog from dropping the TSC; cryptomgr.notests
 * skips the crypto self-tests (0.4 s emulated). */
#define SANDBOX_VM_CMDLINE "console=ttyS0 quiet panic=-1 reboot=t tsc=reliable cryptomgr.notests"
#define SANDBOX_VM_PORT "omni.exec"
/* the egress allow-list in a microVM: QEMU's user-mode network, restricted
 * (no route anywhere), with only the proxy's two ports forwarded */
#define SANDBOX_VM_NET "10.0.2.0/24"
#define SANDBOX_VM_GUEST_IP "10.0.2.15"
#define SANDBOX_VM_PROXY_IP "10.0.2.100"

struct sandbox_spec {
    enum sandbox_kind kind;
    const char *bwrap;                 /* bubblewrap binary (sandbox_find_bwrap) */
    const char *exec_bin;              /* omni-exec, absolute */
    const char *sessions_root;         /* the worker's --workdir (absolute): hidden */
    const char *session_dir;           /* this session's directory: bound read-write */
    const char *const *allowed_roots;  /* extra read-write directories (may be NULL) */
    const char *const *readonly_roots; /* extra read-only directories (may be NULL) */
    const char *const *masked;         /* files/dirs hidden in none mode (key files) */
    const char *const *pass_env;       /* names omni-exec passes to bash */
    int switch_uid;                    /* root: omni-exec drops to uid/gid */
    uid_t uid;
    gid_t gid;
    long long tmp_bytes; /* size of /tmp, /var/tmp, /dev/shm (0 = 64 MiB) */
    long pids_max;       /* microvm: the guest's process limit for the tools */
    long bash_default_timeout_ms, bash_max_timeout_ms, tool_timeout_ms;
    size_t max_file_bytes;
    int probe;                   /* omni-exec --probe: start, change uid, exit 0 */
    const struct sandbox_vm *vm; /* microvm only */
    const struct egress *egress; /* the session's egress proxy (egress.h), or NULL */
    const char *egress_hosts;    /* microvm: the guest's /etc/hosts with it */
};

struct egress;

/* "none" / "bwrap" / "microvm" and back. */
const char *sandbox_kind_name(enum sandbox_kind k);
int sandbox_kind_parse(const char *s, enum sandbox_kind *out);

/* The first executable bubblewrap of SANDBOX_BWRAP_PATHS, or NULL. */
const char *sandbox_find_bwrap(void);

/*
 * The full bwrap command line for spec (argv[0] = spec->bwrap), malloc'd,
 * NULL-terminated (sandbox_argv_free). NULL and err on a bad spec.
 */
char **sandbox_argv(const struct sandbox_spec *spec, struct omni_err *err);
void sandbox_argv_free(char **argv);

/*
 * Fork and exec the sandbox. In the child, before exec: join the cgroup
 * (write "0" to each of cg_fds), make chan_fd standard input and output
 * (microvm: standard input, QEMU's chardev; output to /dev/null; the saved
 * state on descriptor 4 and QMP on 5 when given), keep stderr, close every other descriptor, ask
 * for SIGKILL when the calling thread dies. env is the executor's whole environment (bubblewrap
 * passes it on). Returns the pid of bubblewrap, or -1 with err (errno kept).
 */
pid_t sandbox_spawn(const struct sandbox_spec *spec, int chan_fd, char *const env[],
                    const int *cg_fds, int n_cg_fds, struct omni_err *err);

/*
 * Start a sandbox with spec (spec->probe set) and wait for it to exit (at
 * most timeout_ms). 0 when it started and exited 0; -1 with err otherwise
 * (bubblewrap's own message goes to our stderr).
 */
int sandbox_probe(const struct sandbox_spec *spec, char *const env[], long timeout_ms,
                  struct omni_err *err);

#endif
