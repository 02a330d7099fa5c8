/*
 * server — the HTTP side of omni-sim: libmicrohttpd in thread-per-connection
 * mode (long-polls and SSE streams block on condition variables in their own
 * thread), routing, credential checks, required headers, fault injection,
 * error envelopes, request counting and the request log.
 */
#include "sim.h"

#include "timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_STACK_SIZE (512u * 1024)
#define SERVER_CONN_LIMIT 16384
#define SERVER_CONN_TIMEOUT_S 600
#define SERVER_SSE_BLOCK (64u * 1024)
#define SERVER_SEGS_MAX 8

#define R_V1 1  /* Managed Agents route: version/beta headers, credentials, faults */
#define R_SIM 2 /* introspection: loopback only, no credential, never faulted */
#define R_NOBETA 4 /* anthropic-beta not required (skills, protocol.md §11) */

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
    {"GET", "/_sim/skills", simh_sim_skills_list, R_SIM},
    {"POST", "/_sim/skills", simh_sim_skills_add, R_SIM},
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

const char *simserver_route_name(int idx)
{
    static char names[SIM_ROUTES_MAX][96];
    if (idx < 0 || (size_t)idx >= ROUTES_N)
        return "other";
    if (!names[idx][0])
        snprintf(names[idx], sizeof(names[idx]), "%s %s", routes[idx].method,
                 routes[idx].pattern);
    return names[idx];
}

/* ---- response helpers ---- */

static const char *server_err_message_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 409:
        return "conflict_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

int sim_err(struct sim_req *rq, struct sim_resp *rs, int status, const char *type,
            const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "type", type ? type : server_err_message_type(status));
    cJSON_AddStringToObject(e, "message", msg);
    if (code) {
        cJSON *d = cJSON_AddObjectToObject(e, "details");
        cJSON_AddStringToObject(d, "error_code", code);
    }
    cJSON_AddStringToObject(o, "request_id", rq->request_id);
    free(rs->body);
    rs->body = NULL;
    sim_json(rs, status, o);
    return 0;
}

void sim_json(struct sim_resp *rs, int status, cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text) {
        fputs("omni-sim: out of memory\n", stderr);
        abort();
    }
    sim_json_raw(rs, status, text);
}

void sim_json_raw(struct sim_resp *rs, int status, char *text)
{
    free(rs->body);
    rs->status = status;
    rs->body = text;
    rs->content_type = "application/json";
}

const char *sim_header(struct sim_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *sim_query(struct sim_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_collect {
    const char *name;
    size_t nlen;
    struct sim_vec *out;
};

static enum MHD_Result server_query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    struct query_collect *qc = cls;
    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (strcmp(key, qc->name) == 0 ||
        (strncmp(key, qc->name, qc->nlen) == 0 && strcmp(key + qc->nlen, "[]") == 0))
        simvec_push(qc->out, (void *)(uintptr_t)value);
    return MHD_YES;
}

void sim_query_all(struct sim_req *rq, const char *name, struct sim_vec *out)
{
    struct query_collect qc = {name, strlen(name), out};
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, server_query_iter, &qc);
}

cJSON *sim_body(struct sim_req *rq, struct sim_resp *rs, int required)
{
    size_t i = 0;
    while (i < rq->body_len && (rq->body[i] == ' ' || rq->body[i] == '\n' ||
                                rq->body[i] == '\r' || rq->body[i] == '\t'))
        i++;
    if (i == rq->body_len) {
        if (required) {
            sim_err(rq, rs, 400, NULL, NULL, "request body is empty: expected a JSON object");
            return NULL;
        }
        return cJSON_CreateObject();
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(rq->body, rq->body_len, &end, 0);
    if (!j) {
        size_t off = end && end >= rq->body ? (size_t)(end - rq->body) : 0;
        sim_err(rq, rs, 400, NULL, NULL, "request body is not valid JSON (near byte %zu)", off);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        sim_err(rq, rs, 400, NULL, NULL, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

int sim_query_int(struct sim_req *rq, struct sim_resp *rs, const char *name, long lo, long hi,
                  long def, long *out)
{
    const char *v = sim_query(rq, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid '%s': must be an integer between %ld and %ld",
                name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int sim_query_bool(struct sim_req *rq, struct sim_resp *rs, const char *name, int *out)
{
    const char *v = sim_query(rq, name);
    if (!v)
        return 0;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else {
        sim_err(rq, rs, 400, NULL, NULL, "invalid '%s': must be true or false", name);
        return -1;
    }
    return 0;
}

int sim_page_parse(struct sim_req *rq, struct sim_resp *rs, size_t max, size_t *out, int *given)
{
    const char *v = sim_query(rq, "page");
    *given = 0;
    if (!v || !*v)
        return 0;
    char *end = NULL;
    if (strncmp(v, "page_", 5) != 0 || !v[5]) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'page': not a cursor returned by this API");
        return -1;
    }
    unsigned long long n = strtoull(v + 5, &end, 10);
    if (*end || n > max) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'page': not a cursor returned by this API");
        return -1;
    }
    *out = (size_t)n;
    *given = 1;
    return 0;
}

char *sim_page_token(size_t idx, char *out, size_t outlen)
{
    snprintf(out, outlen, "page_%zu", idx);
    return out;
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

int sim_need_org(struct sim_req *rq, struct sim_resp *rs)
{
    if (rq->cred.kind == CRED_ORG)
        return 1;
    sim_err(rq, rs, 403, NULL, NULL, "this operation requires an organisation API key, not %s",
            rq->cred.kind == CRED_ENV ? "an environment key" : "a sessions token");
    return 0;
}

int sim_can_env(struct sim_req *rq, struct sim_resp *rs, struct sim_env *e)
{
    if (rq->cred.kind == CRED_ORG || (rq->cred.kind == CRED_ENV && rq->cred.env == e))
        return 1;
    sim_err(rq, rs, 403, NULL, NULL, "credential is not allowed to access environment '%s'",
            e->id);
    return 0;
}

int sim_can_session(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s)
{
    if (rq->cred.kind == CRED_ORG || (rq->cred.kind == CRED_ENV && rq->cred.env == s->env) ||
        (rq->cred.kind == CRED_TOKEN && rq->cred.work->session == s))
        return 1;
    sim_err(rq, rs, 403, NULL, NULL, "credential is not allowed to access session '%s'", s->id);
    return 0;
}

int sim_can_work(struct sim_req *rq, struct sim_resp *rs, struct sim_work *w)
{
    if ((rq->cred.kind == CRED_ENV && rq->cred.env == w->env) ||
        (rq->cred.kind == CRED_TOKEN && rq->cred.work == w))
        return 1;
    sim_err(rq, rs, 403, NULL, NULL, "credential is not allowed to access work item '%s'", w->id);
    return 0;
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

/* Credential and header checks for /v1 routes. Returns 0 to continue. */
static int server_check_v1(struct sim_req *rq, struct sim_resp *rs, int need_beta)
{
    struct sim *sim = rq->sim;
    const char *xkey = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-api-key");
    const char *authz = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "authorization");
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
    const char *ver = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "anthropic-version");
    if (!ver)
        return sim_err(rq, rs, 400, NULL, NULL, "missing 'anthropic-version' header"), -1;
    if (strcmp(ver, "2023-06-01") != 0 && strcmp(ver, "2026-10-21") != 0)
        return sim_err(rq, rs, 400, NULL, NULL, "unsupported anthropic-version '%.40s'", ver), -1;
    const char *beta = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "anthropic-beta");
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

static ssize_t server_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = simevents_stream_read(cls, buf, max);
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void server_sse_free(void *cls)
{
    simevents_stream_free(cls);
}

static enum MHD_Result server_send(struct MHD_Connection *c, struct sim_req *rq,
                                   struct sim_resp *rs)
{
    struct MHD_Response *r;
    if (rs->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SERVER_SSE_BLOCK, server_sse_read,
                                              rs->stream, server_sse_free);
        if (!r) {
            simevents_stream_free(rs->stream);
            return MHD_NO;
        }
        MHD_add_response_header(r, "content-type", "text/event-stream");
        MHD_add_response_header(r, "cache-control", "no-cache");
    } else {
        size_t len = !rs->body ? 0 : rs->body_len ? rs->body_len : strlen(rs->body);
        r = MHD_create_response_from_buffer(len, rs->body ? rs->body : (void *)(uintptr_t)"",
                                            rs->body ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
        if (!r) {
            free(rs->body);
            return MHD_NO;
        }
        rs->body = NULL;
        if (rs->status != 204 && rs->content_type)
            MHD_add_response_header(r, "content-type", rs->content_type);
    }
    MHD_add_response_header(r, "request-id", rq->request_id);
    if (rs->retry_after_ms >= 0) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", rs->retry_after_ms);
        MHD_add_response_header(r, "retry-after-ms", v);
        snprintf(v, sizeof(v), "%ld", (rs->retry_after_ms + 999) / 1000);
        MHD_add_response_header(r, "retry-after", v);
    }
    if (rs->should_retry >= 0)
        MHD_add_response_header(r, "x-should-retry", rs->should_retry ? "true" : "false");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload, size_t *upload_size, void **con_cls)
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
    struct sim_resp rs;
    char pathbuf[1024];
    memset(&rq, 0, sizeof(rq));
    memset(&rs, 0, sizeof(rs));
    rs.should_retry = -1;
    rs.retry_after_ms = -1;
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
    } else if (ctx->too_big) {
        sim_err(&rq, &rs, 413, "request_too_large", NULL, "request body exceeds %u bytes",
                SIM_BODY_MAX);
    } else if ((routes[ri].flags & R_V1) && server_faults(&rq, &rs)) {
        /* fault response made */
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
    simreport_count(sim, ri < 0 ? ROUTE_OTHER : ri, status);
    pthread_mutex_unlock(&sim->mu);
    simreport_log_request(sim, method, url, status, server_cred_name(rq.cred.kind),
                       omni_wall_us() - ctx->start_us);
    return server_send(c, &rq, &rs);
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
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_CONN_LIMIT, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)SERVER_STACK_SIZE, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONN_TIMEOUT_S,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED,
        server_completed, NULL, MHD_OPTION_END);
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
