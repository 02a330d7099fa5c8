/*
 * harden — what omni-exec does to itself before it runs any tool, on top of
 * the sandbox bubblewrap made: a seccomp filter and a Landlock domain.
 */
#ifndef OMNI_GUEST_HARDEN_H
#define OMNI_GUEST_HARDEN_H

#include <stddef.h>

/*
 * seccomp (libseccomp), every other system call allowed:
 *   - add_key, request_key, keyctl: EPERM. Kernel keyrings belong to a uid,
 *     not to a sandbox: with a uid per slot they would carry data from one
 *     session to the next, and between sessions (as Docker's default
 *     profile, which denies them too);
 *   - bpf, perf_event_open, userfaultfd, io_uring_*: EPERM. Large parts of
 *     the kernel that tools have no use for and that kernel exploits favour
 *     (denied by default in Docker's profile or by distributions' sysctls);
 *   - unshare and clone with CLONE_NEWUSER: EPERM; clone3: ENOSYS (its flags
 *     cannot be inspected; the C library then uses clone). A new user
 *     namespace would hand the tool capabilities over its own namespaces
 *     and a large part of the kernel to attack.
 * Landlock (kernel >= 6.12, ABI 6), when the kernel has it: the process and
 * its descendants may neither connect to abstract unix sockets nor signal
 * processes outside the domain (the host's abstract sockets are reachable
 * where the sandbox shares the host's network).
 *
 * Returns 0, or -1 with a message in why when the seccomp filter could not
 * be installed (the caller refuses to run tools then). *notes gets what was
 * not available (Landlock scopes on an older kernel), "" otherwise.
 */
int harden_self(char *why, size_t whylen, char *notes, size_t noteslen);

#endif
