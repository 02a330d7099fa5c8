/*
 * poller — the poll loop (protocol.md §9.1, §9.2) and how claimed items are
 * served: in-process (--concurrency 1), one supervised child process per
 * session (--concurrency N > 1: fork + exec of /proc/self/exe in the internal
 * `serve-item` mode, the slot number and the work item's text as claimed
 * over a socketpair — never the environment key, which stays in this
 * process), or an --on-work
 * script (§10.2), counted against --concurrency.
 *
 * Supervision: children run in their own process group. A child's exit
 * status is its item_outcome: 0 served, WK_CHILD_FAILED / WK_CHILD_POISON
 * (failed, teardown done), WK_CHILD_RELEASED (lease lost: leave the item
 * alone), WK_CHILD_NEEDS_STOP (force-stop it with the environment key); any
 * other exit or a signal is a crash, and the supervisor force-stops the item.
 * An --on-work script that exits WK_EXIT_RELEASED (omni-worker run's status
 * after a lost lease) is left alone too; otherwise its item gets a stop
 * (§10.2 step 9) with the item's sessions token, the key only as a fallback.
 * A failed fork (EAGAIN, ENOMEM: a full host) is retried with backoff, never
 * fatal: the item is left to be re-delivered when its lease expires. On SIGTERM/SIGINT the
 * supervisor stops claiming, sends one SIGTERM to each child group, waits up to --child-grace, then
 * SIGKILLs what is left and force-stops those items. A second signal skips
 * the grace.
 */
#include "worker.h"

#include "metrics.h"

#include "client.h"
#include "shutdown.h"

#include "confine.h"
#include "creds.h"
#include "envkey.h"
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WK_CHILD_FAILED 1
#define WK_CHILD_POISON 4
#define WK_CHILD_RELEASED WK_EXIT_RELEASED
#define WK_CHILD_NEEDS_STOP 6
#define POLLER_TICK_MS 100L
#define POLLER_SPAWN_TRIES 5         /* fork retries for one item (EAGAIN/ENOMEM) */
#define POLLER_SPAWN_BACKOFF_MS 200L /* doubled each try */
#define POLLER_PIPE_TIMEOUT_MS 5000
#define HANDOVER_HEADER_MAX (32 + OMNI_ID_MAX) /* "<slot> <environment id> <metrics fd>\n" */
/* /healthz: the loop turns at least this often (a poll, then the longest backoff) */
#define POLLER_LIVE_MS (WK_POLL_TIMEOUT_MS + WK_POLL_BACKOFF_CAP_MS + 30000L)

extern char **environ;

struct slot {
    pid_t pid; /* 0 = free */
    int on_work;
    char *secret; /* --on-work: the item's secret, for the stop (wiped) */
    char work_id[OMNI_ID_MAX];
    char session_id[OMNI_ID_MAX];
    int64_t started_ms;
};

struct poller {
    const struct wk_config *cfg;
    const char *env_key; /* the current key: main's, or own_key after a re-read */
    char *own_key;
    struct omni_client *pc, *ac; /* poll and ack clients (environment key) */
    struct slot *slots;
    int nslots, busy;
    char poison[WK_POISON_RING][OMNI_ID_MAX];
    int poison_next;
    long items;
    int fatal;         /* exit with this code (1 if not more precise) after draining */
    int spawn_backoff; /* a fork failed for want of resources: wait before polling */
    int term_sent;
    int64_t term_at;
    int kill_sent;
    char self_exe[4096]; /* our binary, resolved once (valgrind-safe) */
};

/* ---- poison ring ----------------------------------------------------------------- */

static void poison_add(struct poller *p, const char *id)
{
    wm_inc(WM_ITEM_POISON);
    snprintf(p->poison[p->poison_next], OMNI_ID_MAX, "%s", id);
    p->poison_next = (p->poison_next + 1) % WK_POISON_RING;
}

static int poison_has(const struct poller *p, const char *id)
{
    for (int i = 0; i < WK_POISON_RING; i++)
        if (p->poison[i][0] && strcmp(p->poison[i], id) == 0)
            return 1;
    return 0;
}

/* ---- pipes and spawning -------------------------------------------------------------- */

/* Write everything within a deadline; returns 0 or -1. */
static int write_all(int fd, const char *data, size_t len, int timeout_ms)
{
    int64_t end = omni_mono_ms() + timeout_ms;
    while (len) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        int64_t left = end - omni_mono_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return -1;
        ssize_t n = write(fd, data, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Build "NAME=value" in a malloc'd string. */
static char *env_pair(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", name, value);
    return s;
}

/*
 * Fork and exec. stdin is one end of a socketpair (ours returned in *in_fd,
 * non-blocking): unlike a pipe, a socket cannot be opened again through
 * /proc/PID/fd/0 by anything that can see the new process. stdout goes to our
 * stderr. Exec failure is reported through a close-on-exec pipe: returns -1
 * with errno set then. Only async-signal-safe calls run between fork and
 * exec.
 */
static pid_t spawn(const char *path, char *const argv[], char *const envp[], int use_path,
                   int keep_fd, int *in_fd)
{
    int inp[2], errp[2], e = 0;
    pid_t pid;
    ssize_t n;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) < 0)
        return -1;
    if (pipe2(errp, O_CLOEXEC) < 0) {
        e = errno;
        close(inp[0]);
        close(inp[1]);
        errno = e;
        return -1;
    }
    pid_t parent = getpid();
    pid = fork();
    if (pid < 0) {
        e = errno;
        close(inp[0]);
        close(inp[1]);
        close(errp[0]);
        close(errp[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        struct sigaction sa;
        /* a poller killed outright takes its children along: SIGHUP makes a
         * session child (or `omni-worker run`) stop at once, cancelling its
         * call, ending its sandbox and removing its files; nothing serves on
         * unsupervised */
        if (prctl(PR_SET_PDEATHSIG, SIGHUP, 0, 0, 0) < 0 || getppid() != parent)
            _exit(127);
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGPIPE, &sa, NULL);
        setpgid(0, 0);
        if (dup2(inp[0], 0) < 0 || dup2(2, 1) < 0)
            goto fail;
        /* the metrics block (serve-item only): the child maps it, then closes it */
        if (keep_fd > 2 && fcntl(keep_fd, F_SETFD, 0) < 0)
            goto fail;
        /* the reading end only: the child never writes to us */
        shutdown(0, SHUT_WR);
        if (use_path)
            execvpe(path, argv, envp);
        else
            execve(path, argv, envp);
    fail:
        e = errno;
        n = write(errp[1], &e, sizeof e);
        (void)n;
        _exit(127);
    }
    close(inp[0]);
    close(errp[1]);
    n = read(errp[0], &e, sizeof e);
    close(errp[0]);
    if (n == (ssize_t)sizeof e) {
        close(inp[1]);
        waitpid(pid, NULL, 0);
        errno = e;
        return -1;
    }
    fcntl(inp[1], F_SETFL, fcntl(inp[1], F_GETFL) | O_NONBLOCK);
    *in_fd = inp[1];
    return pid;
}

/* A serve-item child: argv = omni-worker serve-item <our options>; over the
 * socket, one header line "<slot> <environment id>" and then the work item
 * exactly as claimed (its raw text, secret inside: parsed once, by the
 * child). No environment key. */
static pid_t spawn_serve_child(struct poller *p, const struct omni_work *w, int slot)
{
    const struct wk_config *cfg = p->cfg;
    char **argv = calloc((size_t)cfg->child_argc + 3, sizeof *argv);
    char hdr[HANDOVER_HEADER_MAX];
    pid_t pid = -1;
    int in_fd = -1, hl;

    if (!argv)
        return -1;
    argv[0] = (char *)WK_PROG;
    argv[1] = (char *)"serve-item";
    for (int i = 0; i < cfg->child_argc; i++)
        argv[i + 2] = cfg->child_argv[i];
    pid = spawn(p->self_exe, argv, environ, 0, wm_fd(), &in_fd);
    int e = errno;
    free(argv);
    if (pid < 0) {
        errno = e;
        return -1;
    }
    hl = snprintf(hdr, sizeof hdr, "%d %s %d\n", slot, cfg->environment_id, wm_fd());
    if (!w->raw || hl < 0 || (size_t)hl >= sizeof hdr ||
        write_all(in_fd, hdr, (size_t)hl, POLLER_PIPE_TIMEOUT_MS) < 0 ||
        write_all(in_fd, w->raw, strlen(w->raw), POLLER_PIPE_TIMEOUT_MS) < 0)
        log_kv(LOG_ERROR, "cannot hand the item to its child process", "work", w->id, NULL);
    close(in_fd);
    return pid;
}

/* An --on-work script (protocol.md §10.2). Returns pid, or -1 (errno set). */
static pid_t spawn_on_work(struct poller *p, const struct omni_work *w, int slot)
{
    size_t n = 0;
    char **envp;
    char *argv[2];
    char slotv[16];
    pid_t pid;
    int in_fd = -1, e;
    static const char *const ours[] = {
        "ANTHROPIC_WORK_ID=",         "ANTHROPIC_ENVIRONMENT_ID=", "ANTHROPIC_SESSION_ID=",
        "ANTHROPIC_ENVIRONMENT_KEY=", "OMNI_WORKER_SLOT=",         "OMNI_WORKER_BIN=",
        "ANTHROPIC_WORKSPACE_ID="};

    for (char **e2 = environ; e2 && *e2; e2++)
        n++;
    envp = calloc(n + 8, sizeof *envp);
    if (!envp)
        return -1;
    size_t k = 0;
    for (char **e2 = environ; e2 && *e2; e2++) {
        int skip = 0;
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (strncmp(*e2, ours[i], strlen(ours[i])) == 0)
                skip = 1;
        /* an operator's OMNI_WORKER_BIN wins over ours */
        if (skip && strncmp(*e2, "OMNI_WORKER_BIN=", 16) == 0)
            skip = 0;
        if (!skip)
            envp[k++] = *e2;
    }
    size_t own = k;
    snprintf(slotv, sizeof slotv, "%d", slot);
    envp[k++] = env_pair("ANTHROPIC_WORK_ID", w->id);
    envp[k++] = env_pair("ANTHROPIC_ENVIRONMENT_ID",
                         w->environment_id[0] ? w->environment_id : p->cfg->environment_id);
    envp[k++] = env_pair("ANTHROPIC_SESSION_ID", w->data_id);
    envp[k++] = env_pair("ANTHROPIC_ENVIRONMENT_KEY", p->env_key);
    envp[k++] = env_pair("OMNI_WORKER_SLOT", slotv);
    /* the script's `omni-worker run` works in the poller's workspace */
    if (p->cfg->workspace_id)
        envp[k++] = env_pair("ANTHROPIC_WORKSPACE_ID", p->cfg->workspace_id);
    if (!getenv("OMNI_WORKER_BIN"))
        envp[k++] = env_pair("OMNI_WORKER_BIN", p->self_exe);
    envp[k] = NULL;
    argv[0] = (char *)p->cfg->on_work;
    argv[1] = NULL;
    pid = -1;
    int complete = 1;
    for (size_t i = own; i < k; i++)
        if (!envp[i])
            complete = 0;
    errno = ENOMEM;
    if (complete)
        pid = spawn(p->cfg->on_work, argv, envp, strchr(p->cfg->on_work, '/') == NULL, -1, &in_fd);
    e = errno;
    for (size_t i = own; i < k; i++) {
        if (envp[i]) {
            explicit_bzero(envp[i], strlen(envp[i]));
            free(envp[i]);
        }
    }
    free(envp);
    if (pid < 0) {
        errno = e;
        return -1;
    }
    if (w->raw && write_all(in_fd, w->raw, strlen(w->raw), POLLER_PIPE_TIMEOUT_MS) < 0)
        log_kv(LOG_WARN, "could not write the work item to the --on-work script's stdin", "work",
               w->id, NULL);
    close(in_fd);
    return pid;
}

/* ---- supervision -------------------------------------------------------------------- */

/* Stop an item an --on-work script served: with its sessions token when the
 * secret has one, else (and when the token is refused) the environment key. */
static void on_work_stop(struct poller *p, struct slot *s, int force)
{
    const struct wk_config *cfg = p->cfg;
    struct omni_err err = OMNI_ERR_INIT;
    char *token = NULL, *base = NULL;
    if (s->secret && omni_secret_decode(s->secret, &token, &base, &err) < 0)
        token = NULL;
    free(base); /* the stop goes to the configured API, never to the secret's URL */
    if (!token || item_stop(cfg, cfg->base_url, token, cfg->environment_id, s->work_id, force) < 0)
        item_stop(cfg, cfg->base_url, p->env_key, cfg->environment_id, s->work_id, force);
    omni_key_free(token);
}

static void slot_done(struct poller *p, struct slot *s, int status)
{
    char code[32];

    if (WIFSIGNALED(status))
        snprintf(code, sizeof code, "signal %d", WTERMSIG(status));
    else
        snprintf(code, sizeof code, "exit %d", WEXITSTATUS(status));
    int ec = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (s->on_work) {
        log_kv(LOG_INFO, "--on-work script finished", "work", s->work_id, "session", s->session_id,
               "status", code, NULL);
        /* (the script's own `omni-worker run` has no metrics block: count here) */
        wm_inc(ec == 0                  ? WM_SESS_COMPLETED
               : ec == WK_EXIT_RELEASED ? WM_SESS_RELEASED
                                        : WM_SESS_FAILED);
        if (ec == WK_EXIT_RELEASED) {
            /* §9.3 over §10.2: the lease is gone, the item is someone else's */
            log_kv(LOG_WARN, "--on-work script lost the lease; leaving the item alone", "work",
                   s->work_id, NULL);
        } else {
            if (ec != 0)
                log_kv(LOG_WARN, "--on-work script exited with an error", "work", s->work_id,
                       "status", code, NULL);
            /* §10.2 step 9: a non-force stop after the script returns (409
             * ignored); a forced one when we are shutting down or it was killed. */
            on_work_stop(p, s, wk_shutdown_requested() || WIFSIGNALED(status));
        }
    } else if (ec == 0 || ec == WK_CHILD_FAILED || ec == WK_CHILD_RELEASED) {
        log_kv(LOG_DEBUG, "session child finished", "work", s->work_id, "status", code, NULL);
    } else if (ec == WK_CHILD_POISON) {
        poison_add(p, s->work_id);
    } else if (ec == WK_CHILD_NEEDS_STOP) {
        item_stop(p->cfg, p->cfg->base_url, p->env_key, p->cfg->environment_id, s->work_id, 1);
    } else {
        wm_inc(WM_SESS_FAILED); /* (what it counted before it died is kept) */
        log_kv(LOG_ERROR, "session child crashed; force-stopping its item", "work", s->work_id,
               "session", s->session_id, "status", code, NULL);
        item_stop(p->cfg, p->cfg->base_url, p->env_key, p->cfg->environment_id, s->work_id, 1);
    }
    if (s->secret) {
        explicit_bzero(s->secret, strlen(s->secret));
        free(s->secret);
        s->secret = NULL;
    }
    wm_slot_end((int)(s - p->slots));
    s->pid = 0;
    p->busy--;
}

static void reap(struct poller *p)
{
    for (int i = 0; i < p->nslots; i++) {
        int st;
        if (!p->slots[i].pid)
            continue;
        pid_t r = waitpid(p->slots[i].pid, &st, WNOHANG);
        if (r == p->slots[i].pid)
            slot_done(p, &p->slots[i], st);
    }
}

static void signal_children(struct poller *p, int sig)
{
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].pid)
            kill(-p->slots[i].pid, sig);
}

/* Shutdown / end: wait for every child, SIGTERM once, SIGKILL after the grace. */
static void drain_children(struct poller *p)
{
    while (p->busy) {
        wm_turn();
        reap(p);
        if (!p->busy)
            break;
        if (wk_shutdown_requested() && !p->term_sent) {
            log_info("shutting down: asking %d child process(es) to drain", p->busy);
            signal_children(p, SIGTERM);
            p->term_sent = 1;
            p->term_at = omni_mono_ms();
        }
        if (p->term_sent && !p->kill_sent &&
            (wk_hard_stop_requested() || omni_mono_ms() - p->term_at >= p->cfg->child_grace_ms)) {
            log_warn("killing %d child process(es) that did not exit in time", p->busy);
            signal_children(p, SIGKILL);
            p->kill_sent = 1;
        }
        omni_sleep_ms(POLLER_TICK_MS, NULL);
    }
}

static struct slot *slot_free(struct poller *p)
{
    for (int i = 0; i < p->nslots; i++)
        if (!p->slots[i].pid)
            return &p->slots[i];
    return NULL;
}

/* ---- one claimed item ------------------------------------------------------------------ */

/*
 * Start the item's child (serve-item or the --on-work script). A fork that
 * fails for want of resources is retried with backoff. Returns the pid, or
 * -1 with errno.
 */
static pid_t dispatch_spawn(struct poller *p, const struct omni_work *w, int slot)
{
    long delay = POLLER_SPAWN_BACKOFF_MS;
    for (int i = 0;; i++) {
        pid_t pid = p->cfg->on_work ? spawn_on_work(p, w, slot) : spawn_serve_child(p, w, slot);
        int e = errno;
        if (pid >= 0 || (e != EAGAIN && e != ENOMEM) || i + 1 >= POLLER_SPAWN_TRIES ||
            wk_shutdown_requested()) {
            errno = e;
            return pid;
        }
        log_kv(LOG_WARN, "cannot start a process for the item; retrying", "work", w->id, "error",
               strerror(e), NULL);
        omni_sleep_ms(delay, wk_shutdown_flag());
        delay *= 2;
    }
}

/* Returns -1 when the poller must stop (an --on-work script that cannot exist). */
static int dispatch(struct poller *p, const struct omni_work *w)
{
    const struct wk_config *cfg = p->cfg;
    struct slot *s;
    pid_t pid;

    if (cfg->on_work && strcmp(w->data_type, "session") != 0) {
        log_kv(LOG_WARN, "non-session work item; --on-work script not run", "work", w->id, "type",
               w->data_type, NULL);
        item_stop(cfg, cfg->base_url, p->env_key, cfg->environment_id, w->id, 0);
        return 0;
    }
    if (!cfg->on_work && cfg->concurrency == 1) {
        enum item_outcome o;
        wm_slot_begin(0, w->id, w->data_id);
        o = item_serve(cfg, w, NULL);
        wm_slot_end(0);
        switch (o) {
        case ITEM_POISON:
            poison_add(p, w->id);
            break;
        case ITEM_NEEDS_STOP:
            item_stop(cfg, cfg->base_url, p->env_key, cfg->environment_id, w->id, 1);
            break;
        default:
            break;
        }
        return 0;
    }
    s = slot_free(p);
    if (!s)
        return 0; /* cannot happen: the loop polls only with a free slot */
    wm_slot_begin((int)(s - p->slots), w->id, w->data_id);
    pid = dispatch_spawn(p, w, (int)(s - p->slots));
    if (pid < 0) {
        int e = errno;
        wm_slot_end((int)(s - p->slots));
        if (e == EAGAIN || e == ENOMEM) {
            /* the host is full for now: the item comes back when its lease expires */
            log_kv(LOG_ERROR, "cannot start a process for the item; leaving it to be re-delivered",
                   "work", w->id, "error", strerror(e), NULL);
            p->spawn_backoff = 1;
            return 0;
        }
        if (cfg->on_work) {
            log_kv(LOG_ERROR, "cannot run the --on-work script; stopping the worker", "script",
                   cfg->on_work, "error", strerror(e), NULL);
            item_stop(cfg, cfg->base_url, p->env_key, cfg->environment_id, w->id, 0);
            return -1;
        }
        log_kv(LOG_ERROR, "cannot start a session child process", "work", w->id, "error",
               strerror(e), NULL);
        wm_inc(WM_SESS_FAILED);
        item_stop(cfg, cfg->base_url, p->env_key, cfg->environment_id, w->id, 1);
        return 0;
    }
    s->pid = pid;
    s->on_work = cfg->on_work != NULL;
    s->secret = s->on_work && w->secret ? strdup(w->secret) : NULL;
    snprintf(s->work_id, sizeof s->work_id, "%s", w->id);
    snprintf(s->session_id, sizeof s->session_id, "%s", w->data_id);
    s->started_ms = omni_mono_ms();
    p->busy++;
    return 0;
}

/* ---- the poll loop ------------------------------------------------------------------------- */

static long idle_sleep_ms(const struct wk_config *cfg)
{
    return cfg->poll_idle_min_ms +
           (long)(omni_random() * (double)(cfg->poll_idle_max_ms - cfg->poll_idle_min_ms));
}

/*
 * Re-read the environment key file (SIGHUP, or a poll refused with 401/403)
 * and poll with the new key from now on. Sessions in flight are not touched:
 * they run on their own sessions tokens. Returns 1 when the key changed, 0
 * when it is the same, -1 when there is no file or it cannot be used (the
 * current key stays).
 */
static int poller_reload_key(struct poller *p, const char *why)
{
    const struct wk_config *cfg = p->cfg;
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *pc, *ac;
    char *k;

    if (!cfg->env_key_file) {
        log_kv(LOG_WARN,
               "cannot re-read the environment key: it came from "
               "ANTHROPIC_ENVIRONMENT_KEY, not --environment-key-file",
               "reason", why, NULL);
        return -1;
    }
    k = wk_env_key_read(cfg->env_key_file, &err);
    if (!k) {
        log_kv(LOG_ERROR, "cannot re-read the environment key file; keeping the current key",
               "reason", why, "error", err.msg, NULL);
        return -1;
    }
    if (strcmp(k, p->env_key) == 0) {
        log_kv(LOG_INFO, "environment key file re-read: the key is unchanged", "reason", why, NULL);
        omni_key_free(k);
        return 0;
    }
    pc = wk_client_new(cfg, cfg->base_url, k, WK_POLL_TIMEOUT_MS, 0, &err);
    ac = pc ? wk_client_new(cfg, cfg->base_url, k, WK_CALL_TIMEOUT_MS, 0, &err) : NULL;
    if (!ac) {
        log_kv(LOG_ERROR, "cannot use the new environment key; keeping the current key", "error",
               err.msg[0] ? err.msg : "out of memory", NULL);
        omni_client_free(pc);
        omni_key_free(k);
        return -1;
    }
    omni_client_free(p->pc);
    omni_client_free(p->ac);
    p->pc = pc;
    p->ac = ac;
    omni_key_free(p->own_key);
    p->own_key = k;
    p->env_key = k;
    log_kv(LOG_INFO, "environment key re-read: polling with the new key", "reason", why, "file",
           cfg->env_key_file, NULL);
    return 1;
}

/*
 * Acknowledge the item a poll returned at got_at, retrying a transient failure
 * on the same item (backoff from WK_ACK_BACKOFF_BASE_MS to _CAP_MS, each delay
 * times a random factor in (0.75, 1]) until WK_ACK_WINDOW_MS after got_at,
 * when the server may hand it to another poll, so a claimed item is not left
 * pending while this worker polls for another. Stops at once on a fatal 4xx
 * (a 404 or 409 included: the item is gone or no longer queued) and on
 * shutdown. 0 when acked, else -1 with err from the last attempt.
 */
static int poller_ack(struct poller *p, const char *work_id, int64_t got_at, struct omni_err *err)
{
    char n[16];

    for (int attempt = 0;; attempt++) {
        int64_t left = got_at + WK_ACK_WINDOW_MS - omni_mono_ms();
        long timeout = left < WK_ACK_MIN_TIMEOUT_MS         ? WK_ACK_MIN_TIMEOUT_MS
                       : left > (int64_t)WK_CALL_TIMEOUT_MS ? WK_CALL_TIMEOUT_MS
                                                            : (long)left;

        omni_err_clear(err);
        if (omni_work_ack_once(p->ac, p->cfg->environment_id, work_id, timeout, err) == 0) {
            if (attempt > 0) {
                snprintf(n, sizeof n, "%d", attempt);
                log_kv(LOG_INFO, "ack succeeded on a retry", "work", work_id, "retries", n, NULL);
            }
            return 0;
        }
        wm_http_error(err);
        if (omni_err_is_fatal(err) || (err->kind == OMNI_E_HTTP && err->status == 409) ||
            wk_shutdown_requested())
            return -1;
        long d = omni_backoff_ms(attempt, WK_ACK_BACKOFF_BASE_MS, WK_ACK_BACKOFF_CAP_MS);
        if (omni_mono_ms() + d >= got_at + WK_ACK_WINDOW_MS)
            return -1;
        snprintf(n, sizeof n, "%ld", d);
        log_kv(LOG_WARN, "ack failed; retrying the same item", "work", work_id, "error", err->msg,
               "retry_in_ms", n, NULL);
        omni_sleep_ms(d, wk_shutdown_flag());
        if (wk_shutdown_requested())
            return -1; /* unacked: it goes back to the queue */
    }
}

int poller_run(const struct wk_config *cfg, const char *env_key)
{
    struct poller p;
    struct omni_err err = OMNI_ERR_INIT;
    int failures = 0, first_empty = 1, rc = WK_EXIT_OK, reread_on_401 = 1;
    int64_t last_idle_log = 0;
    char conc[16];

    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.env_key = env_key;
    p.nslots = cfg->concurrency;
    {
        ssize_t n = readlink("/proc/self/exe", p.self_exe, sizeof p.self_exe - 1);
        if (n <= 0 || (size_t)n >= sizeof p.self_exe - 1)
            snprintf(p.self_exe, sizeof p.self_exe, "/proc/self/exe");
        else
            p.self_exe[n] = '\0';
    }
    p.slots = calloc((size_t)p.nslots, sizeof *p.slots);
    wm_create(p.nslots);
    {
        struct wm_view v = {.version = OMNI_VERSION,
                            .stuck_call_ms = cfg->stuck_call_ms,
                            .live_ms = POLLER_LIVE_MS};
        if (wm_serve_start(cfg->metrics_listen, &v, &err) < 0) {
            log_error("%s", err.msg);
            free(p.slots);
            return WK_EXIT_RUNTIME;
        }
    }
    wm_turn();
    p.pc = wk_client_new(cfg, cfg->base_url, env_key, WK_POLL_TIMEOUT_MS, 0, &err);
    p.ac = p.pc ? wk_client_new(cfg, cfg->base_url, env_key, WK_CALL_TIMEOUT_MS, 0, &err) : NULL;
    if (!p.slots || !p.pc || !p.ac) {
        log_error("cannot set up the poller: %s", err.msg[0] ? err.msg : "out of memory");
        omni_client_free(p.pc);
        omni_client_free(p.ac);
        free(p.slots);
        wm_serve_stop();
        return WK_EXIT_RUNTIME;
    }
    confine_sweep(cfg); /* tmpfs session directories a dead worker left */
    snprintf(conc, sizeof conc, "%d", cfg->concurrency);
    log_kv(LOG_INFO, "polling for work", "environment", cfg->environment_id, "worker_id",
           cfg->worker_id, "concurrency", conc, "mode",
           cfg->on_work           ? "on-work"
           : cfg->concurrency > 1 ? "child per session"
                                  : "in-process",
           NULL);

    while (!wk_shutdown_requested()) {
        struct omni_work w;
        int got = 0;

        wm_turn();
        reap(&p);
        if (wk_reload_take())
            poller_reload_key(&p, "SIGHUP");
        if (cfg->max_items && p.items >= cfg->max_items) {
            if (!p.busy)
                break;
            omni_sleep_ms(POLLER_TICK_MS, wk_shutdown_flag());
            continue;
        }
        if (p.busy >= p.nslots) {
            omni_sleep_ms(POLLER_TICK_MS, wk_shutdown_flag());
            continue;
        }
        omni_err_clear(&err);
        if (omni_work_poll(p.pc, cfg->environment_id, OMNI_POLL_BLOCK_MS, 0, cfg->worker_id,
                           wk_shutdown_flag(), &w, &got, &err) < 0) {
            if (wk_shutdown_requested())
                break;
            wm_inc(WM_POLL_ERROR);
            wm_http_error(&err);
            if (err.kind == OMNI_E_HTTP && (err.status == 401 || err.status == 403) &&
                reread_on_401) {
                /* a rotated key whose reload was missed: re-read the file once */
                reread_on_401 = 0;
                log_kv(LOG_WARN, "poll refused; re-reading the environment key file", "error",
                       err.msg, NULL);
                if (poller_reload_key(&p, "poll refused") > 0)
                    continue;
            }
            if (omni_err_is_fatal(&err)) {
                log_kv(LOG_ERROR, "poll refused; stopping the worker", "error", err.msg, NULL);
                p.fatal = omni_exit_code(&err) ? omni_exit_code(&err) : 1; /* 401/403: 3, 404: 4 */
                break;
            }
            long d = omni_backoff_ms(failures, WK_POLL_BACKOFF_BASE_MS, WK_POLL_BACKOFF_CAP_MS);
            failures++;
            log_kv(LOG_WARN, "poll failed; backing off", "error", err.msg, NULL);
            omni_sleep_ms(d, wk_shutdown_flag());
            continue;
        }
        failures = 0;
        reread_on_401 = 1;
        wm_poll_done(got);
        int64_t got_at = omni_mono_ms();
        if (!got) {
            int64_t now = omni_mono_ms();
            if (first_empty || now - last_idle_log >= 300000) {
                log_info("no work; waiting");
                first_empty = 0;
                last_idle_log = now;
            }
            omni_sleep_ms(idle_sleep_ms(cfg), wk_shutdown_flag());
            continue;
        }
        first_empty = 1;
        wm_inc(WM_ITEM_CLAIMED);
        log_kv(LOG_INFO, "claimed work", "work", w.id, "session", w.data_id, "type",
               w.data_type[0] ? w.data_type : "unknown", NULL);
        if (poison_has(&p, w.id)) {
            log_kv(LOG_WARN, "work item failed permanently before; force-stopping it again", "work",
                   w.id, NULL);
            item_stop(cfg, cfg->base_url, p.env_key, cfg->environment_id, w.id, 1);
            omni_work_release(&w);
            continue;
        }
        if (poller_ack(&p, w.id, got_at, &err) < 0) {
            if (err.kind == OMNI_E_HTTP && (err.status == 409 || err.status == 404)) {
                log_kv(LOG_WARN,
                       "ack conflict: the item is no longer ours to acknowledge (taken or "
                       "stopped); moving on",
                       "work", w.id, "error", err.msg, NULL);
            } else if (omni_err_is_fatal(&err)) {
                log_kv(LOG_ERROR, "ack refused; force-stopping the item", "work", w.id, "error",
                       err.msg, NULL);
                item_stop(cfg, cfg->base_url, p.env_key, cfg->environment_id, w.id, 1);
                poison_add(&p, w.id);
            } else if (!wk_shutdown_requested()) {
                long d = omni_backoff_ms(failures, WK_POLL_BACKOFF_BASE_MS, WK_POLL_BACKOFF_CAP_MS);
                failures++;
                log_kv(LOG_WARN,
                       "ack failed until the item's claim timed out; skipping it (it will be "
                       "re-delivered)",
                       "work", w.id, "error", err.msg, NULL);
                omni_sleep_ms(d, wk_shutdown_flag());
            }
            omni_work_release(&w);
            continue;
        }
        wm_inc(WM_ITEM_ACKED);
        p.items++;
        if (dispatch(&p, &w) < 0) {
            omni_work_release(&w);
            p.fatal = 1;
            break;
        }
        omni_work_release(&w);
        if (p.spawn_backoff) {
            p.spawn_backoff = 0;
            omni_sleep_ms(
                omni_backoff_ms(failures++, WK_POLL_BACKOFF_BASE_MS, WK_POLL_BACKOFF_CAP_MS),
                wk_shutdown_flag());
        }
    }

    if (wk_shutdown_requested())
        log_info("shutting down: no new claims");
    drain_children(&p);
    confine_sweep(cfg);
    omni_client_free(p.pc);
    omni_client_free(p.ac);
    omni_key_free(p.own_key);
    free(p.slots);
    wm_serve_stop();
    if (p.fatal)
        rc = p.fatal > WK_EXIT_RUNTIME ? p.fatal : WK_EXIT_RUNTIME;
    log_info("worker stopped");
    return rc;
}

/* ---- the child side ------------------------------------------------------------------------ */

/* The hand-over header "<slot> <environment id>\n" at the start of data:
 * fills cfg, returns the header's length, or -1. */
static long handover_header(const char *data, size_t len, struct wk_config *cfg)
{
    const char *nl = memchr(data, '\n', len < HANDOVER_HEADER_MAX ? len : HANDOVER_HEADER_MAX);
    const char *sp;
    char *end;
    long slot;

    if (!nl || !(sp = memchr(data, ' ', (size_t)(nl - data))))
        return -1;
    errno = 0;
    slot = strtol(data, &end, 10);
    if (errno || end != sp || slot < 0 || slot >= WK_CONCURRENCY_MAX)
        return -1;
    /* an optional third field: the metrics block's fd (-1: none) */
    const char *sp2 = memchr(sp + 1, ' ', (size_t)(nl - sp - 1));
    const char *idend = sp2 ? sp2 : nl;
    if ((size_t)(idend - sp - 1) >= sizeof cfg->environment_id)
        return -1;
    cfg->slot = (int)slot;
    memcpy(cfg->environment_id, sp + 1, (size_t)(idend - sp - 1));
    cfg->environment_id[idend - sp - 1] = '\0';
    if (sp2) {
        errno = 0;
        long fd = strtol(sp2 + 1, &end, 10);
        if (errno || end != nl || fd < -1 || fd > 65535)
            return -1;
        if (fd > 2 && wm_attach((int)fd, cfg->slot) < 0)
            log_warn("serve-item: cannot map the metrics block; not counting");
    }
    return nl + 1 - data;
}

int poller_serve_child(const struct wk_config *cfg_in)
{
    struct wk_config cfg = *cfg_in;
    struct buf in = BUF_INIT_MAX(HANDOVER_HEADER_MAX + WK_WORK_STDIN_MAX);
    struct omni_work w;
    struct omni_err err = OMNI_ERR_INIT;
    long hl = -1;
    int devnull, rc = 0;

    wk_read_all(0, &in);
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    if (!in.overflow && in.len)
        hl = handover_header(in.data, in.len, &cfg);
    if (hl < 0)
        log_error("serve-item: no valid hand-over message on stdin");
    else if ((rc = omni_work_parse(in.data + hl, in.len - (size_t)hl, &w, &err)) < 0)
        log_error("serve-item: the work item is invalid: %s", err.msg);
    explicit_bzero(in.data, in.len);
    buf_release(&in);
    if (hl < 0 || rc < 0)
        return WK_EXIT_USAGE;
    enum item_outcome out = item_serve(&cfg, &w, NULL);
    omni_work_release(&w);
    switch (out) {
    case ITEM_DONE:
        return WK_EXIT_OK;
    case ITEM_FAILED:
        return WK_CHILD_FAILED;
    case ITEM_POISON:
        return WK_CHILD_POISON;
    case ITEM_RELEASED:
        return WK_CHILD_RELEASED;
    case ITEM_NEEDS_STOP:
        return WK_CHILD_NEEDS_STOP;
    }
    return WK_CHILD_FAILED;
}
