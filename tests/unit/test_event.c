/* Unit tests for lib/event.c: the event vocabulary every program reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "event.h"

#include <string.h>

static cJSON *ev(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    return j;
}

static void test_kinds_round_trip(void **state)
{
    (void)state;
    for (int k = OMNI_EV_OTHER + 1; k < OMNI_EV_KINDS; k++) {
        const char *name = omni_event_type_name((enum omni_event_kind)k);
        assert_true(name[0] != '\0');
        assert_int_equal(omni_event_kind_of_type(name), k);
    }
    assert_int_equal(omni_event_kind_of_type("span.model_request_start"), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind_of_type("agent.tool_use "), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind_of_type(""), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind_of_type(NULL), OMNI_EV_OTHER);
    assert_string_equal(omni_event_type_name(OMNI_EV_OTHER), "");
    assert_string_equal(omni_event_type_name(OMNI_EV_KINDS), "");
}

static void test_shapes_read_as_absent(void **state)
{
    cJSON *a = ev("[1,2]"), *b = ev("{\"type\":7}"), *c = ev("\"agent.tool_use\"");
    (void)state;
    assert_int_equal(omni_event_kind(a), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind(b), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind(c), OMNI_EV_OTHER);
    assert_int_equal(omni_event_kind(NULL), OMNI_EV_OTHER);
    assert_null(omni_json_string(a, "type"));
    assert_null(omni_json_string(b, "type"));
    assert_null(omni_event_answers(b));
    assert_int_equal(omni_event_is_held(c), 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_permission_and_held(void **state)
{
    static const struct {
        const char *json;
        enum omni_permission perm;
        int held;
    } cases[] = {
        {"{\"type\":\"agent.tool_use\",\"id\":\"t\"}", OMNI_PERM_ALLOW, 0},
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":null}", OMNI_PERM_ALLOW, 0},
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":\"allow\"}", OMNI_PERM_ALLOW, 0},
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":\"deny\"}", OMNI_PERM_DENY, 0},
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":\"ask\"}", OMNI_PERM_ASK, 1},
        /* fail closed: a value nobody knows holds the call */
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":\"maybe\"}", OMNI_PERM_UNKNOWN, 1},
        {"{\"type\":\"agent.tool_use\",\"evaluated_permission\":1}", OMNI_PERM_UNKNOWN, 1},
        /* only a built-in tool call is held by a permission */
        {"{\"type\":\"agent.custom_tool_use\",\"evaluated_permission\":\"ask\"}", OMNI_PERM_ASK, 0},
        {"{\"type\":\"agent.mcp_tool_use\",\"evaluated_permission\":\"ask\"}", OMNI_PERM_ASK, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *e = ev(cases[i].json);
        assert_int_equal(omni_event_permission(e), cases[i].perm);
        assert_int_equal(omni_event_is_held(e), cases[i].held);
        cJSON_Delete(e);
    }
    assert_string_equal(omni_permission_name(OMNI_PERM_ASK), "ask");
    assert_string_equal(omni_permission_name(OMNI_PERM_UNKNOWN), "unknown");
}

static void test_answers(void **state)
{
    static const struct {
        const char *json;
        const char *answers;
    } cases[] = {
        {"{\"type\":\"user.tool_result\",\"tool_use_id\":\"a\"}", "a"},
        {"{\"type\":\"agent.tool_result\",\"tool_use_id\":\"b\"}", "b"},
        {"{\"type\":\"agent.mcp_tool_result\",\"tool_use_id\":\"m\"}", "m"},
        {"{\"type\":\"user.tool_confirmation\",\"tool_use_id\":\"c\"}", "c"},
        {"{\"type\":\"user.custom_tool_result\",\"custom_tool_use_id\":\"d\"}", "d"},
        /* the custom result's own field only */
        {"{\"type\":\"user.custom_tool_result\",\"tool_use_id\":\"e\"}", NULL},
        {"{\"type\":\"user.message\",\"tool_use_id\":\"f\"}", NULL},
        {"{\"type\":\"user.tool_result\",\"tool_use_id\":5}", NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *e = ev(cases[i].json);
        const char *got = omni_event_answers(e);
        if (cases[i].answers)
            assert_string_equal(got, cases[i].answers);
        else
            assert_null(got);
        cJSON_Delete(e);
    }
}

static void test_classes(void **state)
{
    (void)state;
    assert_true(omni_event_is_tool_use(OMNI_EV_AGENT_TOOL_USE));
    assert_true(omni_event_is_tool_use(OMNI_EV_AGENT_MCP_TOOL_USE));
    assert_false(omni_event_is_tool_use(OMNI_EV_USER_TOOL_RESULT));
    assert_true(omni_event_is_tool_result(OMNI_EV_USER_CUSTOM_TOOL_RESULT));
    assert_false(omni_event_is_tool_result(OMNI_EV_USER_TOOL_CONFIRMATION));
    assert_true(omni_event_ends_session(OMNI_EV_SESSION_DELETED));
    assert_true(omni_event_ends_session(OMNI_EV_SESSION_STATUS_TERMINATED));
    assert_false(omni_event_ends_session(OMNI_EV_SESSION_THREAD_STATUS_TERMINATED));
    assert_true(omni_event_cancels_held(OMNI_EV_USER_INTERRUPT));
    assert_true(omni_event_cancels_held(OMNI_EV_SESSION_DELETED));
    assert_false(omni_event_cancels_held(OMNI_EV_USER_TOOL_CONFIRMATION));
    assert_true(omni_event_is_bookkeeping("span.model_request_end"));
    assert_true(omni_event_is_bookkeeping("session.usage"));
    assert_false(omni_event_is_bookkeeping("session.status_idle"));
    assert_false(omni_event_is_bookkeeping(NULL));
}

static void test_input_gist(void **state)
{
    cJSON *a = ev("{\"description\":\"x\",\"path\":\"p\",\"command\":\"ls\"}");
    cJSON *b = ev("{\"url\":\"u\"}"), *c = ev("{\"command\":3}");
    (void)state;
    assert_string_equal(omni_tool_input_gist(a), "ls");
    assert_string_equal(omni_tool_input_gist(b), "u");
    assert_null(omni_tool_input_gist(c));
    assert_null(omni_tool_input_gist(NULL));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_round_trip),
        cmocka_unit_test(test_shapes_read_as_absent),
        cmocka_unit_test(test_permission_and_held),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_input_gist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
