/*
 * reply — what a route handler gets and the helpers that fill its answer:
 * the request (struct sim_req), the response (struct sim_resp), JSON bodies,
 * API error envelopes, request headers and query parameters, body parsing,
 * page cursors, credential scope checks, SSE responses, and the sending of
 * the response with its headers (request-id, retry-after, x-should-retry).
 *
 * Layering: server.c (the router) -> the handlers (resources.c, work.c,
 * events.c, threads.c, skills.c, report.c, webhook.c) -> reply.c. reply.c
 * calls neither the router nor a handler; an SSE body is read through the
 * functions its handler gave to sim_sse().
 *
 * Caller contract:
 *  1. The router fills a struct sim_req (request_id set, cred resolved for
 *     /v1 routes) and a struct sim_resp from SIM_RESP_INIT, then calls one
 *     handler with sim->mu held.
 *  2. The handler fills the response once with sim_json(), sim_json_raw(),
 *     sim_err() or sim_sse(); a later call replaces (and frees) an earlier
 *     body. Helpers that take rs and fail (sim_body, sim_query_int,
 *     sim_page_parse, sim_can_*, ...) have already filled rs with a 400/403
 *     envelope: the handler just returns.
 *  3. The router calls simreply_send() once. It hands rs->body (or the
 *     stream) to libmicrohttpd, which frees it, whatever the outcome.
 * Pointers in sim_req (path, params, body, header and query values) belong
 * to libmicrohttpd and live until the request is answered.
 */
#ifndef OMNI_SIM_REPLY_H
#define OMNI_SIM_REPLY_H

#include "sim.h"

struct MHD_Connection;

struct sim_req {
    struct sim *sim;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *param[3]; /* captured path segments */
    const char *body;
    size_t body_len;
    struct sim_cred cred;
    char request_id[SIM_ID_MAX];
};

/* An SSE body: read fills out with up to max bytes and returns their count,
 * -1 at the end of the stream, -2 on error; release runs once, at the end. */
typedef long sim_stream_read_fn(struct sim_stream *st, char *out, size_t max);
typedef void sim_stream_release_fn(struct sim_stream *st);

struct sim_resp {
    int status;
    char *body;      /* malloc'd; NULL = empty */
    size_t body_len; /* bytes of a binary body; 0 = strlen(body) */
    const char *content_type;
    int should_retry;          /* -1 absent, 0 false, 1 true */
    long retry_after_ms;       /* -1 absent */
    struct sim_stream *stream; /* SSE response when set (sim_sse) */
    sim_stream_read_fn *stream_read;
    sim_stream_release_fn *stream_release;
};

#define SIM_RESP_INIT                                                                              \
    {                                                                                              \
        .should_retry = -1, .retry_after_ms = -1                                                   \
    }

/* Fill rs with an API error envelope. Returns 0 for `return sim_err(...)` convenience. */
int sim_err(struct sim_req *rq, struct sim_resp *rs, int status, const char *type, const char *code,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* 200 (or status) with the JSON of obj (obj is freed). */
void sim_json(struct sim_resp *rs, int status, cJSON *obj);
/* Take ownership of a malloc'd JSON string. */
void sim_json_raw(struct sim_resp *rs, int status, char *text);
/* A 200 text/event-stream response whose body is read from st (see above). */
void sim_sse(struct sim_resp *rs, struct sim_stream *st, sim_stream_read_fn *read,
             sim_stream_release_fn *release);
/* A request header (case-insensitive name), NULL if absent. */
const char *sim_header(struct sim_req *rq, const char *name);
/* First value of a query parameter (NULL if absent). */
const char *sim_query(struct sim_req *rq, const char *name);
/* All values of name and name[] (collected into v as const char*). */
void sim_query_all(struct sim_req *rq, const char *name, struct sim_vec *out);
/* Parse the body as a JSON object. Returns NULL and fills rs on error; an
 * empty body yields an empty object when !required. */
cJSON *sim_body(struct sim_req *rq, struct sim_resp *rs, int required);
/* Parse an integer query parameter in [lo, hi]; def when absent. -1 + rs on error. */
int sim_query_int(struct sim_req *rq, struct sim_resp *rs, const char *name, long lo, long hi,
                  long def, long *out);
int sim_query_bool(struct sim_req *rq, struct sim_resp *rs, const char *name, int *out);
/* An RFC 3339 query parameter in microseconds: 0 when absent (the epoch
 * itself gives 1, so 0 keeps meaning "not given"). -1 + rs on error. */
int sim_query_ts(struct sim_req *rq, struct sim_resp *rs, const char *name, int64_t *out);
/* Scope checks: return 1 when allowed, else fill rs (403) and return 0. */
int sim_need_org(struct sim_req *rq, struct sim_resp *rs);
int sim_can_env(struct sim_req *rq, struct sim_resp *rs, struct sim_env *e);
int sim_can_session(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s);
int sim_can_work(struct sim_req *rq, struct sim_resp *rs, struct sim_work *w);

/* Cursor helpers: "page_<n>" tokens, n an index into the list. */
int sim_page_parse(struct sim_req *rq, struct sim_resp *rs, size_t max, size_t *out, int *given);
/* The "limit" (1..SIM_PAGE_MAX, default SIM_PAGE_DEFAULT) and "page" query
 * parameters of a list of n_all. -1 + rs on error. */
int sim_page_bounds(struct sim_req *rq, struct sim_resp *rs, size_t n_all, long *limit,
                    size_t *start, int *given);
/* "next_page": the cursor of idx when more, else null. */
void sim_page_next(cJSON *o, int more, size_t idx);

/* Queue rs on rq->conn with its headers (the router, once per request).
 * Returns 0, or -1 when libmicrohttpd refused it (the connection is dropped). */
int simreply_send(struct sim_req *rq, struct sim_resp *rs);

#endif
