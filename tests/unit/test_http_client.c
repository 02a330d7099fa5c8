/*
 * The HTTP client and typed API calls against a scripted in-process server:
 * headers, credentials, the retry policy, error envelopes, caps, timeouts,
 * empty polls, stop and heartbeat edge cases, the event stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api.h"
#include "http.h"
#include "timeutil.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SCRIPT 16
#define ORG_KEY "sk-ant-api03-TESTKEYVALUE"
#define ENV_KEY "sk-ant-oat01-TESTENVKEY"

struct reply {
    int status;
    const char *body;
    const char *hdr_name, *hdr_value; /* one extra header */
    int delay_ms;
};

struct seen {
    char method[8];
    char url[256];
    char api_key[64];
    char authorization[80];
    char beta[80];
    char version[32];
    char content_type[64];
    char worker_id[64];
    char expected[80];
    char workspace[160];
    char body[256];
};

static struct server {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    struct reply script[MAX_SCRIPT];
    int n_script, next;
    struct seen seen[MAX_SCRIPT * 2];
    int n_seen;
} srv;

struct conn_state {
    char body[4096];
    size_t len;
};

static void copyv(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v ? v : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct conn_state *cs = *con_cls;
    struct reply r = {500, "{}", NULL, NULL, 0};
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)version;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        if (n > sizeof cs->body - 1 - cs->len)
            n = sizeof cs->body - 1 - cs->len;
        memcpy(cs->body + cs->len, upload, n);
        cs->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&srv.mu);
    if (srv.n_seen < (int)(sizeof srv.seen / sizeof srv.seen[0])) {
        struct seen *s = &srv.seen[srv.n_seen++];
        copyv(s->method, sizeof s->method, method);
        copyv(s->url, sizeof s->url, url);
        copyv(s->api_key, sizeof s->api_key,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key"));
        copyv(s->authorization, sizeof s->authorization,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "authorization"));
        copyv(s->beta, sizeof s->beta,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-beta"));
        copyv(s->version, sizeof s->version,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version"));
        copyv(s->content_type, sizeof s->content_type,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "content-type"));
        copyv(s->worker_id, sizeof s->worker_id,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-worker-id"));
        copyv(s->workspace, sizeof s->workspace,
              MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-workspace-id"));
        copyv(s->expected, sizeof s->expected,
              MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "expected_last_heartbeat"));
        cs->body[cs->len] = '\0';
        copyv(s->body, sizeof s->body, cs->body);
    }
    if (srv.next < srv.n_script)
        r = srv.script[srv.next++];
    pthread_mutex_unlock(&srv.mu);
    if (r.delay_ms)
        usleep((useconds_t)r.delay_ms * 1000);
    resp = MHD_create_response_from_buffer(strlen(r.body), (void *)r.body, MHD_RESPMEM_PERSISTENT);
    if (r.status != 204 && r.body[0])
        MHD_add_response_header(resp, "content-type",
                                r.hdr_name && strcmp(r.hdr_name, "content-type") == 0
                                    ? r.hdr_value
                                    : "application/json");
    if (r.hdr_name && strcmp(r.hdr_name, "content-type") != 0)
        MHD_add_response_header(resp, r.hdr_name, r.hdr_value);
    MHD_add_response_header(resp, "request-id", "req_TEST1");
    ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void script(int n, ...)
{
    va_list ap;
    pthread_mutex_lock(&srv.mu);
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        srv.script[i] = va_arg(ap, struct reply);
    va_end(ap);
    srv.n_script = n;
    srv.next = 0;
    srv.n_seen = 0;
    pthread_mutex_unlock(&srv.mu);
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&srv.mu, NULL);
    srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
                             NULL, MHD_OPTION_END);
    if (!srv.d)
        return -1;
    srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(srv.d);
    return 0;
}

static struct omni_client *client(enum omni_auth auth, const char *key, long timeout_ms)
{
    char url[64];
    struct omni_client_opts o = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
    o.base_url = url;
    o.auth = auth;
    o.credential = key;
    o.timeout_ms = timeout_ms;
    c = omni_client_new(&o, &err);
    assert_non_null(c);
    return c;
}

#define R(st, body) ((struct reply){(st), (body), NULL, NULL, 0})
#define RH(st, body, hn, hv) ((struct reply){(st), (body), (hn), (hv), 0})

static const char *STATS_OK =
    "{\"type\":\"work_queue_stats\",\"depth\":3,\"pending\":1,"
    "\"oldest_queued_at\":\"2026-11-21T09:59:01Z\",\"workers_polling\":2}";

static void test_headers_org_key(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_stats st;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    script(1, R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.workers_polling, 2);
    assert_true(st.oldest_queued_at > 0);
    assert_string_equal(srv.seen[0].url, "/v1/environments/env_1/work/stats");
    assert_string_equal(srv.seen[0].api_key, ORG_KEY);
    assert_string_equal(srv.seen[0].authorization, "");
    assert_string_equal(srv.seen[0].beta, "managed-agents-2026-04-01");
    assert_string_equal(srv.seen[0].version, "2023-06-01");
    assert_string_equal(srv.seen[0].content_type, "");
    omni_client_free(c);
}

static void test_headers_bearer_and_body(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    int already;

    (void)state;
    script(1, R(204, ""));
    assert_int_equal(omni_work_stop(c, "env_1", "work_1", 1, &already, &err), 0);
    assert_int_equal(already, 0);
    assert_string_equal(srv.seen[0].authorization, "Bearer " ENV_KEY);
    assert_string_equal(srv.seen[0].api_key, "");
    assert_string_equal(srv.seen[0].content_type, "application/json");
    assert_string_equal(srv.seen[0].body, "{\"force\":true}");
    /* ack: POST without a body and without content-type */
    script(1, R(200, "{\"id\":\"work_1\",\"state\":\"starting\"}"));
    assert_int_equal(omni_work_ack(c, "env_1", "work_1", &err), 0);
    assert_string_equal(srv.seen[0].content_type, "");
    assert_string_equal(srv.seen[0].method, "POST");
    omni_client_free(c);
}

static void test_retry_5xx_then_ok(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_stats st;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    script(3, R(503, "{}"), RH(429, "{}", "retry-after-ms", "40"), R(200, STATS_OK));
    int64_t t0 = omni_mono_ms();
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    assert_true(omni_mono_ms() - t0 >= 40);
    assert_int_equal(srv.n_seen, 3);
    omni_client_free(c);
}

static void test_retries_exhausted(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_stats st;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    script(4, RH(500, "{}", "retry-after", "0.01"), RH(500, "{}", "retry-after", "0.01"),
           RH(500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}",
              "retry-after", "0.01"),
           R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), -1);
    assert_int_equal(srv.n_seen, 3); /* 1 + 2 retries */
    assert_int_equal(err.kind, OMNI_E_HTTP);
    assert_int_equal(err.status, 500);
    assert_string_equal(err.type, "api_error");
    assert_true(omni_err_is_transient(&err));
    omni_client_free(c);
}

static void test_should_retry_false_and_4xx(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_stats st;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    script(2, RH(503, "{}", "x-should-retry", "false"), R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), -1);
    assert_int_equal(srv.n_seen, 1);

    script(2,
           R(404, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":"
                  "\"no such environment\",\"details\":{\"error_code\":\"environment_not_found\"}},"
                  "\"request_id\":\"req_X\"}"),
           R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_9", &st, &err), -1);
    assert_int_equal(srv.n_seen, 1);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.type, "not_found_error");
    assert_string_equal(err.code, "environment_not_found");
    assert_string_equal(err.request_id, "req_TEST1"); /* header wins over body */
    assert_true(omni_err_is_fatal(&err));
    assert_non_null(strstr(err.msg, "404 not_found_error: no such environment"));
    assert_null(strstr(err.msg, ORG_KEY));

    /* x-should-retry: true forces a retry of a 400 */
    script(2, RH(400, "{}", "x-should-retry", "true"), R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    assert_int_equal(srv.n_seen, 2);
    omni_client_free(c);
}

static void test_stop_409_and_200(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    int already = 0;

    (void)state;
    script(2,
           R(409, "{\"type\":\"error\",\"error\":{\"type\":\"conflict_error\",\"message\":\"x\"}}"),
           R(204, ""));
    assert_int_equal(omni_work_stop(c, "env_1", "work_1", 0, &already, &err), 0);
    assert_int_equal(already, 1);
    assert_int_equal(srv.n_seen, 1); /* 409 on stop is final: not retried */
    assert_string_equal(srv.seen[0].body, "{}");

    script(1, R(200, "{\"id\":\"work_1\",\"type\":\"work\",\"state\":\"stopping\"}"));
    assert_int_equal(omni_work_stop(c, "env_1", "work_1", 0, &already, &err), 0);
    assert_int_equal(already, 0);
    omni_client_free(c);
}

static void test_poll_empty_forms(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_work w;
    int got;
    static const struct reply empties[] = {
        {200, "null", NULL, NULL, 0},
        {200, "", NULL, NULL, 0},
        {204, "", NULL, NULL, 0},
        {200, "{\"type\":\"work\"}", NULL, NULL, 0},
        {200, "{\"id\":\"\",\"type\":\"work\"}", NULL, NULL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        script(1, empties[i]);
        got = -1;
        assert_int_equal(omni_work_poll(c, "env_1", 999, 0, "host-abc", NULL, &w, &got, &err), 0);
        assert_int_equal(got, 0);
        assert_string_equal(srv.seen[0].worker_id, "host-abc");
    }
    script(1, R(200, "{\"id\":\"work_1\",\"type\":\"work\",\"environment_id\":\"env_1\","
                     "\"data\":{\"type\":\"session\",\"id\":\"sesn_1\"},\"state\":\"queued\","
                     "\"secret\":\"eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEtU0lNIn0\","
                     "\"created_at\":\"2026-11-21T10:00:00Z\",\"acknowledged_at\":null}"));
    assert_int_equal(omni_work_poll(c, "env_1", 999, 0, NULL, NULL, &w, &got, &err), 0);
    assert_int_equal(got, 1);
    assert_string_equal(w.id, "work_1");
    assert_string_equal(w.data_type, "session");
    assert_string_equal(w.data_id, "sesn_1");
    assert_string_equal(w.secret, "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEtU0lNIn0");
    assert_non_null(w.raw);
    omni_work_release(&w);

    /* malformed responses are parse errors, not crashes */
    script(1, R(200, "[1,2]"));
    assert_int_equal(omni_work_poll(c, "env_1", 999, 0, NULL, NULL, &w, &got, &err), -1);
    assert_int_equal(err.kind, OMNI_E_PARSE);
    script(1, R(200, "{\"id\":\"work_1\",\"state\":5}"));
    assert_int_equal(omni_work_poll(c, "env_1", 999, 0, NULL, NULL, &w, &got, &err), -1);
    assert_non_null(strstr(err.msg, "\"state\""));
    script(1, R(200, "{\"id\":\"work/../x\"}"));
    assert_int_equal(omni_work_poll(c, "env_1", 999, 0, NULL, NULL, &w, &got, &err), -1);
    assert_int_equal(omni_work_poll(c, "env_1", 1000, 0, NULL, NULL, &w, &got, &err), -1);
    assert_int_equal(err.kind, OMNI_E_USAGE);
    omni_client_free(c);
}

static void test_heartbeat(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_heartbeat hb;

    (void)state;
    script(1,
           R(200, "{\"type\":\"work_heartbeat\",\"last_heartbeat\":\"2026-11-21T10:00:01.500000Z\","
                  "\"lease_extended\":true,\"state\":\"active\",\"ttl_seconds\":120}"));
    assert_int_equal(omni_work_heartbeat(c, "env_1", "work_1", "NO_HEARTBEAT", 0, 5000, &hb, &err),
                     0);
    assert_string_equal(srv.seen[0].expected, "NO_HEARTBEAT");
    assert_string_equal(hb.last_heartbeat, "2026-11-21T10:00:01.500000Z");
    assert_int_equal(hb.lease_extended, 1);
    assert_int_equal(hb.ttl_seconds, 120);
    assert_string_equal(hb.state, "active");

    /* the echo must survive encoding exactly, '+' included */
    script(1,
           R(412, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                  "\"Heartbeat precondition failed\",\"details\":{\"error_code\":"
                  "\"heartbeat_precondition_failed\",\"current_state\":{\"state\":\"queued\","
                  "\"last_heartbeat\":null,\"lease_extended\":false,\"ttl_seconds\":120}}}}"));
    assert_int_equal(omni_work_heartbeat(c, "env_1", "work_1", "2026-11-21T10:00:01.5+00:00", 0,
                                         5000, &hb, &err),
                     -1);
    assert_string_equal(srv.seen[0].expected, "2026-11-21T10:00:01.5+00:00");
    assert_int_equal(srv.n_seen, 1); /* heartbeats are never retried by the client */
    assert_int_equal(err.status, 412);
    assert_string_equal(err.code, "heartbeat_precondition_failed");
    assert_string_equal(hb.state, "queued");
    assert_int_equal(hb.lease_extended, 0);
    assert_int_equal(hb.current_state, 1);

    /* current_state field by field: a malformed last_heartbeat hides nothing */
    script(1, R(412, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                     "\"message\":\"x\",\"details\":{\"current_state\":{\"last_heartbeat\":7,"
                     "\"state\":\"stopped\",\"ttl_seconds\":\"bad\"}}}}"));
    assert_int_equal(omni_work_heartbeat(c, "env_1", "work_1", "NO_HEARTBEAT", 0, 5000, &hb, &err),
                     -1);
    assert_int_equal(hb.current_state, 1);
    assert_string_equal(hb.state, "stopped");
    assert_string_equal(hb.last_heartbeat, "");
    assert_int_equal(hb.ttl_seconds, 0);
    /* no details: nothing known */
    script(1, R(412, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                     "\"message\":\"x\"}}"));
    assert_int_equal(omni_work_heartbeat(c, "env_1", "work_1", "NO_HEARTBEAT", 0, 5000, &hb, &err),
                     -1);
    assert_int_equal(hb.current_state, 0);
    assert_string_equal(hb.state, "");
    omni_client_free(c);
}

/* anthropic-workspace-id: sent by every request of a client (and its dups)
 * that names a workspace, never otherwise; a malformed one is refused */
static void test_workspace_header(void **state)
{
    char url[64];
    struct omni_client_opts o = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c, *d;
    struct omni_stats st;

    (void)state;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
    o.base_url = url;
    o.auth = OMNI_AUTH_API_KEY;
    o.credential = ORG_KEY;
    o.workspace_id = "wrkspc_01ABC";
    c = omni_client_new(&o, &err);
    assert_non_null(c);
    d = omni_client_dup(c, &err);
    assert_non_null(d);
    script(2, R(200, STATS_OK), R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    assert_int_equal(omni_work_stats(d, "env_1", &st, &err), 0);
    assert_string_equal(srv.seen[0].workspace, "wrkspc_01ABC");
    assert_string_equal(srv.seen[1].workspace, "wrkspc_01ABC");
    omni_client_free(d);
    omni_client_free(c);
    c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    script(1, R(200, STATS_OK));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    assert_string_equal(srv.seen[0].workspace, "");
    omni_client_free(c);
    o.workspace_id = "wrkspc 1\r\nx-api-key: y";
    assert_null(omni_client_new(&o, &err));
    assert_int_equal(err.kind, OMNI_E_USAGE);
    assert_true(omni_workspace_id_valid("wrkspc_01-AB"));
    assert_false(omni_workspace_id_valid(""));
    assert_false(omni_workspace_id_valid("a/b"));
}

/* one ack attempt: a 503 is not retried, a 409 is final */
static void test_ack_once(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    script(2, R(503, "{}"), R(200, "{}"));
    assert_int_equal(omni_work_ack_once(c, "env_1", "work_1", 2000, &err), -1);
    assert_int_equal(err.status, 503);
    assert_int_equal(srv.n_seen, 1);
    script(2, R(409, "{}"), R(200, "{}"));
    assert_int_equal(omni_work_ack_once(c, "env_1", "work_1", 2000, &err), -1);
    assert_int_equal(err.status, 409);
    assert_int_equal(srv.n_seen, 1);
    omni_client_free(c);
}

/* work.update: the merge patch as the body, the resulting metadata back */
static void test_work_update(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_work w;
    cJSON *patch = cJSON_CreateObject(), *md = NULL;

    (void)state;
    cJSON_AddStringToObject(patch, "team", "ops");
    cJSON_AddNullToObject(patch, "gone");
    script(1, R(200, "{\"id\":\"work_1\",\"state\":\"active\",\"metadata\":{\"team\":\"ops\","
                     "\"keep\":\"x\"}}"));
    assert_int_equal(omni_work_update(c, "env_1", "work_1", patch, &w, &md, &err), 0);
    assert_string_equal(srv.seen[0].method, "POST");
    assert_string_equal(srv.seen[0].url, "/v1/environments/env_1/work/work_1");
    assert_string_equal(srv.seen[0].body, "{\"metadata\":{\"team\":\"ops\",\"gone\":null}}");
    assert_string_equal(w.id, "work_1");
    assert_string_equal(cJSON_GetObjectItem(md, "keep")->valuestring, "x");
    cJSON_Delete(md);
    omni_work_release(&w);
    script(1, R(200, "{\"id\":\"work_1\",\"metadata\":[1]}"));
    assert_int_equal(omni_work_update(c, "env_1", "work_1", patch, &w, &md, &err), -1);
    assert_int_equal(err.kind, OMNI_E_PARSE);
    assert_null(md);
    cJSON_Delete(patch);
    omni_client_free(c);
}

static void test_caps_timeouts_refused(void **state)
{
    struct omni_client_opts o = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_stats st;
    struct omni_client *c;
    char url[64];
    static char big[2048];

    (void)state;
    memset(big, 'x', sizeof big - 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    o.base_url = url;
    o.auth = OMNI_AUTH_API_KEY;
    o.credential = ORG_KEY;
    o.max_response = 1024;
    o.max_retries = -1;
    c = omni_client_new(&o, &err);
    script(1, R(200, big));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_TOOBIG);
    omni_client_free(c);

    o.max_response = 0;
    o.timeout_ms = 200;
    c = omni_client_new(&o, &err);
    script(1, ((struct reply){200, "{}", NULL, NULL, 1000}));
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_TIMEOUT);
    omni_client_free(c);

    o.base_url = "http://127.0.0.1:1"; /* nothing listens there */
    c = omni_client_new(&o, &err);
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_NET);
    assert_true(omni_err_is_transient(&err));
    omni_client_free(c);

    o.base_url = "ftp://example";
    assert_null(omni_client_new(&o, &err));
    assert_int_equal(err.kind, OMNI_E_CONFIG);
    /* ids are validated before any request */
    c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    assert_int_equal(omni_work_stats(c, "../etc", &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_USAGE);
    omni_client_free(c);
}

static void test_debug_trace_redacts(void **state)
{
    struct omni_client_opts o = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_stats st;
    char url[64], path[] = "/tmp/omni-trace-XXXXXX", text[8192];
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    (void)state;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    o.base_url = url;
    o.auth = OMNI_AUTH_API_KEY;
    o.credential = ORG_KEY;
    o.debug = 1;
    struct omni_client *c = omni_client_new(&o, &err);
    script(1, R(200, STATS_OK));
    fflush(stderr);
    dup2(fd, 2);
    assert_int_equal(omni_work_stats(c, "env_1", &st, &err), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    text[n] = '\0';
    assert_non_null(strstr(text, "[redacted]"));
    assert_non_null(strstr(text, "GET /v1/environments/env_1/work/stats"));
    assert_null(strstr(text, "TESTKEYVALUE"));
    omni_client_free(c);
}

struct collected {
    char types[8][64];
    int n;
};

static int collect(struct omni_event *ev, void *ud)
{
    struct collected *col = ud;
    if (col->n < 8)
        snprintf(col->types[col->n++], 64, "%s", ev->type);
    return 0;
}

static void test_stream(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    struct collected col = {0};
    struct omni_stream_handler h = {collect, NULL, &col, NULL, 5000, 0};
    int ended = 0;

    (void)state;
    script(1, RH(200,
                 ": comment\r\n"
                 "event: agent.tool_use\r\n"
                 "data: {\"type\":\"agent.tool_use\",\"id\":\"sevt_1\",\"name\":\"bash\"}\r\n\r\n"
                 "event: ping\ndata: {\"type\":\"ping\"}\n\n"
                 "data: {\"type\":\"no.event.name\"}\n\n"
                 "event: session.status_idle\ndata: {\"id\":\"sevt_2\"}\n\n",
                 "content-type", "text/event-stream"));
    assert_int_equal(omni_events_stream(c, "sesn_1", &h, &ended, &err), 0);
    assert_int_equal(ended, 1);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.types[0], "agent.tool_use");
    assert_string_equal(col.types[1], "session.status_idle"); /* type filled from the name */
    assert_string_equal(srv.seen[0].url, "/v1/sessions/sesn_1/events/stream");

    col.n = 0;
    script(1, RH(200,
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                 "\"message\":\"busy\"}}\n\n",
                 "content-type", "text/event-stream"));
    assert_int_equal(omni_events_stream(c, "sesn_1", &h, &ended, &err), -1);
    assert_int_equal(err.kind, OMNI_E_NET);
    assert_true(omni_err_is_transient(&err));
    assert_non_null(strstr(err.msg, "overloaded_error"));

    script(1,
           R(404,
             "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"gone\"}}"));
    assert_int_equal(omni_events_stream(c, "sesn_1", &h, &ended, &err), -1);
    assert_int_equal(err.status, 404);
    assert_true(omni_err_is_fatal(&err));
    omni_client_free(c);
}

static void test_events_list_pages(void **state)
{
    struct omni_client *c = client(OMNI_AUTH_BEARER, ENV_KEY, 0);
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_event_list l;

    (void)state;
    script(
        2,
        R(200, "{\"data\":[{\"type\":\"user.message\",\"id\":\"sevt_1\",\"processed_at\":"
               "\"2026-11-21T10:00:00Z\"}],\"next_page\":\"p2\"}"),
        R(200, "{\"data\":[{\"type\":\"agent.tool_use\",\"id\":\"sevt_2\"}],\"next_page\":null}"));
    assert_int_equal(omni_events_list(c, "sesn_1", &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].type, "user.message");
    assert_true(l.items[0].processed_at > 0);
    assert_string_equal(l.items[1].id, "sevt_2");
    assert_int_equal(srv.n_seen, 2);
    omni_event_list_release(&l);

    script(1, R(200, "{\"data\":{}}"));
    assert_int_equal(omni_events_list(c, "sesn_1", &l, &err), -1);
    assert_int_equal(err.kind, OMNI_E_PARSE);
    omni_client_free(c);
}

/* protocol.md §4.2/§4.4: which statuses the client retries, which are final. */
static void test_status_classes(void **state)
{
    static const struct {
        int status;
        int retried; /* 1: a second attempt follows */
    } cases[] = {
        {402, 0}, {403, 0}, {408, 1}, {413, 0}, {422, 0}, {429, 1},
        {500, 1}, {502, 1}, {503, 1}, {504, 1}, {529, 1},
    };
    struct omni_client *c = client(OMNI_AUTH_API_KEY, ORG_KEY, 0);
    struct omni_stats st;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        script(2,
               RH(cases[i].status,
                  "{\"type\":\"error\",\"error\":{\"type\":\"x\",\"message\":\"m\"}}",
                  "retry-after-ms", "1"),
               R(200, STATS_OK));
        int r = omni_work_stats(c, "env_1", &st, &err);
        if (cases[i].retried) {
            assert_int_equal(r, 0);
            assert_int_equal(srv.n_seen, 2);
        } else {
            assert_int_equal(r, -1);
            assert_int_equal(srv.n_seen, 1);
            assert_int_equal(err.status, cases[i].status);
            assert_true(omni_err_is_fatal(&err));
        }
    }
    omni_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_org_key),
        cmocka_unit_test(test_headers_bearer_and_body),
        cmocka_unit_test(test_retry_5xx_then_ok),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_should_retry_false_and_4xx),
        cmocka_unit_test(test_stop_409_and_200),
        cmocka_unit_test(test_status_classes),
        cmocka_unit_test(test_poll_empty_forms),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_workspace_header),
        cmocka_unit_test(test_ack_once),
        cmocka_unit_test(test_work_update),
        cmocka_unit_test(test_caps_timeouts_refused),
        cmocka_unit_test(test_debug_trace_redacts),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_events_list_pages),
    };
    return cmocka_run_group_tests_name("http_client", tests, setup, teardown);
}
