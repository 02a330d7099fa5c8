/*
 * harden — omni-exec's own seccomp filter and Landlock domain (harden.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "harden.h"

/* Landlock, from the kernel's UAPI (kept here: Debian 12's headers predate
 * the scopes). */
#define HARDEN_LL_CREATE_RULESET_VERSION (1U << 0)
#define HARDEN_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define HARDEN_LL_SCOPE_SIGNAL (1ULL << 1)
#define HARDEN_LL_ABI_SCOPES 6

struct harden_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

static int harden_seccomp(char *why, size_t whylen)
{
    static const int denied[] = {
        SCMP_SYS(add_key),
        SCMP_SYS(request_key),
        SCMP_SYS(keyctl),
        SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd),
        SCMP_SYS(io_uring_setup),
        SCMP_SYS(io_uring_enter),
        SCMP_SYS(io_uring_register),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ctx ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof(denied) / sizeof(denied[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (ctx)
        seccomp_release(ctx);
    if (rc < 0) {
        snprintf(why, whylen, "cannot install the seccomp filter: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

static void harden_landlock(char *notes, size_t noteslen)
{
    long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, HARDEN_LL_CREATE_RULESET_VERSION);
    if (abi < HARDEN_LL_ABI_SCOPES) {
        snprintf(notes, noteslen,
                 "Landlock scopes unavailable (kernel ABI %ld, need %d): "
                 "abstract unix sockets outside the sandbox stay reachable",
                 abi < 0 ? 0 : abi, HARDEN_LL_ABI_SCOPES);
        return;
    }
    struct harden_ll_ruleset_attr attr = {
        0, 0, HARDEN_LL_SCOPE_ABSTRACT_UNIX_SOCKET | HARDEN_LL_SCOPE_SIGNAL};
    int fd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (fd < 0 || syscall(__NR_landlock_restrict_self, fd, 0) < 0)
        snprintf(notes, noteslen, "Landlock scopes could not be applied: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

int harden_self(char *why, size_t whylen, char *notes, size_t noteslen)
{
    why[0] = '\0';
    notes[0] = '\0';
    /* both need it, and nothing the tools run may gain privileges */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(why, whylen, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    harden_landlock(notes, noteslen);
    return harden_seccomp(why, whylen);
}
