/* Unit tests for lib/buf.c: the capped growable buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static void test_init_invariants(void **state)
{
    struct buf a = BUF_INIT, b = BUF_INIT_MAX(10), c;

    buf_init(&c, 5);
    assert_non_null(a.data);
    assert_string_equal(a.data, "");
    assert_int_equal(a.len, 0);
    assert_int_equal(a.max, BUF_DEFAULT_MAX);
    assert_int_equal(b.max, 10);
    assert_string_equal(c.data, "");
    assert_int_equal(c.max, 5);
    /* reset and release of an untouched buffer are harmless */
    buf_reset(&a);
    buf_release(&a);
    assert_string_equal(a.data, "");
    assert_int_equal(a.max, BUF_DEFAULT_MAX);
}

static void test_add_and_grow(void **state)
{
    struct buf b = BUF_INIT;
    char expect[10001];

    assert_int_equal(buf_add(&b, "", 0), 0);
    assert_string_equal(b.data, "");
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(buf_addc(&b, (char)('a' + i % 26)), 0);
        expect[i] = (char)('a' + i % 26);
    }
    expect[10000] = '\0';
    assert_int_equal(b.len, 10000);
    assert_string_equal(b.data, expect);
    assert_true(b.alloc > b.len);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_adds(&b, "hello"), 0);
    assert_int_equal(buf_addf(&b, " %s %d %05.1f", "world", 42, 3.25), 0);
    assert_string_equal(b.data, "hello world 42 003.2");
    assert_int_equal(buf_add(&b, "x\0y", 3), 0);
    assert_int_equal(b.len, 23);
    assert_memory_equal(b.data + 20, "x\0y", 4);
    buf_release(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);
}

static void test_cap(void **state)
{
    struct buf b = BUF_INIT_MAX(8);

    assert_int_equal(buf_adds(&b, "12345678"), 0); /* exactly the cap */
    assert_int_equal(b.overflow, 0);
    assert_int_equal(buf_addc(&b, '9'), -1);
    assert_int_equal(b.overflow, 1);
    assert_string_equal(b.data, "12345678");
    buf_reset(&b);
    assert_int_equal(b.overflow, 0);
    assert_int_equal(buf_adds(&b, "1234"), 0);
    assert_int_equal(buf_adds(&b, "56789"), -1); /* unchanged on failure */
    assert_string_equal(b.data, "1234");
    assert_int_equal(buf_addf(&b, "%s", "abcde"), -1);
    assert_string_equal(b.data, "1234");
    assert_int_equal(buf_addf(&b, "%s", "abcd"), 0);
    assert_string_equal(b.data, "1234abcd");
    assert_true(b.alloc <= 9);
    /* a huge length does not wrap around */
    assert_int_equal(buf_add(&b, "x", (size_t)-1), -1);
    assert_string_equal(b.data, "1234abcd");
    buf_release(&b);
    assert_int_equal(b.max, 8);
    {
        struct buf z = BUF_INIT_MAX(0);
        assert_int_equal(buf_addc(&z, 'a'), -1);
        assert_int_equal(buf_add(&z, "", 0), 0);
        assert_string_equal(z.data, "");
    }
}

static void test_detach(void **state)
{
    struct buf b = BUF_INIT_MAX(100);
    size_t len = 99;
    char *p;

    p = buf_detach(&b, &len); /* nothing allocated yet: a fresh empty string */
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    buf_adds(&b, "abc");
    p = buf_detach(&b, &len);
    assert_string_equal(p, "abc");
    assert_int_equal(len, 3);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100);
    free(p);
    buf_adds(&b, "again");
    p = buf_detach(&b, NULL);
    assert_string_equal(p, "again");
    free(p);
}

static void test_consume_truncate(void **state)
{
    struct buf b = BUF_INIT;

    buf_adds(&b, "0123456789");
    buf_consume(&b, 0);
    assert_string_equal(b.data, "0123456789");
    buf_consume(&b, 3);
    assert_string_equal(b.data, "3456789");
    assert_int_equal(b.len, 7);
    buf_truncate(&b, 4);
    assert_string_equal(b.data, "3456");
    buf_truncate(&b, 10); /* longer: no change */
    assert_string_equal(b.data, "3456");
    buf_consume(&b, 4);
    assert_string_equal(b.data, "");
    buf_adds(&b, "xy");
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_release(&b);
    /* consume/truncate on a never-grown buffer */
    buf_consume(&b, 1);
    buf_truncate(&b, 0);
    assert_string_equal(b.data, "");
}

static void test_json_str(void **state)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"a\nb\rc\td", "\"a\\nb\\rc\\td\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\""},
        {"/<>", "\"/<>\""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf b = BUF_INIT;
        buf_adds(&b, "pre:");
        assert_int_equal(buf_add_json_str(&b, t[i].in), 0);
        assert_string_equal(b.data + 4, t[i].out);
        buf_release(&b);
    }
    /* overflow rolls back to what was there */
    for (size_t cap = 4; cap < 20; cap++) {
        struct buf b = BUF_INIT_MAX(cap);
        buf_adds(&b, "pre:");
        int r = buf_add_json_str(&b, "ab\x01\"cd");
        if (cap >= 4 + 14) {
            assert_int_equal(r, 0);
            assert_string_equal(b.data, "pre:\"ab\\u0001\\\"cd\"");
        } else {
            assert_int_equal(r, -1);
            assert_string_equal(b.data, "pre:");
            assert_int_equal(b.len, 4);
        }
        buf_release(&b);
    }
}

static void test_large_addf(void **state)
{
    struct buf b = BUF_INIT;
    char *big = malloc(100001);

    memset(big, 'z', 100000);
    big[100000] = '\0';
    assert_int_equal(buf_addf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 100002);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[100001], '>');
    assert_int_equal(b.data[100002], '\0');
    buf_release(&b);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_invariants),
        cmocka_unit_test(test_add_and_grow),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_consume_truncate),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_large_addf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
