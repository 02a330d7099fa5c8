/*
 * executor — the session runner's side of the tool executor: starts omni-exec
 * in its sandbox (sandbox.h) inside the session's cgroup, sends it calls over
 * the executor protocol (exec_proto.h) — several at once when they belong to
 * different session threads — and turns what comes back, or does not, into
 * tool results.
 *
 *   executor_new()   start the sandbox; its "ready" is awaited (bounded) at
 *                    the first call, so the start overlaps the runner's own
 *                    first steps (event stream, history);
 *   executor_begin() a call, and executor_collect() its result: never
 *                    fails, every problem is an is_error result. A call
 *                    that outlives tool_timeout + a grace, or an executor
 *                    that dies, ends the sandbox (the whole cgroup) and every
 *                    call open in it; the next call starts a new one in the
 *                    same workdir. A limit the cgroup reports as hit is named
 *                    in the result ("killed: memory limit 2 GiB");
 *   executor_free()  end the channel, wait briefly, kill what is left.
 *
 * Not thread-safe: one caller (the runner's thread) at a time.
 */
#ifndef OMNI_EXECUTOR_H
#define OMNI_EXECUTOR_H

#include <cjson/cJSON.h>

#include "cgroup.h"
#include "err.h"
#include "sandbox.h"
#include "toolset.h"

#define EXECUTOR_READY_TIMEOUT_MS 15000L    /* sandbox start to "ready" */
#define EXECUTOR_VM_READY_TIMEOUT_MS 90000L /* microvm: a cold boot, emulated, on a busy host */
#define EXECUTOR_GRACE_MS 10000L            /* beyond tool_timeout before the kill */
#define EXECUTOR_EXIT_WAIT_MS 2000L         /* executor_free: clean exit before SIGKILL */
#define EXECUTOR_WRITE_TIMEOUT_MS 30000
#define EXECUTOR_TICK_MS 100               /* collect at least this often */
#define EXECUTOR_RESULT_MAX (1024u * 1024) /* a result's text, re-checked on the host */
#define EXECUTOR_SPIN_US 150               /* a call's first answer is awaited on the CPU */
#define EXECUTOR_CALLS_MAX 16              /* calls open at once (one per session thread) */

struct executor_opts {
    struct sandbox_spec spec; /* strings borrowed for the executor's life */
    char **env;               /* the executor's environment; borrowed */
    struct cg *cg;            /* the session's cgroup, or NULL; borrowed */
    struct cg_limits limits;  /* for the messages */
    const char *session_id;   /* for the logs */
    const char *vm_template;  /* microvm: a saved VM to restore, or NULL (cold boot) */
};

struct executor;

struct executor *executor_new(const struct executor_opts *o, struct omni_err *err);
/*
 * Calls, for a caller that waits on other things meanwhile and may have
 * several calls open (at most one per session thread, at most
 * EXECUTOR_CALLS_MAX): executor_begin() sends a call of session thread
 * `thread` (NULL: the primary thread; each thread has its own shell in the
 * executor) and returns its handle (>= 0), or sets *out and returns -1 when
 * the result is already known (no sandbox, too many calls). Then, whenever
 * executor_fd() is readable and at least every EXECUTOR_TICK_MS, call
 * executor_collect() for each open handle: 1 with *out set when that call is
 * over (its result, the executor's death, or the deadline; the handle is then
 * free), 0 while it runs. cancel: ask the executor to stop the call.
 */
int executor_begin(struct executor *ex, const char *thread, const char *tool, const cJSON *input,
                   struct tool_result *out);
int executor_fd(const struct executor *ex);
int executor_collect(struct executor *ex, int h, int cancel, struct tool_result *out);
/* A session thread ended: its shell and what it started end (after its call, if one runs). */
void executor_end_thread(struct executor *ex, const char *thread);
void executor_free(struct executor *ex);

/* "2 GiB", "512 MiB", "100 KiB", "12 bytes" for limits in messages. */
void executor_fmt_bytes(long long n, char *out, size_t outlen);

#endif
