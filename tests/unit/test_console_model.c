/* Unit tests for console/model.c: omni-console's data model (no curses). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../console/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000LL
#define NOW (1800000000LL * SEC)

static void test_sparkline(void **state)
{
    long s[] = {0, 1, 2, 4, 8};
    char out[64];

    (void)state;
    assert_int_equal(con_sparkline(s, 5, 10, 0, 0, out, sizeof out), 5);
    assert_string_equal(out, " .:=#"); /* any non-zero sample shows */
    /* only the newest `width` samples */
    assert_int_equal(con_sparkline(s, 5, 2, 0, 0, out, sizeof out), 2);
    assert_string_equal(out, "=#");
    assert_int_equal(con_sparkline(s, 5, 10, 0, 1, out, sizeof out), 5);
    assert_int_equal(strlen(out), 15);
    assert_memory_equal(out + 12, "\xe2\x96\x88", 3);
    assert_memory_equal(out, "\xe2\x96\x81", 3);
    /* all zero: the lowest level everywhere; a small buffer is not overrun */
    long z[3] = {0, 0, 0};
    assert_int_equal(con_sparkline(z, 3, 3, 0, 0, out, sizeof out), 3);
    assert_string_equal(out, "   ");
    assert_int_equal(con_sparkline(s, 5, 10, 0, 1, out, 7), 2);
    assert_int_equal(strlen(out), 6);
    /* one scale per screen: 2 against 149 is not full height */
    {
        long lo[] = {2, 2}, hi[] = {149, 149};
        long scale = con_spark_max(hi, 2, 10);
        assert_int_equal(scale, 149);
        con_sparkline(lo, 2, 10, scale, 0, out, sizeof out);
        assert_string_equal(out, "..");
        con_sparkline(hi, 2, 10, scale, 0, out, sizeof out);
        assert_string_equal(out, "##");
    }
}

static void test_id_fit(void **state)
{
    char out[64];

    (void)state;
    con_id_fit("sesn_010000000004RE6Z2062W3DM", 40, 1, out, sizeof out);
    assert_string_equal(out, "sesn_010000000004RE6Z2062W3DM");
    con_id_fit("sesn_010000000004RE6Z2062W3DM", 14, 1, out, sizeof out);
    assert_string_equal(out, "sesn_\xe2\x80\xa6"
                             "2062W3DM"); /* 14 cells, the end kept */
    con_id_fit("sesn_010000000004RE6Z2062W3DM", 14, 0, out, sizeof out);
    assert_string_equal(out, "sesn_..062W3DM");
    con_id_fit("sesn_010000000004RE6Z2062W3DM", 8, 0, out, sizeof out);
    assert_string_equal(out, "..62W3DM"); /* no room for the prefix */
}

static void test_sparkline_samples(void **state)
{
    struct con_model m;
    struct omni_environment_list l = {0};
    struct omni_environment e = {0};
    struct omni_stats st = {0, 0, 0, 1};
    long out[CON_SPARK_SAMPLES];
    int n;

    (void)state;
    con_model_init(&m);
    m.spark_step_us = 2 * SEC;
    strcpy(e.id, "env_1");
    strcpy(e.name, "one");
    l.items = &e;
    l.n = 1;
    con_model_apply_envs(&m, &l, NULL, NULL, NOW);
    for (int i = 0; i < CON_SPARK_SAMPLES + 5; i++) {
        st.depth = i;
        con_model_apply_stats(&m, "env_1", &st, NULL, NULL, NULL, NOW + i * 2 * SEC);
    }
    /* within one step: the slot keeps its maximum */
    st.depth = 1000;
    con_model_apply_stats(&m, "env_1", &st, NULL, NULL, NULL,
                          NOW + (CON_SPARK_SAMPLES + 4) * 2 * SEC + 1);
    n = con_env_spark(&m.envs[0], out, CON_SPARK_SAMPLES);
    assert_int_equal(n, CON_SPARK_SAMPLES);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[n - 1], 1000);
    /* environments that stay keep their history; archived ones go */
    con_model_apply_envs(&m, &l, NULL, NULL, NOW);
    assert_int_equal(m.envs[0].nspark, CON_SPARK_SAMPLES);
    e.archived_at = NOW;
    con_model_apply_envs(&m, &l, NULL, NULL, NOW);
    assert_int_equal(m.nenvs, 0);
    con_model_release(&m);
}

static cJSON *ev(const char *json)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    return o;
}

static void feed(struct con_approvals *a, const char *json)
{
    cJSON *o = ev(json);
    con_approvals_feed(a, o);
    cJSON_Delete(o);
}

static void test_approvals(void **state)
{
    struct con_approvals a;

    (void)state;
    con_approvals_clear(&a);
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t1\",\"name\":\"bash\","
             "\"input\":{\"command\":\"rm -rf x\"},\"evaluated_permission\":\"ask\"}");
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t2\",\"name\":\"read\","
             "\"input\":{\"file_path\":\"a\"},\"evaluated_permission\":\"allow\"}");
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t3\",\"name\":\"read\",\"input\":{}}");
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t4\",\"name\":\"bash\","
             "\"evaluated_permission\":\"deny\"}");
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t5\",\"name\":\"write\","
             "\"evaluated_permission\":\"maybe\"}"); /* unknown: fail closed, held */
    assert_int_equal(a.n, 2);
    assert_string_equal(a.held[0].id, "t1");
    assert_string_equal(a.held[0].name, "bash");
    assert_string_equal(a.held[0].input, "rm -rf x");
    assert_string_equal(a.held[1].id, "t5");
    /* duplicates are not held twice */
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t1\",\"name\":\"bash\","
             "\"evaluated_permission\":\"ask\"}");
    assert_int_equal(a.n, 2);
    feed(&a, "{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"t1\",\"result\":\"allow\"}");
    assert_int_equal(a.n, 1);
    assert_string_equal(a.held[0].id, "t5");
    feed(&a, "{\"type\":\"user.tool_result\",\"tool_use_id\":\"t5\",\"content\":[]}");
    assert_int_equal(a.n, 0);
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t6\",\"name\":\"bash\","
             "\"evaluated_permission\":\"ask\"}");
    feed(&a, "{\"type\":\"session.status_terminated\"}");
    assert_int_equal(a.n, 0);
    /* an interrupt settles the held calls (omni_event_cancels_held) */
    feed(&a, "{\"type\":\"agent.tool_use\",\"id\":\"t7\",\"name\":\"bash\","
             "\"evaluated_permission\":\"ask\"}");
    assert_int_equal(a.n, 1);
    feed(&a, "{\"type\":\"user.interrupt\"}");
    assert_int_equal(a.n, 0);
    /* custom tool calls wait for their owner */
    feed(&a, "{\"type\":\"agent.custom_tool_use\",\"id\":\"c1\",\"name\":\"lookup\"}");
    feed(&a, "{\"type\":\"agent.custom_tool_use\",\"id\":\"c2\",\"name\":\"lookup\"}");
    feed(&a, "{\"type\":\"agent.custom_tool_use\",\"id\":\"c1\",\"name\":\"lookup\"}");
    assert_int_equal(a.ncustom, 2);
    assert_int_equal(a.n, 0);
    feed(&a, "{\"type\":\"user.custom_tool_result\",\"custom_tool_use_id\":\"c1\"}");
    assert_int_equal(a.ncustom, 1);
    assert_string_equal(a.custom[0], "c2");
    /* a user.tool_result does not answer a custom call */
    feed(&a, "{\"type\":\"user.tool_result\",\"tool_use_id\":\"c2\"}");
    assert_int_equal(a.ncustom, 1);
    con_approvals_clear(&a);
    assert_int_equal(a.ncustom, 0);
    /* malformed events are ignored */
    feed(&a, "{\"id\":\"x\"}");
    feed(&a, "{\"type\":\"agent.tool_use\",\"evaluated_permission\":\"ask\"}");
    assert_int_equal(a.n, 0);
}

static void test_summary(void **state)
{
    char out[CON_LINE_MAX];
    cJSON *o;

    (void)state;
    o = ev("{\"type\":\"agent.tool_use\",\"name\":\"bash\",\"input\":{\"command\":\"ls\\n-la\"},"
           "\"evaluated_permission\":\"ask\"}");
    assert_int_equal(con_event_summary(o, out, sizeof out), CON_LK_TOOL);
    assert_string_equal(out, "tool bash: ls -la [ask]");
    cJSON_Delete(o);
    o = ev("{\"type\":\"user.tool_result\",\"is_error\":true,"
           "\"content\":[{\"type\":\"text\",\"text\":\"Error: boom\"}]}");
    assert_int_equal(con_event_summary(o, out, sizeof out), CON_LK_ERROR);
    assert_string_equal(out, "result ERROR: Error: boom");
    cJSON_Delete(o);
    o = ev("{\"type\":\"session.error\",\"error\":{\"type\":\"overloaded\",\"message\":\"m\"}}");
    assert_int_equal(con_event_summary(o, out, sizeof out), CON_LK_ERROR);
    assert_string_equal(out, "session error overloaded: m");
    cJSON_Delete(o);
    o = ev("{\"type\":\"session.status_idle\",\"stop_reason\":{\"type\":\"end_turn\"}}");
    assert_int_equal(con_event_summary(o, out, sizeof out), CON_LK_STATUS);
    assert_string_equal(out, "idle end_turn");
    cJSON_Delete(o);
    o = ev("{\"type\":\"agent.custom_tool_use\",\"name\":\"lookup\",\"input\":{\"k\":1}}");
    con_event_summary(o, out, sizeof out);
    assert_string_equal(out, "custom tool lookup: {\"k\":1}");
    cJSON_Delete(o);
    o = ev("{\"type\":\"span.model_request_start\"}");
    assert_int_equal(con_event_summary(o, out, 8), CON_LK_INFO);
    assert_string_equal(out, "span.mo");
    cJSON_Delete(o);
}

static void test_sanitize(void **state)
{
    char out[8];

    (void)state;
    con_sanitize(out, sizeof out, "a\x1b[2Jb");
    assert_string_equal(out, "a [2Jb");
    /* a C1 control (U+009B CSI) becomes a blank */
    con_sanitize(out, sizeof out, "x\xc2\x9by");
    assert_string_equal(out, "x y");
    /* never cut a UTF-8 sequence: "abcdef" + 3-byte char does not fit in 7 */
    con_sanitize(out, sizeof out, "abcde\xe2\x96\x88");
    assert_string_equal(out, "abcde");
    con_sanitize(out, sizeof out, "ab\xe2\x96\x88");
    assert_string_equal(out, "ab\xe2\x96\x88");
    con_sanitize(out, sizeof out, NULL);
    assert_string_equal(out, "");
}

static void session_list(struct omni_session_list *l, size_t n)
{
    l->items = calloc(n, sizeof *l->items);
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(l->items[i].id, sizeof l->items[i].id, "sesn_%03zu", i);
        strcpy(l->items[i].status, i % 2 ? "running" : "idle");
        strcpy(l->items[i].environment_id, i == 3 ? "env_other" : "env_1");
        snprintf(l->items[i].title, sizeof l->items[i].title, "title %zu%s", i,
                 i == 2 ? " needle" : "");
        l->items[i].created_at = NOW - (int64_t)i * SEC;
        l->items[i].updated_at = NOW;
    }
}

static void test_sessions(void **state)
{
    struct con_model m;
    struct omni_session_list l;
    struct omni_event_list el = {0};
    struct omni_event evs[2];
    struct con_session *s;

    (void)state;
    con_model_init(&m);
    session_list(&l, 5);
    con_model_apply_sessions(&m, "env_1", &l, NOW);
    assert_int_equal(m.sessions.n, 4); /* the other environment's row is dropped */
    /* events → last event and the held call */
    evs[0].obj = ev("{\"type\":\"agent.tool_use\",\"id\":\"t1\",\"name\":\"bash\","
                    "\"evaluated_permission\":\"ask\",\"input\":{\"command\":\"x\"}}");
    evs[0].type = "agent.tool_use";
    evs[0].processed_at = NOW - SEC;
    evs[1].obj = ev("{\"type\":\"span.model_request_end\"}");
    evs[1].type = "span.model_request_end";
    evs[1].processed_at = NOW;
    el.items = evs;
    el.n = 2;
    assert_true(con_session_events_due(con_model_session(&m, "sesn_002"), NOW, 5000));
    con_model_apply_session_events(&m, "sesn_002", &el, NOW);
    s = con_model_session(&m, "sesn_002");
    assert_int_equal(s->nheld, 1);
    assert_string_equal(s->held.id, "t1");
    assert_string_equal(s->last_event, "agent.tool_use"); /* span.* skipped */
    assert_false(con_session_events_due(s, NOW + SEC, 5000));
    assert_true(con_session_events_due(s, NOW + 6 * SEC, 5000));
    cJSON_Delete(evs[0].obj);
    cJSON_Delete(evs[1].obj);
    /* a refresh keeps event-derived fields of sessions that stay */
    con_model_apply_sessions(&m, "env_1", &l, NOW + SEC);
    s = con_model_session(&m, "sesn_002");
    assert_int_equal(s->nheld, 1);
    assert_false(con_session_events_due(s, NOW + SEC, 5000));
    /* ... and a changed session is due again */
    l.items[2].updated_at = NOW + 2 * SEC;
    con_model_apply_sessions(&m, "env_1", &l, NOW + 2 * SEC);
    assert_true(con_session_events_due(con_model_session(&m, "sesn_002"), NOW + 2 * SEC, 5000));
    /* default sort: youngest first */
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(m.sessions.nidx, 4);
    assert_string_equal(con_session_at(&m.sessions, 0)->id, "sesn_000");
    assert_string_equal(con_session_at(&m.sessions, 3)->id, "sesn_004");
    con_table_set_sort(&m.sessions, CON_SC_AGE, 1);
    con_table_view(&m.sessions, 0, NOW);
    assert_string_equal(con_session_at(&m.sessions, 0)->id, "sesn_004");
    con_table_set_sort(&m.sessions, CON_SC_WAIT, 0);
    con_table_view(&m.sessions, 0, NOW);
    assert_string_equal(con_session_at(&m.sessions, 0)->id, "sesn_002");
    /* filter: case-insensitive, on title, id and status */
    con_table_set_filter(&m.sessions, "NEEDLE");
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(m.sessions.nidx, 1);
    con_table_set_filter(&m.sessions, "running");
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(m.sessions.nidx, 1); /* sesn_001 (sesn_003 is elsewhere) */
    con_table_set_filter(&m.sessions, "");
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(m.sessions.nidx, 4);
    /* another environment replaces the rows */
    con_model_apply_sessions(&m, "env_other", &l, NOW);
    assert_int_equal(m.sessions.n, 1);
    assert_int_equal(con_model_session(&m, "sesn_003")->nheld, 0);
    omni_session_list_release(&l);
    con_model_release(&m);
}

static void test_work(void **state)
{
    struct con_model m;
    struct omni_work_list l = {0};
    struct omni_work w[4];

    (void)state;
    memset(w, 0, sizeof w);
    strcpy(w[0].id, "work_a");
    strcpy(w[0].state, "starting");
    strcpy(w[0].data_id, "sesn_1");
    w[0].created_at = NOW - 120 * SEC;
    w[0].acknowledged_at = NOW - 61 * SEC;
    strcpy(w[1].id, "work_b");
    strcpy(w[1].state, "starting");
    strcpy(w[1].data_id, "sesn_2");
    w[1].acknowledged_at = NOW - 59 * SEC;
    w[1].created_at = NOW - 59 * SEC;
    strcpy(w[2].id, "work_c");
    strcpy(w[2].state, "stopped");
    strcpy(w[2].data_id, "sesn_1");
    w[2].created_at = NOW;
    strcpy(w[3].id, "work_d");
    strcpy(w[3].state, "active");
    strcpy(w[3].data_id, "sesn_3");
    w[3].created_at = NOW - 500 * SEC;
    w[3].latest_heartbeat_at = NOW - SEC;
    l.items = w;
    l.n = 4;
    con_model_init(&m);
    con_model_apply_work(&m, "env_1", &l, NOW);
    assert_true(con_work_stuck(&((struct con_work *)m.work.rows)[0], NOW, OMNI_STUCK_MS));
    assert_false(con_work_stuck(&((struct con_work *)m.work.rows)[1], NOW, OMNI_STUCK_MS));
    assert_false(con_work_stuck(&((struct con_work *)m.work.rows)[3], NOW, OMNI_STUCK_MS));
    /* the live item of a session, not the stopped one */
    assert_string_equal(con_model_work_for_session(&m, "sesn_1")->id, "work_a");
    assert_null(con_model_work_for_session(&m, "sesn_9"));
    con_table_set_sort(&m.work, CON_WC_STUCK, 0);
    con_table_view(&m.work, 1, NOW);
    assert_string_equal(con_work_at(&m.work, 0)->id, "work_a");
    con_table_set_filter(&m.work, "stopped");
    con_table_view(&m.work, 1, NOW);
    assert_int_equal(m.work.nidx, 1);
    con_model_release(&m);
}

static void test_env_work_summary(void **state)
{
    struct con_model m;
    struct omni_environment_list el = {0};
    struct omni_environment e = {0};
    struct omni_stats st = {0};
    struct omni_work_summary ws = {1, 2, 1, 0};

    (void)state;
    con_model_init(&m);
    snprintf(e.id, sizeof e.id, "env_1");
    el.items = &e;
    el.n = 1;
    con_model_apply_envs(&m, &el, NULL, NULL, NOW);
    st.depth = 3;
    st.workers_polling = 0;
    con_model_apply_stats(&m, "env_1", &st, NULL, NULL, NULL, NOW);
    assert_int_equal(m.envs[0].level, OMNI_LEVEL_CRIT); /* cannot tell: no worker */
    con_model_apply_stats(&m, "env_1", &st, NULL, &ws, NULL, NOW);
    assert_int_equal(m.envs[0].level, OMNI_LEVEL_WARN); /* heartbeats: saturated */
    assert_non_null(strstr(m.envs[0].why, "saturated"));
    assert_int_equal(m.envs[0].ws.stuck, 1);
    con_model_levels(&m, NOW);
    assert_int_equal(m.envs[0].level, OMNI_LEVEL_WARN);
    con_model_apply_stats(&m, "env_1", &st, NULL, NULL, "HTTP 401", NOW);
    assert_int_equal(m.envs[0].level, OMNI_LEVEL_CRIT);
    assert_string_equal(m.envs[0].work_err, "HTTP 401");
    con_model_release(&m);
}

static void test_doc(void **state)
{
    struct con_doc d = {0};
    char out[64];

    (void)state;
    con_doc_open(&d, "sesn_1", "sevt_1");
    assert_null(d.text);
    con_doc_set(&d, "TOOL bash\n\nINPUT\n\t\"x\x1b[31m\"\n", NULL);
    assert_int_equal(d.nlines, 4);
    con_doc_line(&d, 0, out, sizeof out);
    assert_string_equal(out, "TOOL bash");
    con_doc_line(&d, 1, out, sizeof out);
    assert_string_equal(out, "");
    con_doc_line(&d, 3, out, sizeof out);
    assert_string_equal(out, " \"x [31m\""); /* tab and ESC sanitised */
    con_doc_line(&d, 4, out, sizeof out);
    assert_string_equal(out, "");
    con_doc_set(&d, NULL, "HTTP 404");
    assert_null(d.text);
    assert_string_equal(d.err, "HTTP 404");
    con_doc_release(&d);
}

static void test_table_find(void **state)
{
    struct con_model m;
    struct omni_session_list l = {0};
    struct omni_session items[3] = {0};
    const char *ids[3] = {"sesn_a", "sesn_b", "sesn_c"};

    (void)state;
    con_model_init(&m);
    for (int i = 0; i < 3; i++) {
        snprintf(items[i].id, sizeof items[i].id, "%s", ids[i]);
        snprintf(items[i].environment_id, sizeof items[i].environment_id, "env_1");
        items[i].created_at = NOW - (i + 1) * 1000000;
    }
    l.items = items;
    l.n = 3;
    con_model_apply_sessions(&m, "env_1", &l, NOW);
    con_table_view(&m.sessions, 0, NOW);
    assert_string_equal(con_table_id(&m.sessions, 0), "sesn_a"); /* youngest first */
    assert_int_equal(con_table_find(&m.sessions, "sesn_c"), 2);
    con_table_set_sort(&m.sessions, CON_SC_AGE, 1);
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(con_table_find(&m.sessions, "sesn_c"), 0);
    assert_int_equal(con_table_find(&m.sessions, "sesn_x"), -1);
    assert_string_equal(con_table_id(&m.sessions, 3), "");
    /* p: only the sessions waiting on a person */
    ((struct con_session *)m.sessions.rows)[1].nheld = 1;
    con_table_set_only_waiting(&m.sessions, 1);
    con_table_view(&m.sessions, 0, NOW);
    assert_int_equal(m.sessions.nidx, 1);
    assert_string_equal(con_table_id(&m.sessions, 0), "sesn_b");
    con_model_release(&m);
}

static void test_detail(void **state)
{
    struct con_detail d;
    char js[256];

    (void)state;
    memset(&d, 0, sizeof d);
    con_detail_open(&d, "sesn_1");
    for (int i = 0; i < CON_DETAIL_LINES + 10; i++) {
        cJSON *o;
        snprintf(js, sizeof js,
                 "{\"type\":\"agent.message\",\"id\":\"e%d\",\"processed_at\":"
                 "\"2026-01-01T00:00:00Z\",\"content\":[{\"type\":\"text\",\"text\":\"m%d\"}]}",
                 i, i);
        o = ev(js);
        assert_int_equal(con_detail_feed(&d, o), 1);
        assert_int_equal(con_detail_feed(&d, o), 0); /* duplicate id */
        cJSON_Delete(o);
    }
    assert_int_equal(d.n, CON_DETAIL_LINES);
    assert_string_equal(con_detail_line(&d, 0)->text, "agent: m10");
    assert_null(con_detail_line(&d, CON_DETAIL_LINES));
    assert_true(con_detail_line(&d, 0)->at > 0);
    {
        cJSON *o = ev("{\"type\":\"agent.tool_use\",\"id\":\"t\",\"name\":\"bash\","
                      "\"evaluated_permission\":\"ask\"}");
        con_detail_feed(&d, o);
        cJSON_Delete(o);
    }
    assert_int_equal(d.ap.n, 1);
    /* / searches the lines (a full ring) */
    assert_int_equal(con_detail_count(&d), CON_DETAIL_LINES);
    con_detail_set_filter(&d, "M2000");
    assert_int_equal(con_detail_count(&d), 1);
    assert_string_equal(con_detail_shown(&d, 0)->text, "agent: m2000");
    assert_null(con_detail_shown(&d, 1));
    con_detail_set_filter(&d, "");
    assert_int_equal(con_detail_count(&d), CON_DETAIL_LINES);
    /* reopening the same session keeps it; another one clears it */
    con_detail_open(&d, "sesn_1");
    assert_int_equal(d.n, CON_DETAIL_LINES);
    con_detail_open(&d, "sesn_2");
    assert_int_equal(d.n, 0);
    assert_int_equal(d.ap.n, 0);
    con_detail_close(&d);
    free(d.lines);
    free(d.seen);
    free(d.shown);
}

static void test_age(void **state)
{
    char out[32];

    (void)state;
    assert_string_equal(con_age(NOW, 0, out, sizeof out), "-");
    assert_string_equal(con_age(NOW, NOW - 500000, out, sizeof out), "0s");
    assert_string_equal(con_age(NOW, NOW + 5 * SEC, out, sizeof out), "0s");
    assert_string_equal(con_age(NOW, NOW - 192 * SEC, out, sizeof out), "3m12s");
}

/* A worker's exposition: the slot gauges, labels and timestamps allowed; other
 * series, comments and look-alike names ignored. */
static void test_worker_parse(void **state)
{
    static const char text[] = "# HELP omni_worker_slots_busy Busy.\n"
                               "# TYPE omni_worker_slots_busy gauge\n"
                               "omni_worker_slots_busy_total 9\n"
                               "omni_worker_slots_busy 2\n"
                               "omni_worker_slots_configured{pool=\"a\"} 4 1700000000000\n"
                               "omni_worker_slots_held\t1";
    struct con_worker w;
    struct con_model m;
    struct omni_environment_list l = {0};
    struct omni_environment env = {0};

    (void)state;
    memset(&w, 0, sizeof w);
    assert_int_equal(con_worker_parse(text, sizeof text - 1, &w), 3);
    assert_int_equal(w.busy, 2);
    assert_int_equal(w.configured, 4);
    assert_int_equal(w.held, 1);
    assert_int_equal(con_worker_parse("omni_worker_slots_busy -1\nfoo 1\n", 33, &w), 0);
    assert_int_equal(w.busy, -1);

    memset(&m, 0, sizeof m);
    snprintf(env.id, sizeof env.id, "env_a");
    l.items = &env;
    l.n = 1;
    con_model_apply_envs(&m, &l, NULL, NULL, 1);
    snprintf(w.url, sizeof w.url, "http://127.0.0.1:1/metrics\x1b[2J");
    snprintf(w.err, sizeof w.err, "refused");
    con_model_apply_workers(&m, "env_a", &w, 1, 2);
    assert_int_equal(m.envs[0].nworkers, 1);
    assert_null(strchr(m.envs[0].workers[0].url, '\x1b'));
    con_model_apply_workers(&m, "env_nope", &w, 1, 2);
    con_model_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {

        cmocka_unit_test(test_sparkline),  cmocka_unit_test(test_sparkline_samples),
        cmocka_unit_test(test_approvals),  cmocka_unit_test(test_summary),
        cmocka_unit_test(test_sanitize),   cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_work),       cmocka_unit_test(test_detail),
        cmocka_unit_test(test_table_find), cmocka_unit_test(test_doc),
        cmocka_unit_test(test_id_fit),     cmocka_unit_test(test_env_work_summary),
        cmocka_unit_test(test_age),        cmocka_unit_test(test_worker_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
