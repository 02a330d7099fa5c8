/*
 * exporter — `omnictl stats -o prom` as a Prometheus exporter: GET /metrics
 * gathers every environment of the profile at scrape time (the same
 * stats_gather and stats_prom_render as stats), like redis_exporter or
 * blackbox_exporter.
 *
 * Threads: libmicrohttpd runs one thread per connection (a slow client holds
 * only its own); one collector thread owns the API client and runs one
 * collection at a time. A scrape takes the cached text while it is younger
 * than --cache-ttl, else asks for a collection and waits for it at most
 * --scrape-timeout; scrapes arriving meanwhile share that collection. When
 * the wait runs out, the collection is aborted (the client's abort flag)
 * and the scrape answers omni_stats_scrape_success 0. SIGTERM or SIGINT stop
 * the daemon, abort the collection, join the threads and exit 0.
 */
#include "commands.h"
#include "ctx.h"
#include "stats.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdint.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define EXP_DEFAULT_TTL_MS 15000
#define EXP_DEFAULT_SCRAPE_MS 8000
#define EXP_MAX_MS 3600000
#define EXP_CONN_LIMIT 64
#define EXP_CONN_TIMEOUT_S 10 /* an idle or slow client is dropped */
#define EXP_BODY_MAX (16u << 20)
#define EXP_THREAD_STACK (256u * 1024)
#define EXP_DRAIN_MS 2000 /* at exit, connections may finish their answer this long */

enum {
    OPT_LISTEN = CTL_OPT_LONG,
    OPT_LISTEN_ANY,
    OPT_CACHE_TTL,
    OPT_SCRAPE_TIMEOUT,
    OPT_WAITING,
};

static const struct option exporter_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"listen-any", no_argument, NULL, OPT_LISTEN_ANY},
    {"cache-ttl", required_argument, NULL, OPT_CACHE_TTL},
    {"scrape-timeout", required_argument, NULL, OPT_SCRAPE_TIMEOUT},
    {"waiting", no_argument, NULL, OPT_WAITING},
    {0},
};

struct exporter {
    struct ctl_ctx *ctx; /* the collector thread's alone while running */
    struct omni_thresholds th;
    int waiting;
    int64_t ttl_ms, scrape_ms;

    pthread_mutex_t mu;
    pthread_cond_t want_cv, done_cv;
    int want, in_flight, stop;
    unsigned long gen; /* collections finished */
    char *text;        /* the last collection's exposition (NULL before the first) */
    size_t text_len;
    int64_t text_at_ms; /* monotonic time it finished */
};

/* Append the per-scrape series: success per environment and the duration. */
static void scrape_series(struct buf *b, const struct stats_run *run, double secs)
{
    buf_adds(b, "# HELP omni_scrape_success Whether the exporter got the environment's figures "
                "(1) or not (0).\n# TYPE omni_scrape_success gauge\n");
    for (size_t i = 0; run && i < run->n; i++)
        buf_addf(b, "omni_scrape_success{environment=\"%s\"} %d\n", run->envs[i].id,
                 run->envs[i].failed ? 0 : 1);
    buf_addf(b,
             "# HELP omni_scrape_duration_seconds How long the exporter's collection took.\n"
             "# TYPE omni_scrape_duration_seconds gauge\nomni_scrape_duration_seconds %.3f\n",
             secs);
}

/* Returns 0, or -1 when the collection failed (not cached then). */
static int collect_once(struct exporter *x, struct buf *b)
{
    struct stats_run run = {0};
    struct omni_err err = OMNI_ERR_INIT;
    const struct stats_want w = {.all = 1, .waiting = x->waiting, .tolerant = 1};
    int64_t t0 = omni_mono_ms();
    int r;

    run.stuck_ms = x->th.stuck_ms;
    r = stats_gather(x->ctx, &w, &run, &err);
    if (r == 0)
        stats_levels(&run, &x->th);
    else
        ctx_error(x->ctx, "exporter: %s", err.msg);
    stats_prom_render(b, r == 0 ? &run : NULL, r == 0, omni_wall_us());
    scrape_series(b, r == 0 ? &run : NULL, (double)(omni_mono_ms() - t0) / 1000.0);
    free(run.envs);
    return r;
}

static void *collector(void *arg)
{
    struct exporter *x = arg;

    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!x->want && !x->stop)
            pthread_cond_wait(&x->want_cv, &x->mu);
        if (x->stop)
            break;
        x->want = 0;
        x->in_flight = 1;
        x->ctx->cancel = 0;
        pthread_mutex_unlock(&x->mu);

        struct buf b = BUF_INIT_MAX(EXP_BODY_MAX);
        size_t len;
        int failed = collect_once(x, &b) < 0;
        char *text = buf_detach(&b, &len);

        pthread_mutex_lock(&x->mu);
        free(x->text);
        x->text = text;
        x->text_len = len;
        /* A failure goes to the scrapes that waited for it, never to later ones. */
        x->text_at_ms = failed ? INT64_MIN / 2 : omni_mono_ms();
        x->in_flight = 0;
        x->gen++;
        pthread_cond_broadcast(&x->done_cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static void abs_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The exposition for one scrape (malloc'd), fresh or cached. */
static char *scrape(struct exporter *x, size_t *len)
{
    struct timespec dl;
    char *out = NULL;
    unsigned long gen;
    int64_t t0 = omni_mono_ms();

    pthread_mutex_lock(&x->mu);
    if (x->text && !x->in_flight && t0 - x->text_at_ms < x->ttl_ms)
        goto copy;
    gen = x->gen;
    if (!x->in_flight) {
        x->want = 1;
        pthread_cond_signal(&x->want_cv);
    }
    abs_deadline(&dl, x->scrape_ms);
    while (x->gen == gen && !x->stop)
        if (pthread_cond_timedwait(&x->done_cv, &x->mu, &dl) == ETIMEDOUT)
            break;
    if (x->gen == gen) {
        /* Timed out: abort the collection (the next scrape starts anew). */
        struct buf b = BUF_INIT_MAX(EXP_BODY_MAX);
        if (x->in_flight)
            x->ctx->cancel = 1;
        pthread_mutex_unlock(&x->mu);
        stats_prom_render(&b, NULL, 0, omni_wall_us());
        scrape_series(&b, NULL, (double)(omni_mono_ms() - t0) / 1000.0);
        return buf_detach(&b, len);
    }
copy:
    out = malloc(x->text_len + 1);
    if (out) {
        memcpy(out, x->text, x->text_len);
        out[x->text_len] = '\0';
        *len = x->text_len;
    }
    pthread_mutex_unlock(&x->mu);
    return out;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    static const char text_type[] = "text/plain; charset=utf-8";
    static int first;
    struct exporter *x = cls;

    if (*state == NULL) { /* headers only so far */
        *state = &first;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, text_type, (void *)"only GET\n", 9, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = scrape(x, &len);
        if (!body)
            return reply(c, 500, text_type, (void *)"out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
        return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/") == 0) {
        static const char idx[] = "omnictl exporter: see /metrics\n";
        return reply(c, 200, text_type, (void *)idx, sizeof idx - 1, MHD_RESPMEM_PERSISTENT);
    }
    return reply(c, 404, text_type, (void *)"not found\n", 10, MHD_RESPMEM_PERSISTENT);
}

/* ADDR:PORT or [ADDR]:PORT, numeric. Loopback unless allow_any. */
static int parse_listen(const char *s, int allow_any, struct sockaddr_storage *ss, int *v6,
                        struct omni_err *err)
{
    char host[128];
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl;
    struct addrinfo hints, *ai = NULL;
    char *end;
    long port;

    if (!colon || colon == s)
        return omni_err_set(err, OMNI_E_USAGE, "exporter: --listen \"%.80s\" is not ADDR:PORT", s);
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return omni_err_set(err, OMNI_E_USAGE, "exporter: --listen \"%.80s\": bad port", s);
    hl = (size_t)(colon - s);
    if (*s == '[' && colon[-1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host)
        return omni_err_set(err, OMNI_E_USAGE, "exporter: --listen \"%.80s\": bad address", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai)
        return omni_err_set(err, OMNI_E_USAGE,
                            "exporter: --listen \"%.80s\": the address must be numeric", s);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = 1;
        if (!allow_any && !IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            goto not_loopback;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        a4->sin_port = htons((uint16_t)port);
        *v6 = 0;
        if (!allow_any && (ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            goto not_loopback;
    }
    return 0;
not_loopback:
    return omni_err_set(err, OMNI_E_USAGE,
                        "exporter: %s is not a loopback address; the metrics name every "
                        "environment: give --listen-any to serve them beyond this host",
                        host);
}

static int duration_opt(struct ctl_ctx *ctx, const char *v, const char *name, int64_t def,
                        int64_t *out)
{
    *out = def;
    if (!v)
        return 0;
    if (omni_duration_parse(v, out) < 0 || *out < 0 || *out > EXP_MAX_MS)
        return ctx_usage_error(ctx, "exporter: %s \"%.40s\" is not a duration (e.g. 15s)", name, v);
    return 0;
}

static int exporter_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct exporter x;
    struct sockaddr_storage ss;
    const struct omni_threshold_flags nof = {0};
    const struct omni_profile *p;
    struct MHD_Daemon *d;
    sigset_t set, old;
    pthread_t th;
    int v6 = 0, sig = 0;
    const union MHD_DaemonInfo *di;

    memset(&x, 0, sizeof x);
    if (duration_opt(ctx, args_get(a, OPT_CACHE_TTL), "--cache-ttl", EXP_DEFAULT_TTL_MS,
                     &x.ttl_ms) ||
        duration_opt(ctx, args_get(a, OPT_SCRAPE_TIMEOUT), "--scrape-timeout",
                     EXP_DEFAULT_SCRAPE_MS, &x.scrape_ms))
        return CTL_EXIT_USAGE;
    if (x.scrape_ms <= 0)
        return ctx_usage_error(ctx, "exporter: --scrape-timeout must be above 0");
    if (!args_get(a, OPT_LISTEN))
        return ctx_usage_error(ctx, "exporter: --listen ADDR:PORT is required (e.g. "
                                    "127.0.0.1:9465)");
    if (parse_listen(args_get(a, OPT_LISTEN), args_has(a, OPT_LISTEN_ANY), &ss, &v6, &err) < 0)
        return ctx_fail(ctx, &err);
    p = ctx_profile(ctx, &err);
    if (!p || omni_thresholds_resolve(&x.th, &nof, p, &err) < 0)
        return ctx_fail(ctx, &err);
    /* Every request ends within the scrape timeout. */
    if (!ctx->timeout_ms || ctx->timeout_ms > x.scrape_ms)
        ctx->timeout_ms = (long)x.scrape_ms;
    if (!ctx_api(ctx, &err))
        return ctx_fail(ctx, &err);
    x.ctx = ctx;
    x.waiting = args_has(a, OPT_WAITING);
    pthread_mutex_init(&x.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x.done_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&x.want_cv, NULL);

    /* The signals are taken by sigwait below, in this thread only. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&th, NULL, collector, &x) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        omni_err_set(&err, OMNI_E_IO, "exporter: cannot start a thread");
        return ctx_fail(ctx, &err);
    }
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL | MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0),
                         0, NULL, NULL, handle, &x, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)EXP_CONN_LIMIT,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EXP_CONN_TIMEOUT_S,
                         MHD_OPTION_THREAD_STACK_SIZE, (size_t)EXP_THREAD_STACK, MHD_OPTION_END);
    if (!d) {
        omni_err_set(&err, OMNI_E_NET, "exporter: cannot listen on %s: %s", args_get(a, OPT_LISTEN),
                     strerror(errno));
    } else {
        di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        ctx_error(ctx, "exporter: listening on http://%s%s%.*s:%u/metrics", v6 ? "[" : "",
                  v6 ? "]" : "",
                  (int)(strrchr(args_get(a, OPT_LISTEN), ':') - args_get(a, OPT_LISTEN)),
                  args_get(a, OPT_LISTEN), di ? (unsigned)di->port : 0u);
        fflush(ctx->err);
        while (sigwait(&set, &sig) != 0)
            ;
    }
    /* Waiting scrapes answer at once (a failure), the collection is aborted,
     * then the daemon joins its connection threads. */
    pthread_mutex_lock(&x.mu);
    x.stop = 1;
    ctx->cancel = 1;
    pthread_cond_broadcast(&x.want_cv);
    pthread_cond_broadcast(&x.done_cv);
    pthread_mutex_unlock(&x.mu);
    if (d) {
        /* No new connection; those open get EXP_DRAIN_MS to send their answer. */
        int64_t until = omni_mono_ms() + EXP_DRAIN_MS;
        MHD_quiesce_daemon(d);
        while (omni_mono_ms() < until) {
            const union MHD_DaemonInfo *ci =
                MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
            if (!ci || ci->num_connections == 0)
                break;
            nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
        }
        MHD_stop_daemon(d);
    }
    pthread_join(th, NULL);
    ctx->cancel = 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(x.text);
    pthread_cond_destroy(&x.want_cv);
    pthread_cond_destroy(&x.done_cv);
    pthread_mutex_destroy(&x.mu);
    if (!d)
        return ctx_fail(ctx, &err);
    ctx_error(ctx, "exporter: stopped (%s)", strsignal(sig));
    return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_cmd_exporter = {
    .name = "exporter",
    .usage = "exporter --listen ADDR:PORT [--listen-any] [--cache-ttl DURATION] "
             "[--scrape-timeout DURATION] [--waiting]",
    .summary = "Serve the stats of every environment as Prometheus metrics on /metrics.",
    .longopts = exporter_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API,
    .outputs = CTL_O_TABLE,
    .exec = exporter_exec,
};
