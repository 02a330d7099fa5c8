/*
 * child — subprocesses described by a struct, with start and finish.
 *
 * Caller steps:
 *   1. struct child c = CHILD_INIT; fill argv (NULL-terminated, absolute
 *      program path in argv[0]'s place: `path`), env (from child_env_build()),
 *      dir and the I/O choices.
 *   2. child_start(): forks and execs. With CHILD_IO_PIPE, c.in_fd / c.out_fd
 *      are the parent's ends (close-on-exec). stderr goes to the output pipe
 *      when merge_stderr is set, to a pipe of its own (c.err_fd) when
 *      err_pipe is set, else to /dev/null.
 *   3. Read / write the pipes, then child_finish(): closes the pipes that are
 *      still open, waits for the child and returns its wait status (as from
 *      waitpid), or -1 when it cannot be reaped.
 *
 * The child closes every inherited descriptor above 2 before exec, so it never
 * sees the worker's sockets or files. child_start() uses only async-signal-safe
 * calls between fork and exec, so it is safe in a multi-threaded program.
 *
 * The worker's main must not reap children it does not own (no waitpid(-1)),
 * or child_finish() loses the status.
 */
#ifndef OMNI_CHILD_H
#define OMNI_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

enum child_io {
    CHILD_IO_NULL = 0, /* /dev/null */
    CHILD_IO_PIPE,     /* a pipe to the parent */
    CHILD_IO_FD,       /* the descriptor in in_fd (stdin only); the parent keeps it */
};

struct child {
    const char *path;        /* program to exec, absolute (no PATH lookup) */
    const char *const *argv; /* argv, NULL-terminated; borrowed until child_start returns */
    char *const *env;        /* full environment; borrowed until child_start returns */
    const char *dir;         /* working directory, or NULL to keep the worker's */
    enum child_io in;        /* stdin: NULL, PIPE or FD */
    enum child_io out;       /* stdout: NULL or PIPE */
    int merge_stderr;        /* stderr to the same place as stdout */
    int new_session;         /* setsid() in the child (own session and process group) */
    pid_t pid;
    int in_fd;    /* parent's write end (PIPE) or the fd given (FD) */
    int out_fd;   /* parent's read end (PIPE) */
    int err_pipe; /* stderr to a pipe of its own (err_fd), not with merge_stderr */
    int err_fd;   /* parent's read end of the stderr pipe (err_pipe) */
};

#define CHILD_INIT                                                                                 \
    {                                                                                              \
        NULL, NULL, NULL, NULL, CHILD_IO_NULL, CHILD_IO_NULL, 0, 0, -1, -1, -1, 0, -1              \
    }

int child_start(struct child *c, struct omni_err *err);
/* Close remaining pipes, reap. Returns the wait status, -1 on failure. */
int child_finish(struct child *c);
/*
 * Non-blocking check: 1 and *status (a wait status) when the child has
 * exited, 0 while it runs, -1 on error. The child is not reaped (its pid
 * stays reserved); child_finish() reaps it.
 */
int child_poll(struct child *c, int *status);

/*
 * Build a scrubbed environment from an allowlist: PATH (the worker's, or a
 * default), HOME=home, LANG, LC_*, TZ, USER, LOGNAME, TERM=dumb, PS1=, PS2=,
 * then each name in pass_env that is set in the worker's environment. A name
 * that starts with ANTHROPIC_ (any letter case) is never passed, even when
 * listed. extra (may be NULL) is a NULL-terminated list of "NAME=value"
 * strings added last. Returns a malloc'd NULL-terminated array (child_env_free).
 */
char **child_env_build(const char *home, const char *const *pass_env, const char *const *extra);
void child_env_free(char **env);
/* 1 if name starts with ANTHROPIC_ in any letter case. */
int child_env_is_secret(const char *name);

#endif
