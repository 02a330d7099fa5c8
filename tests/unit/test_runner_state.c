/* Unit tests for worker/runstate.c: routing, de-duplication, confirmations,
 * ownership, thread termination, the result cache and idle readiness. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "../../worker/runstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int owns(void *ud, const char *name)
{
    (void)ud;
    return strcmp(name, "bash") == 0 || strcmp(name, "read") == 0 || strcmp(name, "my_custom") == 0;
}

static cJSON *ev(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cJSON *ev(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    return j;
}

static void live(struct rstate *rs, cJSON *j)
{
    rstate_live(rs, j);
    cJSON_Delete(j);
}

static void hist(struct rstate *rs, cJSON *j)
{
    rstate_reconcile_add(rs, j);
    cJSON_Delete(j);
}

#define TOOL(id, name)                                                                             \
    ev("{\"type\":\"agent.tool_use\",\"id\":\"%s\",\"name\":\"%s\",\"input\":{}}", id, name)
#define TOOLP(id, perm)                                                                            \
    ev("{\"type\":\"agent.tool_use\",\"id\":\"%s\",\"name\":\"bash\",\"input\":{},\"evaluated_"    \
       "permission\":\"%s\"}",                                                                     \
       id, perm)
#define RESULT(id)                                                                                 \
    ev("{\"type\":\"user.tool_result\",\"id\":\"r_%s\",\"tool_use_id\":\"%s\"}", id, id)
#define CONFIRM(id, v)                                                                             \
    ev("{\"type\":\"user.tool_confirmation\",\"id\":\"c_%s\",\"tool_use_id\":\"%s\",\"result\":"   \
       "\"%s\"}",                                                                                  \
       id, id, v)
#define IDLE(reason)                                                                               \
    ev("{\"type\":\"session.status_idle\",\"id\":\"i\",\"stop_reason\":{\"type\":\"%s\"}}", reason)

/* Take the next call; assert its id; report it posted. */
static void run_one(struct rstate *rs, const char *id)
{
    struct rs_call *c = rstate_next(rs);
    assert_non_null(c);
    assert_string_equal(c->id, id);
    assert_null(c->cached);
    rstate_done(rs, c, RS_POSTED, NULL);
    rs_call_free(c);
}

static void test_live_dedup(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOL("t1", "bash"));
    live(rs, TOOL("t1", "bash")); /* duplicate delivery */
    assert_int_equal(rstate_queued(rs), 1);
    run_one(rs, "t1");
    assert_null(rstate_next(rs));
    live(rs, TOOL("t1", "bash"));
    assert_null(rstate_next(rs));
    assert_true(rstate_answered(rs, "t1"));
    rstate_free(rs);
}

static void test_one_at_a_time_in_order(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *c;
    (void)state;
    live(rs, TOOL("a", "bash"));
    live(rs, TOOL("b", "read"));
    c = rstate_next(rs);
    assert_string_equal(c->id, "a");
    assert_null(rstate_next(rs)); /* serial: nothing while one runs */
    rstate_done(rs, c, RS_POSTED, NULL);
    rs_call_free(c);
    run_one(rs, "b");
    rstate_free(rs);
}

static void test_reconcile_routes_unanswered_only(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("x", "bash"));
    hist(rs, RESULT("x"));
    hist(rs, TOOL("y", "bash"));
    rstate_reconcile_end(rs, 1);
    run_one(rs, "y");
    assert_null(rstate_next(rs));
    /* the same ids arriving live later are duplicates */
    live(rs, TOOL("x", "bash"));
    live(rs, TOOL("y", "bash"));
    assert_null(rstate_next(rs));
    /* a second reconcile over the same history runs nothing again */
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("x", "bash"));
    hist(rs, RESULT("x"));
    hist(rs, TOOL("y", "bash"));
    rstate_reconcile_end(rs, 1);
    assert_null(rstate_next(rs));
    rstate_free(rs);
}

static void test_reconcile_failure_forgets_pass(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("z", "bash"));
    rstate_reconcile_end(rs, 0);
    assert_null(rstate_next(rs));
    live(rs, TOOL("z", "bash")); /* not treated as a duplicate */
    run_one(rs, "z");
    rstate_free(rs);
}

static void test_inflight_not_rerouted(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *c;
    (void)state;
    live(rs, TOOL("a", "bash"));
    c = rstate_next(rs);
    assert_non_null(c);
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("a", "bash"));
    rstate_reconcile_end(rs, 1);
    rstate_done(rs, c, RS_POSTED, NULL);
    rs_call_free(c);
    assert_null(rstate_next(rs));
    rstate_free(rs);
}

static void test_cache_reposts_never_reruns(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *c;
    struct rs_result r = {1, (char *)"boom"};
    (void)state;
    live(rs, TOOL("a", "bash"));
    c = rstate_next(rs);
    rstate_done(rs, c, RS_POST_FAILED, &r);
    rs_call_free(c);
    assert_null(rstate_next(rs)); /* not re-run on its own */
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("a", "bash"));
    rstate_reconcile_end(rs, 1);
    c = rstate_next(rs);
    assert_non_null(c);
    assert_non_null(c->cached);
    assert_int_equal(c->cached->is_error, 1);
    assert_string_equal(c->cached->text, "boom");
    rstate_done(rs, c, RS_POSTED, c->cached);
    rs_call_free(c);
    assert_true(rstate_answered(rs, "a"));
    /* a cached result answered elsewhere is dropped */
    live(rs, TOOL("b", "bash"));
    c = rstate_next(rs);
    rstate_done(rs, c, RS_POST_FAILED, &r);
    rs_call_free(c);
    live(rs, RESULT("b"));
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("b", "bash"));
    rstate_reconcile_end(rs, 1);
    assert_null(rstate_next(rs));
    rstate_free(rs);
}

static void test_ask_held_until_allow(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *c;
    (void)state;
    live(rs, TOOLP("q", "ask"));
    assert_null(rstate_next(rs));
    assert_int_equal(rstate_held(rs), 1);
    /* reconnect: hold kept, not run */
    rstate_reconcile_begin(rs);
    hist(rs, TOOLP("q", "ask"));
    rstate_reconcile_end(rs, 1);
    assert_null(rstate_next(rs));
    assert_int_equal(rstate_held(rs), 1);
    live(rs, CONFIRM("q", "allow"));
    assert_int_equal(rstate_held(rs), 0);
    c = rstate_next(rs);
    assert_non_null(c);
    assert_true(c->gated);
    rstate_done(rs, c, RS_POSTED, NULL);
    rs_call_free(c);
    rstate_free(rs);
}

#define INTERRUPT ev("{\"type\":\"user.interrupt\",\"id\":\"u_int\"}")

/* An interrupt settles a held call: a later allow does not run it, and the
 * idle countdown is no longer deferred by it. */
static void test_interrupt_cancels_held(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOLP("q", "ask"));
    live(rs, IDLE("requires_action"));
    assert_int_equal(rstate_held(rs), 1);
    live(rs, INTERRUPT);
    assert_int_equal(rstate_held(rs), 0);
    assert_true(rstate_answered(rs, "q"));
    live(rs, IDLE("end_turn"));
    assert_true(rstate_idle_ready(rs, NULL));
    live(rs, CONFIRM("q", "allow"));
    assert_null(rstate_next(rs));
    /* a reconnect re-reads the history: still not run */
    rstate_reconcile_begin(rs);
    hist(rs, TOOLP("q", "ask"));
    hist(rs, INTERRUPT);
    hist(rs, CONFIRM("q", "allow"));
    rstate_reconcile_end(rs, 1);
    assert_null(rstate_next(rs));
    assert_int_equal(rstate_held(rs), 0);
    rstate_free(rs);

    /* history only (a fresh run): ask, interrupt, allow -> not run; a call
     * held after the interrupt (a later turn) stays held */
    rs = rstate_new(owns, NULL);
    rstate_reconcile_begin(rs);
    hist(rs, TOOLP("a", "ask"));
    hist(rs, TOOLP("b", "allow"));
    hist(rs, INTERRUPT);
    hist(rs, CONFIRM("a", "allow"));
    hist(rs, TOOLP("c", "ask"));
    rstate_reconcile_end(rs, 1);
    run_one(rs, "b"); /* an allowed call is not held: the interrupt leaves it */
    assert_null(rstate_next(rs));
    assert_true(rstate_answered(rs, "a"));
    assert_int_equal(rstate_held(rs), 1);
    live(rs, CONFIRM("c", "allow"));
    run_one(rs, "c");
    rstate_free(rs);
}

/* What waits on a person: held calls and calls left for their owner. */
static void test_waiting(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOLP("q", "ask"));
    live(rs, TOOL("x", "someone_elses"));
    assert_int_equal(rstate_waiting(rs), 2);
    live(rs, TOOL("t", "bash"));
    assert_int_equal(rstate_waiting(rs), 0); /* work to do first */
    run_one(rs, "t");
    assert_int_equal(rstate_waiting(rs), 2);
    live(rs, RESULT("x"));
    live(rs, RESULT("x"));
    assert_int_equal(rstate_waiting(rs), 1);
    live(rs, CONFIRM("q", "deny"));
    assert_int_equal(rstate_waiting(rs), 0);
    rstate_free(rs);
}

static void test_deny_posts_nothing(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOLP("d", "deny"));
    assert_null(rstate_next(rs));
    assert_true(rstate_answered(rs, "d"));
    live(rs, TOOLP("q", "ask"));
    live(rs, CONFIRM("q", "deny"));
    assert_null(rstate_next(rs));
    assert_true(rstate_answered(rs, "q"));
    assert_int_equal(rstate_held(rs), 0);
    /* deny overrides an allow verdict */
    live(rs, CONFIRM("e", "allow"));
    live(rs, TOOLP("e", "deny"));
    assert_null(rstate_next(rs));
    /* unknown verdict strings deny */
    live(rs, TOOLP("f", "ask"));
    live(rs, CONFIRM("f", "maybe"));
    assert_null(rstate_next(rs));
    rstate_free(rs);
}

static void test_unknown_permission_fails_closed(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOLP("u", "weird"));
    assert_null(rstate_next(rs));
    assert_int_equal(rstate_held(rs), 1);
    rstate_free(rs);
}

static void test_confirmation_before_tool_use(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, CONFIRM("early", "allow"));
    live(rs, TOOLP("early", "ask"));
    run_one(rs, "early");
    /* history: confirmation recorded in pass 1 applies in pass 2 */
    rstate_reconcile_begin(rs);
    hist(rs, TOOLP("h", "ask"));
    hist(rs, CONFIRM("h", "allow"));
    rstate_reconcile_end(rs, 1);
    run_one(rs, "h");
    rstate_free(rs);
}

static void test_not_owned_left_alone(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, TOOL("n", "web_thing"));
    live(rs, ev("{\"type\":\"agent.custom_tool_use\",\"id\":\"cu\",\"name\":\"app_tool\"}"));
    assert_null(rstate_next(rs));
    assert_false(rstate_answered(rs, "n"));
    assert_false(rstate_answered(rs, "cu"));
    /* owned custom tool: handed out as custom */
    live(rs, ev("{\"type\":\"agent.custom_tool_use\",\"id\":\"mc\",\"name\":\"my_custom\","
                "\"input\":{\"a\":1}}"));
    struct rs_call *c = rstate_next(rs);
    assert_non_null(c);
    assert_true(c->custom);
    assert_int_equal(cJSON_GetObjectItem(c->input, "a")->valueint, 1);
    rstate_done(rs, c, RS_POSTED, NULL);
    rs_call_free(c);
    rstate_free(rs);
}

static void test_thread_terminated(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    (void)state;
    live(rs, ev("{\"type\":\"agent.tool_use\",\"id\":\"h1\",\"name\":\"bash\","
                "\"evaluated_permission\":\"ask\",\"session_thread_id\":\"th\"}"));
    live(rs, ev("{\"type\":\"agent.tool_use\",\"id\":\"q1\",\"name\":\"bash\","
                "\"session_thread_id\":\"th\"}"));
    assert_int_equal(rstate_held(rs), 1);
    live(rs, ev("{\"type\":\"session.thread_status_terminated\",\"id\":\"tt\","
                "\"session_thread_id\":\"th\"}"));
    assert_int_equal(rstate_held(rs), 0);
    assert_null(rstate_next(rs)); /* queued call of the thread dropped */
    live(rs, ev("{\"type\":\"agent.tool_use\",\"id\":\"q2\",\"name\":\"bash\","
                "\"session_thread_id\":\"th\"}"));
    assert_null(rstate_next(rs));
    live(rs, ev("{\"type\":\"agent.tool_use\",\"id\":\"q3\",\"name\":\"bash\","
                "\"session_thread_id\":\"other\"}"));
    run_one(rs, "q3");
    rstate_free(rs);
}

#define TTOOL(id, th)                                                                              \
    ev("{\"type\":\"agent.tool_use\",\"id\":\"%s\",\"name\":\"bash\",\"input\":{},"                \
       "\"session_thread_id\":\"%s\"}",                                                            \
       id, th)

/* Several calls at once (SDK 1.16 maxConcurrentCalls): never two of one
 * thread, in order within a thread, up to the maximum. */
static void test_concurrent_threads(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *a, *b, *c, *d;
    (void)state;
    assert_int_equal(rstate_set_max_inflight(rs, 2), 0);
    live(rs, TOOL("p1", "bash"));      /* primary thread */
    live(rs, TOOL("p2", "read"));      /* primary again: waits for p1 */
    live(rs, TTOOL("c1", "th_child")); /* a child thread */
    live(rs, TTOOL("x1", "th_other"));
    a = rstate_next(rs);
    b = rstate_next(rs);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->id, "p1");
    assert_string_equal(b->id, "c1"); /* p2 skipped: its thread is busy */
    assert_null(rstate_next(rs));     /* the maximum is out */
    assert_int_equal(rstate_queued(rs), 4);
    assert_int_equal(rstate_set_max_inflight(rs, 3), -1); /* not while calls are out */
    rstate_done(rs, b, RS_POSTED, NULL);
    c = rstate_next(rs);
    assert_non_null(c);
    assert_string_equal(c->id, "x1"); /* p2 still waits for p1 */
    assert_null(rstate_next(rs));
    rstate_done(rs, a, RS_POSTED, NULL);
    d = rstate_next(rs);
    assert_non_null(d);
    assert_string_equal(d->id, "p2"); /* in order within its thread */
    rstate_done(rs, c, RS_POSTED, NULL);
    rstate_done(rs, d, RS_POSTED, NULL);
    assert_int_equal(rstate_queued(rs), 0);
    rs_call_free(a);
    rs_call_free(b);
    rs_call_free(c);
    rs_call_free(d);
    rstate_free(rs);
}

/* A terminated thread is reported once to the runner (its call in flight is
 * stopped and its shell ended); its queued calls are dropped. */
static void test_ended_thread_reported(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *a;
    char *t;
    (void)state;
    assert_int_equal(rstate_set_max_inflight(rs, 4), 0);
    live(rs, TTOOL("k1", "th_k"));
    live(rs, TTOOL("k2", "th_k"));
    a = rstate_next(rs);
    assert_string_equal(a->id, "k1");
    assert_false(rstate_thread_ended(rs, "th_k"));
    assert_false(rstate_thread_ended(rs, NULL));
    live(rs, ev("{\"type\":\"session.thread_status_terminated\",\"id\":\"tk\","
                "\"session_thread_id\":\"th_k\"}"));
    live(rs, ev("{\"type\":\"session.thread_status_terminated\",\"id\":\"tk2\","
                "\"session_thread_id\":\"th_k\"}")); /* again: reported once */
    assert_true(rstate_thread_ended(rs, "th_k"));
    t = rstate_take_ended_thread(rs);
    assert_non_null(t);
    assert_string_equal(t, "th_k");
    free(t);
    assert_null(rstate_take_ended_thread(rs));
    rstate_done(rs, a, RS_ABANDONED, NULL);
    rs_call_free(a);
    assert_null(rstate_next(rs)); /* k2 dropped */
    assert_int_equal(rstate_queued(rs), 0);
    rstate_free(rs);
}

/* SDK 1.16 runs only the calls the session waits on: a turn that ended (an
 * interrupt's idle, say) leaves the calls queued before it unrun, for its
 * own thread only; after retries_exhausted they still run. */
static void test_turn_end_drops_unwaited(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *a;
    (void)state;
    assert_int_equal(rstate_set_max_inflight(rs, 1), 0);
    live(rs, TOOL("w1", "bash"));
    a = rstate_next(rs); /* running: not stopped by the idle */
    live(rs, TOOL("w2", "bash"));
    live(rs, TTOOL("w3", "th_x"));
    live(rs, IDLE("retries_exhausted"));
    assert_int_equal(rstate_queued(rs), 3);
    live(rs, IDLE("end_turn"));
    assert_int_equal(rstate_queued(rs), 2); /* w2 dropped; w3 is another thread's */
    assert_true(rstate_answered(rs, "w2"));
    rstate_done(rs, a, RS_POSTED, NULL);
    rs_call_free(a);
    run_one(rs, "w3");
    live(rs, TTOOL("w4", "th_x"));
    live(rs, ev("{\"type\":\"session.thread_status_idle\",\"id\":\"ti\","
                "\"session_thread_id\":\"th_x\",\"stop_reason\":{\"type\":\"end_turn\"}}"));
    assert_null(rstate_next(rs));
    /* history: a call before a turn-ending idle is not run on reconnect */
    rstate_reconcile_begin(rs);
    hist(rs, TOOL("h1", "bash"));
    hist(rs, IDLE("end_turn"));
    hist(rs, TOOL("h2", "bash"));
    rstate_reconcile_end(rs, 1);
    run_one(rs, "h2");
    assert_null(rstate_next(rs));
    rstate_free(rs);
}

/* A running call is unwanted once answered elsewhere, once its thread
 * terminates, or once its child thread's turn ends; a session idle leaves a
 * running primary call wanted (as 1.16). */
static void test_running_call_unwanted(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    struct rs_call *p, *k;
    (void)state;
    assert_int_equal(rstate_set_max_inflight(rs, 2), 0);
    live(rs, TOOL("u1", "bash"));
    live(rs, TTOOL("u2", "th_u"));
    p = rstate_next(rs);
    k = rstate_next(rs);
    assert_false(rstate_unwanted(rs, p));
    assert_false(rstate_unwanted(rs, k));
    live(rs, IDLE("end_turn"));
    assert_false(rstate_unwanted(rs, p));
    live(rs, ev("{\"type\":\"session.thread_status_idle\",\"id\":\"tu\","
                "\"session_thread_id\":\"th_u\",\"stop_reason\":{\"type\":\"end_turn\"}}"));
    assert_true(rstate_unwanted(rs, k));
    live(rs, RESULT("u1"));
    assert_true(rstate_unwanted(rs, p));
    rstate_done(rs, p, RS_ABANDONED, NULL);
    rstate_done(rs, k, RS_ABANDONED, NULL);
    rs_call_free(p);
    rs_call_free(k);
    /* the slot's flag does not stick to the thread's next call */
    live(rs, TTOOL("u3", "th_u"));
    k = rstate_next(rs);
    assert_non_null(k);
    assert_false(rstate_unwanted(rs, k));
    rstate_done(rs, k, RS_POSTED, NULL);
    rs_call_free(k);
    rstate_free(rs);
}

static void test_idle_readiness(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    unsigned g1, g2;
    (void)state;
    assert_false(rstate_idle_ready(rs, &g1));
    live(rs, TOOL("a", "bash"));
    live(rs, IDLE("requires_action"));
    assert_false(rstate_idle_ready(rs, &g1));
    run_one(rs, "a");
    live(rs, RESULT("a"));
    live(rs, ev("{\"type\":\"session.status_running\",\"id\":\"r\"}"));
    assert_false(rstate_idle_ready(rs, &g1));
    live(rs, IDLE("end_turn"));
    assert_true(rstate_idle_ready(rs, &g1));
    /* neutral event keeps it armed; any other disarms */
    live(rs, CONFIRM("zz", "allow"));
    assert_true(rstate_idle_ready(rs, &g2));
    assert_int_equal(g1, g2);
    live(rs, ev("{\"type\":\"agent.message\",\"id\":\"m\"}"));
    assert_false(rstate_idle_ready(rs, NULL));
    /* another idle re-arms with a new generation */
    live(rs, IDLE("retries_exhausted"));
    assert_true(rstate_idle_ready(rs, &g2));
    assert_int_not_equal(g1, g2);
    /* held call defers */
    live(rs, TOOLP("h", "ask"));
    live(rs, IDLE("end_turn"));
    assert_false(rstate_idle_ready(rs, NULL));
    live(rs, CONFIRM("h", "deny"));
    assert_true(rstate_idle_ready(rs, NULL));
    /* after reconcile: armed iff history ended the turn */
    rstate_reconcile_begin(rs);
    hist(rs, ev("{\"type\":\"user.message\",\"id\":\"um\"}"));
    rstate_reconcile_end(rs, 1);
    assert_false(rstate_idle_ready(rs, NULL));
    rstate_reconcile_begin(rs);
    hist(rs, IDLE("end_turn"));
    hist(rs, CONFIRM("q9", "allow"));
    rstate_reconcile_end(rs, 1);
    assert_true(rstate_idle_ready(rs, NULL));
    live(rs, ev("{\"type\":\"session.status_terminated\",\"id\":\"st\"}"));
    assert_true(rstate_ended(rs));
    assert_false(rstate_idle_ready(rs, NULL));
    rstate_free(rs);
}

static void test_result_event_shape(void **state)
{
    cJSON *e;
    char *s;
    (void)state;
    e = rstate_result_event("t1", 0, 0, "");
    s = cJSON_PrintUnformatted(e);
    assert_string_equal(s, "{\"type\":\"user.tool_result\",\"tool_use_id\":\"t1\",\"is_error\":"
                           "false,\"content\":[{\"type\":\"text\",\"text\":\"(no output)\"}]}");
    cJSON_free(s);
    cJSON_Delete(e);
    e = rstate_result_event("c1", 1, 1, "Error: boom");
    s = cJSON_PrintUnformatted(e);
    assert_string_equal(s, "{\"type\":\"user.custom_tool_result\",\"custom_tool_use_id\":\"c1\","
                           "\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":"
                           "\"Error: boom\"}]}");
    cJSON_free(s);
    cJSON_Delete(e);
}

static void test_many_ids(void **state)
{
    struct rstate *rs = rstate_new(owns, NULL);
    char id[32];
    (void)state;
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "id%d", i);
        live(rs, TOOL(id, "bash"));
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "id%d", i);
        run_one(rs, id);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "id%d", i);
        assert_true(rstate_answered(rs, id));
    }
    rstate_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_dedup),
        cmocka_unit_test(test_one_at_a_time_in_order),
        cmocka_unit_test(test_reconcile_routes_unanswered_only),
        cmocka_unit_test(test_reconcile_failure_forgets_pass),
        cmocka_unit_test(test_inflight_not_rerouted),
        cmocka_unit_test(test_cache_reposts_never_reruns),
        cmocka_unit_test(test_ask_held_until_allow),
        cmocka_unit_test(test_interrupt_cancels_held),
        cmocka_unit_test(test_waiting),
        cmocka_unit_test(test_deny_posts_nothing),
        cmocka_unit_test(test_unknown_permission_fails_closed),
        cmocka_unit_test(test_confirmation_before_tool_use),
        cmocka_unit_test(test_not_owned_left_alone),
        cmocka_unit_test(test_thread_terminated),
        cmocka_unit_test(test_concurrent_threads),
        cmocka_unit_test(test_ended_thread_reported),
        cmocka_unit_test(test_turn_end_drops_unwaited),
        cmocka_unit_test(test_running_call_unwanted),
        cmocka_unit_test(test_idle_readiness),
        cmocka_unit_test(test_result_event_shape),
        cmocka_unit_test(test_many_ids),
    };
    log_setup("test_runner_state", LOG_TEXT, LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
