/*
 * Path confinement: escape attempts through every file tool, with openat2 and
 * with the component walker (the ENOSYS fallback), plus a symlink-swap race.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../worker/paths.h"
#include "tool_fixture.h"

/* @B base, @W workdir, @O outside dir. */
static const char *const escape_paths[] = {
    "../outside/secret.txt",
    "../outside",
    "sub/../../outside/secret.txt",
    "./../outside/secret.txt",
    "@O/secret.txt",
    "@O",
    "/etc/passwd",
    "/dev/null",
    "//etc/passwd",
    "/",
    "..",
    "../",
    "sub/../..",
    "@B/work2/secret.txt",
    "@B/work2",
    "@W/../outside/secret.txt",
    "@W/../work2/secret.txt",
    "@W/lnk_dir_out/secret.txt",
    "lnk_dir_out/secret.txt",
    "lnk_dir_out",
    "lnk_dir_out_rel/secret.txt",
    "lnk_dir_out_rel",
    "lnk_leaf_out",
    "lnk_leaf_out_rel",
    "dangling_out",
    "dangling_out_rel",
    "dangling_dir_out/x.txt",
    "proc_root/etc/passwd",
    "proc_root@O/secret.txt",
    "proc_self/environ",
    "/proc/self/root@O/secret.txt",
    "lnk_etc/passwd",
    "sub/upup/outside/secret.txt",
    "sub/upup",
    "lnk_chain",
    "sub/lnk_out_deep/secret.txt",
    "sub/../lnk_dir_out/../outside/secret.txt",
};

static const char *const tools[] = {"read", "write", "edit", "glob", "grep"};

static const char *expand(const char *p)
{
    static char out[1024];
    char *o = out;
    for (; *p && o < out + 900; p++) {
        if (p[0] == '@' && (p[1] == 'B' || p[1] == 'W' || p[1] == 'O')) {
            const char *s = p[1] == 'B' ? fx.base : p[1] == 'W' ? fx.work : fx.outside;
            o += snprintf(o, 300, "%s", s);
            p++;
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static void sym(const char *target, const char *rel)
{
    if (symlink(target, fx_w(rel)) < 0) {
        fprintf(stderr, "symlink %s: %s\n", rel, strerror(errno));
        abort();
    }
}

static int setup_tree(void **state)
{
    char t[600];
    if (fx_setup(state) < 0)
        return -1;
    mkdir(fx_w("sub"), 0700);
    mkdir(fx_w("ro"), 0700);
    mkdir(fx_w("flipin"), 0700);
    fx_wput("inside.txt", "INSIDE\n");
    fx_wput("sub/inner.txt", "INNER\n");
    fx_wput("ro/locked.txt", "LOCKED\n");
    fx_wput("flipin/secret.txt", "INSIDE-FLIP\n");
    sym(fx.outside, "lnk_dir_out");
    sym("../outside", "lnk_dir_out_rel");
    snprintf(t, sizeof(t), "%s/secret.txt", fx.outside);
    sym(t, "lnk_leaf_out");
    sym("../outside/secret.txt", "lnk_leaf_out_rel");
    snprintf(t, sizeof(t), "%s/newfile", fx.outside);
    sym(t, "dangling_out");
    sym("../outside/newfile2", "dangling_out_rel");
    snprintf(t, sizeof(t), "%s/nodir", fx.outside);
    sym(t, "dangling_dir_out");
    sym("/proc/self/root", "proc_root");
    sym("/proc/self", "proc_self");
    sym("/etc", "lnk_etc");
    sym("..", "sub/up");
    sym("../..", "sub/upup");
    sym("../lnk_dir_out", "sub/lnk_out_deep");
    sym("lnk_chain2", "lnk_chain");
    sym("lnk_leaf_out", "lnk_chain2");
    sym("loop2", "loop1");
    sym("loop1", "loop2");
    snprintf(t, sizeof(t), "%s/inside.txt", fx.work);
    sym(t, "lnk_in_abs");
    sym("inside.txt", "lnk_in_rel");
    snprintf(t, sizeof(t), "%s/secret.txt", fx.outside);
    if (link(t, fx_w("hard_out")) < 0)
        return -1;
    if (mkfifo(fx_w("fifo"), 0600) < 0)
        return -1;
    toolset_free(fx.ts);
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    snprintf(t, sizeof(t), "%s/ro", fx.work);
    static char ro[600];
    snprintf(ro, sizeof(ro), "%s", t);
    static const char *ros[2];
    ros[0] = ro;
    o.readonly_roots = ros;
    fx.ts = fx_new_ts(&o);
    return 0;
}

static int setup_openat2(void **state)
{
    paths_set_openat2(1);
    return setup_tree(state);
}

static int setup_walker(void **state)
{
    paths_set_openat2(0);
    return setup_tree(state);
}

static int teardown_tree(void **state)
{
    paths_set_openat2(1);
    return fx_teardown(state);
}

static void run_escape(const char *tool, const char *p)
{
    struct tool_result r;
    const char *jp = fx_j(p);
    if (strcmp(tool, "read") == 0)
        r = fx_run(tool, "{\"file_path\":\"%s\"}", jp);
    else if (strcmp(tool, "write") == 0)
        r = fx_run(tool, "{\"file_path\":\"%s\",\"content\":\"PWNED\"}", jp);
    else if (strcmp(tool, "edit") == 0)
        r = fx_run(tool,
                   "{\"file_path\":\"%s\",\"old_string\":\"SECRET\",\"new_string\":\"PWNED\"}", jp);
    else if (strcmp(tool, "glob") == 0)
        r = fx_run(tool, "{\"pattern\":\"**/*\",\"path\":\"%s\"}", jp);
    else
        r = fx_run(tool, "{\"pattern\":\"SECRET\",\"path\":\"%s\"}", jp);
    char want[1200];
    snprintf(want, sizeof(want), "%s: path \"%s\" is outside the session's working directory", tool,
             jp);
    if (!r.is_error || strcmp(r.text, want) != 0)
        fprintf(stderr, "  %s %s -> is_error=%d [%s]\n", tool, p, r.is_error, r.text);
    assert_true(r.is_error);
    assert_string_equal(r.text, want);
    tool_result_release(&r);
}

static void outside_untouched(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/secret.txt", fx.outside);
    char *s = fx_slurp(p);
    assert_non_null(s);
    assert_string_equal(s, "SECRET\n");
    free(s);
    snprintf(p, sizeof(p), "%s/work2/secret.txt", fx.base);
    s = fx_slurp(p);
    assert_string_equal(s, "SECRET2\n");
    free(s);
    snprintf(p, sizeof(p), "%s/newfile", fx.outside);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/newfile2", fx.outside);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/nodir", fx.outside);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_escapes(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; i < sizeof(escape_paths) / sizeof(escape_paths[0]); i++) {
        for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
            run_escape(tools[t], expand(escape_paths[i]));
            n++;
        }
    }
    assert_true(n >= 50);
    outside_untouched();
}

static void test_inside_links(void **state)
{
    (void)state;
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"lnk_in_abs\"}");
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"lnk_in_rel\"}");
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"sub/up/inside.txt\"}");
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"sub/../inside.txt\"}");
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"%s\"}", fx_j(fx_w("inside.txt")));
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"%s/work/./sub/../inside.txt\"}",
                  fx_j(fx.base));
    /* Writing through an in-root link changes the target, not the link. */
    EXPECT_RESULT("write", 0, "wrote 3 bytes to lnk_in_rel",
                  "{\"file_path\":\"lnk_in_rel\",\"content\":\"new\"}");
    char *s = fx_slurp(fx_w("inside.txt"));
    assert_string_equal(s, "new");
    free(s);
    struct stat st;
    assert_int_equal(lstat(fx_w("lnk_in_rel"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    fx_wput("inside.txt", "INSIDE\n");
}

static void test_resolution_errors(void **state)
{
    (void)state;
    EXPECT_RESULT("read", 1, "read: path \"loop1\": too many levels of symbolic links",
                  "{\"file_path\":\"loop1\"}");
    EXPECT_RESULT("write", 1, "write: path \"loop1\": too many levels of symbolic links",
                  "{\"file_path\":\"loop1\",\"content\":\"x\"}");
    EXPECT_RESULT("read", 1, "read: path \"loop1/x\": too many levels of symbolic links",
                  "{\"file_path\":\"loop1/x\"}");
    EXPECT_RESULT("read", 1, "read: nope.txt: no such file or directory",
                  "{\"file_path\":\"nope.txt\"}");
    EXPECT_RESULT("read", 1, "read: nodir/x: no such file or directory",
                  "{\"file_path\":\"nodir/x\"}");
    EXPECT_RESULT("read", 1, "read: inside.txt/x: not a directory",
                  "{\"file_path\":\"inside.txt/x\"}");
    EXPECT_RESULT("read", 1, "read: fifo is not a regular file", "{\"file_path\":\"fifo\"}");
    EXPECT_RESULT("read", 1, "read: sub is not a regular file", "{\"file_path\":\"sub\"}");
    EXPECT_RESULT("edit", 1, "edit: fifo is not a regular file",
                  "{\"file_path\":\"fifo\",\"old_string\":\"a\",\"new_string\":\"b\"}");
    char longname[400];
    memset(longname, 'a', 300);
    longname[300] = '\0';
    struct tool_result r = fx_run("read", "{\"file_path\":\"%s\"}", longname);
    assert_true(r.is_error);
    assert_non_null(strstr(r.text, "file name too long"));
    tool_result_release(&r);
}

static void test_hard_links(void **state)
{
    (void)state;
    EXPECT_RESULT("read", 1,
                  "read: hard_out has 2 hard links; refused because a hard link can lead outside "
                  "the permitted directories",
                  "{\"file_path\":\"hard_out\"}");
    EXPECT_RESULT("edit", 1,
                  "edit: hard_out has 2 hard links; refused because a hard link can lead outside "
                  "the permitted directories",
                  "{\"file_path\":\"hard_out\",\"old_string\":\"SECRET\",\"new_string\":\"X\"}");
    /* write replaces the name; the outside file keeps its content. */
    EXPECT_RESULT("write", 0, "wrote 5 bytes to hard_out",
                  "{\"file_path\":\"hard_out\",\"content\":\"PWNED\"}");
    outside_untouched();
    char *s = fx_slurp(fx_w("hard_out"));
    assert_string_equal(s, "PWNED");
    free(s);
}

static void test_readonly(void **state)
{
    (void)state;
    char want[800];
    snprintf(want, sizeof(want), "write: ro/new.txt is inside read-only directory %s/ro", fx.work);
    EXPECT_RESULT("write", 1, want, "{\"file_path\":\"ro/new.txt\",\"content\":\"x\"}");
    snprintf(want, sizeof(want), "write: ro/deep/er/x is inside read-only directory %s/ro",
             fx.work);
    EXPECT_RESULT("write", 1, want, "{\"file_path\":\"ro/deep/er/x\",\"content\":\"x\"}");
    assert_int_equal(access(fx_w("ro/deep"), F_OK), -1);
    snprintf(want, sizeof(want), "edit: ro/locked.txt is inside read-only directory %s/ro",
             fx.work);
    EXPECT_RESULT(
        "edit", 1, want,
        "{\"file_path\":\"ro/locked.txt\",\"old_string\":\"LOCKED\",\"new_string\":\"x\"}");
    EXPECT_RESULT("read", 0, "LOCKED\n", "{\"file_path\":\"ro/locked.txt\"}");
}

/* ---- symlink swap race ---- */

static volatile int race_stop;

static void *race_flipper(void *arg)
{
    (void)arg;
    char tmp[600], dst[600];
    snprintf(tmp, sizeof(tmp), "%s/flip.tmp", fx.work);
    snprintf(dst, sizeof(dst), "%s/flip", fx.work);
    unsigned i = 0;
    while (!race_stop) {
        unlink(tmp);
        if (symlink(i++ % 2 ? fx.outside : "flipin", tmp) == 0)
            rename(tmp, dst);
    }
    return NULL;
}

static void test_symlink_race(void **state)
{
    (void)state;
    pthread_t th;
    symlink("flipin", fx_w("flip"));
    race_stop = 0;
    assert_int_equal(pthread_create(&th, NULL, race_flipper, NULL), 0);
    int inside = 0, refused = 0;
    for (int i = 0; i < 3000; i++) {
        struct tool_result r = fx_run("read", "{\"file_path\":\"flip/secret.txt\"}");
        assert_null(strstr(r.text, "SECRET\n"));
        if (!r.is_error && strcmp(r.text, "INSIDE-FLIP\n") == 0)
            inside++;
        else
            refused++;
        tool_result_release(&r);
        r = fx_run("grep", "{\"pattern\":\"SECRET$\",\"path\":\"flip\"}");
        assert_null(strstr(r.text, ":SECRET"));
        tool_result_release(&r);
    }
    race_stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr, "  race: %d inside reads, %d refused, 0 outside\n", inside, refused);
    assert_true(inside + refused == 3000);
    assert_true(inside > 0);
    outside_untouched();
}

static void test_allowed_roots(void **state)
{
    (void)state;
    char allowed[600], ro[600];
    snprintf(allowed, sizeof(allowed), "%s/allowed", fx.base);
    snprintf(ro, sizeof(ro), "%s/allowed/ro", fx.base);
    mkdir(allowed, 0700);
    mkdir(ro, 0700);
    char p[700];
    snprintf(p, sizeof(p), "%s/a.txt", allowed);
    fx_put(p, "ALLOWED\n");
    const char *al[] = {allowed, NULL};
    const char *rol[] = {ro, NULL};
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.allowed_roots = al;
    o.readonly_roots = rol;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    EXPECT_RESULT("read", 0, "ALLOWED\n", "{\"file_path\":\"%s\"}", p);
    char want[1200];
    snprintf(want, sizeof(want), "wrote 1 bytes to %s/b.txt", allowed);
    EXPECT_RESULT("write", 0, want, "{\"file_path\":\"%s/b.txt\",\"content\":\"b\"}", allowed);
    snprintf(want, sizeof(want), "write: %s/x is inside read-only directory %s", ro, ro);
    EXPECT_RESULT("write", 1, want, "{\"file_path\":\"%s/x\",\"content\":\"b\"}", ro);
    snprintf(
        want, sizeof(want),
        "read: path \"%s/secret.txt\" is outside the session's working directory and its other "
        "permitted directories",
        fx.outside);
    EXPECT_RESULT("read", 1, want, "{\"file_path\":\"%s/secret.txt\"}", fx.outside);
    snprintf(want, sizeof(want), "%s/a.txt:1:ALLOWED", allowed);
    EXPECT_RESULT("grep", 0, want, "{\"pattern\":\"ALLOW\",\"path\":\"%s\"}", allowed);
    /* Relative paths still mean the workdir. */
    EXPECT_RESULT("read", 0, "INSIDE\n", "{\"file_path\":\"inside.txt\"}");
}

#define OA2(f) cmocka_unit_test_setup_teardown(f, setup_openat2, teardown_tree)
#define WLK(f) cmocka_unit_test_setup_teardown(f, setup_walker, teardown_tree)

int main(void)
{
    const struct CMUnitTest with_openat2[] = {
        OA2(test_escapes),       OA2(test_inside_links), OA2(test_resolution_errors),
        OA2(test_hard_links),    OA2(test_readonly),     OA2(test_symlink_race),
        OA2(test_allowed_roots),
    };
    const struct CMUnitTest with_walker[] = {
        WLK(test_escapes),       WLK(test_inside_links), WLK(test_resolution_errors),
        WLK(test_hard_links),    WLK(test_readonly),     WLK(test_symlink_race),
        WLK(test_allowed_roots),
    };
    int rc = cmocka_run_group_tests_name("paths (openat2)", with_openat2, NULL, NULL);
    rc |= cmocka_run_group_tests_name("paths (component walker)", with_walker, NULL, NULL);
    return rc ? 1 : 0;
}
