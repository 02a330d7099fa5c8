/*
 * server — the HTTP side of omni-sim: libmicrohttpd in thread-per-connection
 * mode (long-polls and SSE streams block on condition variables in their own
 * thread), routing, credential checks, required headers, fault injection,
 * request counting and the request log. The router calls the handlers; both
 * answer through reply.c, which calls neither.
 */
#include "reply.h"

#include "http.h"

#include "timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_STACK_SIZE (512u * 1024)
#define SERVER_CONN_LIMIT 16384
#define SERVER_CONN_TIMEOUT_S 600
#define SERVER_SEGS_MAX 8

#define R_V1 1     /* Managed Agents route: version/beta headers, credentials, faults */
#define R_SIM 2    /* introspection: loopback only, no credential, never faulted */
#define R_NOBETA 4 /* anthropic-beta not required (skills, protocol.md §11) */
#define R_ORGKEY 8 /* with R_SIM: an administrative change, the org key required */

struct route {
    const char *method;
    const char *pattern;
    sim_handler_fn *fn;
    int flags;
};

static const struct route routes[] = {
    {"POST", "/v1/environments", simh_env_create, R_V1},
    {"GET", "/v1/environments", simh_env_list, R_V1},
    {"GET", "/v1/environments/*/work/poll", simh_work_poll, R_V1},
    {"GET", "/v1/environments/*/work/stats", simh_work_stats, R_V1},
    {"GET", "/v1/environments/*/work", simh_work_list, R_V1},
    {"POST", "/v1/environments/*/work/*/ack", simh_work_ack, R_V1},
    {"POST", "/v1/environments/*/work/*/heartbeat", simh_work_heartbeat, R_V1},
    {"POST", "/v1/environments/*/work/*/stop", simh_work_stop, R_V1},
    {"GET", "/v1/environments/*/work/*", simh_work_get, R_V1},
    {"POST", "/v1/environments/*/work/*", simh_work_update, R_V1},
    {"POST", "/v1/environments/*/archive", simh_env_archive, R_V1},
    {"GET", "/v1/environments/*", simh_env_get, R_V1},
    {"POST", "/v1/environments/*", simh_env_update, R_V1},
    {"DELETE", "/v1/environments/*", simh_env_delete, R_V1},
    {"POST", "/v1/agents", simh_agent_create, R_V1},
    {"GET", "/v1/agents", simh_agent_list, R_V1},
    {"GET", "/v1/agents/*", simh_agent_get, R_V1},
    {"POST", "/v1/sessions", simh_session_create, R_V1},
    {"GET", "/v1/sessions", simh_session_list, R_V1},
    {"GET", "/v1/sessions/*/events/stream", simh_events_stream, R_V1},
    {"GET", "/v1/sessions/*/events", simh_events_list, R_V1},
    {"POST", "/v1/sessions/*/events", simh_events_send, R_V1},
    {"GET", "/v1/sessions/*/threads", simh_thread_list, R_V1},
    {"GET", "/v1/sessions/*/threads/*", simh_thread_get, R_V1},
    {"POST", "/v1/sessions/*/threads/*/archive", simh_thread_archive, R_V1},
    {"GET", "/v1/sessions/*/threads/*/events", simh_thread_events_list, R_V1},
    {"GET", "/v1/sessions/*/threads/*/stream", simh_thread_events_stream, R_V1},
    {"POST", "/v1/sessions/*/archive", simh_session_archive, R_V1},
    {"GET", "/v1/sessions/*", simh_session_get, R_V1},
    {"POST", "/v1/sessions/*", simh_session_update, R_V1},
    {"DELETE", "/v1/sessions/*", simh_session_delete, R_V1},
    {"GET", "/v1/skills/*/versions", simh_skill_versions_list, R_V1 | R_NOBETA},
    {"GET", "/v1/skills/*/versions/*", simh_skill_version_get, R_V1 | R_NOBETA},
    {"GET", "/v1/skills/*/versions/*/content", simh_skill_content, R_V1 | R_NOBETA},
    {"GET", "/_sim/report", simh_sim_report, R_SIM},
    {"GET", "/_sim/report/sessions/*", simh_sim_report_session, R_SIM},
    {"GET", "/_sim/faults", simh_sim_faults_get, R_SIM},
    {"POST", "/_sim/faults", simh_sim_faults_set, R_SIM},
    {"GET", "/_sim/environments/*/key", simh_sim_env_key, R_SIM},
    {"POST", "/_sim/environments/*/healthcheck", simh_sim_healthcheck, R_SIM},
    {"POST", "/_sim/environments/*/keys", simh_sim_env_key_add, R_SIM | R_ORGKEY},
    {"POST", "/_sim/environments/*/keys/revoke", simh_sim_env_key_revoke, R_SIM | R_ORGKEY},
    {"GET", "/_sim/skills", simh_sim_skills_list, R_SIM},
    {"POST", "/_sim/skills", simh_sim_skills_add, R_SIM},
    {"POST", "/_sim/webhooks", simh_sim_webhooks_set, R_SIM},
};
#define ROUTES_N (sizeof(routes) / sizeof(routes[0]))
#define ROUTE_OTHER (SIM_ROUTES_MAX - 1)

struct sim_server {
    struct sim *sim;
    struct MHD_Daemon *d;
};

struct conn_ctx {
    struct buf body;
    int too_big;
    int64_t start_us;
};

/* "METHOD /pattern" of route idx; "other" when it is not a route. */
static const char *server_route_name(int idx)
{
    static char names[SIM_ROUTES_MAX][96];
    if (idx < 0 || (size_t)idx >= ROUTES_N)
        return "other";
    if (!names[idx][0])
        snprintf(names[idx], sizeof(names[idx]), "%s %s", routes[idx].method, routes[idx].pattern);
    return names[idx];
}

static const char *server_cred_name(enum sim_cred_kind k)
{
    switch (k) {
    case CRED_ORG:
        return "org";
    case CRED_ENV:
        return "env";
    case CRED_TOKEN:
        return "token";
    default:
        return "none";
    }
}

/* ---- routing ---- */

static int server_split(char *path, char **segs, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segs[n++] = tok;
    }
    return n;
}

/* Returns the route index, -1 when nothing matches, -2 when only the method differs. */
static int server_match(const char *method, const char *url, char *pathbuf, size_t pathlen,
                        const char **params)
{
    char *segs[SERVER_SEGS_MAX];
    if (strlen(url) >= pathlen)
        return -1;
    snprintf(pathbuf, pathlen, "%s", url);
    int n = server_split(pathbuf, segs, SERVER_SEGS_MAX);
    if (n <= 0)
        return -1;
    int method_mismatch = 0;
    for (size_t r = 0; r < ROUTES_N; r++) {
        char pat[96];
        char *psegs[SERVER_SEGS_MAX];
        snprintf(pat, sizeof(pat), "%s", routes[r].pattern);
        int pn = server_split(pat, psegs, SERVER_SEGS_MAX);
        if (pn != n)
            continue;
        int np = 0, ok = 1;
        const char *cap[3] = {NULL, NULL, NULL};
        for (int i = 0; i < n && ok; i++) {
            if (strcmp(psegs[i], "*") == 0) {
                if (np < 3)
                    cap[np++] = segs[i];
            } else if (strcmp(psegs[i], segs[i]) != 0) {
                ok = 0;
            }
        }
        if (!ok)
            continue;
        if (strcmp(routes[r].method, method) != 0) {
            method_mismatch = 1;
            continue;
        }
        for (int i = 0; i < 3; i++)
            params[i] = cap[i];
        return (int)r;
    }
    return method_mismatch ? -2 : -1;
}

static int server_is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    if (ci->client_addr->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, ci->client_addr, sizeof(sin));
        return (ntohl(sin.sin_addr.s_addr) >> 24) == 127;
    }
    if (ci->client_addr->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, ci->client_addr, sizeof(sin6));
        if (IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
            return sin6.sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

static int server_has_beta(const char *v)
{
    static const char want[] = "managed-agents-2026-04-01";
    static const char mem[] = "agent-memory-2026-07-22";
    if (!v)
        return 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        size_t len = (size_t)(t - p);
        if ((len == sizeof(want) - 1 && memcmp(p, want, len) == 0) ||
            (len == sizeof(mem) - 1 && memcmp(p, mem, len) == 0))
            return 1;
        p = e;
    }
    return 0;
}

/* The credential of a request, into rq->cred (401 when absent or unknown). Returns 0 to continue.
 */
static int server_check_cred(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    const char *xkey = sim_header(rq, "x-api-key");
    const char *authz = sim_header(rq, "authorization");
    const char *key = NULL;
    if (xkey && authz)
        return sim_err(rq, rs, 401, NULL, NULL,
                       "both x-api-key and authorization were sent; send exactly one credential"),
               -1;
    if (!xkey && !authz)
        return sim_err(rq, rs, 401, NULL, NULL,
                       "missing credential: send x-api-key or authorization: Bearer"),
               -1;
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return sim_err(rq, rs, 401, NULL, NULL,
                           "invalid authorization header: expected the Bearer scheme"),
                   -1;
        key = authz + 7;
        while (*key == ' ')
            key++;
    } else {
        key = xkey;
    }
    pthread_mutex_lock(&sim->mu);
    simstore_cred_lookup(sim, key, &rq->cred);
    pthread_mutex_unlock(&sim->mu);
    if (rq->cred.kind == CRED_NONE)
        return sim_err(rq, rs, 401, NULL, NULL, "invalid credential"), -1;
    return 0;
}

/* Credential and header checks for /v1 routes. Returns 0 to continue. */
static int server_check_v1(struct sim_req *rq, struct sim_resp *rs, int need_beta)
{
    if (server_check_cred(rq, rs) < 0)
        return -1;
    const char *ver = sim_header(rq, "anthropic-version");
    if (!ver)
        return sim_err(rq, rs, 400, NULL, NULL, "missing 'anthropic-version' header"), -1;
    if (strcmp(ver, "2023-06-01") != 0 && strcmp(ver, "2026-10-21") != 0)
        return sim_err(rq, rs, 400, NULL, NULL, "unsupported anthropic-version '%.40s'", ver), -1;
    /* the workspace a request names must at least look like an id */
    const char *ws = sim_header(rq, "anthropic-workspace-id");
    if (ws && !omni_workspace_id_valid(ws))
        return sim_err(rq, rs, 400, "invalid_request_error", NULL,
                       "'anthropic-workspace-id' header is not a workspace id"),
               -1;
    const char *beta = sim_header(rq, "anthropic-beta");
    if (need_beta && !server_has_beta(beta))
        return sim_err(rq, rs, 400, NULL, NULL,
                       "'anthropic-beta' header must include managed-agents-2026-04-01"),
               -1;
    return 0;
}

/* Draw faults for a /v1 request. Returns 1 when a fault response was made. */
static int server_faults(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    pthread_mutex_lock(&sim->mu);
    struct sim_faults f = sim->faults;
    long delay = f.latency_ms;
    if (f.jitter_ms > 0)
        delay += (long)(simfaults_next(sim) % (uint64_t)(f.jitter_ms + 1));
    int kind = 0;
    if (f.p5xx > 0 && simfaults_unit(sim) < f.p5xx)
        kind = 5;
    else if (f.p429 > 0 && simfaults_unit(sim) < f.p429)
        kind = 4;
    int which = kind == 5 ? (int)(simfaults_next(sim) % 3) : 0;
    if (kind == 5)
        sim->ctr.faults_5xx++;
    else if (kind == 4)
        sim->ctr.faults_429++;
    pthread_mutex_unlock(&sim->mu);
    if (delay > 0)
        usleep((useconds_t)delay * 1000);
    if (kind == 5) {
        static const int codes[] = {500, 503, 529};
        static const char *const types[] = {"api_error", "api_error", "overloaded_error"};
        sim_err(rq, rs, codes[which], types[which], NULL, "injected fault: server error");
        return 1;
    }
    if (kind == 4) {
        sim_err(rq, rs, 429, "rate_limit_error", NULL, "injected fault: rate limited");
        rs->retry_after_ms = f.retry_after_ms > 0 ? f.retry_after_ms : 100;
        return 1;
    }
    return 0;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **con_cls)
{
    struct sim *sim = cls;
    struct conn_ctx *ctx = *con_cls;
    (void)version;
    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
            return MHD_NO;
        buf_init(&ctx->body, SIM_BODY_MAX);
        ctx->start_us = omni_wall_us();
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!ctx->too_big && buf_add(&ctx->body, upload, *upload_size) < 0)
            ctx->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }

    struct sim_req rq;
    struct sim_resp rs = SIM_RESP_INIT;
    char pathbuf[1024];
    memset(&rq, 0, sizeof(rq));
    rq.sim = sim;
    rq.conn = c;
    rq.method = method;
    rq.path = url;
    rq.body = ctx->body.data;
    rq.body_len = ctx->body.len;
    pthread_mutex_lock(&sim->mu);
    simstore_new_id(sim, "req_", rq.request_id, sizeof(rq.request_id));
    pthread_mutex_unlock(&sim->mu);

    int ri = server_match(method, url, pathbuf, sizeof(pathbuf), rq.param);
    if (ri == -1) {
        sim_err(&rq, &rs, 404, NULL, NULL, "no such route: %s %.200s", method, url);
    } else if (ri == -2) {
        sim_err(&rq, &rs, 405, "invalid_request_error", NULL, "method %s not allowed on %.200s",
                method, url);
    } else if ((routes[ri].flags & R_SIM) && !server_is_loopback(c)) {
        sim_err(&rq, &rs, 403, NULL, NULL, "introspection routes are served to loopback only");
    } else if ((routes[ri].flags & R_ORGKEY) && server_check_cred(&rq, &rs) < 0) {
        /* error made */
    } else if ((routes[ri].flags & R_ORGKEY) && rq.cred.kind != CRED_ORG) {
        sim_err(&rq, &rs, 403, NULL, NULL, "this administrative route needs the organisation key");
    } else if (ctx->too_big) {
        sim_err(&rq, &rs, 413, "request_too_large", NULL, "request body exceeds %u bytes",
                SIM_BODY_MAX);
    } else if ((routes[ri].flags & R_V1) && server_faults(&rq, &rs)) {
        /* fault response made */
    } else if ((routes[ri].flags & R_V1) && simfaults_route(&rq, &rs)) {
        /* one-shot fault response made */
    } else if ((routes[ri].flags & R_V1) &&
               server_check_v1(&rq, &rs, !(routes[ri].flags & R_NOBETA)) < 0) {
        /* error made */
    } else {
        pthread_mutex_lock(&sim->mu);
        if (sim->shutting_down)
            sim_err(&rq, &rs, 503, "api_error", NULL, "simulator is shutting down");
        else
            routes[ri].fn(&rq, &rs);
        pthread_mutex_unlock(&sim->mu);
        if (!rs.status && !rs.stream)
            sim_err(&rq, &rs, 500, "api_error", NULL, "handler produced no response");
    }
    if (rs.stream)
        rs.status = 200;
    int status = rs.status;
    pthread_mutex_lock(&sim->mu);
    simreport_count(sim, ri < 0 ? ROUTE_OTHER : ri, server_route_name(ri), status);
    pthread_mutex_unlock(&sim->mu);
    simreport_log_request(
        sim, method, url, status, server_cred_name(rq.cred.kind), omni_wall_us() - ctx->start_us,
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-workspace-id"));
    return simreply_send(&rq, &rs) < 0 ? MHD_NO : MHD_YES;
}

static void server_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    buf_release(&ctx->body);
    free(ctx);
    *con_cls = NULL;
}

struct sim_server *simserver_start(struct sim *sim, int *port_out, char *err, size_t errlen)
{
    struct sim_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->sim = sim;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    if (strchr(sim->cfg.listen, ':')) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)sim->cfg.port);
        if (inet_pton(AF_INET6, sim->cfg.listen, &sin6.sin6_addr) != 1) {
            snprintf(err, errlen, "invalid listen address '%s'", sim->cfg.listen);
            free(srv);
            return NULL;
        }
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)sim->cfg.port);
        if (inet_pton(AF_INET, sim->cfg.listen, &sin.sin_addr) != 1) {
            snprintf(err, errlen, "invalid listen address '%s'", sim->cfg.listen);
            free(srv);
            return NULL;
        }
        sa = (const struct sockaddr *)&sin;
    }
    /* --tls-cert/--tls-key: HTTPS through libmicrohttpd's GnuTLS support */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, sim->cfg.tls_key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, sim->cfg.tls_cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (sim->cfg.tls_cert_pem)
        flags |= MHD_USE_TLS;
    else
        tls_opts[0].option = MHD_OPTION_END;
    srv->d = MHD_start_daemon(
        flags, (uint16_t)sim->cfg.port, NULL, NULL, server_handle, sim, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_CONN_LIMIT,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)SERVER_STACK_SIZE, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)SERVER_CONN_TIMEOUT_S, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_COMPLETED, server_completed, NULL, MHD_OPTION_END);
    if (!srv->d) {
        snprintf(err, errlen, "cannot listen on %s port %d", sim->cfg.listen, sim->cfg.port);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    *port_out = di ? di->port : sim->cfg.port;
    return srv;
}

void simserver_stop(struct sim_server *srv)
{
    struct sim *sim = srv->sim;
    pthread_mutex_lock(&sim->mu);
    sim->shutting_down = 1;
    simstore_wake_all(sim);
    pthread_mutex_unlock(&sim->mu);
    MHD_stop_daemon(srv->d);
    free(srv);
}
