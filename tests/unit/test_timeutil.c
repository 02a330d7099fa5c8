/* Unit tests for lib/timeutil.c: RFC 3339, durations, clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000LL

static void test_rfc3339_parse_good(void **state)
{
    static const struct {
        const char *in;
        int64_t us;
    } t[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:01Z", SEC},
        {"1969-12-31T23:59:59Z", -SEC},
        {"2026-11-21T10:00:00Z", 1795255200 * SEC},
        {"2026-11-21t10:00:00z", 1795255200 * SEC},
        {"2026-11-21 10:00:00Z", 1795255200 * SEC},
        {"2026-11-21T11:30:00+01:30", 1795255200 * SEC},
        {"2026-11-21T05:00:00-05:00", 1795255200 * SEC},
        {"2026-11-21T10:00:00.5Z", 1795255200 * SEC + 500000},
        {"2026-11-21T10:00:00.123Z", 1795255200 * SEC + 123000},
        {"2026-11-21T10:00:00.123456Z", 1795255200 * SEC + 123456},
        {"2026-11-21T10:00:00.123456789Z", 1795255200 * SEC + 123456},
        {"2024-02-29T00:00:00Z", 1709164800 * SEC},
        {"2000-02-29T00:00:00Z", 951782400 * SEC},
        {"2016-12-31T23:59:60Z", 1483228799 * SEC}, /* leap second clamps */
        {"0001-01-01T00:00:00Z", -62135596800LL * SEC},
        {"9999-12-31T23:59:59Z", 253402300799LL * SEC},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t us = 42;
        if (omni_rfc3339_parse(t[i].in, &us) != 0 || us != t[i].us) {
            print_error("\"%s\": got %lld want %lld\n", t[i].in, (long long)us, (long long)t[i].us);
            fail();
        }
    }
}

static void test_rfc3339_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-21",
        "2026-11-21T10:00:00",
        "2026-11-21T10:00Z",
        "2026-11-21X10:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-11-21T24:00:00Z",
        "2026-11-21T10:60:00Z",
        "2026-11-21T10:00:61Z",
        "2026-11-21T10:00:00.Z",
        "2026-11-21T10:00:00+0100",
        "2026-11-21T10:00:00+24:00",
        "2026-11-21T10:00:00+01:60",
        "2026-11-21T10:00:00Z ",
        "2026-11-21T10:00:00Zjunk",
        " 2026-11-21T10:00:00Z",
        "26-11-21T10:00:00Z",
        "2026-1-21T10:00:00Z",
        "2026-11-21T1:00:00Z",
        "+2026-11-21T10:00:00Z",
        "2026-11-21T10:00:00+01",
        "2026-11-21T10:00:00+",
        "2026-11-21T10:00:0",
    };
    int64_t us = 42;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (omni_rfc3339_parse(bad[i], &us) != -1) {
            print_error("\"%s\" accepted\n", bad[i]);
            fail();
        }
    }
    assert_int_equal(omni_rfc3339_parse(NULL, &us), -1);
    assert_int_equal(us, 42);
}

static void test_rfc3339_format(void **state)
{
    static const struct {
        int64_t us;
        int frac;
        const char *out;
    } t[] = {
        {0, 0, "1970-01-01T00:00:00Z"},
        {0, 3, "1970-01-01T00:00:00.000Z"},
        {0, 6, "1970-01-01T00:00:00.000000Z"},
        {1795255200 * SEC + 123456, 0, "2026-11-21T10:00:00Z"},
        {1795255200 * SEC + 123456, 3, "2026-11-21T10:00:00.123Z"},
        {1795255200 * SEC + 123456, 6, "2026-11-21T10:00:00.123456Z"},
        {-1, 6, "1969-12-31T23:59:59.999999Z"},
        {-SEC, 0, "1969-12-31T23:59:59Z"},
        {-86400 * SEC, 0, "1969-12-31T00:00:00Z"},
        {-86400 * SEC - 1, 3, "1969-12-30T23:59:59.999Z"},
        {1709164800 * SEC, 0, "2024-02-29T00:00:00Z"},
    };
    char out[64];

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        omni_rfc3339_format(t[i].us, out, sizeof out, t[i].frac);
        assert_string_equal(out, t[i].out);
    }
    /* extremes must not overflow (UBSan checks) */
    omni_rfc3339_format(INT64_MIN, out, sizeof out, 6);
    omni_rfc3339_format(INT64_MAX, out, sizeof out, 6);
    /* small output buffers are truncated, not overrun */
    assert_string_equal(omni_rfc3339_format(0, out, 5, 6), "1970");
}

static void test_rfc3339_roundtrip(void **state)
{
    char out[64];

    for (int64_t us = -3000000000LL * SEC; us < 250000000000LL * SEC; us += 7777777777777LL + 13) {
        int64_t back;
        omni_rfc3339_format(us, out, sizeof out, 6);
        assert_int_equal(omni_rfc3339_parse(out, &back), 0);
        assert_int_equal(back, us);
    }
}

static void test_duration_format(void **state)
{
    static const struct {
        int64_t ms;
        const char *out;
    } t[] = {
        {0, "0ms"},        {850, "850ms"},    {999, "999ms"},     {1000, "1s"},
        {45000, "45s"},    {60000, "1m"},     {192000, "3m12s"},  {3600000, "1h"},
        {3720000, "1h2m"}, {3725000, "1h2m"}, {86400000, "1d"},   {183600000, "2d3h"},
        {-5000, "-5s"},    {-850, "-850ms"},  {90061000, "1d1h"},
    };
    char out[64];

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        omni_duration_format(t[i].ms, out, sizeof out);
        assert_string_equal(out, t[i].out);
    }
    omni_duration_format(INT64_MIN, out, sizeof out);
    assert_int_equal(out[0], '-');
    omni_duration_format(INT64_MAX, out, sizeof out);
}

static void test_duration_parse(void **state)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } t[] = {
        {"250ms", 250},
        {"30s", 30000},
        {"5m", 300000},
        {"1h30m", 5400000},
        {"2d", 172800000},
        {"30", 30000},
        {"0.5", 500},
        {"1.5h", 5400000},
        {"0", 0},
        {"0s", 0},
        {"1m30s", 90000},
        {"1h1m1s1ms", 3661001},
        {".5s", 500},
        {"5.s", 5000},
        {"", -1},
        {"-1s", -1},
        {"+1s", -1},
        {"1m30", -1},
        {"abc", -1},
        {"1x", -1},
        {"5 s", -1},
        {" 5s", -1},
        {"5s ", -1},
        {"ms", -1},
        {"s", -1},
        {".", -1},
        {"1e3s", -1},
        {"0x10s", -1},
        {"inf", -1},
        {"nan", -1},
        {"infs", -1},
        {"1..5s", -1},
        {"99999999999999999999d", -1},
        {"100000000000d", -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int64_t ms = -7;
        int r = omni_duration_parse(t[i].in, &ms);
        if (t[i].ms < 0 ? r != -1 : (r != 0 || ms != t[i].ms)) {
            print_error("\"%s\": r=%d ms=%lld\n", t[i].in, r, (long long)ms);
            fail();
        }
    }
    {
        int64_t ms;
        assert_int_equal(omni_duration_parse(NULL, &ms), -1);
    }
}

static void test_clocks(void **state)
{
    int64_t w = omni_wall_us(), m0 = omni_mono_ms(), m1;
    volatile int stop = 1;

    assert_true(w > 1700000000LL * SEC); /* after 2023 */
    omni_sleep_ms(30, NULL);
    m1 = omni_mono_ms();
    assert_true(m1 - m0 >= 30);
    /* a set stop flag returns at once */
    m0 = omni_mono_ms();
    omni_sleep_ms(5000, &stop);
    assert_true(omni_mono_ms() - m0 < 1000);
    omni_sleep_ms(0, NULL);
    omni_sleep_ms(-5, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_parse_good),
        cmocka_unit_test(test_rfc3339_parse_bad),
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_roundtrip),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
