/* Monitoring-plugin threshold ranges with duration bounds (lib/range.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "range.h"

static void test_range_durations(void **state)
{
    struct omni_range r;
    const char *cause;

    (void)state;
    assert_int_equal(omni_range_parse("10", 1, &r, &cause), 0);
    assert_false(omni_range_alert(&r, 10));
    assert_true(omni_range_alert(&r, 11));
    assert_true(omni_range_alert(&r, -1));
    assert_int_equal(omni_range_parse("10:", 1, &r, &cause), 0);
    assert_true(omni_range_alert(&r, 9));
    assert_false(omni_range_alert(&r, 1e9));
    assert_int_equal(omni_range_parse("~:5", 1, &r, &cause), 0);
    assert_false(omni_range_alert(&r, -100));
    assert_true(omni_range_alert(&r, 6));
    assert_int_equal(omni_range_parse("@2:4", 1, &r, &cause), 0);
    assert_true(omni_range_alert(&r, 3));
    assert_false(omni_range_alert(&r, 5));
    assert_int_equal(omni_range_parse("5m", 1, &r, &cause), 0);
    assert_true(r.hi == 300);
    assert_int_equal(omni_range_parse("1:2h", 1, &r, &cause), 0);
    assert_true(r.lo == 1 && r.hi == 7200);
    assert_int_equal(omni_range_parse("", 1, &r, &cause), -1);
    assert_int_equal(omni_range_parse("abc", 1, &r, &cause), -1);
    assert_int_equal(omni_range_parse("5:1", 1, &r, &cause), -1);
    assert_int_equal(omni_range_parse("1:x", 1, &r, &cause), -1);
    assert_int_equal(omni_range_parse("m", 1, &r, &cause), -1);
    r.set = 0;
    assert_false(omni_range_alert(&r, 1e9));
}

static void test_defaults_parse(void **state)
{
    struct omni_range r;
    const char *cause;

    (void)state;
    assert_int_equal(omni_range_parse(OMNI_DEFAULT_WARN_DEPTH, 0, &r, &cause), 0);
    assert_true(omni_range_alert(&r, 11));
    assert_int_equal(omni_range_parse(OMNI_DEFAULT_CRIT_DEPTH, 0, &r, &cause), 0);
    assert_false(omni_range_alert(&r, 50));
    assert_int_equal(omni_range_parse(OMNI_DEFAULT_WARN_AGE, 1, &r, &cause), 0);
    assert_true(omni_range_alert(&r, 61));
    assert_int_equal(omni_range_parse(OMNI_DEFAULT_CRIT_AGE, 1, &r, &cause), 0);
    assert_false(omni_range_alert(&r, 300));
    assert_true(omni_range_alert(&r, 301));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_durations),
        cmocka_unit_test(test_defaults_parse),
    };
    return cmocka_run_group_tests_name("range", tests, NULL, NULL);
}
