/* Unit tests for lib/health.c (the queue health rule) and lib/session_work.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "health.h"
#include "session_work.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000LL
#define NOW (1800000000LL * SEC)

static void test_levels(void **state)
{
    struct omni_thresholds th;
    struct omni_stats st = {0, 0, 0, 2};
    char why[96];

    (void)state;
    omni_thresholds_default(&th);
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_OK);
    assert_string_equal(why, "");
    assert_int_equal(omni_stats_level(&th, NULL, NULL, NOW, why, sizeof why), OMNI_LEVEL_UNKNOWN);
    /* work waiting and nobody polling: critical even below every threshold */
    st = (struct omni_stats){1, 0, NOW - SEC, 0};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    assert_string_equal(why, "work waiting, no worker polling (busy or dead: no work list)");
    st = (struct omni_stats){0, 1, NOW - SEC, 0};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    /* a workers_polling the API did not report (-1) is not judged */
    st = (struct omni_stats){1, 0, NOW - SEC, -1};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_OK);
    /* default depth thresholds 10 / 50 */
    st = (struct omni_stats){11, 0, NOW - SEC, 1};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_WARN);
    assert_string_equal(why, "depth 11, oldest 1s");
    st.depth = 51;
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    /* age thresholds 60 / 300 s */
    st = (struct omni_stats){1, 0, NOW - 61 * SEC, 1};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_WARN);
    assert_string_equal(why, "depth 1, oldest 1m1s");
    st.oldest_queued_at = NOW - 301 * SEC;
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    /* min workers only matters while work waits */
    th.min_workers = 3;
    st = (struct omni_stats){0, 0, 0, 2};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_OK);
    st = (struct omni_stats){1, 0, NOW - SEC, 2};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    assert_string_equal(why, "work waiting, 2 workers < 3");
    assert_string_equal(omni_level_name(OMNI_LEVEL_CRIT), "CRITICAL");
    assert_string_equal(omni_level_name((enum omni_level)9), "UNKNOWN");
}

/* An empty queue has no age: a range that alerts below a bound must not fire
 * on it (omnictl did, the console did not; the console was right). */
static void test_empty_queue_has_no_age(void **state)
{
    struct omni_thresholds th;
    struct omni_threshold_flags f = {.warn_age = "10:", .crit_age = "@0:5"};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_stats st = {0, 0, 0, 1};

    (void)state;
    assert_int_equal(omni_thresholds_resolve(&th, &f, NULL, &err), 0);
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, NULL, 0), OMNI_LEVEL_OK);
    st = (struct omni_stats){1, 0, NOW - 3 * SEC, 1};
    assert_int_equal(omni_stats_level(&th, &st, NULL, NOW, NULL, 0), OMNI_LEVEL_CRIT);
}

static void work(struct omni_work *w, const char *id, const char *type, const char *sid,
                 const char *state, int64_t created);

/* A full worker does not poll: with the work list, live heartbeats say
 * "saturated" (WARNING), none say "no worker" (CRITICAL). */
static void test_saturated_vs_no_worker(void **state)
{
    struct omni_thresholds th;
    struct omni_stats st = {3, 0, NOW - 30 * SEC, 0};
    struct omni_work items[3];
    struct omni_work_list wl = {items, 0, ""};
    struct omni_work_summary ws;
    char why[96];

    (void)state;
    omni_thresholds_default(&th);
    work(&items[wl.n++], "work_a", "session", "sesn_1", "active", NOW - 600 * SEC);
    items[0].latest_heartbeat_at = NOW - 10 * SEC;
    work(&items[wl.n++], "work_b", "session", "sesn_2", "queued", NOW - 30 * SEC);
    omni_work_summarize(&wl, NOW, 0, &ws);
    assert_int_equal(ws.live, 1);
    assert_int_equal(omni_stats_level(&th, &st, &ws, NOW, why, sizeof why), OMNI_LEVEL_WARN);
    assert_string_equal(why, "saturated: 1 session heartbeating");
    /* the heartbeat goes stale (older than a lease): nobody is alive */
    items[0].latest_heartbeat_at = NOW - (OMNI_HEARTBEAT_FRESH_MS / 1000 + 1) * SEC;
    omni_work_summarize(&wl, NOW, 0, &ws);
    assert_int_equal(ws.live, 0);
    assert_int_equal(omni_stats_level(&th, &st, &ws, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    assert_string_equal(why, "work waiting, no worker polling or heartbeating");
    /* a starting item that never heartbeats for a minute is stuck */
    work(&items[wl.n++], "work_c", "session", "sesn_3", "starting", NOW - 90 * SEC);
    items[2].acknowledged_at = NOW - 61 * SEC;
    omni_work_summarize(&wl, NOW, 0, &ws);
    assert_int_equal(ws.stuck, 1);
    assert_int_equal(omni_work_stuck(&items[2], NOW, 62000), 0);
    assert_int_equal(omni_work_stuck(&items[2], NOW, 61000), 1);
    /* saturation never hides a depth alarm */
    st.depth = 60;
    items[0].latest_heartbeat_at = NOW - SEC;
    omni_work_summarize(&wl, NOW, 0, &ws);
    assert_int_equal(omni_stats_level(&th, &st, &ws, NOW, why, sizeof why), OMNI_LEVEL_CRIT);
    assert_string_equal(why, "saturated: 1 session heartbeating; depth 60, oldest 30s");
}

static void test_resolve_errors(void **state)
{
    struct omni_thresholds th;
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_threshold_flags bad_range = {.crit_depth = "x:1"};
    struct omni_threshold_flags bad_count = {.min_workers = "-1"};
    struct omni_threshold_flags ok = {.warn_age = "5m", .min_workers = "0"};

    (void)state;
    assert_int_equal(omni_thresholds_resolve(&th, &bad_range, NULL, &err), -1);
    assert_int_equal(err.kind, OMNI_E_USAGE);
    assert_non_null(strstr(err.msg, "--crit-depth: bad range \"x:1\""));
    assert_int_equal(omni_thresholds_resolve(&th, &bad_count, NULL, &err), -1);
    assert_int_equal(err.kind, OMNI_E_USAGE);
    assert_non_null(strstr(err.msg, "--min-workers \"-1\" is not a count"));
    assert_int_equal(omni_thresholds_resolve(&th, &ok, NULL, &err), 0);
    assert_string_equal(th.warn_age.text, "300");
    assert_int_equal(th.min_workers, 0);
}

static void work(struct omni_work *w, const char *id, const char *type, const char *sid,
                 const char *state, int64_t created)
{
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->data_type, sizeof w->data_type, "%s", type);
    snprintf(w->data_id, sizeof w->data_id, "%s", sid);
    snprintf(w->state, sizeof w->state, "%s", state);
    w->created_at = created;
}

static void test_work_for_session(void **state)
{
    struct omni_work items[6];
    struct omni_work_list wl = {items, 0, ""};
    const struct omni_work *w;

    (void)state;
    work(&items[wl.n++], "work_a", "session", "sesn_1", "stopped", 5);
    work(&items[wl.n++], "work_b", "healthcheck", "sesn_1", "queued", 9); /* not session work */
    work(&items[wl.n++], "work_c", "session", "sesn_2", "active", 9);     /* another session */
    w = omni_work_for_session(&wl, "sesn_1");
    assert_non_null(w); /* only a stopped item: it, so a stop says "already stopped" */
    assert_string_equal(w->id, "work_a");
    work(&items[wl.n++], "work_e", "session", "sesn_1", "queued", 7);
    work(&items[wl.n++], "work_d", "session", "sesn_1", "active", 7);
    work(&items[wl.n++], "work_f", "session", "sesn_1", "stopped", 8);
    w = omni_work_for_session(&wl, "sesn_1");
    assert_string_equal(w->id,
                        "work_e"); /* live beats a newer stopped; a tie goes to the larger id */
    /* the answer does not depend on the order of the list */
    struct omni_work tmp = items[3];
    items[3] = items[4];
    items[4] = tmp;
    assert_string_equal(omni_work_for_session(&wl, "sesn_1")->id, "work_e");
    assert_null(omni_work_for_session(&wl, "sesn_9"));
    assert_null(omni_work_for_session(&wl, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),           cmocka_unit_test(test_empty_queue_has_no_age),
        cmocka_unit_test(test_resolve_errors),   cmocka_unit_test(test_saturated_vs_no_worker),
        cmocka_unit_test(test_work_for_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
