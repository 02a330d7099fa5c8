/*
 * vm — omni-exec as a microVM's guest agent (--guest). The guest's init
 * (scripts/microvm-image) starts it as root with nothing mounted but /proc,
 * /sys and /dev. It:
 *
 *   1. opens its virtio-serial port (named SANDBOX_VM_PORT) and says
 *      {"op":"boot"} (the host saves its template VM right after this);
 *   2. reads the host's {"op":"setup"} frame (microvm.h) and applies it as
 *      root: the clock, entropy, the host's /usr read-only and the session's
 *      directory over virtio-9p, size-capped /tmp, /var/tmp and /dev/shm, a
 *      process limit, the hostname and the environment;
 *   3. becomes the session's uid for good; the rest is omni-exec as in the
 *      other sandboxes (seccomp, Landlock, the executor protocol).
 *
 * Nothing secret is in the setup; the guest has no network device.
 */
#ifndef OMNI_GUEST_VM_H
#define OMNI_GUEST_VM_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../toolset.h"

#define GUEST_LIST_MAX 64

struct guest_conf {
    cJSON *setup; /* owns every string below */
    struct toolset_opts to;
    const char *allowed[GUEST_LIST_MAX + 1];
    const char *readonly[GUEST_LIST_MAX + 1];
    const char *pass_env[GUEST_LIST_MAX + 1];
    long uid, gid;
};

/* Open the agent's port (waiting, bounded, for its device). The fd, or -1
 * with why. */
int guest_open_port(char *why, size_t whylen);

/* Steps 1 and 2 on fd. 0, or -1 with why (the agent then exits: the VM
 * powers off). */
int guest_setup(int fd, struct guest_conf *g, char *why, size_t whylen);

void guest_conf_release(struct guest_conf *g);

#endif
