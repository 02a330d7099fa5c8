/*
 * executor — runner side of the tool executor (see executor.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_proto.h"
#include "executor.h"
#include "log.h"
#include "microvm.h"
#include "timeutil.h"
#include "tool_int.h"

#define EXECUTOR_KILL_WAIT_MS 5000L

/* One call sent to the executor, until executor_collect() hands its result over. */
struct xcall {
    int used;
    int done; /* res is final */
    double id;
    char tool[32];
    long limit_ms;
    int64_t deadline;
    int cancel_sent;
    struct tool_result res;
};

struct executor {
    struct executor_opts o;
    struct sandbox_vm vm;  /* microvm: o.spec.vm points here */
    pid_t pid;             /* bubblewrap; -1 when not running */
    int fd;                /* our end of the socketpair */
    double seq;            /* call ids */
    struct cg_events seen; /* cgroup counters already reported */
    struct buf frame;
    int starts;
    int ready; /* "ready" received from the current sandbox */
    int64_t spawned_ms;
    int64_t spawned_us;
    struct xcall calls[EXECUTOR_CALLS_MAX]; /* the calls sent and not yet collected */
    int ncalls;
};

void executor_fmt_bytes(long long n, char *out, size_t outlen)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    long long v = n;
    while (u < 4 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    snprintf(out, outlen, "%lld %s", v, units[u]);
}

/* Reap bubblewrap within ms; 1 reaped, 0 still running. */
static int executor_reap(struct executor *ex, long ms, int *status)
{
    int64_t end = omni_mono_ms() + ms;
    for (;;) {
        pid_t r = waitpid(ex->pid, status, WNOHANG);
        if (r == ex->pid || (r < 0 && errno == ECHILD))
            return 1;
        if (omni_mono_ms() >= end)
            return 0;
        omni_sleep_ms(10, NULL);
    }
}

/* End the sandbox now: the whole cgroup when there is one, else bubblewrap
 * (its PID namespace goes with it). */
static void executor_kill(struct executor *ex)
{
    int st;
    if (ex->fd >= 0) {
        close(ex->fd);
        ex->fd = -1;
    }
    if (ex->pid <= 0)
        return;
    if (ex->o.cg)
        cg_kill(ex->o.cg);
    kill(ex->pid, SIGKILL);
    if (!executor_reap(ex, EXECUTOR_KILL_WAIT_MS, &st))
        log_kv(LOG_ERROR, "sandbox did not end after SIGKILL", "session", ex->o.session_id, NULL);
    ex->pid = -1;
}

/* Limits the cgroup says were hit since the last look, as one line (or ""). */
static void executor_limit_note(struct executor *ex, char *out, size_t outlen, int *killed)
{
    struct cg_events now;
    char sz[32];
    out[0] = '\0';
    *killed = 0;
    if (!ex->o.cg || cg_events(ex->o.cg, &now) < 0)
        return;
    if (now.oom_kills > ex->seen.oom_kills) {
        executor_fmt_bytes(ex->o.limits.memory_max, sz, sizeof(sz));
        snprintf(out, outlen, "killed: memory limit %s", sz);
        *killed = 1;
    } else if (now.pids_max_hits > ex->seen.pids_max_hits) {
        snprintf(out, outlen, "process limit reached: %ld processes (a fork failed)",
                 ex->o.limits.pids_max);
    } else if (now.memory_max_hits > ex->seen.memory_max_hits && ex->o.limits.memory_max > 0) {
        executor_fmt_bytes(ex->o.limits.memory_max, sz, sizeof(sz));
        snprintf(out, outlen, "memory limit %s reached", sz);
    }
    ex->seen = now;
}

/* Fork the sandbox; "ready" is awaited by executor_ready(), so the start
 * overlaps whatever the runner does before its first call. */
static int executor_spawn(struct executor *ex, struct omni_err *err)
{
    int sv[2];
    const int *cgfds = NULL;
    int ncg = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return omni_err_set(err, OMNI_E_IO, "cannot start the sandbox: socketpair: %s",
                            strerror(errno));
    if (ex->o.cg)
        ncg = cg_join_fds(ex->o.cg, &cgfds);
    ex->spawned_ms = omni_mono_ms();
    ex->spawned_us = omni_mono_us();
    ex->vm.state_fd = -1;
    if (ex->o.spec.kind == SANDBOX_MICROVM && ex->o.vm_template) {
        /* a restore when the template is there; a cold boot otherwise */
        ex->vm.state_fd = open(ex->o.vm_template, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (ex->vm.state_fd < 0)
            log_kv(LOG_WARN, "microVM template unreadable; booting cold", "path", ex->o.vm_template,
                   "error", strerror(errno), NULL);
    }
    pid_t pid = sandbox_spawn(&ex->o.spec, sv[1], ex->o.env, cgfds, ncg, err);
    close(sv[1]);
    if (ex->vm.state_fd >= 0) {
        close(ex->vm.state_fd);
        ex->vm.state_fd = -1;
    }
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    if (ex->o.spec.kind == SANDBOX_MICROVM) {
        /* the guest agent's set-up (fresh clock and entropy for each VM, a
         * restored one included): it waits in the socket until the guest
         * opens its port */
        char *setup = microvm_setup_frame(&ex->o.spec, ex->o.env);
        int w = setup ? xp_write(sv[0], setup, strlen(setup), EXECUTOR_WRITE_TIMEOUT_MS) : -1;
        if (setup) {
            explicit_bzero(setup, strlen(setup));
            free(setup);
        }
        if (w < 0) {
            close(sv[0]);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return omni_err_set(err, OMNI_E_IO, "cannot start the microVM: set-up not sent");
        }
    }
    ex->pid = pid;
    ex->fd = sv[0];
    ex->ready = 0;
    ex->starts++;
    fcntl(ex->fd, F_SETFL, fcntl(ex->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* Wait for the executor's "ready" (bounded). */
static int executor_ready(struct executor *ex, struct omni_err *err)
{
    if (ex->ready)
        return 0;
    int64_t wait0 = omni_mono_us();
    long limit = ex->o.spec.kind == SANDBOX_MICROVM ? EXECUTOR_VM_READY_TIMEOUT_MS
                                                    : EXECUTOR_READY_TIMEOUT_MS;
    cJSON *m = NULL;
    const cJSON *op = NULL;
    int r;
    do { /* a microVM's agent says "boot" first (a restored one does not) */
        cJSON_Delete(m);
        int64_t left = ex->spawned_ms + limit - omni_mono_ms();
        r = xp_read(ex->fd, &ex->frame, left > 0 ? (int)left : 0, NULL);
        m = r > 0 ? cJSON_ParseWithLength(ex->frame.data, ex->frame.len) : NULL;
        op = cJSON_GetObjectItemCaseSensitive(m, "op");
    } while (cJSON_IsString(op) && strcmp(op->valuestring, "boot") == 0);
    if (!cJSON_IsString(op) || strcmp(op->valuestring, "ready") != 0) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
        char why[256];
        if (cJSON_IsString(e))
            snprintf(why, sizeof(why), "the executor could not start: %.200s", e->valuestring);
        else if (r < 0 && errno == ETIMEDOUT)
            snprintf(why, sizeof(why), "no answer within %lds", limit / 1000);
        else
            snprintf(why, sizeof(why), "it ended before it was ready (see the worker's log)");
        cJSON_Delete(m);
        executor_kill(ex);
        return omni_err_set(err, OMNI_E_IO, "cannot start the sandbox: %s", why);
    }
    cJSON_Delete(m);
    ex->ready = 1;
    if (ex->o.cg)
        cg_events(ex->o.cg, &ex->seen);
    /* setup: fork to "ready"; waited: how much of it the first call waited
     * for (the rest overlapped the runner's own start) */
    char us[32], waited[32];
    int64_t now = omni_mono_us();
    snprintf(us, sizeof(us), "%lld", (long long)(now - ex->spawned_us));
    snprintf(waited, sizeof(waited), "%lld", (long long)(now - wait0));
    log_kv(LOG_DEBUG, "sandbox ready", "session", ex->o.session_id, "sandbox",
           sandbox_kind_name(ex->o.spec.kind), "setup_us", us, "waited_us", waited, NULL);
    return 0;
}

static int executor_start(struct executor *ex, struct omni_err *err)
{
    return executor_spawn(ex, err) < 0 ? -1 : executor_ready(ex, err);
}

struct executor *executor_new(const struct executor_opts *o, struct omni_err *err)
{
    struct executor *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    ex->o = *o;
    if (o->spec.vm) {
        ex->vm = *o->spec.vm;
        ex->o.spec.vm = &ex->vm;
    }
    ex->pid = -1;
    ex->fd = -1;
    buf_init(&ex->frame, XP_FRAME_MAX);
    if (executor_spawn(ex, err) < 0) {
        buf_release(&ex->frame);
        free(ex);
        return NULL;
    }
    return ex;
}

void executor_free(struct executor *ex)
{
    int st;
    if (!ex)
        return;
    if (ex->fd >= 0) {
        close(ex->fd); /* the executor sees the end of its channel and exits */
        ex->fd = -1;
    }
    if (ex->pid > 0 && !executor_reap(ex, EXECUTOR_EXIT_WAIT_MS, &st))
        executor_kill(ex);
    ex->pid = -1;
    for (int i = 0; i < EXECUTOR_CALLS_MAX; i++)
        free(ex->calls[i].res.text);
    buf_release(&ex->frame);
    free(ex);
}

/* Send a request; 0 or -1. */
static int executor_send(struct executor *ex, const char *op, double id, const char *thread,
                         const char *tool, const cJSON *input)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "op", op);
    cJSON_AddNumberToObject(m, "id", id);
    if (thread)
        cJSON_AddStringToObject(m, "thread", thread);
    if (tool) {
        cJSON_AddStringToObject(m, "tool", tool);
        if (input)
            cJSON_AddItemReferenceToObject(m, "input", (cJSON *)input);
    }
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    int rc = s ? xp_write(ex->fd, s, strlen(s), EXECUTOR_WRITE_TIMEOUT_MS) : -1;
    free(s);
    return rc;
}

static void executor_fail(struct tool_result *out, const char *tool, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void executor_fail(struct tool_result *out, const char *tool, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    free(out->text);
    out->text = NULL;
    if (asprintf(&out->text, "%s: %s", tool, msg) < 0)
        out->text = NULL;
    out->is_error = 1;
}

/* Append the limit note to a result. */
static void executor_add_note(struct tool_result *out, const char *note, int killed)
{
    char *s = NULL;
    if (!note[0])
        return;
    if (asprintf(&s, "%s\n%s", out->text ? out->text : "", note) < 0)
        return;
    free(out->text);
    out->text = s;
    if (killed)
        out->is_error = 1;
}

/* The call a result frame answers, or NULL (a frame we did not ask for). */
static struct xcall *executor_call_by_id(struct executor *ex, const cJSON *id)
{
    if (!cJSON_IsNumber(id))
        return NULL;
    for (int i = 0; i < EXECUTOR_CALLS_MAX; i++)
        if (ex->calls[i].used && !ex->calls[i].done && ex->calls[i].id == id->valuedouble)
            return &ex->calls[i];
    return NULL;
}

/* The executor's answer in ex->frame, validated, into its call; 0, or -1
 * when malformed or not asked for. */
static int executor_take_result(struct executor *ex)
{
    cJSON *m = cJSON_ParseWithLength(ex->frame.data, ex->frame.len);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(m, "op");
    const cJSON *ie = cJSON_GetObjectItemCaseSensitive(m, "is_error");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(m, "text");
    struct xcall *c = executor_call_by_id(ex, cJSON_GetObjectItemCaseSensitive(m, "id"));
    int rc = -1;
    if (c && cJSON_IsString(op) && strcmp(op->valuestring, "result") == 0 && cJSON_IsBool(ie) &&
        cJSON_IsString(tx)) {
        size_t n = 0;
        /* the executor is untrusted (in a VM, its agent may be guest root's
         * code): valid UTF-8 and a size cap, again here (the post then fits
         * the result to the API's body limit, runner.c) */
        size_t tl = strlen(tx->valuestring);
        char *clean = utf8_clean(tx->valuestring, tl, &n);
        if (clean && n > EXECUTOR_RESULT_MAX) {
            size_t keep = EXECUTOR_RESULT_MAX;
            while (keep > 0 && ((unsigned char)clean[keep] & 0xC0) == 0x80)
                keep--;
            char *cut = NULL;
            if (asprintf(&cut, "%.*s\n[output cut at %zu bytes]", (int)keep, clean, keep) < 0)
                cut = NULL;
            free(clean);
            clean = cut;
            n = clean ? strlen(clean) : 0;
        }
        if (clean && n == 0) {
            free(clean);
            clean = strdup(TOOL_NO_OUTPUT);
        }
        if (clean) {
            c->res.text = clean;
            c->res.is_error = cJSON_IsTrue(ie);
            c->done = 1;
            rc = 0;
            /* The file tools run inside omni-exec: a limit they hit kills it
             * (handled as a death). bash's processes hit limits on their own:
             * look at the cgroup's counters after a bash call only (reading
             * them costs more than a no-op read). */
            if (strcmp(c->tool, "bash") == 0) {
                char note[160];
                int killed = 0;
                executor_limit_note(ex, note, sizeof(note), &killed);
                executor_add_note(&c->res, note, killed);
            }
        }
    }
    cJSON_Delete(m);
    return rc;
}

/*
 * The sandbox is gone, broke the protocol or let a call overrun: end it and
 * answer every call still open. `late` is the call that overran (NULL: the
 * executor ended or broke).
 */
static void executor_end_all(struct executor *ex, struct xcall *late)
{
    char note[160];
    int killed = 0;
    executor_limit_note(ex, note, sizeof(note), &killed);
    executor_kill(ex);
    if (late)
        log_kv(LOG_WARN, "tool executor did not answer in time; ending its sandbox", "session",
               ex->o.session_id, "tool", late->tool, NULL);
    else
        log_kv(LOG_WARN, "tool executor ended during a call", "session", ex->o.session_id,
               note[0] ? "limit" : NULL, note, NULL);
    for (int i = 0; i < EXECUTOR_CALLS_MAX; i++) {
        struct xcall *c = &ex->calls[i];
        if (!c->used || c->done)
            continue;
        if (c == late)
            executor_fail(&c->res, c->tool,
                          "timed out after %lds; the session's sandbox was restarted%s%s",
                          (c->limit_ms + 999) / 1000, note[0] ? "; " : "", note);
        else if (late)
            executor_fail(&c->res, c->tool,
                          "stopped: another call of this session (%s) did not answer in time "
                          "and the session's sandbox was restarted (the shells' state is lost)",
                          late->tool);
        else
            executor_fail(&c->res, c->tool,
                          "the tool executor ended unexpectedly%s%s%s; a new one starts on "
                          "the next call (the shell's state is lost)",
                          note[0] ? " (" : "", note, note[0] ? ")" : "");
        c->done = 1;
    }
}

int executor_begin(struct executor *ex, const char *thread, const char *tool, const cJSON *input,
                   struct tool_result *out)
{
    struct omni_err err = OMNI_ERR_INIT;
    long limit_ms =
        ex->o.spec.tool_timeout_ms > 0 ? ex->o.spec.tool_timeout_ms : TOOLSET_TOOL_TIMEOUT_MS;
    char name[32];
    struct xcall *c = NULL;
    int h;
    out->text = NULL;
    out->is_error = 0;
    snprintf(name, sizeof(name), "%s", tool ? tool : "");
    for (h = 0; h < EXECUTOR_CALLS_MAX; h++)
        if (!ex->calls[h].used) {
            c = &ex->calls[h];
            break;
        }
    if (!c) {
        executor_fail(out, name, "not run: too many calls of this session at once");
        return -1;
    }
    if ((ex->pid <= 0 ? executor_start(ex, &err) : executor_ready(ex, &err)) < 0) {
        log_kv(LOG_ERROR, "cannot start the sandbox", "session", ex->o.session_id, "error", err.msg,
               NULL);
        executor_fail(out, name, "the sandbox for this session could not start; try again");
        return -1;
    }
    memset(c, 0, sizeof(*c));
    c->used = 1;
    ex->ncalls++;
    snprintf(c->tool, sizeof(c->tool), "%s", name);
    c->id = ++ex->seq;
    c->limit_ms = limit_ms;
    c->deadline = omni_mono_ms() + limit_ms + EXECUTOR_GRACE_MS;
    if (executor_send(ex, "run", c->id, thread, c->tool, input) < 0) {
        executor_end_all(ex, NULL);
        return h;
    }
    /* Most calls (a read, an edit) answer within tens of microseconds: wait
     * for that briefly on the CPU rather than sleeping, since a sleep and a
     * wake-up cost more than the call here. Bounded by EXECUTOR_SPIN_US, and
     * only when it is the only call (others may answer first). */
    if (ex->ncalls == 1) {
        int64_t spin_end = omni_mono_us() + EXECUTOR_SPIN_US;
        struct pollfd p = {ex->fd, POLLIN, 0};
        while (poll(&p, 1, 0) == 0 && omni_mono_us() < spin_end)
            ;
    }
    return h;
}

int executor_fd(const struct executor *ex)
{
    return ex->fd;
}

/* Read every frame waiting on the channel into its call. */
static void executor_pump(struct executor *ex)
{
    for (;;) {
        if (ex->fd < 0)
            return;
        struct pollfd p = {ex->fd, POLLIN, 0};
        int pr = poll(&p, 1, 0);
        if (pr == 0 || (pr < 0 && errno == EINTR))
            return;
        if (pr < 0) {
            executor_end_all(ex, NULL);
            return;
        }
        int r = xp_read(ex->fd, &ex->frame, EXECUTOR_WRITE_TIMEOUT_MS, NULL);
        if (r <= 0 || executor_take_result(ex) < 0) {
            executor_end_all(ex, NULL); /* end of stream, or a frame we did not ask for */
            return;
        }
    }
}

int executor_collect(struct executor *ex, int h, int cancel, struct tool_result *out)
{
    struct xcall *c = h >= 0 && h < EXECUTOR_CALLS_MAX ? &ex->calls[h] : NULL;
    if (!c || !c->used)
        return 1;
    if (!c->done && cancel && !c->cancel_sent && ex->fd >= 0) {
        executor_send(ex, "cancel", c->id, NULL, NULL, NULL);
        c->cancel_sent = 1;
        c->deadline = omni_mono_ms() + EXECUTOR_GRACE_MS;
    }
    if (!c->done)
        executor_pump(ex);
    if (!c->done && omni_mono_ms() >= c->deadline)
        executor_end_all(ex, c);
    if (!c->done)
        return 0;
    free(out->text);
    *out = c->res;
    memset(c, 0, sizeof(*c));
    ex->ncalls--;
    return 1;
}

void executor_end_thread(struct executor *ex, const char *thread)
{
    if (ex->fd >= 0 && ex->ready && thread && executor_send(ex, "end", 0, thread, NULL, NULL) < 0)
        executor_end_all(ex, NULL);
}
