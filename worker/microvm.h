/*
 * microvm — the host side of `--sandbox microvm`: each session's tool
 * executor is the guest agent (omni-exec --guest) of a QEMU microVM with its
 * own kernel (sandbox.h builds QEMU's jail and command line).
 *
 *   microvm_host_setup()   once per worker: find QEMU, the guest's kernel and
 *                          initramfs (scripts/microvm-image builds them),
 *                          choose the accelerator (KVM when a bounded test
 *                          boot works, TCG otherwise, and say why), boot one
 *                          VM to its agent's "boot" and save it as the
 *                          template every session restores from (QEMU
 *                          migration to a file; cold boot is the fallback);
 *   microvm_setup_frame()  the first frame a VM's agent reads: its workdir,
 *                          shares, uid, limits, environment, and a fresh
 *                          clock and entropy (a restored VM would otherwise
 *                          share the template's clock and random state).
 *
 * The guest has no network device, no credential and no view of the host
 * but the host's /usr (read-only) and the session's own directory.
 */
#ifndef OMNI_MICROVM_H
#define OMNI_MICROVM_H

#include "err.h"
#include "sandbox.h"

struct wk_config;

#define MICROVM_QEMU_PATHS "/usr/bin/qemu-system-x86_64:/usr/local/bin/qemu-system-x86_64"
#define MICROVM_BOOT_TIMEOUT_MS 90000L /* the template's cold boot, emulated */
#define MICROVM_KVM_PROBE_MS 15000L    /* a KVM test boot; nested KVM may hang */
#define MICROVM_SAVE_TIMEOUT_MS 60000L
#define MICROVM_SEED_BYTES 64

/* Environment the poller hands its serve-item children: the accelerator it
 * chose and the template it saved (not secrets; children re-use both). */
#define MICROVM_ENV_ACCEL "OMNI_VM_ACCEL"
#define MICROVM_ENV_TEMPLATE "OMNI_VM_TEMPLATE"

enum microvm_accel { MICROVM_AUTO = 0, MICROVM_KVM, MICROVM_TCG };

int microvm_accel_parse(const char *s, int *out);

/* The agent's set-up frame for one VM of spec; malloc'd JSON, NULL when out
 * of memory. env: the executor's environment (it becomes the agent's). */
char *microvm_setup_frame(const struct sandbox_spec *s, char *const env[]);

/*
 * Once per process (confine_host_setup). announce = 0 (a serve-item child):
 * find the files and take the accelerator and template from the environment
 * the poller left. announce = 1: the probe boot, the template, the log lines.
 * -1 with err (OMNI_E_CONFIG) when no microVM can start here.
 */
int microvm_host_setup(struct wk_config *cfg, int announce, struct omni_err *err);

/* The end of the process that set up: remove its template. */
void microvm_host_cleanup(const struct wk_config *cfg);

#endif
