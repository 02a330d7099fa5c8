/*
 * bash: persistence, framing (syntax errors, exit, set -e, comments), result
 * mapping, timeouts, truncation, sanitising, environment scrubbing, and
 * killing of background processes at toolset_free.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "tool_fixture.h"

#define NEW_SHELL_NOTE(n)                                                                          \
    "bash: shell exited with status " #n "; a new shell will start on the next call"

static int setup(void **state)
{
    if (fx_setup(state) < 0)
        return -1;
    mkdir(fx_w("sub"), 0700);
    return 0;
}

static void test_persistence(void **state)
{
    (void)state;
    char want[600];
    EXPECT_RESULT("bash", 0, "(no output)",
                  "{\"command\":\"cd sub && export FOO=bar && myf() { echo fn; }\"}");
    snprintf(want, sizeof(want), "%s/sub\nbar\nfn", fx.work);
    EXPECT_RESULT("bash", 0, want, "{\"command\":\"pwd; echo $FOO; myf\"}");
    /* A restart forgets everything; restart with a command runs it in the new shell. */
    snprintf(want, sizeof(want), "%s\nunset", fx.work);
    EXPECT_RESULT("bash", 0, want, "{\"restart\":true,\"command\":\"pwd; echo ${FOO:-unset}\"}");
    EXPECT_RESULT("bash", 0, "bash session restarted", "{\"restart\":true}");
}

static void test_result_mapping(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "hello", "{\"command\":\"echo hello\"}");
    EXPECT_RESULT("bash", 0, "\n\nlead",
                  "{\"command\":\"printf '\\\\n\\\\nlead\\\\n\\\\n\\\\n'\"}");
    EXPECT_RESULT("bash", 1, "oops\nexit 1", "{\"command\":\"echo oops; false\"}");
    EXPECT_RESULT("bash", 1, "exit 1", "{\"command\":\"false\"}");
    EXPECT_RESULT("bash", 1, "exit 42", "{\"command\":\"(exit 42)\"}");
    EXPECT_RESULT("bash", 0, "err", "{\"command\":\"echo err >&2\"}");
    /* Messages name "bash", never the scratch file. */
    EXPECT_RESULT("bash", 1, "bash: line 2: no_such_cmd_xyz: command not found\nexit 127",
                  "{\"command\":\"true\\nno_such_cmd_xyz\"}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"cat\"}"); /* stdin is /dev/null */
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"# just a note\"}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"   \\n\\t \"}");
    EXPECT_RESULT("bash", 0, "x", "{\"command\":\"echo x\",\"timeout_ms\":0}");
    EXPECT_RESULT("bash", 0, "y", "{\"command\":\"echo y\",\"timeout_ms\":-5}");
    EXPECT_RESULT("bash", 0, "z", "{\"command\":\"echo z\",\"extra\":1}");
    /* Fake sentinels in the output do not end the call early. */
    EXPECT_RESULT("bash", 0, "__ANT_CMD_0000_DONE__:0\nafter",
                  "{\"command\":\"echo __ANT_CMD_0000_DONE__:0; echo after\"}");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export KEEP=1\"}");
    struct tool_result r = fx_run("bash", "{\"command\":\"echo before; if then\"}");
    assert_true(r.is_error);
    assert_string_equal(r.text, "bash: line 1: syntax error near unexpected token `then'\n"
                                "bash: line 1: `echo before; if then'");
    tool_result_release(&r);
    r = fx_run("bash", "{\"command\":\"echo \\\"abc\"}");
    assert_true(r.is_error);
    assert_non_null(strstr(r.text, "unexpected EOF while looking for matching"));
    tool_result_release(&r);
    r = fx_run("bash", "{\"command\":\"}\"}");
    assert_true(r.is_error);
    assert_non_null(strstr(r.text, "syntax error near unexpected token `}'"));
    tool_result_release(&r);
    r = fx_run("bash", "{\"command\":\"cat <<EOF\\nno end\"}");
    /* A here-document without its terminator only warns; it must not hang. */
    assert_non_null(r.text);
    tool_result_release(&r);
    /* The shell survived every one of them. */
    EXPECT_RESULT("bash", 0, "1", "{\"command\":\"echo $KEEP\"}");
}

static void test_exit_and_set_e(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export GONE=1; cd sub\"}");
    EXPECT_RESULT("bash", 1, "out\n" NEW_SHELL_NOTE(3), "{\"command\":\"echo out; exit 3\"}");
    char want[600];
    snprintf(want, sizeof(want), "%s\nunset", fx.work);
    EXPECT_RESULT("bash", 0, want, "{\"command\":\"pwd; echo ${GONE:-unset}\"}");
    EXPECT_RESULT("bash", 0, "bye\n" NEW_SHELL_NOTE(0), "{\"command\":\"echo bye; exit\"}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"set -e\"}");
    EXPECT_RESULT("bash", 1, "a\n" NEW_SHELL_NOTE(1), "{\"command\":\"echo a; false; echo b\"}");
    EXPECT_RESULT("bash", 0, "fresh", "{\"command\":\"false || true; echo fresh\"}");
    EXPECT_RESULT("bash", 0, "hi\n" NEW_SHELL_NOTE(0), "{\"command\":\"exec sh -c 'echo hi'\"}");
    EXPECT_RESULT("bash", 1,
                  "bash: shell was killed by signal 9; a new shell will start on the next call",
                  "{\"command\":\"kill -9 $$\"}");
    EXPECT_RESULT("bash", 0, "ok", "{\"command\":\"echo ok\"}");
}

static void test_timeout(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export T=1\"}");
    int64_t t0 = (int64_t)time(NULL);
    EXPECT_RESULT("bash", 1, "bash: bash command timed out after 300ms",
                  "{\"command\":\"echo partial; sleep 30\",\"timeout_ms\":300}");
    assert_true((int64_t)time(NULL) - t0 < 10);
    EXPECT_RESULT("bash", 0, "unset", "{\"command\":\"echo ${T:-unset}\"}");
    /* Clamped to the configured maximum. */
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.bash_max_timeout_ms = 200;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    EXPECT_RESULT("bash", 1, "bash: bash command timed out after 200ms",
                  "{\"command\":\"sleep 30\",\"timeout_ms\":999999}");
    EXPECT_RESULT("bash", 1, "bash: bash command timed out after 200ms",
                  "{\"command\":\"sleep 30\"}");
}

struct canceller {
    volatile int *flag;
    int ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec t = {0, c->ms * 1000L * 1000L};
    nanosleep(&t, NULL);
    *c->flag = 1;
    return NULL;
}

static void test_cancel(void **state)
{
    (void)state;
    volatile int flag = 0;
    struct canceller cc = {&flag, 200};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &cc);
    cJSON *in = cJSON_Parse("{\"command\":\"sleep 30\"}");
    struct tool_result r;
    toolset_run(fx.ts, "bash", in, &flag, &r);
    pthread_join(th, NULL);
    cJSON_Delete(in);
    assert_true(r.is_error);
    assert_string_equal(r.text, "bash: This operation was aborted");
    tool_result_release(&r);
    EXPECT_RESULT("bash", 0, "again", "{\"command\":\"echo again\"}");
}

static void test_truncation_and_sanitising(void **state)
{
    (void)state;
    struct tool_result r =
        fx_run("bash", "{\"command\":\"head -c 200000 /dev/zero | tr '\\\\0' a; echo end\"}");
    assert_false(r.is_error);
    assert_memory_equal(r.text, "[output truncated]\naaaa", 23);
    size_t len = strlen(r.text);
    assert_true(len <= 102400 + strlen("[output truncated]\n"));
    assert_true(len > 102000);
    assert_string_equal(r.text + len - 4, "aend");
    tool_result_release(&r);
    /* Multi-byte characters are never split at the cut. */
    r = fx_run("bash",
               "{\"command\":\"for i in $(seq 1 60000); do printf '\\\\xc3\\\\xa9'; done\"}");
    assert_memory_equal(r.text, "[output truncated]\n\xc3\xa9", 21);
    tool_result_release(&r);
    EXPECT_RESULT("bash", 0, "red ok\r\nnext\tz",
                  "{\"command\":\"printf '\\\\033[31mred\\\\033[0m "
                  "\\\\033]0;title\\\\007ok\\\\r\\\\nne\\\\bxt\\\\tz\\\\r'\"}");
    EXPECT_RESULT("bash", 0,
                  "a\xef\xbf\xbd"
                  "b",
                  "{\"command\":\"printf 'a\\\\377b'\"}");
    EXPECT_RESULT("bash", 0, "ab",
                  "{\"command\":\"printf 'a\\\\000\\\\001\\\\033Pxx\\\\033\\\\\\\\b'\"}");
}

static void test_environment(void **state)
{
    (void)state;
    setenv("ANTHROPIC_FOO", "leak1", 1);
    setenv("anthropic_lower", "leak2", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "leak3", 1);
    setenv("OMNI_TEST_PASS", "passed", 1);
    const char *pass[] = {"OMNI_TEST_PASS", "ANTHROPIC_FOO", "NOT_SET_ANYWHERE", NULL};
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.pass_env = pass;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    struct tool_result r = fx_run("bash", "{\"command\":\"env\"}");
    assert_false(r.is_error);
    assert_null(strstr(r.text, "leak"));
    assert_null(strcasestr(r.text, "ANTHROPIC"));
    assert_null(strstr(r.text, "NOT_SET_ANYWHERE"));
    assert_non_null(strstr(r.text, "OMNI_TEST_PASS=passed"));
    assert_non_null(strstr(r.text, "TERM=dumb"));
    char home[600];
    snprintf(home, sizeof(home), "HOME=%s\n", fx.work);
    assert_non_null(strstr(r.text, home));
    tool_result_release(&r);
    EXPECT_RESULT("bash", 0, "x", "{\"command\":\"echo x$PS1$PS2\"}");
    unsetenv("ANTHROPIC_FOO");
    unsetenv("anthropic_lower");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("OMNI_TEST_PASS");
}

static void test_background_between_calls(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"(sleep 0.2; echo late) &\"}");
    struct timespec t = {0, 500 * 1000 * 1000};
    nanosleep(&t, NULL);
    EXPECT_RESULT("bash", 0, "now", "{\"command\":\"echo now\"}");
}

static int alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static void test_background_killed(void **state)
{
    (void)state;
    struct tool_result r =
        fx_run("bash", "{\"command\":\"sleep 301 >/dev/null 2>&1 & echo $!; setsid sleep 302 "
                       ">/dev/null 2>&1 & echo $!; "
                       "(setsid sh -c 'sleep 303 >/dev/null 2>&1 & echo $!' &) ; sleep 0.3\"}");
    assert_false(r.is_error);
    long pids[3] = {0, 0, 0};
    assert_int_equal(sscanf(r.text, "%ld\n%ld\n%ld", &pids[0], &pids[1], &pids[2]), 3);
    tool_result_release(&r);
    for (int i = 0; i < 3; i++)
        assert_true(alive((pid_t)pids[i]));
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(NULL);
    struct timespec t = {0, 100 * 1000 * 1000};
    nanosleep(&t, NULL);
    for (int i = 0; i < 3; i++) {
        if (alive((pid_t)pids[i]))
            fprintf(stderr, "  pid %ld survived\n", pids[i]);
        assert_false(alive((pid_t)pids[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persistence, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_result_mapping, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_exit_and_set_e, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_sanitising, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_environment, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_background_between_calls, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_background_killed, setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tools: bash", tests, NULL, NULL);
}
