/*
 * reply — the answer side of a request (see reply.h): JSON bodies, error
 * envelopes, request headers and query parameters, body parsing, cursors,
 * credential scope checks, and the response queued with its headers.
 */
#include "reply.h"

#include "alloc.h"
#include "timeutil.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_SSE_BLOCK (64u * 1024)

static const char *reply_error_type(int status)
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

int sim_err(struct sim_req *rq, struct sim_resp *rs, int status, const char *type, const char *code,
            const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "type", type ? type : reply_error_type(status));
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
    if (!text)
        omni_oom();
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

static enum MHD_Result reply_query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
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
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, reply_query_iter, &qc);
}

cJSON *sim_body(struct sim_req *rq, struct sim_resp *rs, int required)
{
    size_t i = 0;
    while (i < rq->body_len && (rq->body[i] == ' ' || rq->body[i] == '\n' || rq->body[i] == '\r' ||
                                rq->body[i] == '\t'))
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

int sim_query_ts(struct sim_req *rq, struct sim_resp *rs, const char *name, int64_t *out)
{
    const char *v = sim_query(rq, name);
    *out = 0;
    if (!v)
        return 0;
    if (omni_rfc3339_parse(v, out) < 0) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid '%s': expected an RFC 3339 timestamp", name);
        return -1;
    }
    if (!*out)
        *out = 1;
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

int sim_page_bounds(struct sim_req *rq, struct sim_resp *rs, size_t n_all, long *limit,
                    size_t *start, int *given)
{
    if (sim_query_int(rq, rs, "limit", 1, SIM_PAGE_MAX, SIM_PAGE_DEFAULT, limit) < 0 ||
        sim_page_parse(rq, rs, n_all, start, given) < 0)
        return -1;
    return 0;
}

void sim_page_next(cJSON *o, int more, size_t idx)
{
    char tok[40];
    if (more) {
        snprintf(tok, sizeof(tok), "page_%zu", idx);
        cJSON_AddStringToObject(o, "next_page", tok);
    } else {
        cJSON_AddNullToObject(o, "next_page");
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
    sim_err(rq, rs, 403, NULL, NULL, "credential is not allowed to access environment '%s'", e->id);
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

/* What libmicrohttpd's content reader gets for an SSE body. */
struct reply_sse {
    struct sim_stream *st;
    sim_stream_read_fn *read;
    sim_stream_release_fn *release;
};

void sim_sse(struct sim_resp *rs, struct sim_stream *st, sim_stream_read_fn *read,
             sim_stream_release_fn *release)
{
    free(rs->body);
    rs->body = NULL;
    rs->status = 200;
    rs->stream = st;
    rs->stream_read = read;
    rs->stream_release = release;
}

static ssize_t reply_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reply_sse *sse = cls;
    (void)pos;
    long n = sse->read(sse->st, buf, max);
    if (n == -1)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

static void reply_sse_free(void *cls)
{
    struct reply_sse *sse = cls;
    sse->release(sse->st);
    free(sse);
}

int simreply_send(struct sim_req *rq, struct sim_resp *rs)
{
    struct MHD_Response *r;
    if (rs->stream) {
        struct reply_sse *sse = omni_xmalloc(sizeof(*sse));
        sse->st = rs->stream;
        sse->read = rs->stream_read;
        sse->release = rs->stream_release;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, REPLY_SSE_BLOCK, reply_sse_read,
                                              sse, reply_sse_free);
        if (!r) {
            reply_sse_free(sse);
            return -1;
        }
        MHD_add_response_header(r, "content-type", "text/event-stream");
        MHD_add_response_header(r, "cache-control", "no-cache");
    } else {
        size_t len = !rs->body ? 0 : rs->body_len ? rs->body_len : strlen(rs->body);
        r = MHD_create_response_from_buffer(len, rs->body ? rs->body : (void *)(uintptr_t) "",
                                            rs->body ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
        if (!r) {
            free(rs->body);
            return -1;
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
    enum MHD_Result ret = MHD_queue_response(rq->conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret == MHD_YES ? 0 : -1;
}
