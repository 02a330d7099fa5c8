/* Unit tests for the pure helpers of lib/http.c: URL building, backoff, error envelopes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "http.h"

#include <stdio.h>
#include <string.h>

static void test_query_add(void **state)
{
    static const struct {
        const char *key, *value, *out;
    } t[] = {
        {"limit", "10", "?limit=10"},
        {"q", "", "?q="},
        {"q", "a b&c=d/e?f#g+h%", "?q=a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25"},
        {"q", "AZaz09-_.~", "?q=AZaz09-_.~"},
        {"q", "\xc3\xa9", "?q=%C3%A9"},
        {"q", "\x01\x7f\xff", "?q=%01%7F%FF"},
        {"event_deltas[]", "agent.message", "?event_deltas[]=agent.message"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf u = BUF_INIT;
        buf_adds(&u, "/v1/x");
        assert_int_equal(omni_query_add(&u, t[i].key, t[i].value), 0);
        assert_string_equal(u.data + 5, t[i].out);
        buf_release(&u);
    }
    {
        struct buf u = BUF_INIT;
        buf_adds(&u, "/v1/x");
        omni_query_add(&u, "a", "1");
        omni_query_add(&u, "b", "2 3");
        omni_query_add(&u, "a", "4");
        assert_string_equal(u.data, "/v1/x?a=1&b=2%203&a=4");
        buf_release(&u);
    }
}

static void test_query_add_overflow(void **state)
{
    /* every cap below the full length fails and leaves the URL unchanged */
    const char *full = "/v1/x?a=1&key=v%20w";
    for (size_t cap = 5; cap <= strlen(full) + 2; cap++) {
        struct buf u = BUF_INIT_MAX(cap);
        int r;
        buf_adds(&u, "/v1/x");
        if (omni_query_add(&u, "a", "1") < 0) {
            assert_string_equal(u.data, "/v1/x");
            buf_release(&u);
            continue;
        }
        r = omni_query_add(&u, "key", "v w");
        if (cap >= strlen(full)) {
            assert_int_equal(r, 0);
            assert_string_equal(u.data, full);
        } else {
            assert_int_equal(r, -1);
            assert_string_equal(u.data, "/v1/x?a=1");
        }
        buf_release(&u);
    }
}

static void test_path_add(void **state)
{
    static const struct {
        const char *seg, *out;
    } t[] = {
        {"env_01ABC", "/v1/environments/env_01ABC"}, {"", "/v1/environments/"},
        {"../x", "/v1/environments/..%2Fx"},         {"a b?c#d", "/v1/environments/a%20b%3Fc%23d"},
        {"~-._", "/v1/environments/~-._"},           {"\xc3\xa9", "/v1/environments/%C3%A9"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct buf u = BUF_INIT;
        buf_adds(&u, "/v1/environments");
        assert_int_equal(omni_path_add(&u, t[i].seg), 0);
        assert_string_equal(u.data, t[i].out);
        buf_release(&u);
    }
    for (size_t cap = 0; cap < 12; cap++) {
        struct buf u = BUF_INIT_MAX(cap);
        buf_adds(&u, "/v1");
        int r = omni_path_add(&u, "a/b c");
        if (cap >= 3 + 12) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -1);
            assert_string_equal(u.data, cap >= 3 ? "/v1" : "");
        }
        buf_release(&u);
    }
}

static void test_backoff(void **state)
{
    static const struct {
        int n;
        long base, cap;
        long full; /* un-jittered delay */
    } t[] = {
        {0, 500, 8000, 500},    {1, 500, 8000, 1000},         {2, 500, 8000, 2000},
        {3, 500, 8000, 4000},   {4, 500, 8000, 8000},         {5, 500, 8000, 8000},
        {100, 500, 8000, 8000}, {1000000, 500, 10000, 10000}, {0, 500, 100, 100},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        for (int k = 0; k < 200; k++) {
            long d = omni_backoff_ms(t[i].n, t[i].base, t[i].cap);
            /* jitter factor in (0.75, 1] */
            if (!(d <= t[i].full && d >= t[i].full * 3 / 4)) {
                print_error("n=%d: %ld not in [%ld, %ld]\n", t[i].n, d, t[i].full * 3 / 4,
                            t[i].full);
                fail();
            }
        }
    }
}

static void test_random(void **state)
{
    double lo = 1, hi = 0;

    for (int i = 0; i < 10000; i++) {
        double r = omni_random();
        assert_true(r >= 0.0 && r < 1.0);
        if (r < lo)
            lo = r;
        if (r > hi)
            hi = r;
    }
    assert_true(lo < 0.05);
    assert_true(hi > 0.95);
}

static void test_error_body(void **state)
{
    struct omni_err e = OMNI_ERR_INIT;
    const char *full = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                       "\"message\":\"environment is archived\",\"details\":{\"error_code\":"
                       "\"environment_archived\"}},\"request_id\":\"req_01SIM\"}";

    omni_parse_error_body(full, strlen(full), &e);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(e.msg, "environment is archived");
    assert_string_equal(e.code, "environment_archived");
    assert_string_equal(e.request_id, "req_01SIM");

    /* a request id from the header is kept */
    omni_err_clear(&e);
    strcpy(e.request_id, "req_header");
    omni_parse_error_body(full, strlen(full), &e);
    assert_string_equal(e.request_id, "req_header");
}

static void test_error_body_partial(void **state)
{
    static const struct {
        const char *body;
        const char *type, *msg, *code, *rid;
    } t[] = {
        {"", "", "", "", ""},
        {"not json", "", "", "", ""},
        {"[1,2]", "", "", "", ""},
        {"{\"error\":\"flat string\"}", "", "", "", ""},
        {"{\"error\":{\"type\":\"not_found_error\"}}", "not_found_error", "", "", ""},
        {"{\"error\":{\"type\":7,\"message\":null,\"details\":[]}}", "", "", "", ""},
        {"{\"error\":{\"message\":\"m\",\"details\":{\"error_code\":5}},\"request_id\":null}", "",
         "m", "", ""},
        {"{\"request_id\":\"req_only\"}", "", "", "", "req_only"},
        /* lenient: text after the JSON value is ignored */
        /* lenient: text after the JSON value is ignored */
        {"{\"error\":{\"type\":\"a\"}} trailing", "a", "", "", ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct omni_err e = OMNI_ERR_INIT;
        omni_parse_error_body(t[i].body, strlen(t[i].body), &e);
        assert_string_equal(e.type, t[i].type);
        assert_string_equal(e.msg, t[i].msg);
        assert_string_equal(e.code, t[i].code);
        assert_string_equal(e.request_id, t[i].rid);
    }
    /* the length is honoured: the body need not be NUL-terminated */
    {
        struct omni_err e = OMNI_ERR_INIT;
        const char *b = "{\"error\":{\"type\":\"x_error\"}}GARBAGE";
        omni_parse_error_body(b, strlen(b) - 7, &e);
        assert_string_equal(e.type, "x_error");
    }
    /* long fields are truncated to their slots */
    {
        struct omni_err e = OMNI_ERR_INIT;
        char body[4000];
        char longs[700];
        memset(longs, 'q', sizeof longs - 1);
        longs[sizeof longs - 1] = '\0';
        snprintf(body, sizeof body,
                 "{\"error\":{\"type\":\"%s\",\"message\":\"%s\",\"details\":{\"error_code\":"
                 "\"%s\"}},\"request_id\":\"%s\"}",
                 longs, longs, longs, longs);
        omni_parse_error_body(body, strlen(body), &e);
        assert_int_equal(strlen(e.type), sizeof e.type - 1);
        assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
        assert_int_equal(strlen(e.code), sizeof e.code - 1);
        assert_int_equal(strlen(e.request_id), sizeof e.request_id - 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_add),
        cmocka_unit_test(test_query_add_overflow),
        cmocka_unit_test(test_path_add),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_error_body_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
