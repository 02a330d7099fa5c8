/* Unit tests for omnictl's held-call rule (admin/held.c: what `sessions
 * confirm` checks before posting and what `sessions list --waiting` counts)
 * and its time formatting (UTC with Z, --local-time with the offset). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../admin/ctx.h"
#include "../../admin/held.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Build an event list from JSON texts (each one event object). */
static void events(struct omni_event_list *l, const char *const *json, size_t n)
{
    struct omni_err err = OMNI_ERR_INIT;
    l->items = calloc(n, sizeof *l->items);
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(json[i]);
        assert_non_null(o);
        assert_int_equal(omni_event_from_json(o, &l->items[i], &err), 0);
    }
}

#define ASK(id)                                                                                    \
    "{\"type\":\"agent.tool_use\",\"id\":\"" id "\",\"name\":\"bash\",\"input\":{},"               \
    "\"evaluated_permission\":\"ask\",\"processed_at\":\"2026-01-02T03:04:05Z\"}"
#define ALLOWED(id)                                                                                \
    "{\"type\":\"agent.tool_use\",\"id\":\"" id "\",\"name\":\"bash\",\"input\":{},"               \
    "\"evaluated_permission\":\"allow\"}"
#define CONFIRM(id, r)                                                                             \
    "{\"type\":\"user.tool_confirmation\",\"id\":\"sevt_c\",\"tool_use_id\":\"" id "\","           \
    "\"result\":\"" r "\",\"processed_at\":\"2026-01-02T03:05:00Z\"}"
#define INTERRUPT "{\"type\":\"user.interrupt\",\"id\":\"sevt_i\"}"

static void test_held_states(void **state)
{
    static const char *const ev[] = {ASK("toolu_a"), ALLOWED("toolu_b"), ASK("toolu_c"),
                                     CONFIRM("toolu_a", "allow"), ASK("toolu_d")};
    struct omni_event_list l = {0};
    char d[160];

    (void)state;
    events(&l, ev, 5);
    assert_int_equal(held_call_state(&l, "toolu_a", d, sizeof d), HELD_ANSWERED);
    assert_non_null(strstr(d, "user.tool_confirmation allow at 2026-01-02T03:05:00Z"));
    assert_int_equal(held_call_state(&l, "toolu_b", d, sizeof d), HELD_NOT_HELD);
    assert_string_equal(d, "permission allow");
    assert_int_equal(held_call_state(&l, "toolu_c", d, sizeof d), HELD_WAITING);
    assert_int_equal(held_call_state(&l, "toolu_zz", d, sizeof d), HELD_UNKNOWN);
    assert_int_equal(held_count(&l), 2); /* c and d */
    omni_event_list_release(&l);
}

static void test_interrupt_settles(void **state)
{
    static const char *const ev[] = {ASK("toolu_a"), INTERRUPT, ASK("toolu_b")};
    struct omni_event_list l = {0};
    char d[160];

    (void)state;
    events(&l, ev, 3);
    assert_int_equal(held_call_state(&l, "toolu_a", d, sizeof d), HELD_CANCELLED);
    assert_non_null(strstr(d, "user.interrupt"));
    /* a call held after the interrupt is held */
    assert_int_equal(held_call_state(&l, "toolu_b", d, sizeof d), HELD_WAITING);
    assert_int_equal(held_count(&l), 1);
    omni_event_list_release(&l);
}

static void test_time_zone(void **state)
{
    char out[48];
    int64_t us = (int64_t)1767323045 * 1000000; /* 2026-01-02T03:04:05Z */

    (void)state;
    ctl_time_local(0);
    assert_string_equal(ctl_time(us, out, sizeof out), "2026-01-02T03:04:05Z");
    setenv("TZ", "XST-05:30", 1);
    tzset();
    ctl_time_local(1);
    assert_string_equal(ctl_time(us, out, sizeof out), "2026-01-02T08:34:05+05:30");
    setenv("TZ", "UTC0", 1);
    tzset();
    assert_string_equal(ctl_time(us, out, sizeof out), "2026-01-02T03:04:05+00:00");
    assert_string_equal(ctl_time(0, out, sizeof out), "-");
    ctl_time_local(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_states),
        cmocka_unit_test(test_interrupt_settles),
        cmocka_unit_test(test_time_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
