/* Unit tests for lib/err.c: error values and their classification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"

#include <string.h>

static void test_set_clear(void **state)
{
    struct omni_err e = OMNI_ERR_INIT;

    assert_int_equal(e.kind, OMNI_E_NONE);
    assert_int_equal(e.should_retry, -1);
    assert_int_equal(e.retry_after_ms, -1);
    e.status = 500;
    strcpy(e.type, "api_error");
    assert_int_equal(omni_err_set(&e, OMNI_E_IO, "cannot open \"%s\": %s", "f", "gone"), -1);
    assert_int_equal(e.kind, OMNI_E_IO);
    assert_string_equal(e.msg, "cannot open \"f\": gone");
    assert_int_equal(e.status, 0); /* set starts from a clean value */
    assert_string_equal(e.type, "");
    omni_err_clear(&e);
    assert_int_equal(e.kind, OMNI_E_NONE);
    assert_string_equal(e.msg, "");
    assert_int_equal(e.should_retry, -1);
    /* NULL is tolerated */
    assert_int_equal(omni_err_set(NULL, OMNI_E_IO, "x"), -1);
    assert_int_equal(omni_err_prefix(NULL, "x"), -1);
}

static void test_truncation(void **state)
{
    struct omni_err e = OMNI_ERR_INIT;
    char big[2000];

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    omni_err_set(&e, OMNI_E_PARSE, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
    omni_err_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
}

static void test_prefix(void **state)
{
    struct omni_err e = OMNI_ERR_INIT;

    omni_err_set(&e, OMNI_E_NET, "connection refused");
    assert_int_equal(omni_err_prefix(&e, "GET %s", "/v1/x"), -1);
    assert_string_equal(e.msg, "GET /v1/x: connection refused");
    assert_int_equal(e.kind, OMNI_E_NET);
    omni_err_prefix(&e, "poll");
    assert_string_equal(e.msg, "poll: GET /v1/x: connection refused");
}

static void test_classification(void **state)
{
    static const struct {
        enum omni_err_kind kind;
        int status;
        int fatal, transient;
    } t[] = {
        {OMNI_E_HTTP, 400, 1, 0}, {OMNI_E_HTTP, 401, 1, 0},  {OMNI_E_HTTP, 403, 1, 0},
        {OMNI_E_HTTP, 404, 1, 0}, {OMNI_E_HTTP, 412, 1, 0},  {OMNI_E_HTTP, 499, 1, 0},
        {OMNI_E_HTTP, 408, 0, 1}, {OMNI_E_HTTP, 409, 0, 1},  {OMNI_E_HTTP, 429, 0, 1},
        {OMNI_E_HTTP, 500, 0, 1}, {OMNI_E_HTTP, 503, 0, 1},  {OMNI_E_HTTP, 529, 0, 1},
        {OMNI_E_NET, 0, 0, 1},    {OMNI_E_TIMEOUT, 0, 0, 1}, {OMNI_E_PARSE, 0, 0, 1},
        {OMNI_E_TOOBIG, 0, 0, 1}, {OMNI_E_USAGE, 0, 1, 0},   {OMNI_E_CONFIG, 0, 1, 0},
        {OMNI_E_IO, 0, 0, 0},     {OMNI_E_ABORTED, 0, 0, 0}, {OMNI_E_NONE, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct omni_err e = OMNI_ERR_INIT;
        e.kind = t[i].kind;
        e.status = t[i].status;
        if (omni_err_is_fatal(&e) != t[i].fatal || omni_err_is_transient(&e) != t[i].transient) {
            print_error("kind %s status %d: fatal %d transient %d\n", omni_err_kind_name(t[i].kind),
                        t[i].status, omni_err_is_fatal(&e), omni_err_is_transient(&e));
            fail();
        }
    }
}

static void test_kind_names(void **state)
{
    assert_string_equal(omni_err_kind_name(OMNI_E_NONE), "none");
    assert_string_equal(omni_err_kind_name(OMNI_E_CONFIG), "config");
    assert_string_equal(omni_err_kind_name(OMNI_E_NET), "network");
    assert_string_equal(omni_err_kind_name(OMNI_E_TOOBIG), "too-big");
    assert_string_equal(omni_err_kind_name(OMNI_E_ABORTED), "aborted");
    assert_string_equal(omni_err_kind_name((enum omni_err_kind)99), "unknown");
    assert_string_equal(omni_err_kind_name((enum omni_err_kind) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_clear),  cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_prefix),     cmocka_unit_test(test_classification),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
