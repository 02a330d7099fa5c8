#include "http.h"

#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct omni_client {
    struct omni_client_opts o; /* strings below are owned copies */
    char *base_url;
    char *credential;
    char *ca_file;
    char *user_agent;
    char *unix_socket;
    char *workspace_id;
    CURL *easy;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

double omni_random(void)
{
    return (double)arc4random() / 4294967296.0;
}

int omni_name_valid(const char *s, size_t max_len)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (const char *p = s; *p; p++, n++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return n > 0 && n <= max_len;
}

int omni_workspace_id_valid(const char *id)
{
    return omni_name_valid(id, OMNI_WORKSPACE_ID_MAX);
}

int omni_workspace_pick(const char *flag, const char *cfg_value, const char **out,
                        struct omni_err *err)
{
    const char *env = getenv(OMNI_WORKSPACE_ENV);

    *out = NULL;
    if (flag) {
        if (!omni_workspace_id_valid(flag))
            return omni_err_set(err, OMNI_E_USAGE,
                                "--workspace \"%.40s\" is not a workspace id (letters, digits, "
                                "'_' and '-', 1 to %d bytes)",
                                flag, OMNI_WORKSPACE_ID_MAX);
        *out = flag;
    } else if (env && *env) {
        if (!omni_workspace_id_valid(env))
            return omni_err_set(err, OMNI_E_USAGE,
                                OMNI_WORKSPACE_ENV " \"%.40s\" is not a workspace id (letters, "
                                                   "digits, '_' and '-', 1 to %d bytes)",
                                env, OMNI_WORKSPACE_ID_MAX);
        *out = env;
    } else if (cfg_value && *cfg_value) {
        *out = cfg_value;
    }
    return 0;
}

long omni_backoff_ms(int n, long base_ms, long cap_ms)
{
    double d = (double)base_ms;
    for (int i = 0; i < n && d < (double)cap_ms; i++)
        d *= 2;
    if (d > (double)cap_ms)
        d = (double)cap_ms;
    /* jitter: multiply by a factor in (0.75, 1] */
    return (long)(d * (1.0 - 0.25 * omni_random()));
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

struct omni_client *omni_client_new(const struct omni_client_opts *o, struct omni_err *err)
{
    struct omni_client *c;
    const char *base = o->base_url && *o->base_url ? o->base_url : OMNI_DEFAULT_BASE_URL;
    size_t blen;

    pthread_once(&curl_once, curl_init_once);
    if (o->workspace_id && *o->workspace_id && !omni_workspace_id_valid(o->workspace_id)) {
        omni_err_set(err, OMNI_E_USAGE, "workspace id \"%.40s\" is not valid", o->workspace_id);
        return NULL;
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        omni_err_set(err, OMNI_E_CONFIG, "base URL \"%s\" must start with http:// or https://",
                     base);
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    c->o = *o;
    c->base_url = strdup(base);
    blen = strlen(c->base_url);
    while (blen > 0 && c->base_url[blen - 1] == '/')
        c->base_url[--blen] = '\0';
    c->credential = dup_or_null(o->credential);
    c->ca_file = dup_or_null(o->ca_file);
    c->user_agent = strdup(o->user_agent ? o->user_agent : "omnirun/" OMNI_VERSION);
    c->unix_socket = o->unix_socket && *o->unix_socket ? strdup(o->unix_socket) : NULL;
    c->workspace_id = o->workspace_id && *o->workspace_id ? strdup(o->workspace_id) : NULL;
    if (!c->o.timeout_ms)
        c->o.timeout_ms = OMNI_DEFAULT_TIMEOUT_MS;
    if (!c->o.connect_timeout_ms)
        c->o.connect_timeout_ms = OMNI_DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->o.max_retries == 0)
        c->o.max_retries = OMNI_DEFAULT_MAX_RETRIES;
    else if (c->o.max_retries < 0)
        c->o.max_retries = 0;
    if (!c->o.max_response)
        c->o.max_response = OMNI_DEFAULT_MAX_RESPONSE;
    c->easy = curl_easy_init();
    if (!c->base_url || !c->user_agent || !c->easy || (o->credential && !c->credential) ||
        (o->unix_socket && *o->unix_socket && !c->unix_socket) ||
        (o->workspace_id && *o->workspace_id && !c->workspace_id)) {
        omni_client_free(c);
        omni_err_set(err, OMNI_E_IO, "cannot set up the HTTP client");
        return NULL;
    }
    return c;
}

struct omni_client *omni_client_dup(const struct omni_client *c, struct omni_err *err)
{
    struct omni_client_opts o = c->o;
    o.base_url = c->base_url;
    o.credential = c->credential;
    o.ca_file = c->ca_file;
    o.user_agent = c->user_agent;
    o.unix_socket = c->unix_socket;
    o.workspace_id = c->workspace_id;
    if (o.max_retries == 0)
        o.max_retries = -1;
    return omni_client_new(&o, err);
}

void omni_client_free(struct omni_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    free(c->base_url);
    wipe_free(c->credential);
    free(c->ca_file);
    free(c->user_agent);
    free(c->unix_socket);
    free(c->workspace_id);
    free(c);
}

const char *omni_client_base_url(const struct omni_client *c)
{
    return c->base_url;
}

int omni_client_set_credential(struct omni_client *c, enum omni_auth auth, const char *cred)
{
    char *n = dup_or_null(cred);
    if (cred && !n)
        return -1;
    wipe_free(c->credential);
    c->credential = n;
    c->o.auth = auth;
    return 0;
}

void omni_response_release(struct omni_response *rs)
{
    buf_release(&rs->body);
}

/* ---- one transfer ---------------------------------------------------- */

struct xfer {
    struct omni_client *c;
    const struct omni_request *rq;
    struct buf *body;  /* whole-body mode */
    omni_stream_cb cb; /* stream mode (2xx only) */
    void *ud;
    int stopped_by_cb;
    long status;
    int status_known;
    char request_id[80];
    char content_type[80];
    long retry_after_ms;
    int should_retry;
};

static void trim_value(const char *in, size_t len, char *out, size_t outlen)
{
    while (len && (*in == ' ' || *in == '\t')) {
        in++;
        len--;
    }
    while (len && (in[len - 1] == '\r' || in[len - 1] == '\n' || in[len - 1] == ' '))
        len--;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, in, len);
    out[len] = '\0';
}

static int header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    *val = line + n + 1;
    *vlen = len - n - 1;
    return 1;
}

/* retry-after: seconds (float) or an HTTP date. */
static long parse_retry_after(const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (end != v && *end == '\0')
        return (long)(d * 1000);
    time_t t = curl_getdate(v, NULL);
    if (t > 0)
        return (long)((double)(t - time(NULL)) * 1000);
    return -1;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * nmemb;
    const char *v;
    size_t vl;
    char tmp[80];

    if (x->cb && (len == 2 || len == 1) && (ptr[0] == '\r' || ptr[0] == '\n')) {
        /* End of headers: tell a stream consumer it is open (a 0-byte chunk)
         * before any body byte arrives, so it can reconcile at once. */
        long st = 0;
        curl_easy_getinfo(x->c->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200 && st < 300)
            x->cb(ptr, 0, x->ud);
        return len;
    }
    if (len > 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* A new status line (e.g. after 100-continue): reset per-response state. */
        x->request_id[0] = x->content_type[0] = '\0';
        x->retry_after_ms = -1;
        x->should_retry = -1;
        return len;
    }
    if (header_is(ptr, len, "request-id", &v, &vl)) {
        trim_value(v, vl, x->request_id, sizeof x->request_id);
    } else if (header_is(ptr, len, "content-type", &v, &vl)) {
        trim_value(v, vl, x->content_type, sizeof x->content_type);
    } else if (header_is(ptr, len, "retry-after-ms", &v, &vl)) {
        char *end;
        trim_value(v, vl, tmp, sizeof tmp);
        double d = strtod(tmp, &end);
        if (end != tmp)
            x->retry_after_ms = (long)d;
    } else if (header_is(ptr, len, "retry-after", &v, &vl)) {
        trim_value(v, vl, tmp, sizeof tmp);
        if (x->retry_after_ms < 0)
            x->retry_after_ms = parse_retry_after(tmp);
    } else if (header_is(ptr, len, "x-should-retry", &v, &vl)) {
        trim_value(v, vl, tmp, sizeof tmp);
        if (strcasecmp(tmp, "true") == 0)
            x->should_retry = 1;
        else if (strcasecmp(tmp, "false") == 0)
            x->should_retry = 0;
    }
    return len;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * nmemb;

    if (!x->status_known) {
        curl_easy_getinfo(x->c->easy, CURLINFO_RESPONSE_CODE, &x->status);
        x->status_known = 1;
    }
    if (x->cb && x->status >= 200 && x->status < 300) {
        if (x->cb(ptr, len, x->ud)) {
            x->stopped_by_cb = 1;
            return 0;
        }
        return len;
    }
    if (buf_add(x->body, ptr, len) < 0)
        return 0;
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct xfer *x = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    return x->rq->abort && *x->rq->abort ? 1 : 0;
}

/* Debug trace with every credential redacted; bodies are not traced. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h, (void)ud;
    if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN && type != CURLINFO_TEXT)
        return 0;
    const char *p = data, *end = data + size;
    /* one block (a request's headers) stays together when threads trace */
    flockfile(stderr);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[l - 1] == '\r')
            l--;
        if (l) {
            const char *mark = type == CURLINFO_HEADER_OUT  ? ">"
                               : type == CURLINFO_HEADER_IN ? "<"
                                                            : "*";
            if ((l > 10 && strncasecmp(p, "x-api-key:", 10) == 0) ||
                (l > 14 && strncasecmp(p, "authorization:", 14) == 0)) {
                const char *colon = memchr(p, ':', l);
                fprintf(stderr, "%s %.*s: [redacted]\n", mark, (int)(colon - p), p);
            } else {
                fprintf(stderr, "%s %.*s\n", mark, (int)l, p);
            }
        }
        p += l;
        while (p < end && (*p == '\r' || *p == '\n'))
            p++;
    }
    funlockfile(stderr);
    return 0;
}

static struct curl_slist *build_headers(struct omni_client *c, const struct omni_request *rq,
                                        int stream)
{
    struct curl_slist *h = NULL, *n;
    struct buf line = BUF_INIT_MAX(8192);
    const char *beta = rq->beta ? rq->beta : OMNI_BETA_MANAGED_AGENTS;

#define ADD(s)                                                                                     \
    do {                                                                                           \
        n = curl_slist_append(h, (s));                                                             \
        if (!n)                                                                                    \
            goto fail;                                                                             \
        h = n;                                                                                     \
    } while (0)

    ADD("anthropic-version: " OMNI_API_VERSION);
    if (*beta) {
        buf_addf(&line, "anthropic-beta: %s", beta);
        ADD(line.data);
        buf_reset(&line);
    }
    if (c->credential && c->o.auth == OMNI_AUTH_API_KEY) {
        buf_addf(&line, "x-api-key: %s", c->credential);
        ADD(line.data);
    } else if (c->credential && c->o.auth == OMNI_AUTH_BEARER) {
        buf_addf(&line, "Authorization: Bearer %s", c->credential);
        ADD(line.data);
    }
    explicit_bzero(line.data, line.len);
    buf_reset(&line);
    if (c->workspace_id) {
        buf_addf(&line, "anthropic-workspace-id: %s", c->workspace_id);
        ADD(line.data);
        buf_reset(&line);
    }
    /* "Content-Type:" with no value stops curl adding its form default to a bare POST. */
    ADD(rq->body ? "Content-Type: application/json" : "Content-Type:");
    {
        int own_accept = 0; /* the request names its own Accept (e.g. skill content) */
        for (const char *const *e = rq->headers; e && *e; e++)
            own_accept |= strncasecmp(*e, "accept:", 7) == 0;
        if (!own_accept)
            ADD(stream ? "Accept: text/event-stream" : "Accept: application/json");
    }
    ADD("Expect:");
    for (const char *const *e = rq->headers; e && *e; e++)
        ADD(*e);
    buf_release(&line);
    return h;
fail:
    buf_release(&line);
    curl_slist_free_all(h);
    return NULL;
#undef ADD
}

static void path_for_msg(const char *path, char *out, size_t outlen)
{
    size_t l = strcspn(path, "?");
    if (l >= outlen)
        l = outlen - 1;
    memcpy(out, path, l);
    out[l] = '\0';
}

/* One attempt. Returns CURLcode; fills x. */
static CURLcode perform(struct omni_client *c, const struct omni_request *rq, struct xfer *x,
                        int stream, struct omni_err *err)
{
    CURL *e = c->easy;
    struct buf url = BUF_INIT_MAX(16384);
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    long timeout = rq->timeout_ms ? rq->timeout_ms : c->o.timeout_ms;

    if (buf_adds(&url, c->base_url) < 0 || buf_adds(&url, rq->path) < 0) {
        buf_release(&url);
        omni_err_set(err, OMNI_E_USAGE, "request URL too long");
        return CURLE_URL_MALFORMAT;
    }
    hdrs = build_headers(c, rq, stream);
    if (!hdrs) {
        buf_release(&url);
        omni_err_set(err, OMNI_E_IO, "out of memory building headers");
        return CURLE_OUT_OF_MEMORY;
    }
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->unix_socket)
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
    if (stream) {
        /* Idle timeout: less than 1 byte/s for `timeout` seconds ends the stream. */
        long secs = (rq->timeout_ms ? rq->timeout_ms : OMNI_DEFAULT_STREAM_IDLE_MS) / 1000;
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, secs > 0 ? secs : 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    if (strcmp(rq->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else if (rq->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (c->o.debug) {
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
    }
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
    curl_slist_free_all(hdrs);

    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->stopped_by_cb)) {
        char p[256];
        path_for_msg(rq->path, p, sizeof p);
        if (rc == CURLE_ABORTED_BY_CALLBACK)
            omni_err_set(err, OMNI_E_ABORTED, "%s %s: aborted", rq->method, p);
        else if (rc == CURLE_WRITE_ERROR && x->body->overflow)
            omni_err_set(err, OMNI_E_TOOBIG, "%s %s: response larger than %zu bytes", rq->method, p,
                         x->body->max);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            omni_err_set(err, OMNI_E_TIMEOUT, "%s %s: %s", rq->method, p,
                         stream ? "stream idle timeout" : "request timed out");
        else
            omni_err_set(err, OMNI_E_NET, "%s %s: %s", rq->method, p,
                         errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    explicit_bzero(url.data, url.len);
    buf_release(&url);
    return rc;
}

void omni_parse_error_body(const char *body, size_t len, struct omni_err *e)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    cJSON *er = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
    cJSON *t, *m, *d, *code, *rid;

    if (cJSON_IsObject(er)) {
        t = cJSON_GetObjectItemCaseSensitive(er, "type");
        m = cJSON_GetObjectItemCaseSensitive(er, "message");
        d = cJSON_GetObjectItemCaseSensitive(er, "details");
        if (cJSON_IsString(t))
            snprintf(e->type, sizeof e->type, "%s", t->valuestring);
        if (cJSON_IsString(m))
            snprintf(e->msg, sizeof e->msg, "%s", m->valuestring);
        if (cJSON_IsObject(d)) {
            code = cJSON_GetObjectItemCaseSensitive(d, "error_code");
            if (cJSON_IsString(code))
                snprintf(e->code, sizeof e->code, "%s", code->valuestring);
        }
    }
    rid = root ? cJSON_GetObjectItemCaseSensitive(root, "request_id") : NULL;
    if (cJSON_IsString(rid) && !e->request_id[0])
        snprintf(e->request_id, sizeof e->request_id, "%s", rid->valuestring);
    cJSON_Delete(root);
}

static void http_error(const struct omni_request *rq, const struct xfer *x, const struct buf *body,
                       struct omni_err *err)
{
    char p[256], detail[sizeof err->msg];
    struct omni_err e = OMNI_ERR_INIT;

    e.kind = OMNI_E_HTTP;
    e.status = (int)x->status;
    snprintf(e.request_id, sizeof e.request_id, "%s", x->request_id);
    omni_parse_error_body(body->data, body->len, &e);
    e.should_retry = x->should_retry;
    e.retry_after_ms = x->retry_after_ms;
    path_for_msg(rq->path, p, sizeof p);
    /* Keep the API's own message; printable ASCII only in what we show. */
    snprintf(detail, sizeof detail, "%s", e.msg);
    for (char *q = detail; *q; q++)
        if ((unsigned char)*q < 0x20)
            *q = ' ';
    snprintf(e.msg, sizeof e.msg, "%s %s: %ld %s%s%s%s%s%s", rq->method, p, x->status,
             e.type[0] ? e.type : "error", detail[0] ? ": " : "", detail,
             e.request_id[0] ? " (request-id " : "", e.request_id, e.request_id[0] ? ")" : "");
    *err = e;
}

static int retryable(const struct omni_request *rq, CURLcode rc, const struct xfer *x,
                     const struct omni_err *err)
{
    if (err->kind == OMNI_E_ABORTED || err->kind == OMNI_E_TOOBIG || err->kind == OMNI_E_USAGE)
        return 0;
    if (rc != CURLE_OK)
        return err->kind == OMNI_E_NET || err->kind == OMNI_E_TIMEOUT;
    if (x->should_retry == 0)
        return 0;
    if (x->should_retry == 1)
        return 1;
    if (x->status == 409)
        return !(rq->flags & OMNI_RQ_NO_RETRY_409);
    return x->status == 408 || x->status == 429 || x->status >= 500;
}

int omni_client_do(struct omni_client *c, const struct omni_request *rq, struct omni_response *rs,
                   struct omni_err *err)
{
    int max = rq->max_retries < 0 ? 0 : rq->max_retries ? rq->max_retries : c->o.max_retries;
    struct omni_err tmp = OMNI_ERR_INIT;
    struct omni_request rq_abort;

    if (!rq->abort && c->o.abort) {
        rq_abort = *rq;
        rq_abort.abort = c->o.abort;
        rq = &rq_abort;
    }
    if (!err)
        err = &tmp;
    for (int attempt = 0;; attempt++) {
        struct xfer x = {0};
        CURLcode rc;

        x.c = c;
        x.rq = rq;
        x.body = &rs->body;
        x.retry_after_ms = -1;
        x.should_retry = -1;
        rs->body.max = c->o.max_response;
        buf_reset(&rs->body);
        omni_err_clear(err);
        rc = perform(c, rq, &x, 0, err);
        rs->status = rc == CURLE_OK ? x.status : 0;
        rs->attempts = attempt + 1;
        snprintf(rs->request_id, sizeof rs->request_id, "%s", x.request_id);
        snprintf(rs->content_type, sizeof rs->content_type, "%s", x.content_type);
        if (rc == CURLE_OK) {
            if (x.status >= 200 && x.status < 300)
                return 0;
            http_error(rq, &x, &rs->body, err);
        }
        if (attempt >= max || !retryable(rq, rc, &x, err))
            return -1;
        long delay = x.retry_after_ms > 0 && x.retry_after_ms <= OMNI_MAX_SERVER_RETRY_DELAY_MS
                         ? x.retry_after_ms
                         : omni_backoff_ms(attempt, 500, 8000);
        if (c->o.debug)
            fprintf(stderr, "* retrying in %ld ms (attempt %d of %d)\n", delay, attempt + 2,
                    max + 1);
        omni_sleep_ms(delay, rq->abort);
        if (rq->abort && *rq->abort)
            return omni_err_set(err, OMNI_E_ABORTED, "%s %s: aborted", rq->method, rq->path);
    }
}

int omni_client_stream(struct omni_client *c, const struct omni_request *rq, omni_stream_cb cb,
                       void *ud, struct omni_err *err)
{
    struct buf body = BUF_INIT_MAX(256 * 1024);
    struct xfer x = {0};
    CURLcode rc;
    int ret = 0;
    struct omni_request rq_abort;

    if (!rq->abort && c->o.abort) {
        rq_abort = *rq;
        rq_abort.abort = c->o.abort;
        rq = &rq_abort;
    }
    x.c = c;
    x.rq = rq;
    x.body = &body;
    x.cb = cb;
    x.ud = ud;
    x.retry_after_ms = -1;
    x.should_retry = -1;
    omni_err_clear(err);
    rc = perform(c, rq, &x, 1, err);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.stopped_by_cb)) {
        ret = -1;
    } else if (x.status < 200 || x.status >= 300) {
        http_error(rq, &x, &body, err);
        ret = -1;
    }
    buf_release(&body);
    return ret;
}

int omni_query_add(struct buf *url, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = url->len;

    if (buf_addc(url, strchr(url->data, '?') ? '&' : '?') < 0 || buf_adds(url, key) < 0 ||
        buf_addc(url, '=') < 0)
        goto fail;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            if (buf_addc(url, (char)*p) < 0)
                goto fail;
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (buf_add(url, e, 3) < 0)
                goto fail;
        }
    }
    return 0;
fail:
    buf_truncate(url, start);
    return -1;
}

int omni_path_add(struct buf *url, const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = url->len;

    if (buf_addc(url, '/') < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)segment; *p; p++) {
        int ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '_' || *p == '.' || *p == '~';
        int r = ok ? buf_addc(url, (char)*p)
                   : buf_add(url, (char[]){'%', hex[*p >> 4], hex[*p & 15]}, 3);
        if (r < 0) {
            buf_truncate(url, start);
            return -1;
        }
    }
    return 0;
}
