#include "net.h"

#include "alloc.h"
#include "buf.h"
#include "event.h"
#include "creds.h"
#include "session_work.h"
#include "fatal.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct net_exec {
    struct net_opts o;
    char *org_key;
    struct omni_client *org;
    volatile int *abort;
};

/* ---- executor -------------------------------------------------------------- */

const char *net_env_key_file(const struct net_opts *o, const char *env_id)
{
    return omni_profile_env_key_file(o->prof, env_id);
}

static struct omni_client *client_new(const struct net_exec *x, enum omni_auth auth,
                                      const char *cred, struct omni_err *err)
{
    struct omni_client_opts co;

    omni_profile_client_opts(x->o.prof, auth, cred, &co);
    co.max_retries = 1;
    co.debug = x->o.debug;
    co.abort = x->abort;
    return omni_client_new(&co, err);
}

static struct net_exec *exec_new(const struct net_opts *o, volatile int *abort,
                                 struct omni_err *err)
{
    struct net_exec *x = omni_xcalloc(1, sizeof *x);

    x->o = *o;
    x->abort = abort;
    x->org_key = omni_xstrdup(o->org_key);
    x->o.org_key = NULL;
    x->org = client_new(x, OMNI_AUTH_API_KEY, x->org_key, err);
    if (!x->org) {
        net_exec_free(x);
        return NULL;
    }
    return x;
}

struct net_exec *net_exec_new(const struct net_opts *o, struct omni_err *err)
{
    return exec_new(o, NULL, err);
}

void net_exec_free(struct net_exec *x)
{
    if (!x)
        return;
    omni_client_free(x->org);
    omni_key_free(x->org_key);
    free(x);
}

void net_result_release(struct net_result *r)
{
    omni_environment_list_release(&r->envs);
    free(r->stats);
    omni_session_list_release(&r->sessions);
    omni_work_list_release(&r->work);
    omni_event_list_release(&r->events);
    omni_agent_list_release(&r->agents);
    cJSON_Delete(r->event);
    free(r->text);
    free(r->workers);
    r->workers = NULL;
    r->stats = NULL;
    r->event = NULL;
    r->text = NULL;
}

const char *net_worker_metrics(const struct net_opts *o, const char *env_id)
{
    char key[OMNI_ID_MAX + 32];

    snprintf(key, sizeof key, "worker_metrics.%s", env_id);
    return o->prof ? omni_profile_get(o->prof, key) : NULL;
}

struct worker_fetch {
    struct buf body;
    volatile int *abort;
};

static size_t worker_write(char *p, size_t sz, size_t n, void *ud)
{
    struct worker_fetch *f = ud;
    return buf_add(&f->body, p, sz * n) < 0 ? 0 : sz * n; /* over the cap: the transfer fails */
}

static int worker_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct worker_fetch *f = ud;
    return f->abort && *f->abort;
}

/* GET one worker's /metrics (http or https, no redirect, short timeouts). */
static void worker_fetch(struct net_exec *x, struct con_worker *w)
{
    struct worker_fetch f = {BUF_INIT_MAX(NET_WORKER_BODY_MAX), x->abort};
    CURL *e;
    CURLcode rc;
    long status = 0;

    if (strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0) {
        snprintf(w->err, sizeof w->err, "not an http(s) URL");
        return;
    }
    if (!(e = curl_easy_init())) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)NET_WORKER_CONNECT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NET_WORKER_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NET_WORKER_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, worker_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, worker_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &f);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "omni-console");
    if (x->o.prof) {
        const char *ca = omni_profile_get(x->o.prof, "ca_file");
        if (ca)
            curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    }
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK)
        snprintf(w->err, sizeof w->err, "%s", curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(w->err, sizeof w->err, "HTTP %ld", status);
    else if (con_worker_parse(f.body.data, f.body.len, w) == 0)
        snprintf(w->err, sizeof w->err, "no omni_worker_slots_* metrics");
    else
        w->ok = 1;
    buf_release(&f.body);
}

/* Every worker of the environment, one after the other (each bounded). */
static void exec_workers(struct net_exec *x, const struct net_job *j, struct net_result *res)
{
    const char *list = net_worker_metrics(&x->o, j->env_id), *p = list;

    res->workers = omni_xcalloc(CON_WORKERS_MAX, sizeof *res->workers);
    while (p && *p && res->nworkers < CON_WORKERS_MAX) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct con_worker *w = &res->workers[res->nworkers];
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n) {
            memset(w, 0, sizeof *w);
            w->configured = w->busy = w->held = -1;
            snprintf(w->url, sizeof w->url, "%.*s", (int)n, p);
            if (n >= sizeof w->url)
                snprintf(w->err, sizeof w->err, "URL too long");
            else if (!(x->abort && *x->abort))
                worker_fetch(x, w);
            res->nworkers++;
        }
        p = comma ? comma + 1 : NULL;
    }
    res->ok = 1;
}

/* List the work of an environment with its key file (the only use of it). */
static int work_list_with_env_key(struct net_exec *x, const char *env_id,
                                  struct omni_work_list *out, struct omni_err *err)
{
    struct omni_client *c;
    char *key = omni_profile_env_key(x->o.prof, env_id, err);
    int r;

    if (!key)
        return -1;
    c = client_new(x, OMNI_AUTH_BEARER, key, err);
    omni_key_free(key);
    if (!c)
        return -1;
    r = omni_work_list(c, env_id, out, err);
    omni_client_free(c);
    return r;
}

/* The work list of an environment with a key file, summarised for the
 * saturated / no-worker rule (lib/health.h). -1: aborted. */
static int env_work_summary(struct net_exec *x, const char *env_id, struct net_env_stats *es)
{
    struct omni_work_list wl = {0};
    struct omni_err e = OMNI_ERR_INIT;

    if (!net_env_key_file(&x->o, env_id))
        return 0;
    if (work_list_with_env_key(x, env_id, &wl, &e) < 0) {
        snprintf(es->work_err, sizeof es->work_err, "%s", e.msg);
        return e.kind == OMNI_E_ABORTED ? -1 : 0;
    }
    omni_work_summarize(&wl, omni_wall_us(), x->o.stuck_ms, &es->ws);
    omni_work_list_release(&wl);
    return 0;
}

static void exec_envs(struct net_exec *x, struct net_result *res)
{
    if (omni_env_list(x->org, 0, &res->envs, &res->err) < 0)
        return;
    res->stats = omni_xcalloc(res->envs.n, sizeof *res->stats);
    for (size_t i = 0; i < res->envs.n; i++) {
        struct omni_err e = OMNI_ERR_INIT;
        if (res->envs.items[i].archived_at)
            continue;
        if (omni_work_stats(x->org, res->envs.items[i].id, &res->stats[i].st, &e) == 0) {
            res->stats[i].ok = 1;
        } else {
            snprintf(res->stats[i].err, sizeof res->stats[i].err, "%s", e.msg);
            if (e.kind == OMNI_E_ABORTED)
                break;
        }
        if (env_work_summary(x, res->envs.items[i].id, &res->stats[i]) < 0)
            break;
    }
    res->ok = 1;
}

static void exec_stop(struct net_exec *x, const struct net_job *j, struct net_result *res)
{
    char work_id[OMNI_ID_MAX];
    int already = 0;

    snprintf(work_id, sizeof work_id, "%s", j->work_id);
    if (!work_id[0]) {
        struct omni_work_list wl = {0};
        const struct omni_work *w;
        if (work_list_with_env_key(x, j->env_id, &wl, &res->err) < 0) {
            omni_err_prefix(&res->err, "cannot find the work item of session \"%s\"",
                            j->session_id);
            return;
        }
        w = omni_work_for_session(&wl, j->session_id);
        if (w)
            snprintf(work_id, sizeof work_id, "%s", w->id);
        omni_work_list_release(&wl);
        if (!work_id[0]) {
            omni_err_set(&res->err, OMNI_E_HTTP, "no work item for session \"%s\" in \"%s\"",
                         j->session_id, j->env_id);
            res->err.status = 404;
            return;
        }
    }
    if (omni_work_stop(x->org, j->env_id, work_id, j->force, &already, &res->err) < 0)
        return;
    res->ok = 1;
    snprintf(res->job.work_id, sizeof res->job.work_id, "%s", work_id);
    if (already)
        snprintf(res->msg, sizeof res->msg, "work %s was already stopped", work_id);
    else
        snprintf(res->msg, sizeof res->msg, "%s work %s%s%s",
                 j->force ? "force-stopped" : "stop requested for", work_id,
                 j->session_id[0] ? " of session " : "", j->session_id);
}

/* The text blocks of a result's content, one after another. */
static void add_content_text(struct buf *b, const cJSON *content)
{
    const cJSON *blk;

    if (cJSON_IsString(content)) {
        buf_addf(b, "%s\n", content->valuestring);
        return;
    }
    cJSON_ArrayForEach(blk, content) {
        const char *t = omni_json_string(blk, "text");
        if (t)
            buf_addf(b, "%s\n", t);
        else if (omni_json_string(blk, "type"))
            buf_addf(b, "[%s block]\n", omni_json_string(blk, "type"));
    }
}

static void add_json(struct buf *b, const cJSON *j)
{
    char *p = cJSON_Print(j);
    if (p) {
        buf_addf(b, "%s\n", p);
        cJSON_free(p);
    }
}

/* One event in full: a tool call's input and its result's output, then the
 * raw JSON (capped at CON_DOC_MAX; the view sanitises every line). */
static void exec_event(struct net_exec *x, const struct net_job *j, struct net_result *res)
{
    struct omni_event_list l = {0};
    struct buf b = BUF_INIT_MAX(CON_DOC_MAX - 32); /* room for the "cut" note */
    const cJSON *ev = NULL;

    if (omni_events_list(x->org, j->session_id, &l, &res->err) < 0)
        return;
    for (size_t i = 0; i < l.n && !ev; i++)
        if (strcmp(l.items[i].id, j->event_id) == 0)
            ev = l.items[i].obj;
    if (!ev) {
        omni_err_set(&res->err, OMNI_E_HTTP, "event \"%s\" is not in session \"%s\"", j->event_id,
                     j->session_id);
        res->err.status = 404;
        omni_event_list_release(&l);
        return;
    }
    buf_addf(&b, "%s  %s\n\n", omni_json_string(ev, "type") ? omni_json_string(ev, "type") : "?",
             j->event_id);
    if (omni_event_is_tool_use(omni_event_kind(ev))) {
        buf_addf(&b, "TOOL %s  permission %s\n\nINPUT\n",
                 omni_json_string(ev, "name") ? omni_json_string(ev, "name") : "?",
                 omni_permission_name(omni_event_permission(ev)));
        add_json(&b, cJSON_GetObjectItemCaseSensitive(ev, "input"));
        size_t before;
        buf_adds(&b, "\nOUTPUT\n");
        before = b.len;
        for (size_t i = 0; i < l.n; i++) {
            const char *ans = omni_event_answers(l.items[i].obj);
            if (ans && strcmp(ans, j->event_id) == 0 &&
                omni_event_is_tool_result(omni_event_kind(l.items[i].obj)))
                add_content_text(&b, cJSON_GetObjectItemCaseSensitive(l.items[i].obj, "content"));
            else if (ans && strcmp(ans, j->event_id) == 0)
                buf_addf(&b, "(%s: %s)\n", l.items[i].type,
                         omni_json_string(l.items[i].obj, "result")
                             ? omni_json_string(l.items[i].obj, "result")
                             : "answered");
        }
        if (b.len == before)
            buf_adds(&b, "(no result yet)\n");
        buf_adds(&b, "\n");
    } else if (cJSON_GetObjectItemCaseSensitive(ev, "content")) {
        buf_adds(&b, omni_event_is_tool_result(omni_event_kind(ev)) ? "OUTPUT\n" : "TEXT\n");
        add_content_text(&b, cJSON_GetObjectItemCaseSensitive(ev, "content"));
        buf_adds(&b, "\n");
    }
    buf_adds(&b, "RAW JSON\n");
    add_json(&b, ev);
    if (b.overflow) {
        b.max = CON_DOC_MAX;
        buf_adds(&b, "... (cut)\n");
    }
    res->text = buf_detach(&b, NULL);
    res->ok = 1;
    omni_event_list_release(&l);
}

void net_exec_run(struct net_exec *x, const struct net_job *j, struct net_result *res)
{
    memset(res, 0, sizeof *res);
    res->job = *j;
    res->err = (struct omni_err)OMNI_ERR_INIT;
    switch (j->kind) {
    case NET_ENVS:
        exec_envs(x, res);
        break;
    case NET_WORKERS:
        exec_workers(x, j, res);
        break;
    case NET_SESSIONS: {
        struct omni_session_filter f = {0};
        f.environment_id = j->env_id;
        f.limit = NET_SESSIONS_MAX;
        f.fields_only = 1;
        res->ok = omni_session_list(x->org, &f, &res->sessions, &res->err) == 0;
        break;
    }
    case NET_WORK:
        res->ok = work_list_with_env_key(x, j->env_id, &res->work, &res->err) == 0;
        break;
    case NET_EVENTS:
        res->ok = omni_events_list(x->org, j->session_id, &res->events, &res->err) == 0;
        break;
    case NET_AGENTS:
        res->ok = omni_agents_list(x->org, &res->agents, &res->err) == 0;
        break;
    case NET_STOP:
        exec_stop(x, j, res);
        break;
    case NET_INTERRUPT:
        res->ok = omni_send_interrupt(x->org, j->session_id, &res->err) == 0;
        if (res->ok)
            snprintf(res->msg, sizeof res->msg, "interrupt sent to %s", j->session_id);
        break;
    case NET_CONFIRM:
        res->ok = omni_send_confirmation(x->org, j->session_id, j->tool_use_id, j->allow,
                                         j->allow ? NULL : "denied by the operator (omni-console)",
                                         &res->err) == 0;
        if (res->ok)
            snprintf(res->msg, sizeof res->msg, "%s tool call %s", j->allow ? "approved" : "denied",
                     j->tool_use_id);
        break;
    case NET_CREATE: {
        struct omni_session_create rq = {0};
        struct omni_session s;
        rq.agent_id = j->agent_id;
        rq.environment_id = j->env_id;
        rq.title = "created from omni-console";
        rq.message = j->text[0] ? j->text : NULL;
        if (omni_session_create(x->org, &rq, &s, &res->err) == 0) {
            res->ok = 1;
            snprintf(res->job.session_id, sizeof res->job.session_id, "%s", s.id);
            snprintf(res->msg, sizeof res->msg, "created session %s", s.id);
            omni_session_release(&s);
        }
        break;
    }
    case NET_EVENT:
        exec_event(x, j, res);
        break;
    case NET_STREAM_EVENT:
    case NET_STREAM_STATE:
        break;
    }
    res->at_us = omni_wall_us();
}

/* ---- the threaded side ------------------------------------------------------ */

struct net_node {
    struct net_job job;
    struct net_node *next;
};

struct net_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct net_node *head, *tail;
};

struct net {
    struct net_opts o;
    struct net_exec *xpoll, *xact, *xstream, *xhist;
    pthread_t th_poll, th_act, th_stream;
    int started;
    struct net_queue qpoll, qact;
    pthread_mutex_t rmu;
    struct net_result *rhead, *rtail;
    size_t nresults;
    int wake[2];
    volatile int stop;
    /* stream */
    pthread_mutex_t smu;
    pthread_cond_t scv;
    char stream_want[OMNI_ID_MAX];
    unsigned stream_gen;
    volatile int stream_abort;
};

struct net_worker {
    struct net *n;
    struct net_queue *q;
    struct net_exec *x;
};

static void queue_init(struct net_queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = q->tail = NULL;
}

static void queue_release(struct net_queue *q)
{
    struct net_node *nd = q->head;
    while (nd) {
        struct net_node *nx = nd->next;
        free(nd);
        nd = nx;
    }
    q->head = q->tail = NULL;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static void push_result(struct net *n, struct net_result *r)
{
    char c = 1;
    ssize_t w;

    pthread_mutex_lock(&n->rmu);
    if (n->nresults >= NET_RESULTS_MAX && r->job.kind == NET_STREAM_EVENT) {
        pthread_mutex_unlock(&n->rmu);
        net_result_free(r);
        return;
    }
    r->next = NULL;
    if (n->rtail)
        n->rtail->next = r;
    else
        n->rhead = r;
    n->rtail = r;
    n->nresults++;
    pthread_mutex_unlock(&n->rmu);
    w = write(n->wake[1], &c, 1); /* a full pipe already wakes the UI */
    (void)w;
}

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *worker_main(void *ud)
{
    struct net_worker *wk = ud;
    struct net *n = wk->n;

    for (;;) {
        struct net_node *nd;
        struct net_result *res;
        int64_t t0;

        pthread_mutex_lock(&wk->q->mu);
        while (!wk->q->head && !n->stop)
            pthread_cond_wait(&wk->q->cv, &wk->q->mu);
        if (n->stop) {
            pthread_mutex_unlock(&wk->q->mu);
            break;
        }
        nd = wk->q->head;
        wk->q->head = nd->next;
        if (!wk->q->head)
            wk->q->tail = NULL;
        pthread_mutex_unlock(&wk->q->mu);

        res = omni_xcalloc(1, sizeof *res);
        t0 = thread_cpu_us();
        net_exec_run(wk->x, &nd->job, res);
        res->cpu_us = thread_cpu_us() - t0;
        free(nd);
        push_result(n, res);
    }
    free(wk);
    return NULL;
}

/* ---- stream thread ----------------------------------------------------------- */

struct stream_ctx {
    struct net *n;
    char session_id[OMNI_ID_MAX];
    unsigned gen;
    int got_event;
};

static int stream_changed(struct stream_ctx *s)
{
    int changed;
    pthread_mutex_lock(&s->n->smu);
    changed = s->n->stream_gen != s->gen || s->n->stop;
    pthread_mutex_unlock(&s->n->smu);
    return changed;
}

static void stream_push_event(struct stream_ctx *s, cJSON *obj)
{
    struct net_result *r = omni_xcalloc(1, sizeof *r);
    r->job.kind = NET_STREAM_EVENT;
    r->job.tag = s->gen;
    snprintf(r->job.session_id, sizeof r->job.session_id, "%s", s->session_id);
    r->ok = 1;
    r->event = obj;
    r->at_us = omni_wall_us();
    push_result(s->n, r);
}

static void stream_push_state(struct stream_ctx *s, int ok, const struct omni_err *err)
{
    struct net_result *r = omni_xcalloc(1, sizeof *r);
    r->job.kind = NET_STREAM_STATE;
    r->job.tag = s->gen;
    snprintf(r->job.session_id, sizeof r->job.session_id, "%s", s->session_id);
    r->ok = ok;
    r->err = err ? *err : (struct omni_err)OMNI_ERR_INIT;
    r->at_us = omni_wall_us();
    push_result(s->n, r);
}

static int stream_on_event(struct omni_event *ev, void *ud)
{
    struct stream_ctx *s = ud;
    if (stream_changed(s))
        return 1;
    s->got_event = 1;
    stream_push_event(s, ev->obj);
    ev->obj = NULL;
    return 0;
}

/* Once the stream is open, fetch the history (the stream only has what follows). */
static void stream_on_open(void *ud)
{
    struct stream_ctx *s = ud;
    struct omni_event_list l = {0};
    struct omni_err err = OMNI_ERR_INIT;

    stream_push_state(s, 1, NULL);
    if (omni_events_list(s->n->xhist->org, s->session_id, &l, &err) < 0) {
        stream_push_state(s, 1, &err); /* still open; history missing */
        return;
    }
    for (size_t i = 0; i < l.n && !stream_changed(s); i++) {
        stream_push_event(s, l.items[i].obj);
        l.items[i].obj = NULL;
    }
    omni_event_list_release(&l);
}

/* Wait up to ms for a change of the followed session. */
static void stream_wait(struct net *n, unsigned gen, long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->smu);
    while (n->stream_gen == gen && !n->stop)
        if (pthread_cond_timedwait(&n->scv, &n->smu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&n->smu);
}

static void *stream_main(void *ud)
{
    struct net *n = ud;
    long backoff = NET_STREAM_BACKOFF_MIN_MS;

    for (;;) {
        struct stream_ctx s = {0};
        struct omni_stream_handler h = {0};
        struct omni_err err = OMNI_ERR_INIT;
        int ended = 0, r;

        pthread_mutex_lock(&n->smu);
        while (!n->stream_want[0] && !n->stop)
            pthread_cond_wait(&n->scv, &n->smu);
        if (n->stop) {
            pthread_mutex_unlock(&n->smu);
            break;
        }
        s.n = n;
        s.gen = n->stream_gen;
        snprintf(s.session_id, sizeof s.session_id, "%s", n->stream_want);
        n->stream_abort = 0;
        pthread_mutex_unlock(&n->smu);

        h.on_event = stream_on_event;
        h.on_open = stream_on_open;
        h.ud = &s;
        h.abort = &n->stream_abort;
        h.idle_ms = NET_STREAM_IDLE_MS;
        r = omni_events_stream(n->xstream->org, s.session_id, &h, &ended, &err);
        if (stream_changed(&s)) {
            backoff = NET_STREAM_BACKOFF_MIN_MS;
            continue;
        }
        if (r == 0)
            omni_err_set(&err, OMNI_E_NET, "event stream of \"%s\" ended", s.session_id);
        stream_push_state(&s, 0, &err);
        if (s.got_event)
            backoff = NET_STREAM_BACKOFF_MIN_MS;
        if (omni_err_is_fatal(&err))
            backoff = NET_STREAM_BACKOFF_MAX_MS;
        stream_wait(n, s.gen, backoff);
        backoff = backoff * 2 > NET_STREAM_BACKOFF_MAX_MS ? NET_STREAM_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------------ */

struct net *net_start(const struct net_opts *o, struct omni_err *err)
{
    struct net *n = omni_xcalloc(1, sizeof *n);
    struct net_worker *wp, *wa;

    n->o = *o;
    queue_init(&n->qpoll);
    queue_init(&n->qact);
    pthread_mutex_init(&n->rmu, NULL);
    pthread_mutex_init(&n->smu, NULL);
    pthread_cond_init(&n->scv, NULL);
    n->wake[0] = n->wake[1] = -1;
    if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        omni_err_set(err, OMNI_E_IO, "cannot create a pipe: %s", strerror(errno));
        net_stop(n);
        return NULL;
    }
    /* quitting aborts every transfer in flight */
    n->xpoll = exec_new(o, &n->stop, err);
    n->xact = n->xpoll ? exec_new(o, &n->stop, err) : NULL;
    n->xstream = n->xact ? exec_new(o, &n->stream_abort, err) : NULL;
    n->xhist = n->xstream ? exec_new(o, &n->stop, err) : NULL;
    if (!n->xhist) {
        net_stop(n);
        return NULL;
    }
    wp = omni_xcalloc(1, sizeof *wp);
    wa = omni_xcalloc(1, sizeof *wa);
    *wp = (struct net_worker){n, &n->qpoll, n->xpoll};
    *wa = (struct net_worker){n, &n->qact, n->xact};
    if (pthread_create(&n->th_poll, NULL, worker_main, wp) != 0) {
        free(wp);
        free(wa);
        net_stop(n);
        omni_err_set(err, OMNI_E_IO, "cannot start the network thread");
        return NULL;
    }
    n->started = 1;
    if (pthread_create(&n->th_act, NULL, worker_main, wa) != 0) {
        free(wa);
        net_stop(n);
        omni_err_set(err, OMNI_E_IO, "cannot start the network thread");
        return NULL;
    }
    n->started = 2;
    if (pthread_create(&n->th_stream, NULL, stream_main, n) != 0) {
        net_stop(n);
        omni_err_set(err, OMNI_E_IO, "cannot start the network thread");
        return NULL;
    }
    n->started = 3;
    return n;
}

int net_wake_fd(const struct net *n)
{
    return n->wake[0];
}

void net_wake_drain(struct net *n)
{
    char b[256];
    while (read(n->wake[0], b, sizeof b) > 0)
        ;
}

int net_kind_is_refresh(enum net_kind kind)
{
    switch (kind) {
    case NET_ENVS:
    case NET_WORKERS:
    case NET_SESSIONS:
    case NET_WORK:
    case NET_EVENTS:
        return 1;
    default:
        return 0;
    }
}

void net_submit(struct net *n, const struct net_job *job)
{
    struct net_queue *q;
    struct net_node *nd = omni_xcalloc(1, sizeof *nd);

    q = net_kind_is_refresh(job->kind) ? &n->qpoll : &n->qact;
    nd->job = *job;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = nd;
    else
        q->head = nd;
    q->tail = nd;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void net_stream_follow(struct net *n, const char *session_id)
{
    pthread_mutex_lock(&n->smu);
    if (strcmp(n->stream_want, session_id ? session_id : "") != 0) {
        snprintf(n->stream_want, sizeof n->stream_want, "%s", session_id ? session_id : "");
        n->stream_gen++;
        n->stream_abort = 1;
        pthread_cond_broadcast(&n->scv);
    }
    pthread_mutex_unlock(&n->smu);
}

struct net_result *net_take(struct net *n)
{
    struct net_result *r;

    pthread_mutex_lock(&n->rmu);
    r = n->rhead;
    if (r) {
        n->rhead = r->next;
        if (!n->rhead)
            n->rtail = NULL;
        n->nresults--;
        r->next = NULL;
    }
    pthread_mutex_unlock(&n->rmu);
    return r;
}

void net_result_free(struct net_result *r)
{
    if (!r)
        return;
    net_result_release(r);
    free(r);
}

void net_stop(struct net *n)
{
    struct net_result *r;

    if (!n)
        return;
    n->stop = 1;
    pthread_mutex_lock(&n->qpoll.mu);
    pthread_cond_broadcast(&n->qpoll.cv);
    pthread_mutex_unlock(&n->qpoll.mu);
    pthread_mutex_lock(&n->qact.mu);
    pthread_cond_broadcast(&n->qact.cv);
    pthread_mutex_unlock(&n->qact.mu);
    pthread_mutex_lock(&n->smu);
    n->stream_abort = 1;
    pthread_cond_broadcast(&n->scv);
    pthread_mutex_unlock(&n->smu);
    if (n->started >= 1)
        pthread_join(n->th_poll, NULL);
    if (n->started >= 2)
        pthread_join(n->th_act, NULL);
    if (n->started >= 3)
        pthread_join(n->th_stream, NULL);
    while ((r = net_take(n)))
        net_result_free(r);
    queue_release(&n->qpoll);
    queue_release(&n->qact);
    net_exec_free(n->xpoll);
    net_exec_free(n->xact);
    net_exec_free(n->xstream);
    net_exec_free(n->xhist);
    if (n->wake[0] >= 0)
        close(n->wake[0]);
    if (n->wake[1] >= 0)
        close(n->wake[1]);
    pthread_mutex_destroy(&n->rmu);
    pthread_mutex_destroy(&n->smu);
    pthread_cond_destroy(&n->scv);
    free(n);
}
