/*
 * glob and grep: ordering, dotfiles, pruning, braces, "**", caps; grep output
 * format, truncation, binary files, long lines, limits, cancel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buf.h"
#include "tool_fixture.h"

static void touch_at(const char *rel, const char *content, time_t t)
{
    fx_wput(rel, content);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    utimensat(AT_FDCWD, fx_w(rel), ts, AT_SYMLINK_NOFOLLOW);
}

static int setup(void **state)
{
    if (fx_setup(state) < 0)
        return -1;
    mkdir(fx_w("src"), 0700);
    mkdir(fx_w("src/deep"), 0700);
    mkdir(fx_w("src/deep/er"), 0700);
    mkdir(fx_w(".dir"), 0700);
    mkdir(fx_w(".git"), 0700);
    mkdir(fx_w("node_modules"), 0700);
    mkdir(fx_w("src/node_modules"), 0700);
    touch_at("a.c", "int a;\n", 1000);
    touch_at("b.h", "int b;\n", 3000);
    touch_at("src/c.c", "int c;\n", 2000);
    touch_at("src/deep/er/a.c", "int deep_a;\n", 4000);
    touch_at("src/deep/d.txt", "text\n", 1500);
    touch_at(".hidden.c", "int hidden;\n", 5000);
    touch_at(".dir/x.c", "int x;\n", 5000);
    touch_at(".git/g.c", "int g;\n", 5000);
    touch_at("node_modules/n.c", "int n;\n", 5000);
    touch_at("src/node_modules/m.c", "int m;\n", 5000);
    touch_at("tie1.t", "", 100);
    touch_at("tie2.t", "", 100);
    symlink("a.c", fx_w("link.c"));
    symlink("src", fx_w("srclink"));
    return 0;
}

/* Expected lines are workdir-relative; the result holds absolute paths. */
static void expect_glob(const char *input, const char *const *rels)
{
    struct buf want = BUF_INIT;
    for (size_t i = 0; rels[i]; i++)
        buf_addf(&want, "%s%s/%s", i ? "\n" : "", fx.work, rels[i]);
    if (!rels[0])
        buf_adds(&want, "no matches");
    struct tool_result r = fx_run("glob", "%s", input);
    if (r.is_error || strcmp(r.text, want.data) != 0)
        fprintf(stderr, "  glob %s\n  got  [%s]\n  want [%s]\n", input, r.text, want.data);
    assert_false(r.is_error);
    assert_string_equal(r.text, want.data);
    tool_result_release(&r);
    buf_release(&want);
}

static void test_glob(void **state)
{
    (void)state;
    expect_glob("{\"pattern\":\"**/*.c\"}",
                (const char *[]){"src/deep/er/a.c", "src/c.c", "a.c", NULL});
    expect_glob("{\"pattern\":\"*.c\"}", (const char *[]){"a.c", NULL});
    expect_glob("{\"pattern\":\"*.{c,h}\"}", (const char *[]){"b.h", "a.c", NULL});
    expect_glob("{\"pattern\":\"{a,b}.*\"}", (const char *[]){"b.h", "a.c", NULL});
    expect_glob("{\"pattern\":\"**/a.c\"}", (const char *[]){"src/deep/er/a.c", "a.c", NULL});
    expect_glob("{\"pattern\":\"src/**\"}",
                (const char *[]){"src/deep/er/a.c", "src/c.c", "src/deep/d.txt", NULL});
    expect_glob("{\"pattern\":\"src/**/**/*.c\"}",
                (const char *[]){"src/deep/er/a.c", "src/c.c", NULL});
    expect_glob("{\"pattern\":\"src/*/*.txt\"}", (const char *[]){"src/deep/d.txt", NULL});
    expect_glob("{\"pattern\":\"?.[ch]\"}", (const char *[]){"b.h", "a.c", NULL});
    expect_glob("{\"pattern\":\"./a.c\"}", (const char *[]){"a.c", NULL});
    /* Dotfiles: only a literal leading dot matches. */
    expect_glob("{\"pattern\":\".hidden.c\"}", (const char *[]){".hidden.c", NULL});
    expect_glob("{\"pattern\":\".dir/*.c\"}", (const char *[]){".dir/x.c", NULL});
    expect_glob("{\"pattern\":\"*hidden*\"}", (const char *[]){NULL});
    /* Pruned names, even when spelled out. */
    expect_glob("{\"pattern\":\"node_modules/*.c\"}", (const char *[]){NULL});
    expect_glob("{\"pattern\":\".git/*\"}", (const char *[]){NULL});
    /* Symlinks are neither listed nor descended; directories are not listed. */
    expect_glob("{\"pattern\":\"link.c\"}", (const char *[]){NULL});
    expect_glob("{\"pattern\":\"srclink/*.c\"}", (const char *[]){NULL});
    expect_glob("{\"pattern\":\"src\"}", (const char *[]){NULL});
    /* Ties keep enumeration (name) order. */
    expect_glob("{\"pattern\":\"*.t\"}", (const char *[]){"tie1.t", "tie2.t", NULL});
    /* path: searched under it, output stays absolute (a link is resolved). */
    expect_glob("{\"pattern\":\"*.c\",\"path\":\"src\"}", (const char *[]){"src/c.c", NULL});
    expect_glob("{\"pattern\":\"*.c\",\"path\":\"srclink\"}", (const char *[]){"src/c.c", NULL});
    struct tool_result r = fx_run("glob", "{\"pattern\":\"*\",\"path\":\"a.c\"}");
    assert_true(r.is_error);
    assert_string_equal(r.text, "glob: a.c: not a directory");
    tool_result_release(&r);
    r = fx_run("glob", "{\"pattern\":\"{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}\"}");
    assert_true(r.is_error);
    assert_string_equal(r.text,
                        "glob: pattern has too many alternatives or segments (limits 64 and 64)");
    tool_result_release(&r);
}

/* 64 alternatives of 64 segments each: every position, accepting ones
 * included, fits (found by fuzz_tool_input: one position past the array). */
static void test_glob_full_pattern(void **state)
{
    char in[1024];
    int n;

    (void)state;
    n = snprintf(in, sizeof in, "{\"pattern\":\"{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}");
    for (int i = 0; i < 63; i++)
        n += snprintf(in + n, sizeof in - (size_t)n, "/x");
    snprintf(in + n, sizeof in - (size_t)n, "\"}");
    struct tool_result r = fx_run("glob", "%s", in);
    assert_false(r.is_error);
    assert_non_null(r.text);
    tool_result_release(&r);
}

static void test_glob_cap(void **state)
{
    (void)state;
    mkdir(fx_w("many"), 0700);
    for (int i = 0; i < 250; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "many/f%03d.x", i);
        touch_at(rel, "", 10000 + i);
    }
    struct tool_result r = fx_run("glob", "{\"pattern\":\"many/*.x\"}");
    assert_false(r.is_error);
    size_t lines = 1;
    for (const char *p = r.text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 200);
    char first[600];
    snprintf(first, sizeof(first), "%s/many/f249.x\n", fx.work);
    assert_memory_equal(r.text, first, strlen(first));
    tool_result_release(&r);
}

static void test_grep(void **state)
{
    (void)state;
    char want[4096];
    snprintf(want, sizeof(want),
             "%s/a.c:1:int a;\n%s/src/c.c:1:int c;\n%s/src/deep/er/a.c:1:int deep_a;", fx.work,
             fx.work, fx.work);
    /* .hidden.c and .dir are searched (hidden files), .git / node_modules are not. */
    struct tool_result r = fx_run("grep", "{\"pattern\":\"int [acx]\\\\b|hidden\"}");
    assert_false(r.is_error);
    char want2[4096];
    snprintf(
        want2, sizeof(want2),
        "%s/.dir/x.c:1:int x;\n%s/.hidden.c:1:int hidden;\n%s/a.c:1:int a;\n%s/src/c.c:1:int c;",
        fx.work, fx.work, fx.work, fx.work);
    if (strcmp(r.text, want2) != 0)
        fprintf(stderr, "  got [%s]\n  want [%s]\n", r.text, want2);
    assert_string_equal(r.text, want2);
    tool_result_release(&r);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"int (a|c|deep_a);\",\"path\":\"%s\"}", fx.work);
    snprintf(want, sizeof(want), "%s/src/c.c:1:int c;", fx.work);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"c;\",\"path\":\"src/c.c\"}");
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"int (?=c)\",\"path\":\"src\"}");
    EXPECT_RESULT("grep", 0, "no matches", "{\"pattern\":\"int g|int n|int m\"}");
    EXPECT_RESULT("grep", 0, "no matches", "{\"pattern\":\"INT A\"}");
    snprintf(want, sizeof(want), "%s/a.c:1:int a;", fx.work);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"(?i)INT A\"}");
    /* Symlinks are not followed by the walker. */
    snprintf(want, sizeof(want), "%s/src/c.c:1:int c;", fx.work);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"int c;\"}");
}

static void test_grep_lines(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_adds(&b, "first match\r\n");
    for (int i = 0; i < 2001; i++)
        buf_addc(&b, 'x');
    buf_adds(&b, "match-too-long\n");
    for (int i = 0; i < 1995; i++)
        buf_addc(&b, 'y');
    buf_adds(&b, "match\n"); /* exactly 2,000 bytes: still searched */
    buf_adds(&b, "last match");
    fx_wput("lines.txt", b.data);
    buf_release(&b);
    struct tool_result r = fx_run("grep", "{\"pattern\":\"match\",\"path\":\"lines.txt\"}");
    assert_false(r.is_error);
    char head[600];
    snprintf(head, sizeof(head), "%s/lines.txt:1:first match\n%s/lines.txt:3:", fx.work, fx.work);
    assert_memory_equal(r.text, head, strlen(head));
    char tail[600];
    snprintf(tail, sizeof(tail), "match\n%s/lines.txt:4:last match", fx.work);
    assert_string_equal(r.text + strlen(r.text) - strlen(tail), tail);
    assert_null(strstr(r.text, ":2:"));
    tool_result_release(&r);

    /* Binary: a NUL in the second 64 KiB chunk keeps hits from the first. */
    FILE *f = fopen(fx_w("bin.dat"), "wb");
    fputs("needle one\n", f);
    for (int i = 0; i < 70000; i++)
        fputc('\n', f);
    fputc('\0', f);
    fputs("needle two\n", f);
    fclose(f);
    char want[600];
    snprintf(want, sizeof(want), "%s/bin.dat:1:needle one", fx.work);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"needle\",\"path\":\"bin.dat\"}");
    f = fopen(fx_w("bin2.dat"), "wb");
    fwrite("needle\0three\n", 1, 13, f);
    fclose(f);
    EXPECT_RESULT("grep", 0, "no matches", "{\"pattern\":\"needle\",\"path\":\"bin2.dat\"}");
    /* Invalid UTF-8 does not stop matching; it is shown as U+FFFD. */
    fx_wput("latin.txt", "caf\xe9 needle\n");
    snprintf(want, sizeof(want), "%s/latin.txt:1:caf\xef\xbf\xbd needle", fx.work);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"needle\",\"path\":\"latin.txt\"}");
    /* Catastrophic backtracking hits the match limit instead of hanging. */
    fx_wput("redos.txt", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n");
    EXPECT_RESULT("grep", 0, "no matches", "{\"pattern\":\"^(a|a)+$\",\"path\":\"redos.txt\"}");
}

static void test_grep_truncation(void **state)
{
    (void)state;
    FILE *f = fopen(fx_w("many.txt"), "w");
    for (int i = 0; i < 20000; i++)
        fprintf(f, "match line %d\n", i);
    fclose(f);
    struct tool_result r = fx_run("grep", "{\"pattern\":\"match\",\"path\":\"many.txt\"}");
    assert_false(r.is_error);
    const char *notice = "\n[output truncated at 102400 bytes]";
    size_t len = strlen(r.text);
    assert_true(len > strlen(notice));
    assert_string_equal(r.text + len - strlen(notice), notice);
    assert_true(len - strlen(notice) <= 102400);
    assert_true(len - strlen(notice) > 102400 - 200);
    tool_result_release(&r);
}

static void test_limits_and_cancel(void **state)
{
    (void)state;
    FILE *f = fopen(fx_w("big.txt"), "w");
    for (int i = 0; i < 2000000; i++)
        fputs("abcdefghij\n", f);
    fputs("needle\n", f);
    fclose(f);
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.grep_timeout_ms = 1;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    EXPECT_RESULT("grep", 1, "grep: timed out after 1s",
                  "{\"pattern\":\"needle\",\"path\":\"big.txt\"}");
    fx_wput("hit-first.txt", "needle\n");
    f = fopen(fx_w("hit-first.txt"), "a");
    for (int i = 0; i < 2000000; i++)
        fputs("abcdefghij\n", f);
    fclose(f);
    struct tool_result r = fx_run("grep", "{\"pattern\":\"needle\",\"path\":\"hit-first.txt\"}");
    /* The limit may pass before the first line is read (no hits: an error). */
    char want[600];
    snprintf(want, sizeof(want), "%s/hit-first.txt:1:needle\n[the search was cut short after 1 ms]",
             fx.work);
    if (r.is_error)
        assert_string_equal(r.text, "grep: timed out after 1s");
    else
        assert_string_equal(r.text, want);
    tool_result_release(&r);

    volatile int cancel = 1;
    cJSON *in = cJSON_Parse("{\"pattern\":\"needle\"}");
    toolset_run(fx.ts, "grep", in, &cancel, &r);
    assert_true(r.is_error);
    assert_string_equal(r.text, "grep: aborted");
    tool_result_release(&r);
    cJSON_Delete(in);
    in = cJSON_Parse("{\"pattern\":\"**/*\"}");
    toolset_run(fx.ts, "glob", in, &cancel, &r);
    assert_true(r.is_error);
    assert_string_equal(r.text, "glob: aborted");
    tool_result_release(&r);
    cJSON_Delete(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_glob, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_glob_full_pattern, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_glob_cap, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grep, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grep_lines, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grep_truncation, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_cancel, setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tools: glob/grep", tests, NULL, NULL);
}
