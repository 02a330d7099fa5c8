/*
 * runner — the session tool runner (protocol.md §8.9, §9.5, §9.6).
 *
 * Threads of one session run:
 *   reader  opens the event stream, pushes an OPEN marker once it is
 *           established, then every event, then an END (or FATAL) marker;
 *           reconnects with backoff 500 ms .. 10 s, reset by any event.
 *   runner  (the caller's thread) owns the routing state (runstate.c):
 *           reconciles history after each OPEN, routes live events, sends
 *           calls to the session's executor (executor.h: a sandboxed
 *           omni-exec) — one at a time per session thread, up to
 *           --max-concurrent-calls of different threads at once (SDK 1.16
 *           maxConcurrentCalls) — and, while any runs, waits on both the
 *           executor's socket and the queue's eventfd, so it keeps reading
 *           events and enforces the drain deadline without another thread
 *           (every hand-over between threads costs a wake-up on each call);
 *           posts results with retries and keeps a per-tool_use_id cache
 *           of results whose post failed. A call whose thread terminates, or
 *           that someone else answers, is stopped and its result not posted
 *           (the session no longer accepts it, as 1.16).
 * The reader thread shares only the queue below with the runner.
 */
#include "worker.h"

#include "client.h"
#include "confine.h"
#include "shutdown.h"

#include "executor.h"
#include "metrics.h"
#include "runstate.h"
#include "toolset.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RUN_TICK_MS 100L

_Static_assert(WK_MAX_CALLS_MAX <= EXECUTOR_CALLS_MAX,
               "--max-concurrent-calls above the executor's");
#define RUN_REPOST_DELAY_MS 5000L /* reconcile this long after a failed post */
#define RUN_INPUT_LOG_MAX 2000

enum qkind { Q_EVENT, Q_OPEN, Q_END, Q_FATAL };

/* A call running in the executor. */
struct flight {
    struct rs_call *c;
    int h; /* executor handle */
    int64_t t0, t0us;
    int cancel;  /* asked the executor to stop it */
    int abandon; /* its result is not posted: the thread ended or it was answered */
};

struct qitem {
    enum qkind kind;
    cJSON *obj;
    struct qitem *next;
};

struct run {
    const struct wk_item_ctx *ic;
    struct omni_client *list_client;
    struct omni_client *post_client;
    struct omni_client *stream_client;
    struct rstate *rs;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct qitem *head, *tail; /* guarded by mu */
    size_t qlen;               /* guarded by mu */
    int overflow;              /* guarded by mu: events were dropped */
    int wake_fd;               /* eventfd: the queue changed (polled during a call) */
    char fatal_msg[256];       /* guarded by mu */

    pthread_t reader;
    int reader_started;
    volatile int reader_stop;

    int64_t reconcile_at; /* 0 = none scheduled */
    enum wk_end end;

    struct flight fl[EXECUTOR_CALLS_MAX]; /* calls running in the executor */
    int nfl;
    int64_t drain_deadline; /* shutting down: running calls may finish until then */
};

/* ---- queue ------------------------------------------------------------------ */

/* Tell a runner waiting on the executor that the queue changed. */
static void q_wake(struct run *r)
{
    uint64_t one = 1;
    if (r->wake_fd >= 0)
        (void)!write(r->wake_fd, &one, sizeof one);
}

static void q_push(struct run *r, enum qkind kind, cJSON *obj)
{
    struct qitem *it;

    pthread_mutex_lock(&r->mu);
    if (kind == Q_EVENT && r->qlen >= WK_EVENT_QUEUE_MAX) {
        r->overflow = 1;
        cJSON_Delete(obj);
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        q_wake(r);
        return;
    }
    it = calloc(1, sizeof *it);
    if (!it) {
        r->overflow = 1;
        cJSON_Delete(obj);
    } else {
        it->kind = kind;
        it->obj = obj;
        if (r->tail)
            r->tail->next = it;
        else
            r->head = it;
        r->tail = it;
        r->qlen++;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    q_wake(r);
}

/* Pop one item (NULL when empty). Caller does not hold mu. */
static struct qitem *q_pop(struct run *r)
{
    struct qitem *it;
    pthread_mutex_lock(&r->mu);
    it = r->head;
    if (it) {
        r->head = it->next;
        if (!r->head)
            r->tail = NULL;
        r->qlen--;
    }
    pthread_mutex_unlock(&r->mu);
    return it;
}

/* Wait until something is queued, the exec thread finished, or ms pass. */
static void q_wait(struct run *r, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->head && !r->overflow) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- reader thread ------------------------------------------------------------- */

struct reader_ctx {
    struct run *r;
    int got_event;
};

static void reader_on_open(void *ud)
{
    struct reader_ctx *c = ud;
    q_push(c->r, Q_OPEN, NULL);
}

static int reader_on_event(struct omni_event *ev, void *ud)
{
    struct reader_ctx *c = ud;
    c->got_event = 1;
    q_push(c->r, Q_EVENT, ev->obj);
    ev->obj = NULL;
    return c->r->reader_stop ? 1 : 0;
}

static void *reader_main(void *arg)
{
    struct run *r = arg;
    long backoff = WK_STREAM_BACKOFF_MIN_MS;

    while (!r->reader_stop) {
        struct reader_ctx c = {r, 0};
        struct omni_stream_handler h = {0};
        struct omni_err err = OMNI_ERR_INIT;
        int ended = 0, rc;

        h.on_event = reader_on_event;
        h.on_open = reader_on_open;
        h.ud = &c;
        h.abort = &r->reader_stop;
        h.idle_ms = WK_STREAM_IDLE_MS;
        rc = omni_events_stream(r->stream_client, r->ic->w->data_id, &h, &ended, &err);
        if (r->reader_stop)
            break;
        if (rc < 0 && omni_err_is_fatal(&err)) {
            pthread_mutex_lock(&r->mu);
            snprintf(r->fatal_msg, sizeof r->fatal_msg, "%s", err.msg);
            pthread_mutex_unlock(&r->mu);
            q_push(r, Q_FATAL, NULL);
            break;
        }
        if (c.got_event)
            backoff = WK_STREAM_BACKOFF_MIN_MS;
        log_kv(LOG_INFO,
               rc < 0 ? "event stream failed; reconnecting"
                      : "event stream ended; "
                        "reconnecting",
               "session", r->ic->w->data_id, "error", rc < 0 ? err.msg : "", NULL);
        q_push(r, Q_END, NULL);
        omni_sleep_ms(backoff, &r->reader_stop);
        backoff = backoff * 2 > WK_STREAM_BACKOFF_MAX_MS ? WK_STREAM_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* ---- reconcile and events ----------------------------------------------------------- */

static void run_reconcile(struct run *r)
{
    struct omni_event_list l;
    struct omni_err err = OMNI_ERR_INIT;
    char n[32];

    r->reconcile_at = 0;
    rstate_reconcile_begin(r->rs);
    if (omni_events_list(r->list_client, r->ic->w->data_id, &l, &err) < 0) {
        log_kv(LOG_WARN, "cannot list session history; continuing with the live stream", "session",
               r->ic->w->data_id, "error", err.msg, NULL);
        rstate_reconcile_end(r->rs, 0);
        r->reconcile_at = omni_mono_ms() + RUN_REPOST_DELAY_MS;
        return;
    }
    for (size_t i = 0; i < l.n; i++)
        rstate_reconcile_add(r->rs, l.items[i].obj);
    rstate_reconcile_end(r->rs, 1);
    snprintf(n, sizeof n, "%zu", l.n);
    log_kv(LOG_DEBUG, "reconciled session history", "session", r->ic->w->data_id, "events", n,
           NULL);
    omni_event_list_release(&l);
}

/* Handle everything queued; returns 1 when the run must end. */
static int run_drain_queue(struct run *r)
{
    struct qitem *it;
    int overflow;

    while ((it = q_pop(r)) != NULL) {
        switch (it->kind) {
        case Q_OPEN:
            run_reconcile(r);
            break;
        case Q_EVENT:
            rstate_live(r->rs, it->obj);
            break;
        case Q_END:
            break;
        case Q_FATAL:
            pthread_mutex_lock(&r->mu);
            log_kv(LOG_ERROR, "event stream refused; ending the session", "session",
                   r->ic->w->data_id, "error", r->fatal_msg, NULL);
            pthread_mutex_unlock(&r->mu);
            if (r->end == WK_END_NONE)
                r->end = WK_END_FATAL;
            break;
        }
        cJSON_Delete(it->obj);
        free(it);
    }
    pthread_mutex_lock(&r->mu);
    overflow = r->overflow;
    r->overflow = 0;
    pthread_mutex_unlock(&r->mu);
    if (overflow) {
        log_warn("too many buffered events for session \"%s\"; reconciling from history",
                 r->ic->w->data_id);
        run_reconcile(r);
    }
    if (r->reconcile_at && omni_mono_ms() >= r->reconcile_at)
        run_reconcile(r);
    return r->end != WK_END_NONE;
}

/* Why the run should end now (lease, signals, server), or WK_END_NONE. */
static enum wk_end run_check_end(struct run *r)
{
    if (r->end != WK_END_NONE)
        return r->end;
    if (r->ic->end_flag) {
        enum wk_end e = r->ic->lease ? lease_end(r->ic->lease) : WK_END_NONE;
        return e != WK_END_NONE ? e : WK_END_SHUTDOWN;
    }
    if (wk_shutdown_requested())
        return WK_END_SHUTDOWN;
    if (rstate_ended(r->rs)) {
        log_kv(LOG_INFO, "session terminated or deleted; ending the run", "session",
               r->ic->w->data_id, NULL);
        return WK_END_CLEAN;
    }
    return WK_END_NONE;
}

/* ---- result posting ------------------------------------------------------------------- */

/* Length of text as a JSON string (its first n bytes). */
static size_t json_len(const char *text, size_t n)
{
    size_t len = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        len += ch == '"' || ch == '\\' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\b' ||
                       ch == '\f'
                   ? 2
               : ch < 0x20 ? 6
                           : 1;
    }
    return len;
}

/*
 * A result whose JSON encoding is over WK_RESULT_JSON_MAX is cut at a
 * character boundary, with a note: the API refuses a larger body, and a
 * refused result would leave the call unanswered and the session wedged
 * (control bytes take six bytes each once encoded). *owned is what to free.
 */
static const char *fit_result(const char *text, char **owned)
{
    size_t len = strlen(text), keep = len;
    *owned = NULL;
    if (json_len(text, len) <= WK_RESULT_JSON_MAX)
        return text;
    while (keep > 0 && json_len(text, keep) > WK_RESULT_JSON_MAX - 256)
        keep = keep / 4 * 3;
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--;
    if (asprintf(owned,
                 "%.*s\n[result cut: %zu of %zu bytes kept; the rest is over the API's "
                 "size limit once encoded]",
                 (int)keep, text, keep, len) < 0) {
        *owned = NULL;
        return "[the result was too large to post]";
    }
    return *owned;
}

static enum rs_outcome run_post(struct run *r, const struct rs_call *c, int is_error,
                                const char *text_in, int repost)
{
    char *owned = NULL;
    const char *text = fit_result(text_in, &owned);
    int fallback = 0;
    cJSON *arr = cJSON_CreateArray();
    long window = r->ic->lease ? lease_ttl_ms(r->ic->lease) : WK_POST_WINDOW_DEFAULT_MS;
    int64_t start = omni_mono_ms();
    enum rs_outcome how = RS_POST_FAILED;

    cJSON_AddItemToArray(arr, rstate_result_event(c->id, c->custom, is_error, text));
    for (int k = 0;; k++) {
        struct omni_err err = OMNI_ERR_INIT;
        if (omni_events_send(r->post_client, r->ic->w->data_id, arr, &err) == 0) {
            how = RS_POSTED;
            wm_inc(k || repost ? WM_POST_REPOSTED : WM_POST_POSTED);
            wm_result_posted();
            break;
        }
        wm_http_error(&err);
        if (omni_err_is_fatal(&err) && !fallback && err.status != 401 && err.status != 403 &&
            err.status != 404) { /* (the body was refused, not the call or the token) */
            /* the call must not stay unanswered: say so in a short result */
            char note[700];
            const char *why = strstr(err.msg, ": "); /* after "POST /v1/sessions/...": */
            log_kv(LOG_ERROR, "result post refused; posting an error result instead", "tool_use_id",
                   c->id, "error", err.msg, NULL);
            /* SDK 1.16's words (SessionToolRunner ResultPoster) */
            snprintf(note, sizeof(note), "The API refused the result of tool '%.64s': %.500s",
                     c->name, why ? why + 2 : err.msg);
            cJSON_Delete(arr);
            arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, rstate_result_event(c->id, c->custom, 1, note));
            fallback = 1;
            continue;
        }
        if (omni_err_is_fatal(&err)) {
            log_kv(LOG_ERROR, "result post refused; giving up on this call", "tool_use_id", c->id,
                   "error", err.msg, NULL);
            how = RS_GAVE_UP;
            break;
        }
        long delay = omni_backoff_ms(k, WK_POST_BACKOFF_BASE_MS, WK_POST_BACKOFF_CAP_MS);
        int64_t left = window - (omni_mono_ms() - start);
        if (left <= delay || r->ic->end_flag || wk_hard_stop_requested()) {
            log_kv(LOG_WARN, "result post failed; result cached for a later re-post", "tool_use_id",
                   c->id, "error", err.msg, NULL);
            break;
        }
        log_kv(LOG_WARN, "result post failed; retrying", "tool_use_id", c->id, "error", err.msg,
               NULL);
        omni_sleep_ms(delay, wk_hard_stop_flag());
    }
    cJSON_Delete(arr);
    if (how != RS_POSTED)
        wm_inc(WM_POST_FAILED);
    if (how == RS_POST_FAILED)
        r->reconcile_at = omni_mono_ms() + RUN_REPOST_DELAY_MS;
    free(owned);
    return how;
}

static void log_call(const struct run *r, const struct rs_call *c, int64_t ms, size_t bytes,
                     int is_error)
{
    char d[32], b[32];
    char *in = NULL;

    snprintf(d, sizeof d, "%lld", (long long)ms);
    snprintf(b, sizeof b, "%zu", bytes);
    if (r->ic->cfg->log_inputs) {
        in = cJSON_PrintUnformatted(c->input);
        if (in && strlen(in) > RUN_INPUT_LOG_MAX)
            in[RUN_INPUT_LOG_MAX] = '\0';
    }
    log_kv(LOG_INFO, "tool call", "tool", c->name, "tool_use_id", c->id, "duration_ms", d, "bytes",
           b, "is_error", is_error ? "true" : "false", in ? "input" : NULL, in, NULL);
    free(in);
}

/* omni_worker_tool_calls_total's outcome of a result. */
static enum wm_tool_outcome tool_outcome(const struct tool_result *out)
{
    if (!out->is_error)
        return WM_TOOL_OK;
    return out->text && strstr(out->text, "timed out after") ? WM_TOOL_TIMEOUT : WM_TOOL_ERROR;
}

/* Re-post a cached result (the tool is not run again). */
static void run_repost(struct run *r, struct rs_call *c)
{
    struct rs_result res = *c->cached;
    enum rs_outcome how;
    log_kv(LOG_INFO, "re-posting cached result (not re-running the tool)", "tool", c->name,
           "tool_use_id", c->id, NULL);
    wm_call_begin(c->name);
    how = run_post(r, c, c->cached->is_error, c->cached->text, 1);
    wm_call_end(1, 0);
    if (how != RS_POST_FAILED)
        wm_repost_done();
    rstate_done(r->rs, c, how, &res);
    rs_call_free(c);
}

/* The slot's view of the calls still running: the oldest one's tool and start. */
static void run_show_oldest(const struct run *r)
{
    const struct flight *o = NULL;
    for (int i = 0; i < r->nfl; i++)
        if (!o || r->fl[i].t0 < o->t0)
            o = &r->fl[i];
    if (o)
        wm_call_oldest(o->c->name, o->t0);
}

/* A call is over: log it, post its result (unless the run or the call was
 * given up), report it to the routing state. */
static void run_finish(struct run *r, struct rs_call *c, int64_t t0, int64_t t0us, int abandon,
                       struct tool_result *out)
{
    enum rs_outcome how;
    struct rs_result res;

    log_call(r, c, omni_mono_ms() - t0, out->text ? strlen(out->text) : 0, out->is_error);
    wm_tool_done(c->name, tool_outcome(out), omni_mono_us() - t0us);
    if (r->ic->end_flag || wk_hard_stop_requested() || abandon) {
        /* The lease is gone, we must stop now, or the session no longer
         * accepts this result: it is not posted. */
        how = RS_ABANDONED;
    } else {
        how = run_post(r, c, out->is_error, out->text, 0);
    }
    wm_call_end(how != RS_POST_FAILED, t0);
    res.is_error = out->is_error;
    res.text = out->text;
    rstate_done(r->rs, c, how, &res);
    tool_result_release(out);
    rs_call_free(c);
}

/* Send a call to the executor (or re-post its cached result). */
static void run_start(struct run *r, struct rs_call *c)
{
    struct tool_result out = {0, NULL};
    int64_t t0 = omni_mono_ms(), t0us = omni_mono_us();
    int h;

    if (c->cached) {
        run_repost(r, c);
        return;
    }
    wm_call_begin(c->name);
    h = executor_begin(r->ic->cf->ex, c->thread, c->name, c->input, &out);
    if (h < 0) {
        run_finish(r, c, t0, t0us, 0, &out);
        return;
    }
    r->fl[r->nfl++] = (struct flight){c, h, t0, t0us, 0, 0};
    if (r->nfl > 1)
        run_show_oldest(r);
}

/* Whether a running call must stop now, and whether its result is wanted. */
static void run_judge(struct run *r, struct flight *f)
{
    /* the session ended, the stream was refused or the lease is gone: no
     * result is wanted any more (a shutdown drains instead) */
    int gone = r->end != WK_END_NONE && r->end != WK_END_SHUTDOWN;
    if (r->ic->end_flag || wk_hard_stop_requested() || gone) {
        f->cancel = 1;
        f->abandon |= gone;
    } else if (wk_shutdown_requested() || r->end == WK_END_SHUTDOWN) {
        if (!r->drain_deadline) {
            r->drain_deadline = omni_mono_ms() + r->ic->cfg->drain_ms;
            log_kv(LOG_INFO, "shutting down: letting the running tool call finish", "tool_use_id",
                   f->c->id, NULL);
        } else if (omni_mono_ms() >= r->drain_deadline && !f->cancel) {
            log_kv(LOG_WARN, "drain timeout: cancelling the running tool call", "tool_use_id",
                   f->c->id, NULL);
            f->cancel = 1;
        }
    }
    if (!f->abandon && rstate_unwanted(r->rs, f->c)) {
        log_kv(LOG_INFO,
               "the session no longer accepts this call's result (its thread ended or it was "
               "answered); stopping it",
               "tool", f->c->name, "tool_use_id", f->c->id, NULL);
        f->abandon = 1;
        f->cancel = 1;
    }
}

/* Wait for the executor or the queue (at most a tick), then collect every
 * running call that is over. */
static void run_collect(struct run *r)
{
    struct pollfd p[2] = {{executor_fd(r->ic->cf->ex), POLLIN, 0}, {r->wake_fd, POLLIN, 0}};
    int ended = 0;

    if (poll(p, 2, EXECUTOR_TICK_MS) > 0 && (p[1].revents & POLLIN)) {
        uint64_t n;
        (void)!read(r->wake_fd, &n, sizeof n);
    }
    for (int i = 0; i < r->nfl;) {
        struct flight *f = &r->fl[i];
        struct tool_result out = {0, NULL};
        run_judge(r, f);
        if (!executor_collect(r->ic->cf->ex, f->h, f->cancel, &out)) {
            i++;
            continue;
        }
        struct flight done = *f;
        *f = r->fl[--r->nfl];
        run_finish(r, done.c, done.t0, done.t0us, done.abandon, &out);
        ended = 1;
    }
    if (ended)
        run_show_oldest(r);
}

/* Threads that terminated: their shells end (after their call, if one runs). */
static void run_end_threads(struct run *r)
{
    char *th;
    while ((th = rstate_take_ended_thread(r->rs)) != NULL) {
        executor_end_thread(r->ic->cf->ex, th);
        free(th);
    }
}

/* ---- main loop ------------------------------------------------------------------------- */

/*
 * --release-waiting: a session whose calls all wait on a person (held for a
 * confirmation, or a custom tool for the app) keeps its slot only so long.
 * Then the run ends and the item is force-stopped; the answer, when it comes,
 * re-queues the session (protocol.md §6.1: a session with no live item that
 * gets new input gets a new work item) and the next run resolves the call
 * from the history. Returns 1 when the time is up (logged).
 */
static int run_waited_too_long(const struct run *r, int64_t *since)
{
    long after = r->ic->cfg->release_waiting_ms;
    size_t waiting = rstate_waiting(r->rs);
    char n[24], ms[24];

    if (after <= 0 || !waiting) {
        *since = 0;
        return 0;
    }
    if (!*since)
        *since = omni_mono_ms();
    if (omni_mono_ms() - *since < after)
        return 0;
    snprintf(n, sizeof n, "%zu", waiting);
    snprintf(ms, sizeof ms, "%ld", after);
    log_kv(LOG_INFO,
           "session waiting on a person for --release-waiting; releasing its slot (stopping the "
           "item: the answer re-queues the session)",
           "session", r->ic->w->data_id, "waiting_calls", n, "after_ms", ms, NULL);
    return 1;
}

static int owns_cb(void *ud, const char *name)
{
    (void)ud;
    return toolset_owns(NULL, name);
}

enum wk_end runner_run(const struct wk_item_ctx *ic)
{
    struct run r;
    struct omni_err err = OMNI_ERR_INIT;
    pthread_condattr_t ca;
    int idle_armed = 0;
    unsigned idle_gen = 0;
    int64_t idle_since = 0, waiting_since = 0;
    enum wk_end end = WK_END_NONE;

    memset(&r, 0, sizeof r);
    r.ic = ic;
    pthread_mutex_init(&r.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cv, &ca);
    pthread_condattr_destroy(&ca);
    r.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r.wake_fd < 0) {
        log_error("cannot create the runner's eventfd: %s", strerror(errno));
        end = WK_END_FATAL;
        goto out;
    }

    r.list_client = wk_client_new(ic->cfg, ic->base_url, ic->cred, WK_CALL_TIMEOUT_MS, 0, &err);
    if (r.list_client)
        r.post_client =
            wk_client_new(ic->cfg, ic->base_url, ic->cred, WK_CALL_TIMEOUT_MS, -1, &err);
    if (r.post_client)
        r.stream_client = wk_client_new(ic->cfg, ic->base_url, ic->cred, 0, -1, &err);
    r.rs = rstate_new(owns_cb, NULL);
    if (r.rs && rstate_set_max_inflight(r.rs, (size_t)ic->cfg->max_concurrent_calls) < 0) {
        rstate_free(r.rs);
        r.rs = NULL;
    }
    if (!r.stream_client || !r.rs) {
        log_kv(LOG_ERROR, "cannot set up the session runner", "error",
               err.msg[0] ? err.msg : "out of memory", NULL);
        end = WK_END_FATAL;
        goto out;
    }
    if (pthread_create(&r.reader, NULL, reader_main, &r) != 0) {
        log_error("cannot start the event stream thread");
        end = WK_END_FATAL;
        goto out;
    }
    r.reader_started = 1;

    for (;;) {
        struct rs_call *c;
        unsigned gen;

        run_drain_queue(&r);
        run_end_threads(&r);
        end = run_check_end(&r);
        if (end != WK_END_NONE) {
            /* the running calls stop (or, shutting down, may finish within
             * --drain) before the run ends */
            if (!r.nfl)
                break;
            r.end = end;
            if (ic->cfg->concurrency == 1 && !ic->cfg->single_item)
                wm_turn();
            run_collect(&r);
            continue;
        }
        while (r.nfl < EXECUTOR_CALLS_MAX && (c = rstate_next(r.rs)) != NULL)
            run_start(&r, c);
        if (r.nfl) {
            if (ic->cfg->concurrency == 1 && !ic->cfg->single_item)
                wm_turn();
            run_collect(&r);
            continue;
        }
        if (ic->cfg->max_idle_ms > 0 && rstate_idle_ready(r.rs, &gen)) {
            if (!idle_armed || gen != idle_gen) {
                idle_armed = 1;
                idle_gen = gen;
                idle_since = omni_mono_ms();
            } else if (omni_mono_ms() - idle_since >= ic->cfg->max_idle_ms) {
                log_kv(LOG_INFO, "session idle for max-idle; ending the run", "session",
                       ic->w->data_id, NULL);
                end = WK_END_CLEAN;
                break;
            }
        } else {
            idle_armed = 0;
        }
        wm_set_held(rstate_waiting(r.rs) > 0);
        if (ic->cfg->concurrency == 1 && !ic->cfg->single_item)
            wm_turn(); /* in-process: the poll loop waits on this loop */
        if (run_waited_too_long(&r, &waiting_since)) {
            end = WK_END_CLEAN;
            break;
        }
        q_wait(&r, RUN_TICK_MS);
    }

out:
    if (r.reader_started) {
        r.reader_stop = 1;
        pthread_join(r.reader, NULL);
    }
    while (r.head) {
        struct qitem *it = q_pop(&r);
        cJSON_Delete(it->obj);
        free(it);
    }
    rstate_free(r.rs);
    omni_client_free(r.list_client);
    omni_client_free(r.post_client);
    omni_client_free(r.stream_client);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    if (r.wake_fd >= 0)
        close(r.wake_fd);
    return end;
}
