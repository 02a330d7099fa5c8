#include "api.h"

#include "buf.h"
#include "sse.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int omni_id_valid(const char *id)
{
    return omni_name_valid(id, OMNI_ID_MAX - 1);
}

int omni_json_str(const cJSON *obj, const char *key, char *out, size_t outlen, int required,
                  struct omni_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    out[0] = '\0';
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return omni_err_set(err, OMNI_E_PARSE, "response has no \"%s\"", key);
        return 0;
    }
    if (!cJSON_IsString(v))
        return omni_err_set(err, OMNI_E_PARSE, "response field \"%s\" is not a string", key);
    if (strlen(v->valuestring) >= outlen) {
        /* Ids must fit; free text is truncated. */
        if (required)
            return omni_err_set(err, OMNI_E_PARSE, "response field \"%s\" is too long", key);
    }
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

int omni_json_time(const cJSON *obj, const char *key, int64_t *us, struct omni_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *us = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return omni_err_set(err, OMNI_E_PARSE, "response field \"%s\" is not a string", key);
    if (!*v->valuestring)
        return 0;
    if (omni_rfc3339_parse(v->valuestring, us) < 0)
        return omni_err_set(err, OMNI_E_PARSE, "response field \"%s\" is not an RFC 3339 time",
                            key);
    return 0;
}

static int json_long(const cJSON *obj, const char *key, long *out, long dflt, struct omni_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < -9e15 || v->valuedouble > 9e15)
        return omni_err_set(err, OMNI_E_PARSE, "response field \"%s\" is not a number", key);
    *out = (long)v->valuedouble;
    return 0;
}

static int stats_parse(const cJSON *root, struct omni_stats *out, struct omni_err *err);

/* ---- request plumbing -------------------------------------------------- */

static int path_build(struct buf *b, struct omni_err *err, const char *first, ...)
    __attribute__((sentinel));

/* Build "/v1/<a>/<b>/..." where odd arguments are literal and ids are escaped. */
static int path_build(struct buf *b, struct omni_err *err, const char *first, ...)
{
    va_list ap;
    const char *seg;
    int literal = 1;

    buf_adds(b, first);
    va_start(ap, first);
    while ((seg = va_arg(ap, const char *)) != NULL) {
        literal = !literal;
        if (literal) {
            buf_adds(b, seg);
        } else {
            if (!omni_id_valid(seg)) {
                va_end(ap);
                return omni_err_set(err, OMNI_E_USAGE, "invalid id \"%.80s\"", seg);
            }
            omni_path_add(b, seg);
        }
    }
    va_end(ap);
    if (b->overflow)
        return omni_err_set(err, OMNI_E_USAGE, "request path too long");
    return 0;
}

/* Perform a request and parse the JSON body (NULL allowed when the body is empty). */
/*
 * Parse JSON text from the API. cJSON would cut a string at an escaped NUL
 * (\u0000) and hand on only the part before it, so a tool input such as
 * "inside.txt\u0000../../x" would be acted on as "inside.txt". Each such
 * escape inside a string becomes the byte 0xFF instead (never valid in
 * UTF-8), so the text stays whole and every consumer that checks UTF-8 (the
 * toolset does) refuses it. Text without the escape is parsed as it is.
 */
cJSON *omni_json_parse(const char *text, size_t len)
{
    if (!text || !memmem(text, len, "\\u0000", 6))
        return cJSON_ParseWithLength(text, len);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return NULL;
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str && ch == '\\' && i + 1 < len) {
            if (i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0) {
                copy[o++] = (char)0xFF;
                i += 5;
            } else {
                copy[o++] = ch;
                copy[o++] = text[++i];
            }
            continue;
        }
        if (ch == '"')
            in_str = !in_str;
        copy[o++] = ch;
    }
    cJSON *j = cJSON_ParseWithLength(copy, o);
    free(copy);
    return j;
}

static int call_json(struct omni_client *c, const char *method, const char *path, const char *body,
                     unsigned flags, cJSON **out, struct omni_response *keep, struct omni_err *err)
{
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_request rq = {0};
    int r;

    rq.method = method;
    rq.path = path;
    rq.body = body;
    rq.flags = flags;
    r = omni_client_do(c, &rq, &rs, err);
    if (r == 0 && out) {
        *out = NULL;
        if (rs.body.len) {
            *out = omni_json_parse(rs.body.data, rs.body.len);
            if (!*out) {
                char p[128];
                snprintf(p, sizeof p, "%.*s", (int)strcspn(path, "?"), path);
                r = omni_err_set(err, OMNI_E_PARSE, "%s %s: response is not valid JSON", method, p);
            }
        }
    }
    if (keep) {
        *keep = rs;
    } else {
        omni_response_release(&rs);
    }
    return r;
}

static int expect_object(cJSON *j, const char *what, struct omni_err *err)
{
    if (!cJSON_IsObject(j))
        return omni_err_set(err, OMNI_E_PARSE, "%s: response is not a JSON object", what);
    return 0;
}

/*
 * Iterate pages: fetch(path?page=...) until next_page is null. An item parser
 * that keeps the item's JSON takes it out of the page (detach from list)
 * instead of copying it: a deep copy of every item cost most of the CPU of
 * listing 10,000 sessions.
 */
typedef int (*item_parse_fn)(cJSON *list, cJSON *item, void *slot, struct omni_err *err);

struct pager {
    void **items;
    size_t *n;
    size_t item_size;
    item_parse_fn parse;
    size_t max_items;
    char *next_page; /* last page's cursor, OMNI_NAME_MAX */
};

static int fetch_pages(struct omni_client *c, const char *base_path, const char *what,
                       struct pager *pg, int all_pages, struct omni_err *err)
{
    char cursor[OMNI_NAME_MAX] = "";
    size_t cap = 0;

    *pg->items = NULL;
    *pg->n = 0;
    for (int page = 0; page < 10000; page++) {
        struct buf url = BUF_INIT_MAX(8192);
        cJSON *root = NULL, *data, *it, *next, *np;
        int r;

        buf_adds(&url, base_path);
        if (cursor[0])
            omni_query_add(&url, "page", cursor);
        r = call_json(c, "GET", url.data, NULL, 0, &root, NULL, err);
        buf_release(&url);
        if (r < 0)
            return -1;
        if (expect_object(root, what, err) < 0) {
            cJSON_Delete(root);
            return -1;
        }
        data = cJSON_GetObjectItemCaseSensitive(root, "data");
        if (!cJSON_IsArray(data)) {
            cJSON_Delete(root);
            return omni_err_set(err, OMNI_E_PARSE, "%s: response has no \"data\" array", what);
        }
        for (it = data->child; it; it = next) {
            next = it->next; /* the parser may take it out of the list */
            if (*pg->n >= pg->max_items) {
                cJSON_Delete(root);
                return omni_err_set(err, OMNI_E_TOOBIG, "%s: more than %zu items", what,
                                    pg->max_items);
            }
            if (*pg->n == cap) {
                size_t ncap = cap ? cap * 2 : 32;
                void *p = realloc(*pg->items, ncap * pg->item_size);
                if (!p) {
                    cJSON_Delete(root);
                    return omni_err_set(err, OMNI_E_IO, "out of memory");
                }
                *pg->items = p;
                cap = ncap;
            }
            void *slot = (char *)*pg->items + *pg->n * pg->item_size;
            memset(slot, 0, pg->item_size);
            if (pg->parse(data, it, slot, err) < 0) {
                cJSON_Delete(root);
                return omni_err_prefix(err, "%s", what);
            }
            (*pg->n)++;
        }
        np = cJSON_GetObjectItemCaseSensitive(root, "next_page");
        cursor[0] = '\0';
        if (cJSON_IsString(np) && np->valuestring[0])
            snprintf(cursor, sizeof cursor, "%s", np->valuestring);
        cJSON_Delete(root);
        if (pg->next_page)
            snprintf(pg->next_page, OMNI_NAME_MAX, "%s", cursor);
        if (!cursor[0] || !all_pages)
            return 0;
    }
    return omni_err_set(err, OMNI_E_TOOBIG, "%s: too many pages", what);
}

/* ---- environments ------------------------------------------------------ */

static int env_parse(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    struct omni_environment *e = slot;
    const cJSON *cfg;

    if (!cJSON_IsObject(j))
        return omni_err_set(err, OMNI_E_PARSE, "environment is not an object");
    if (omni_json_str(j, "id", e->id, sizeof e->id, 1, err) < 0 ||
        omni_json_str(j, "name", e->name, sizeof e->name, 0, err) < 0 ||
        omni_json_str(j, "description", e->description, sizeof e->description, 0, err) < 0 ||
        omni_json_time(j, "created_at", &e->created_at, err) < 0 ||
        omni_json_time(j, "archived_at", &e->archived_at, err) < 0)
        return -1;
    cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    e->config_type[0] = '\0';
    if (cJSON_IsObject(cfg) &&
        omni_json_str(cfg, "type", e->config_type, sizeof e->config_type, 0, err) < 0)
        return -1;
    return 0;
}

int omni_env_list(struct omni_client *c, int include_archived, struct omni_environment_list *out,
                  struct omni_err *err)
{
    struct pager pg = {(void **)&out->items, &out->n,       sizeof *out->items, env_parse,
                       OMNI_LIST_MAX_ITEMS,  out->next_page};
    const char *path = include_archived ? "/v1/environments?limit=100&include_archived=true"
                                        : "/v1/environments?limit=100";
    return fetch_pages(c, path, "GET /v1/environments", &pg, 1, err);
}

static int env_one(struct omni_client *c, const char *method, const char *path, const char *body,
                   struct omni_environment *out, struct omni_err *err)
{
    cJSON *root = NULL;
    int r = call_json(c, method, path, body, 0, &root, NULL, err);
    if (r == 0) {
        struct omni_environment tmp = {0};
        r = expect_object(root, path, err);
        if (r == 0)
            r = env_parse(NULL, root, out ? out : &tmp, err);
    }
    cJSON_Delete(root);
    return r;
}

int omni_env_get(struct omni_client *c, const char *env_id, struct omni_environment *out,
                 struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    int r = path_build(&p, err, "/v1/environments", env_id, NULL);
    if (r == 0)
        r = env_one(c, "GET", p.data, NULL, out, err);
    buf_release(&p);
    return r;
}

int omni_env_create(struct omni_client *c, const char *name, const char *description,
                    struct omni_environment *out, struct omni_err *err)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(b, "config");
    char *body;
    int r;

    cJSON_AddStringToObject(b, "name", name);
    cJSON_AddStringToObject(cfg, "type", "self_hosted");
    if (description)
        cJSON_AddStringToObject(b, "description", description);
    body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    r = env_one(c, "POST", "/v1/environments", body, out, err);
    free(body);
    return r;
}

int omni_env_archive(struct omni_client *c, const char *env_id, struct omni_environment *out,
                     struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    int r = path_build(&p, err, "/v1/environments", env_id, "/archive", NULL);
    if (r == 0)
        r = env_one(c, "POST", p.data, NULL, out, err);
    buf_release(&p);
    return r;
}

void omni_environment_list_release(struct omni_environment_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- work ---------------------------------------------------------------- */

static int work_parse_obj(const cJSON *j, struct omni_work *w, int want_secret,
                          struct omni_err *err)
{
    const cJSON *data, *sec;

    if (!cJSON_IsObject(j))
        return omni_err_set(err, OMNI_E_PARSE, "work item is not an object");
    if (omni_json_str(j, "id", w->id, sizeof w->id, 1, err) < 0 ||
        omni_json_str(j, "environment_id", w->environment_id, sizeof w->environment_id, 0, err) <
            0 ||
        omni_json_str(j, "state", w->state, sizeof w->state, 0, err) < 0 ||
        omni_json_time(j, "created_at", &w->created_at, err) < 0 ||
        omni_json_time(j, "acknowledged_at", &w->acknowledged_at, err) < 0 ||
        omni_json_time(j, "started_at", &w->started_at, err) < 0 ||
        omni_json_time(j, "latest_heartbeat_at", &w->latest_heartbeat_at, err) < 0 ||
        omni_json_time(j, "stop_requested_at", &w->stop_requested_at, err) < 0 ||
        omni_json_time(j, "stopped_at", &w->stopped_at, err) < 0)
        return -1;
    if (!omni_id_valid(w->id))
        return omni_err_set(err, OMNI_E_PARSE, "work item id is not a valid id");
    data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (cJSON_IsObject(data)) {
        if (omni_json_str(data, "type", w->data_type, sizeof w->data_type, 0, err) < 0 ||
            omni_json_str(data, "id", w->data_id, sizeof w->data_id, 0, err) < 0)
            return -1;
    } else if (data && !cJSON_IsNull(data)) {
        return omni_err_set(err, OMNI_E_PARSE, "work item \"data\" is not an object");
    }
    if (want_secret) {
        sec = cJSON_GetObjectItemCaseSensitive(j, "secret");
        if (cJSON_IsString(sec) && sec->valuestring[0]) {
            w->secret = strdup(sec->valuestring);
            if (!w->secret)
                return omni_err_set(err, OMNI_E_IO, "out of memory");
        }
    }
    return 0;
}

static int work_parse_slot(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    return work_parse_obj(j, slot, 0, err);
}

int omni_work_parse(const char *json, size_t len, struct omni_work *out, struct omni_err *err)
{
    cJSON *j = cJSON_ParseWithLength(json, len);
    int r;

    memset(out, 0, sizeof *out);
    if (!j)
        return omni_err_set(err, OMNI_E_PARSE, "work item is not valid JSON");
    r = work_parse_obj(j, out, 1, err);
    if (r == 0) {
        out->raw = malloc(len + 1);
        if (!out->raw) {
            r = omni_err_set(err, OMNI_E_IO, "out of memory");
        } else {
            memcpy(out->raw, json, len);
            out->raw[len] = '\0';
        }
    }
    if (r < 0)
        omni_work_release(out);
    cJSON_Delete(j);
    return r;
}

void omni_work_release(struct omni_work *w)
{
    if (w->secret) {
        explicit_bzero(w->secret, strlen(w->secret));
        free(w->secret);
    }
    if (w->raw) {
        explicit_bzero(w->raw, strlen(w->raw));
        free(w->raw);
    }
    w->secret = w->raw = NULL;
}

void omni_work_list_release(struct omni_work_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        omni_work_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int omni_work_poll(struct omni_client *c, const char *env_id, int block_ms, long reclaim_ms,
                   const char *worker_id, volatile int *abort, struct omni_work *out, int *got,
                   struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048), hdr = BUF_INIT_MAX(512);
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_request rq = {0};
    const char *headers[2] = {NULL, NULL};
    char num[32];
    int r;

    *got = 0;
    memset(out, 0, sizeof *out);
    if (block_ms < 0 || block_ms > OMNI_POLL_BLOCK_MS)
        return omni_err_set(err, OMNI_E_USAGE, "poll block_ms %d is outside 0..999", block_ms);
    if (path_build(&p, err, "/v1/environments", env_id, "/work/poll", NULL) < 0) {
        buf_release(&p);
        return -1;
    }
    if (block_ms > 0) {
        snprintf(num, sizeof num, "%d", block_ms);
        omni_query_add(&p, "block_ms", num);
    }
    if (reclaim_ms > 0) {
        snprintf(num, sizeof num, "%ld", reclaim_ms);
        omni_query_add(&p, "reclaim_older_than_ms", num);
    }
    if (worker_id && *worker_id) {
        buf_addf(&hdr, "Anthropic-Worker-ID: %s", worker_id);
        headers[0] = hdr.data;
    }
    rq.method = "GET";
    rq.path = p.data;
    rq.headers = headers;
    rq.abort = abort;
    rq.timeout_ms = 30000 + block_ms;
    r = omni_client_do(c, &rq, &rs, err);
    if (r == 0 && rs.status != 204 && rs.body.len) {
        cJSON *j = cJSON_ParseWithLength(rs.body.data, rs.body.len);
        if (!j) {
            r = omni_err_set(err, OMNI_E_PARSE, "GET work/poll: response is not valid JSON");
        } else if (cJSON_IsNull(j)) {
            /* empty queue */
        } else if (!cJSON_IsObject(j)) {
            r = omni_err_set(err, OMNI_E_PARSE, "GET work/poll: response is not an object");
        } else {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
            if (cJSON_IsString(id) && id->valuestring[0]) {
                r = omni_work_parse(rs.body.data, rs.body.len, out, err);
                if (r == 0)
                    *got = 1;
            }
        }
        cJSON_Delete(j);
    }
    omni_response_release(&rs);
    buf_release(&p);
    buf_release(&hdr);
    return r;
}

int omni_work_ack(struct omni_client *c, const char *env_id, const char *work_id,
                  struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    int r = path_build(&p, err, "/v1/environments", env_id, "/work", work_id, "/ack", NULL);
    if (r == 0)
        r = call_json(c, "POST", p.data, NULL, 0, NULL, NULL, err);
    buf_release(&p);
    return r;
}

int omni_work_ack_once(struct omni_client *c, const char *env_id, const char *work_id,
                       long timeout_ms, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_request rq = {0};
    int r = path_build(&p, err, "/v1/environments", env_id, "/work", work_id, "/ack", NULL);

    if (r == 0) {
        rq.method = "POST";
        rq.path = p.data;
        rq.timeout_ms = timeout_ms;
        rq.max_retries = -1;
        rq.flags = OMNI_RQ_NO_RETRY_409;
        r = omni_client_do(c, &rq, &rs, err);
    }
    omni_response_release(&rs);
    buf_release(&p);
    return r;
}

static int heartbeat_parse(const cJSON *j, struct omni_heartbeat *hb, struct omni_err *err)
{
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(j, "lease_extended");
    if (omni_json_str(j, "last_heartbeat", hb->last_heartbeat, sizeof hb->last_heartbeat, 0, err) <
            0 ||
        omni_json_str(j, "state", hb->state, sizeof hb->state, 0, err) < 0 ||
        json_long(j, "ttl_seconds", &hb->ttl_seconds, 0, err) < 0)
        return -1;
    if (le && !cJSON_IsBool(le) && !cJSON_IsNull(le))
        return omni_err_set(err, OMNI_E_PARSE, "response field \"lease_extended\" is not a bool");
    hb->lease_extended = cJSON_IsTrue(le);
    return 0;
}

int omni_work_heartbeat(struct omni_client *c, const char *env_id, const char *work_id,
                        const char *expected, long desired_ttl, long timeout_ms,
                        struct omni_heartbeat *out, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_request rq = {0};
    char num[32];
    int r;

    memset(out, 0, sizeof *out);
    if (path_build(&p, err, "/v1/environments", env_id, "/work", work_id, "/heartbeat", NULL) < 0) {
        buf_release(&p);
        return -1;
    }
    omni_query_add(&p, "expected_last_heartbeat", expected ? expected : "NO_HEARTBEAT");
    if (desired_ttl > 0) {
        snprintf(num, sizeof num, "%ld", desired_ttl);
        omni_query_add(&p, "desired_ttl_seconds", num);
    }
    rq.method = "POST";
    rq.path = p.data;
    rq.timeout_ms = timeout_ms;
    rq.max_retries = -1;
    r = omni_client_do(c, &rq, &rs, err);
    if (rs.body.len && (r == 0 || rs.status == 412)) {
        cJSON *j = cJSON_ParseWithLength(rs.body.data, rs.body.len);
        if (r == 0) {
            struct omni_err perr = OMNI_ERR_INIT;
            if (!cJSON_IsObject(j))
                r = omni_err_set(err, OMNI_E_PARSE, "POST heartbeat: response is not an object");
            else if (heartbeat_parse(j, out, &perr) < 0)
                r = (*err = perr, omni_err_prefix(err, "POST heartbeat"));
        } else {
            /* 412: details.current_state describes the lease as the server holds it */
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "details");
            const cJSON *cs = cJSON_GetObjectItemCaseSensitive(d, "current_state");
            if (cJSON_IsObject(cs)) {
                /* field by field: one malformed field must not hide the others */
                struct omni_err ignore = OMNI_ERR_INIT;
                const cJSON *le = cJSON_GetObjectItemCaseSensitive(cs, "lease_extended");
                out->current_state = 1;
                omni_json_str(cs, "state", out->state, sizeof out->state, 0, &ignore);
                omni_json_str(cs, "last_heartbeat", out->last_heartbeat, sizeof out->last_heartbeat,
                              0, &ignore);
                if (json_long(cs, "ttl_seconds", &out->ttl_seconds, 0, &ignore) < 0)
                    out->ttl_seconds = 0;
                out->lease_extended = cJSON_IsTrue(le);
            }
        }
        cJSON_Delete(j);
    } else if (r == 0) {
        r = omni_err_set(err, OMNI_E_PARSE, "POST heartbeat: empty response");
    }
    omni_response_release(&rs);
    buf_release(&p);
    return r;
}

int omni_work_stop(struct omni_client *c, const char *env_id, const char *work_id, int force,
                   int *already_stopped, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    int r;

    if (already_stopped)
        *already_stopped = 0;
    r = path_build(&p, err, "/v1/environments", env_id, "/work", work_id, "/stop", NULL);
    if (r == 0) {
        /* The body is ignored: the server answers 204 (or 200 + work). */
        r = call_json(c, "POST", p.data, force ? "{\"force\":true}" : "{}", OMNI_RQ_NO_RETRY_409,
                      NULL, NULL, err);
        if (r < 0 && err->kind == OMNI_E_HTTP && err->status == 409) {
            if (already_stopped)
                *already_stopped = 1;
            omni_err_clear(err);
            r = 0;
        }
    }
    buf_release(&p);
    return r;
}

int omni_work_list(struct omni_client *c, const char *env_id, struct omni_work_list *out,
                   struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    struct pager pg = {(void **)&out->items, &out->n,       sizeof *out->items, work_parse_slot,
                       OMNI_LIST_MAX_ITEMS,  out->next_page};
    int r = path_build(&p, err, "/v1/environments", env_id, "/work", NULL);
    if (r == 0) {
        omni_query_add(&p, "limit", "1000");
        r = fetch_pages(c, p.data, "GET work", &pg, 1, err);
        if (r < 0)
            omni_work_list_release(out);
    }
    buf_release(&p);
    return r;
}

int omni_work_get(struct omni_client *c, const char *env_id, const char *work_id,
                  struct omni_work *out, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    cJSON *root = NULL;
    int r;

    memset(out, 0, sizeof *out);
    r = path_build(&p, err, "/v1/environments", env_id, "/work", work_id, NULL);
    if (r == 0)
        r = call_json(c, "GET", p.data, NULL, 0, &root, NULL, err);
    if (r == 0)
        r = work_parse_obj(root, out, 0, err);
    cJSON_Delete(root);
    buf_release(&p);
    return r;
}

static int metadata_text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

cJSON *omni_metadata_patch_parse(char *const *words, size_t n, struct omni_err *err)
{
    cJSON *patch = cJSON_CreateObject();
    char key[OMNI_METADATA_KEY_MAX + 1];

    if (!patch) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i], *eq = strchr(w, '=');
        size_t klen = eq ? (size_t)(eq - w) : 0;

        if (!eq || klen == 0) {
            omni_err_set(err, OMNI_E_USAGE, "metadata \"%.80s\" is not KEY=VALUE or KEY=", w);
            goto fail;
        }
        if (klen > OMNI_METADATA_KEY_MAX || !metadata_text_ok(w, klen)) {
            omni_err_set(err, OMNI_E_USAGE,
                         "metadata key \"%.80s\" must be 1 to %d bytes without control "
                         "characters",
                         w, OMNI_METADATA_KEY_MAX);
            goto fail;
        }
        if (strlen(eq + 1) > OMNI_METADATA_VALUE_MAX || !metadata_text_ok(eq + 1, strlen(eq + 1))) {
            omni_err_set(err, OMNI_E_USAGE,
                         "metadata value of \"%.*s\" must be at most %d bytes without control "
                         "characters",
                         (int)klen, w, OMNI_METADATA_VALUE_MAX);
            goto fail;
        }
        memcpy(key, w, klen);
        key[klen] = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(patch, key);
        if (cJSON_GetArraySize(patch) >= OMNI_METADATA_PAIRS) {
            omni_err_set(err, OMNI_E_USAGE, "metadata: at most %d keys in one update",
                         OMNI_METADATA_PAIRS);
            goto fail;
        }
        if (!(eq[1] ? cJSON_AddStringToObject(patch, key, eq + 1)
                    : cJSON_AddNullToObject(patch, key))) {
            omni_err_set(err, OMNI_E_IO, "out of memory");
            goto fail;
        }
    }
    return patch;
fail:
    cJSON_Delete(patch);
    return NULL;
}

int omni_work_update(struct omni_client *c, const char *env_id, const char *work_id,
                     const cJSON *patch, struct omni_work *out, cJSON **metadata,
                     struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    cJSON *root = NULL, *b = cJSON_CreateObject();
    char *body = NULL;
    int r;

    memset(out, 0, sizeof *out);
    if (metadata)
        *metadata = NULL;
    if (!b || !cJSON_IsObject(patch) ||
        !cJSON_AddItemToObject(b, "metadata", cJSON_Duplicate(patch, 1)) ||
        !(body = cJSON_PrintUnformatted(b))) {
        cJSON_Delete(b);
        return omni_err_set(err, cJSON_IsObject(patch) ? OMNI_E_IO : OMNI_E_USAGE,
                            cJSON_IsObject(patch) ? "out of memory"
                                                  : "work update: the patch is not an object");
    }
    cJSON_Delete(b);
    r = path_build(&p, err, "/v1/environments", env_id, "/work", work_id, NULL);
    if (r == 0)
        r = call_json(c, "POST", p.data, body, 0, &root, NULL, err);
    if (r == 0)
        r = work_parse_obj(root, out, 0, err);
    if (r == 0) {
        cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
        if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md)) {
            omni_work_release(out);
            r = omni_err_set(err, OMNI_E_PARSE, "POST work: \"metadata\" is not an object");
        } else if (metadata) {
            *metadata =
                cJSON_IsObject(md) ? cJSON_DetachItemViaPointer(root, md) : cJSON_CreateObject();
        }
    }
    cJSON_Delete(root);
    free(body);
    buf_release(&p);
    return r;
}

int omni_work_stats(struct omni_client *c, const char *env_id, struct omni_stats *out,
                    struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    cJSON *root = NULL;
    int r;

    memset(out, 0, sizeof *out);
    r = path_build(&p, err, "/v1/environments", env_id, "/work/stats", NULL);
    if (r == 0)
        r = call_json(c, "GET", p.data, NULL, 0, &root, NULL, err);
    if (r == 0)
        r = expect_object(root, "GET work/stats", err);
    if (r == 0 && stats_parse(root, out, err) < 0)
        r = omni_err_prefix(err, "GET work/stats");
    cJSON_Delete(root);
    buf_release(&p);
    return r;
}

/* ---- agents -------------------------------------------------------------- */

static int agent_parse(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    struct omni_agent *a = slot;
    if (!cJSON_IsObject(j))
        return omni_err_set(err, OMNI_E_PARSE, "agent is not an object");
    if (omni_json_str(j, "id", a->id, sizeof a->id, 1, err) < 0 ||
        omni_json_str(j, "name", a->name, sizeof a->name, 0, err) < 0 ||
        omni_json_str(j, "model", a->model, sizeof a->model, 0, err) < 0 ||
        json_long(j, "version", &a->version, 0, err) < 0 ||
        omni_json_time(j, "created_at", &a->created_at, err) < 0)
        return -1;
    return 0;
}

int omni_agents_list(struct omni_client *c, struct omni_agent_list *out, struct omni_err *err)
{
    struct pager pg = {(void **)&out->items, &out->n, sizeof *out->items, agent_parse,
                       OMNI_LIST_MAX_ITEMS,  NULL};
    return fetch_pages(c, "/v1/agents?limit=100", "GET /v1/agents", &pg, 1, err);
}

void omni_agent_list_release(struct omni_agent_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* ---- sessions ------------------------------------------------------------ */

/* The fields of a session; s->json is left to the caller. */
static int session_fields(const cJSON *j, struct omni_session *s, struct omni_err *err)
{
    const cJSON *agent;

    if (!cJSON_IsObject(j))
        return omni_err_set(err, OMNI_E_PARSE, "session is not an object");
    if (omni_json_str(j, "id", s->id, sizeof s->id, 1, err) < 0 ||
        omni_json_str(j, "status", s->status, sizeof s->status, 0, err) < 0 ||
        omni_json_str(j, "environment_id", s->environment_id, sizeof s->environment_id, 0, err) <
            0 ||
        omni_json_str(j, "title", s->title, sizeof s->title, 0, err) < 0 ||
        omni_json_time(j, "created_at", &s->created_at, err) < 0 ||
        omni_json_time(j, "updated_at", &s->updated_at, err) < 0 ||
        omni_json_time(j, "archived_at", &s->archived_at, err) < 0)
        return -1;
    agent = cJSON_GetObjectItemCaseSensitive(j, "agent");
    if (cJSON_IsObject(agent) &&
        omni_json_str(agent, "id", s->agent_id, sizeof s->agent_id, 0, err) < 0)
        return -1;
    else if (cJSON_IsString(agent))
        snprintf(s->agent_id, sizeof s->agent_id, "%s", agent->valuestring);
    return 0;
}

/* A session of a list page, which keeps its JSON (taken out of the page). */
static int session_parse(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    struct omni_session *s = slot;

    if (session_fields(j, s, err) < 0)
        return -1;
    s->json = cJSON_DetachItemViaPointer(list, j);
    return 0;
}

/* A session of a list page, its fields only. */
static int session_parse_fields(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    return session_fields(j, slot, err);
}

void omni_session_release(struct omni_session *s)
{
    cJSON_Delete(s->json);
    s->json = NULL;
}

void omni_session_list_release(struct omni_session_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        omni_session_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int session_one(struct omni_client *c, const char *method, const char *path,
                       const char *body, struct omni_session *out, struct omni_err *err)
{
    cJSON *root = NULL;
    int r;

    memset(out, 0, sizeof *out);
    r = call_json(c, method, path, body, 0, &root, NULL, err);
    if (r == 0)
        r = session_fields(root, out, err);
    if (r == 0)
        out->json = root; /* the session keeps the response */
    else
        cJSON_Delete(root);
    return r;
}

int omni_session_create(struct omni_client *c, const struct omni_session_create *rq,
                        struct omni_session *out, struct omni_err *err)
{
    cJSON *b = cJSON_CreateObject(), *md, *ev, *msg, *content, *blk;
    char *body;
    int r;

    if (!b)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    cJSON_AddStringToObject(b, "agent", rq->agent_id);
    cJSON_AddStringToObject(b, "environment_id", rq->environment_id);
    if (rq->title)
        cJSON_AddStringToObject(b, "title", rq->title);
    if (rq->metadata && rq->metadata[0]) {
        md = cJSON_AddObjectToObject(b, "metadata");
        for (const char *const *kv = rq->metadata; *kv; kv++) {
            const char *eq = strchr(*kv, '=');
            char key[128];
            if (!eq || eq == *kv || (size_t)(eq - *kv) >= sizeof key) {
                cJSON_Delete(b);
                return omni_err_set(err, OMNI_E_USAGE, "metadata \"%.80s\" is not KEY=VALUE", *kv);
            }
            snprintf(key, sizeof key, "%.*s", (int)(eq - *kv), *kv);
            cJSON_DeleteItemFromObjectCaseSensitive(md, key);
            cJSON_AddStringToObject(md, key, eq + 1);
        }
    }
    if (rq->message) {
        ev = cJSON_AddArrayToObject(b, "initial_events");
        msg = cJSON_CreateObject();
        cJSON_AddItemToArray(ev, msg);
        cJSON_AddStringToObject(msg, "type", "user.message");
        content = cJSON_AddArrayToObject(msg, "content");
        blk = cJSON_CreateObject();
        cJSON_AddItemToArray(content, blk);
        cJSON_AddStringToObject(blk, "type", "text");
        cJSON_AddStringToObject(blk, "text", rq->message);
    }
    body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    r = session_one(c, "POST", "/v1/sessions", body, out, err);
    free(body);
    return r;
}

int omni_session_get(struct omni_client *c, const char *session_id, struct omni_session *out,
                     struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    int r = path_build(&p, err, "/v1/sessions", session_id, NULL);
    if (r == 0)
        r = session_one(c, "GET", p.data, NULL, out, err);
    else
        memset(out, 0, sizeof *out);
    buf_release(&p);
    return r;
}

int omni_session_archive(struct omni_client *c, const char *session_id, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    int r = path_build(&p, err, "/v1/sessions", session_id, "/archive", NULL);
    if (r == 0)
        r = call_json(c, "POST", p.data, NULL, 0, NULL, NULL, err);
    buf_release(&p);
    return r;
}

int omni_session_list(struct omni_client *c, const struct omni_session_filter *f,
                      struct omni_session_list *out, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(2048);
    struct omni_session_list all = {0};
    struct pager pg = {
        (void **)&all.items, &all.n,
        sizeof *all.items,   f && f->fields_only ? session_parse_fields : session_parse,
        OMNI_LIST_MAX_ITEMS, all.next_page};
    long limit = f && f->limit > 0 ? f->limit : 100;
    char num[32];
    int r;

    memset(out, 0, sizeof *out);
    buf_adds(&p, "/v1/sessions");
    snprintf(num, sizeof num, "%ld", limit > 1000 ? 1000 : limit);
    omni_query_add(&p, "limit", num);
    if (f && f->status)
        omni_query_add(&p, "statuses[]", f->status);
    if (f && f->agent_id)
        omni_query_add(&p, "agent_id", f->agent_id);
    if (f && f->include_archived)
        omni_query_add(&p, "include_archived", "true");
    /* The environment filter is applied here; more pages only when filtering. */
    r = fetch_pages(c, p.data, "GET /v1/sessions", &pg, f && f->environment_id, err);
    buf_release(&p);
    if (r < 0) {
        omni_session_list_release(&all);
        return -1;
    }
    for (size_t i = 0; i < all.n; i++) {
        if ((long)out->n < limit && (!f || !f->environment_id ||
                                     strcmp(all.items[i].environment_id, f->environment_id) == 0)) {
            all.items[out->n] = all.items[i];
            if (i != out->n)
                all.items[i].json = NULL;
            out->n++;
        } else {
            omni_session_release(&all.items[i]);
        }
    }
    out->items = all.items;
    memcpy(out->next_page, all.next_page, sizeof out->next_page);
    return 0;
}

/* ---- events --------------------------------------------------------------- */

int omni_event_from_json(cJSON *obj, struct omni_event *ev, struct omni_err *err)
{
    const cJSON *t, *id, *pa;

    memset(ev, 0, sizeof *ev);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return omni_err_set(err, OMNI_E_PARSE, "event is not a JSON object");
    }
    t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    pa = cJSON_GetObjectItemCaseSensitive(obj, "processed_at");
    if ((t && !cJSON_IsString(t)) || (id && !cJSON_IsString(id) && !cJSON_IsNull(id))) {
        cJSON_Delete(obj);
        return omni_err_set(err, OMNI_E_PARSE, "event \"type\" or \"id\" is not a string");
    }
    ev->obj = obj;
    ev->type = cJSON_IsString(t) ? t->valuestring : "";
    ev->id = cJSON_IsString(id) ? id->valuestring : "";
    if (cJSON_IsString(pa))
        omni_rfc3339_parse(pa->valuestring, &ev->processed_at);
    return 0;
}

void omni_event_release(struct omni_event *ev)
{
    cJSON_Delete(ev->obj);
    memset(ev, 0, sizeof *ev);
}

void omni_event_list_release(struct omni_event_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        omni_event_release(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int event_parse_slot(cJSON *list, cJSON *j, void *slot, struct omni_err *err)
{
    return omni_event_from_json(cJSON_DetachItemViaPointer(list, j), slot, err);
}

int omni_events_list(struct omni_client *c, const char *session_id, struct omni_event_list *out,
                     struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    struct pager pg = {(void **)&out->items, &out->n, sizeof *out->items, event_parse_slot,
                       OMNI_LIST_MAX_ITEMS,  NULL};
    int r;

    memset(out, 0, sizeof *out);
    r = path_build(&p, err, "/v1/sessions", session_id, "/events", NULL);
    if (r == 0) {
        omni_query_add(&p, "limit", "1000");
        omni_query_add(&p, "order", "asc");
        r = fetch_pages(c, p.data, "GET events", &pg, 1, err);
        if (r < 0)
            omni_event_list_release(out);
    }
    buf_release(&p);
    return r;
}

int omni_events_send(struct omni_client *c, const char *session_id, const cJSON *events,
                     struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    cJSON *b = cJSON_CreateObject();
    char *body = NULL;
    int r;

    r = path_build(&p, err, "/v1/sessions", session_id, "/events", NULL);
    if (r == 0) {
        cJSON_AddItemToObject(b, "events", cJSON_Duplicate(events, 1));
        body = cJSON_PrintUnformatted(b);
        if (!body)
            r = omni_err_set(err, OMNI_E_IO, "out of memory");
    }
    if (r == 0)
        r = call_json(c, "POST", p.data, body, 0, NULL, NULL, err);
    free(body);
    cJSON_Delete(b);
    buf_release(&p);
    return r;
}

static int send_one(struct omni_client *c, const char *session_id, cJSON *ev, struct omni_err *err)
{
    cJSON *arr = cJSON_CreateArray();
    int r;
    cJSON_AddItemToArray(arr, ev);
    r = omni_events_send(c, session_id, arr, err);
    cJSON_Delete(arr);
    return r;
}

int omni_send_user_message(struct omni_client *c, const char *session_id, const char *text,
                           struct omni_err *err)
{
    cJSON *ev = cJSON_CreateObject(), *content, *blk;
    cJSON_AddStringToObject(ev, "type", "user.message");
    content = cJSON_AddArrayToObject(ev, "content");
    blk = cJSON_CreateObject();
    cJSON_AddItemToArray(content, blk);
    cJSON_AddStringToObject(blk, "type", "text");
    cJSON_AddStringToObject(blk, "text", text);
    return send_one(c, session_id, ev, err);
}

int omni_send_interrupt(struct omni_client *c, const char *session_id, struct omni_err *err)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "user.interrupt");
    return send_one(c, session_id, ev, err);
}

int omni_send_confirmation(struct omni_client *c, const char *session_id, const char *tool_use_id,
                           int allow, const char *deny_message, struct omni_err *err)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "user.tool_confirmation");
    cJSON_AddStringToObject(ev, "tool_use_id", tool_use_id);
    cJSON_AddStringToObject(ev, "result", allow ? "allow" : "deny");
    if (!allow && deny_message)
        cJSON_AddStringToObject(ev, "deny_message", deny_message);
    return send_one(c, session_id, ev, err);
}

/* ---- stream ---------------------------------------------------------------- */

struct stream_ctx {
    const struct omni_stream_handler *h;
    struct sse_parser parser;
    struct omni_err *err;
    int opened;
    int failed;  /* -1 on error frame or bad data */
    int stopped; /* callback asked to stop */
};

static int on_frame(const struct sse_frame *f, void *ud)
{
    struct stream_ctx *s = ud;
    struct omni_event ev;
    cJSON *obj;

    if (!f->event[0] || strcmp(f->event, "ping") == 0)
        return 0;
    if (strcmp(f->event, "error") == 0) {
        struct omni_err e = OMNI_ERR_INIT;
        omni_parse_error_body(f->data, f->data_len, &e);
        omni_err_set(s->err, OMNI_E_NET, "event stream error frame: %s%s%s",
                     e.type[0] ? e.type : "error", e.msg[0] ? ": " : "", e.msg);
        snprintf(s->err->type, sizeof s->err->type, "%s", e.type);
        s->failed = 1;
        return 1;
    }
    obj = omni_json_parse(f->data, f->data_len);
    if (!obj) {
        omni_err_set(s->err, OMNI_E_PARSE, "event stream: frame \"%.40s\" has invalid JSON data",
                     f->event);
        s->failed = 1;
        return 1;
    }
    if (omni_event_from_json(obj, &ev, s->err) < 0) {
        s->failed = 1;
        return 1;
    }
    if (!ev.type[0]) {
        /* PY fills a missing type from the event name; so do we. */
        cJSON_AddStringToObject(ev.obj, "type", f->event);
        ev.type = cJSON_GetObjectItemCaseSensitive(ev.obj, "type")->valuestring;
    }
    int stop = s->h->on_event(&ev, s->h->ud);
    if (ev.obj)
        omni_event_release(&ev);
    if (stop) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

static int on_chunk(const char *data, size_t len, void *ud)
{
    struct stream_ctx *s = ud;
    int r;

    if (!s->opened) {
        s->opened = 1;
        if (s->h->on_open)
            s->h->on_open(s->h->ud);
    }
    r = sse_parser_feed(&s->parser, data, len);
    if (r == -1 && !s->failed) {
        omni_err_set(s->err, OMNI_E_TOOBIG, "event stream: frame larger than %zu bytes",
                     s->parser.max_frame);
        s->failed = 1;
    }
    return r != 0;
}

int omni_events_stream(struct omni_client *c, const char *session_id,
                       const struct omni_stream_handler *h, int *ended, struct omni_err *err)
{
    struct buf p = BUF_INIT_MAX(1024);
    struct omni_request rq = {0};
    struct stream_ctx s = {0};
    int r;

    if (ended)
        *ended = 0;
    r = path_build(&p, err, "/v1/sessions", session_id, "/events/stream", NULL);
    if (r < 0) {
        buf_release(&p);
        return -1;
    }
    s.h = h;
    s.err = err;
    sse_parser_init(&s.parser, h->max_frame ? h->max_frame : SSE_DEFAULT_MAX_FRAME, on_frame, &s);
    rq.method = "GET";
    rq.path = p.data;
    rq.timeout_ms = h->idle_ms;
    rq.abort = h->abort;
    r = omni_client_stream(c, &rq, on_chunk, &s, err);
    if (s.failed) {
        r = -1;
    } else if (r == 0 && !s.stopped) {
        if (ended)
            *ended = 1;
    } else if (r == 0 && s.stopped) {
        omni_err_clear(err);
    }
    sse_parser_release(&s.parser);
    buf_release(&p);
    return r;
}

/* ---- validation entry point ----------------------------------------------- */

static int stats_parse(const cJSON *root, struct omni_stats *out, struct omni_err *err)
{
    if (json_long(root, "depth", &out->depth, 0, err) < 0 ||
        json_long(root, "pending", &out->pending, 0, err) < 0 ||
        json_long(root, "workers_polling", &out->workers_polling, -1, err) < 0 ||
        omni_json_time(root, "oldest_queued_at", &out->oldest_queued_at, err) < 0)
        return -1;
    if (out->depth < 0 || out->pending < 0)
        return omni_err_set(err, OMNI_E_PARSE, "negative depth or pending");
    return 0;
}

int omni_api_parse_body(enum omni_body_kind kind, const char *json, size_t len,
                        struct omni_err *err)
{
    cJSON *root;
    int r = 0;

    if (kind == OMNI_BODY_WORK) {
        struct omni_work w;
        r = omni_work_parse(json, len, &w, err);
        if (r == 0)
            omni_work_release(&w);
        return r;
    }
    root = omni_json_parse(json, len);
    if (!root)
        return omni_err_set(err, OMNI_E_PARSE, "response is not valid JSON");
    if (kind != OMNI_BODY_EVENT && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return omni_err_set(err, OMNI_E_PARSE, "response is not a JSON object");
    }
    switch (kind) {
    case OMNI_BODY_ENVIRONMENT: {
        struct omni_environment e;
        r = env_parse(NULL, root, &e, err);
        break;
    }
    case OMNI_BODY_HEARTBEAT: {
        struct omni_heartbeat hb;
        r = heartbeat_parse(root, &hb, err);
        break;
    }
    case OMNI_BODY_STATS: {
        struct omni_stats st;
        r = stats_parse(root, &st, err);
        break;
    }
    case OMNI_BODY_AGENT: {
        struct omni_agent a;
        r = agent_parse(NULL, root, &a, err);
        break;
    }
    case OMNI_BODY_SESSION: {
        struct omni_session s = {0};
        r = session_fields(root, &s, err);
        break;
    }
    case OMNI_BODY_EVENT: {
        struct omni_event ev;
        r = omni_event_from_json(root, &ev, err);
        root = NULL; /* owned by ev now (or freed on error) */
        if (r == 0)
            omni_event_release(&ev);
        break;
    }
    case OMNI_BODY_LIST_PAGE: {
        cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        if (!cJSON_IsArray(data)) {
            r = omni_err_set(err, OMNI_E_PARSE, "response has no \"data\" array");
            break;
        }
        while (data->child) {
            struct omni_event ev;
            if ((r = event_parse_slot(data, data->child, &ev, err)) < 0)
                break;
            omni_event_release(&ev);
        }
        break;
    }
    default:
        r = omni_err_set(err, OMNI_E_USAGE, "unknown body kind %d", (int)kind);
    }
    cJSON_Delete(root);
    return r;
}
