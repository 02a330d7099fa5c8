/* Unit tests for worker/metrics.c: the Prometheus exposition, /healthz,
 * /readyz, the status table and --metrics-listen's address check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../worker/metrics.h"
#include "timeutil.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct wm_view view(void)
{
    struct wm_view v = {.version = "9.9.9",
                        .now_mono_ms = omni_mono_ms(),
                        .now_wall_ms = omni_wall_us() / 1000,
                        .stuck_call_ms = 10000,
                        .live_ms = 5000};
    return v;
}

static char *render(void)
{
    struct buf o = BUF_INIT_MAX(1u << 20);
    struct wm_view v = view();
    size_t n;
    assert_int_equal(wm_render_metrics(wm_block(), &v, &o), 0);
    buf_addc(&o, '\0');
    return buf_detach(&o, &n);
}

/* The value of the sample line that starts with "prefix " (or -1). */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return -1;
}

static int setup(void **state)
{
    (void)state;
    if (!wm_block())
        assert_true(wm_create(4) >= 0);
    wm_block_init(wm_block(), 4);
    return 0;
}

static void test_every_name_and_format(void **state)
{
    static const char *const names[] = {
        "omni_worker_build_info",
        "omni_worker_slots_configured",
        "omni_worker_slots_busy",
        "omni_worker_slots_held",
        "omni_worker_sessions_served_total",
        "omni_worker_items_total",
        "omni_worker_tool_calls_total",
        "omni_worker_tool_call_duration_seconds",
        "omni_worker_result_posts_total",
        "omni_worker_heartbeats_total",
        "omni_worker_polls_total",
        "omni_worker_http_errors_total",
        "omni_worker_last_result_posted_timestamp_seconds",
        "omni_worker_last_poll_timestamp_seconds",
        "omni_worker_oldest_outstanding_call_seconds",
    };
    regex_t line;
    char *t, *save = NULL;
    (void)state;
    t = render();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char h[160], ty[160];
        snprintf(h, sizeof h, "# HELP %s ", names[i]);
        snprintf(ty, sizeof ty, "# TYPE %s ", names[i]);
        assert_non_null(strstr(t, h));
        assert_non_null(strstr(t, ty));
        assert_null(strstr(strstr(t, ty) + 1, ty)); /* one TYPE per family */
    }
    assert_int_equal(sample(t, "omni_worker_build_info{version=\"9.9.9\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_slots_configured"), 4);
    assert_int_equal(sample(t, "omni_worker_oldest_outstanding_call_seconds"), 0);
    /* every line: a comment, or name{label="value",...} number */
    assert_int_equal(regcomp(&line,
                             "^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\\{[a-z]+=\"[a-z0-9_.+A-Z]+\""
                             "(,[a-z]+=\"[a-z0-9_.+A-Z]+\")*\\})? -?[0-9.e+]+)$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (regexec(&line, l, 0, NULL, 0) != 0)
            fail_msg("bad exposition line: %s", l);
    }
    regfree(&line);
    free(t);
}

static void test_counters_and_histogram(void **state)
{
    char *t;
    (void)state;
    wm_inc(WM_SESS_COMPLETED);
    wm_inc(WM_ITEM_CLAIMED);
    wm_inc(WM_ITEM_CLAIMED);
    wm_tool_done("bash", WM_TOOL_OK, 3000);         /* 3 ms: le 0.005 */
    wm_tool_done("bash", WM_TOOL_TIMEOUT, 700000);  /* 0.7 s: le 1 */
    wm_tool_done("bash", WM_TOOL_ERROR, 400000000); /* 400 s: +Inf only */
    wm_tool_done("no-such-tool", WM_TOOL_OK, 10);
    wm_tool_done("read", WM_TOOL_DENIED, 0); /* not run: no duration */
    struct wm_http_case {
        struct omni_err e;
        enum wm_counter c;
    } cases[] = {{{.kind = OMNI_E_HTTP, .status = 404}, WM_HTTP_4XX},
                 {{.kind = OMNI_E_HTTP, .status = 503}, WM_HTTP_5XX},
                 {{.kind = OMNI_E_NET}, WM_HTTP_NETWORK},
                 {{.kind = OMNI_E_TIMEOUT}, WM_HTTP_TIMEOUT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        wm_http_error(&cases[i].e);
    wm_http_error(NULL);
    t = render();
    assert_int_equal(sample(t, "omni_worker_sessions_served_total{outcome=\"completed\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_items_total{event=\"claimed\"}"), 2);
    assert_int_equal(sample(t, "omni_worker_tool_calls_total{tool=\"bash\",outcome=\"ok\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_tool_calls_total{tool=\"bash\",outcome=\"timeout\"}"),
                     1);
    assert_int_equal(sample(t, "omni_worker_tool_calls_total{tool=\"other\",outcome=\"ok\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_tool_calls_total{tool=\"read\",outcome=\"denied\"}"),
                     1);
    assert_int_equal(
        sample(t, "omni_worker_tool_call_duration_seconds_bucket{tool=\"bash\",le=\"0.005\"}"), 1);
    assert_int_equal(
        sample(t, "omni_worker_tool_call_duration_seconds_bucket{tool=\"bash\",le=\"0.5\"}"), 1);
    assert_int_equal(
        sample(t, "omni_worker_tool_call_duration_seconds_bucket{tool=\"bash\",le=\"1\"}"), 2);
    assert_int_equal(
        sample(t, "omni_worker_tool_call_duration_seconds_bucket{tool=\"bash\",le=\"300\"}"), 2);
    assert_int_equal(
        sample(t, "omni_worker_tool_call_duration_seconds_bucket{tool=\"bash\",le=\"+Inf\"}"), 3);
    assert_int_equal(sample(t, "omni_worker_tool_call_duration_seconds_count{tool=\"bash\"}"), 3);
    assert_true(sample(t, "omni_worker_tool_call_duration_seconds_sum{tool=\"bash\"}") > 400.7);
    assert_int_equal(sample(t, "omni_worker_tool_call_duration_seconds_count{tool=\"read\"}"), 0);
    assert_int_equal(sample(t, "omni_worker_http_errors_total{class=\"4xx\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_http_errors_total{class=\"5xx\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_http_errors_total{class=\"network\"}"), 1);
    assert_int_equal(sample(t, "omni_worker_http_errors_total{class=\"timeout\"}"), 1);
    assert_null(strstr(t, "no-such-tool")); /* bounded label values */
    free(t);
}

static void test_slots_ready_health_status(void **state)
{
    struct wm_block *b = wm_block();
    struct wm_view v;
    struct buf o = BUF_INIT_MAX(1u << 16);
    char *t;
    (void)state;
    wm_slot_begin(0, "work_a", "sesn_a"); /* (this process is slot 0) */
    wm_call_begin("grep");
    wm_slot_begin(2, "work_b", "sesn_b");
    atomic_store(&b->slots[2].held, 1);
    t = render();
    assert_int_equal(sample(t, "omni_worker_slots_busy"), 2);
    assert_int_equal(sample(t, "omni_worker_slots_held"), 1);
    assert_null(strstr(t, "sesn_")); /* never a session id in a metric */
    free(t);

    v = view();
    assert_int_equal(wm_readyz(b, &v, &o), 1);
    assert_non_null(strstr(o.data, "ok: 2 of 4 slots busy"));
    buf_reset(&o);
    /* the call is older than --stuck-call */
    atomic_store(&b->slots[0].call_since_ms, v.now_mono_ms - 11000);
    assert_int_equal(wm_readyz(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "stuck: slot 0 (work work_a, tool grep)"));
    t = render();
    assert_true(sample(t, "omni_worker_oldest_outstanding_call_seconds") >= 11);
    free(t);
    buf_reset(&o);
    wm_render_status(b, &v, &o);
    assert_non_null(strstr(o.data, "sesn_a"));
    assert_non_null(strstr(o.data, "grep"));
    assert_non_null(strstr(o.data, "held"));
    assert_non_null(strstr(o.data, "2 of 4 slots busy"));
    buf_reset(&o);
    wm_call_end(1, 0);
    assert_int_equal(wm_readyz(b, &v, &o), 1);
    buf_reset(&o);
    /* a result whose post failed stays outstanding until it is re-posted */
    wm_call_begin("bash");
    wm_call_end(0, v.now_mono_ms - 12000);
    assert_int_equal(wm_readyz(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "stuck: slot 0"));
    buf_reset(&o);
    wm_call_begin("bash");
    wm_call_end(1, 0);
    assert_int_equal(wm_readyz(b, &v, &o), 0); /* (another call posted: still waiting) */
    buf_reset(&o);
    wm_repost_done();
    assert_int_equal(wm_readyz(b, &v, &o), 1);
    buf_reset(&o);
    /* all slots busy and work waiting: not ready */
    wm_slot_begin(1, "w", "s");
    wm_slot_begin(3, "w", "s");
    wm_poll_done(1);
    assert_int_equal(wm_readyz(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "full: all 4 slots are busy"));
    buf_reset(&o);
    wm_slot_end(3);
    assert_int_equal(wm_readyz(b, &v, &o), 1);
    buf_reset(&o);
    /* a string being written (a child died mid-update) is not shown torn */
    atomic_store(&b->slots[1].seq, 1);
    assert_int_equal(wm_render_status(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "\n1    -  ")); /* (slot 1: no torn ids) */
    buf_reset(&o);

    /* liveness */
    v = view();
    assert_int_equal(wm_healthz(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "has not turned yet"));
    buf_reset(&o);
    wm_turn();
    assert_int_equal(wm_healthz(b, &v, &o), 1);
    buf_reset(&o);
    v.now_mono_ms += 6000;
    assert_int_equal(wm_healthz(b, &v, &o), 0);
    assert_non_null(strstr(o.data, "last turned 6.0s ago"));
    buf_release(&o);
}

static void test_addr(void **state)
{
    (void)state;
    assert_int_equal(wm_addr_valid("127.0.0.1:9100"), 0);
    assert_int_equal(wm_addr_valid("localhost:1"), 0);
    assert_int_equal(wm_addr_valid("[::1]:9100"), 0);
    assert_int_equal(wm_addr_valid("unix:/run/omni/metrics.sock"), 0);
    assert_int_equal(wm_addr_valid("unix:relative"), -1);
    assert_int_equal(wm_addr_valid("127.0.0.1"), -1);
    assert_int_equal(wm_addr_valid("127.0.0.1:0"), -1);
    assert_int_equal(wm_addr_valid("127.0.0.1:65536"), -1);
    assert_int_equal(wm_addr_valid(":9100"), -1);
    assert_int_equal(wm_addr_valid("[::1:9100"), -1);
    assert_int_equal(wm_addr_valid("host:9x"), -1);
    assert_int_equal(wm_addr_valid(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_name_and_format, setup),
        cmocka_unit_test_setup(test_counters_and_histogram, setup),
        cmocka_unit_test_setup(test_slots_ready_health_status, setup),
        cmocka_unit_test(test_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
