/*
 * bash: persistence, framing (syntax errors, exit, set -e, comments), result
 * mapping, timeouts, truncation, sanitising, environment scrubbing, and
 * killing of background processes at toolset_free.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "tool_fixture.h"

#include "../../worker/paths.h"

#define HOW_TO_RESTART                                                                             \
    "Call bash with restart set to true to start a new one. It starts in the original working "    \
    "directory, without the old shell's variables, activated environments and background jobs."
#define SHELL_GONE "\n[The shell is gone. " HOW_TO_RESTART "]"
#define NOT_RUN "[This command did not run, because the shell is gone. " HOW_TO_RESTART "]"

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
    /* As SDK 1.16: no "exit N" line; a failure is is_error with the text. */
    EXPECT_RESULT("bash", 1, "oops", "{\"command\":\"echo oops; false\"}");
    EXPECT_RESULT("bash", 1, "(no output)", "{\"command\":\"false\"}");
    EXPECT_RESULT("bash", 1, "(no output)", "{\"command\":\"(exit 42)\"}");
    EXPECT_RESULT("bash", 0, "\nerr", "{\"command\":\"echo err >&2\"}");
    /* stdout, then stderr after a "\n"; stderr first when the status is not 0. */
    EXPECT_RESULT("bash", 0, "a\n\nb", "{\"command\":\"echo a; echo b >&2\"}");
    EXPECT_RESULT("bash", 1, "b\n\na", "{\"command\":\"echo a; echo b >&2; false\"}");
    EXPECT_RESULT("bash", 0, "ab\ncd", "{\"command\":\"printf ab; printf cd >&2\"}");
    /* bash's own messages with the line numbers of the SDK's framing (the
     * shell's input so far: one set-up line, then 6 + command lines a call). */
    EXPECT_RESULT("bash", 1, "/bin/bash: line 58: no_such_cmd_xyz: command not found",
                  "{\"command\":\"true\\nno_such_cmd_xyz\"}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"cat\"}"); /* stdin is /dev/null */
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"# just a note\"}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"   \\n\\t \"}");
    EXPECT_RESULT("bash", 0, "x", "{\"command\":\"echo x\",\"timeout_ms\":0}");
    EXPECT_RESULT("bash", 0, "y", "{\"command\":\"echo y\",\"timeout_ms\":-5}");
    EXPECT_RESULT("bash", 0, "z", "{\"command\":\"echo z\",\"extra\":1}");
    /* Fake sentinels in the output do not end the call early. */
    EXPECT_RESULT("bash", 0, "__ANT_CMD_0000_DONE__0\nafter",
                  "{\"command\":\"echo __ANT_CMD_0000_DONE__0; echo after\"}");
    EXPECT_RESULT("bash", 0, "it's", "{\"command\":\"echo \\\"it's\\\"\"}");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    /* eval parses the whole command first: nothing runs, status 2, bash's text. */
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export KEEP=1\"}");
    EXPECT_RESULT("bash", 1,
                  "/bin/bash: eval: line 9: syntax error near unexpected token `then'\n"
                  "/bin/bash: eval: line 9: `echo before; if then'",
                  "{\"command\":\"echo before; if then\"}");
    EXPECT_RESULT("bash", 1,
                  "/bin/bash: eval: line 15: unexpected EOF while looking for matching `\"'",
                  "{\"command\":\"echo \\\"abc\"}");
    EXPECT_RESULT("bash", 1,
                  "/bin/bash: eval: line 23: syntax error near unexpected token `}'\n"
                  "/bin/bash: eval: line 23: `}'",
                  "{\"command\":\"}\"}");
    struct tool_result r = fx_run("bash", "{\"command\":\"cat <<EOF\\nno end\"}");
    /* A here-document without its terminator must not hang. */
    assert_true(r.is_error);
    assert_non_null(strstr(r.text, "syntax error: unexpected end of file"));
    tool_result_release(&r);
    /* The shell survived every one of them. */
    EXPECT_RESULT("bash", 0, "1", "{\"command\":\"echo $KEEP\"}");
}

static void test_exit_and_set_e(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export GONE=1; cd sub\"}");
    /* The shell ended: the output, then the note; later calls are refused. */
    EXPECT_RESULT("bash", 1, "out" SHELL_GONE, "{\"command\":\"echo out; exit 3\"}");
    EXPECT_RESULT("bash", 1, NOT_RUN, "{\"command\":\"echo never\"}");
    EXPECT_RESULT("bash", 1, NOT_RUN, "{\"command\":\"echo never\"}");
    EXPECT_RESULT("bash", 1, "bash: command is required", "{}");
    char want[600];
    snprintf(want, sizeof(want), "%s\nunset", fx.work);
    EXPECT_RESULT("bash", 0, want, "{\"restart\":true,\"command\":\"pwd; echo ${GONE:-unset}\"}");
    EXPECT_RESULT("bash", 0, "bye" SHELL_GONE, "{\"command\":\"echo bye; exit\"}");
    EXPECT_RESULT("bash", 0, "bash session restarted", "{\"restart\":true}");
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"set -e\"}");
    EXPECT_RESULT("bash", 1, "a" SHELL_GONE, "{\"command\":\"echo a; false; echo b\"}");
    EXPECT_RESULT("bash", 0, "fresh",
                  "{\"restart\":true,\"command\":\"false || true; echo fresh\"}");
    EXPECT_RESULT("bash", 0, "hi" SHELL_GONE, "{\"command\":\"exec sh -c 'echo hi'\"}");
    EXPECT_RESULT("bash", 1, "(no output)" SHELL_GONE,
                  "{\"restart\":true,\"command\":\"kill -9 $$\"}");
    EXPECT_RESULT("bash", 0, "ok", "{\"restart\":true,\"command\":\"echo ok\"}");
}

static void test_timeout(void **state)
{
    (void)state;
    EXPECT_RESULT("bash", 0, "(no output)", "{\"command\":\"export T=1\"}");
    int64_t t0 = (int64_t)time(NULL);
    /* stderr first (the status is not 0), the timeout line at its end. */
    EXPECT_RESULT("bash", 1, "err\n\ncommand timed out after 0.3s\n\npartial" SHELL_GONE,
                  "{\"command\":\"echo partial; echo err >&2; sleep 30\",\"timeout_ms\":300}");
    assert_true((int64_t)time(NULL) - t0 < 10);
    EXPECT_RESULT("bash", 1, NOT_RUN, "{\"command\":\"echo ${T:-unset}\"}");
    EXPECT_RESULT("bash", 0, "unset", "{\"restart\":true,\"command\":\"echo ${T:-unset}\"}");
    EXPECT_RESULT("bash", 1, "\ncommand timed out after 1s" SHELL_GONE,
                  "{\"command\":\"sleep 30\",\"timeout_ms\":1000}");
    /* Clamped to the configured maximum. */
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.bash_max_timeout_ms = 200;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    EXPECT_RESULT("bash", 1, "\ncommand timed out after 0.2s" SHELL_GONE,
                  "{\"command\":\"sleep 30\",\"timeout_ms\":999999}");
    EXPECT_RESULT("bash", 1, "\ncommand timed out after 0.2s" SHELL_GONE,
                  "{\"restart\":true,\"command\":\"sleep 30\"}");
    /* The bash limit stays below the whole-call limit (here 1.5 s: 1 s). */
    memset(&o, 0, sizeof(o));
    o.tool_timeout_ms = 1500;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    EXPECT_RESULT("bash", 1, "\ncommand timed out after 1s" SHELL_GONE,
                  "{\"command\":\"sleep 30\",\"timeout_ms\":999999}");
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(TOOLSET_BASH_DEFAULT_TIMEOUT_MS, 295000);
    assert_int_equal(TOOLSET_BASH_MAX_TIMEOUT_MS, 295000);
    assert_int_equal(TOOLSET_TOOL_TIMEOUT_MS, 325000);
    assert_true(TOOLSET_TOOL_TIMEOUT_MS > TOOLSET_BASH_MAX_TIMEOUT_MS);
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
    /* An abort kills the shell, as a timeout does. */
    EXPECT_RESULT("bash", 1, NOT_RUN, "{\"command\":\"echo again\"}");
    EXPECT_RESULT("bash", 0, "again", "{\"restart\":true,\"command\":\"echo again\"}");
}

/* "<kept>\n\n... [N lines truncated] Full output saved to: <path> — ...": the
 * path (malloc'd) of the saved file, or NULL when the text is not of that form. */
static char *saved_path(const char *text, const char *what)
{
    char pre[128];
    snprintf(pre, sizeof(pre), "%s saved to: ", what);
    const char *p = strstr(text, pre);
    const char *q = p ? strstr(p, " \xe2\x80\x94 use read with view_range to read specific "
                                  "portions. ...")
                      : NULL;
    if (!q || q[strlen(" \xe2\x80\x94 use read with view_range to read specific portions. ...")])
        return NULL;
    p += strlen(pre);
    return strndup(p, (size_t)(q - p));
}

static void test_truncation_and_sanitising(void **state)
{
    (void)state;
    /* 30,000 characters, then the line count and the saved file. */
    struct tool_result r = fx_run("bash", "{\"command\":\"seq 1 20000\"}");
    assert_false(r.is_error);
    const char *tail = "\n6221\n62\n\n... [13780 lines truncated] Full output saved to: ";
    char *cut = strstr(r.text, tail);
    assert_non_null(cut);
    assert_int_equal((size_t)(cut - r.text) + 8, 30000);
    assert_memory_equal(r.text, "1\n2\n3\n", 6);
    char *path = saved_path(r.text, "Full output");
    assert_non_null(path);
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s/.omni-bash-output-", fx.work);
    assert_memory_equal(path, prefix, strlen(prefix));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    char *saved = fx_slurp(path);
    assert_non_null(saved);
    FILE *f = popen("seq 1 20000", "r");
    char *want = malloc(200000);
    size_t wn = fread(want, 1, 199999, f);
    pclose(f);
    want[wn] = '\0';
    assert_string_equal(saved, want); /* the whole output, as printed */
    free(saved);
    /* read reaches it (view_range); the dir is 0700. */
    char dir[600];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
    assert_int_equal(lstat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    struct tool_result rr =
        fx_run("read", "{\"file_path\":\"%s\",\"view_range\":[19999,20000]}", path);
    assert_false(rr.is_error);
    assert_string_equal(rr.text, "19999\n20000");
    tool_result_release(&rr);
    /* grep and glob walks skip it (the SDK keeps it outside the workdir), an
     * explicit path reaches it. */
    EXPECT_RESULT("grep", 0, "no matches", "{\"pattern\":\"^19999$\"}");
    EXPECT_RESULT("glob", 0, "no matches", "{\"pattern\":\"**/*.txt\"}");
    char want2[1200];
    snprintf(want2, sizeof(want2), "%s:19999:19999", path);
    EXPECT_RESULT("grep", 0, want2, "{\"pattern\":\"^19999$\",\"path\":\"%s\"}", dir);
    /* write and edit treat it as read-only, as the SDK does. */
    snprintf(want2, sizeof(want2), "write: %s is inside read-only directory %s", path, dir);
    EXPECT_RESULT("write", 1, want2, "{\"file_path\":\"%s\",\"content\":\"x\"}", path);
    snprintf(want2, sizeof(want2), "edit: %s is inside read-only directory %s", path, dir);
    EXPECT_RESULT("edit", 1, want2,
                  "{\"file_path\":\"%s\",\"old_string\":\"1\",\"new_string\":\"x\"}", path);
    tool_result_release(&r);

    /* stderr first on failure, in the text and in the file; the next long
     * output replaces the file. */
    r = fx_run("bash", "{\"command\":\"seq 1 20000; seq 1 100 >&2; false\"}");
    assert_true(r.is_error);
    assert_memory_equal(r.text, "1\n2\n3\n", 6);
    assert_non_null(strstr(r.text, "\n6163\n\n... [13839 lines truncated] Full output saved to: "));
    char *path2 = saved_path(r.text, "Full output");
    assert_non_null(path2);
    assert_string_not_equal(path, path2);
    assert_int_equal(lstat(path, &st), -1); /* the old one is gone */
    saved = fx_slurp(path2);
    assert_non_null(saved);
    assert_memory_equal(saved, "1\n2\n", 4);
    assert_non_null(strstr(saved, "\n99\n100\n\n1\n2\n"));
    assert_string_equal(saved + strlen(saved) - 12, "\n19999\n20000\n" + 1);
    free(saved);
    tool_result_release(&r);

    /* Characters are never split at the cut (counted in UTF-16 units). */
    r = fx_run("bash", "{\"command\":\"printf a; for i in $(seq 1 20000); do printf "
                       "'\\\\xf0\\\\x9f\\\\x98\\\\x80'; done\"}");
    cut = strstr(r.text, "\n\n... [1 lines truncated] Full output saved to: ");
    assert_non_null(cut);
    /* "a" + 14,999 × U+1F600 (2 units each) = 29,999 units: the next one does not fit. */
    assert_int_equal((size_t)(cut - r.text), 1 + 14999 * 4);
    tool_result_release(&r);

    /* More than 32 MiB: the first 32 MiB are saved. */
    r = fx_run("bash", "{\"command\":\"head -c 34000000 /dev/zero | tr '\\\\0' a\"}");
    assert_false(r.is_error);
    free(path2);
    path2 = saved_path(r.text, "First 32 MiB of output");
    assert_non_null(path2);
    assert_int_equal(lstat(path2, &st), 0);
    assert_int_equal(st.st_size, 32 * 1024 * 1024);
    tool_result_release(&r);

    /* A restart removes the saved output and its directory. */
    EXPECT_RESULT("bash", 0, "bash session restarted", "{\"restart\":true}");
    assert_int_equal(lstat(path2, &st), -1);
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(path2, '/') - path2), path2);
    assert_int_equal(lstat(dir, &st), -1);
    free(path);
    free(path2);
    free(want);

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

/* tool_bash.c (tool_int.h): exposed for this test. */
int bash_save_create(int workfd, const char *dname, const char *fname, int *dirfd);

/* A symlink or FIFO planted where the saved output goes is never followed or
 * opened: the create fails with EEXIST (and the tool picks another name). */
static void test_saved_output_planted(void **state)
{
    (void)state;
    char p[700], q[700];
    struct stat st;
    int dfd = -1;
    int wfd = open(fx.work, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(wfd >= 0);
    snprintf(p, sizeof(p), "%s/.omni-bash-output-x", fx.work);
    assert_int_equal(symlink(fx.outside, p), 0);
    errno = 0;
    assert_int_equal(bash_save_create(wfd, ".omni-bash-output-x", "f.txt", &dfd), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(dfd, -1);
    snprintf(q, sizeof(q), "%s/f.txt", fx.outside);
    assert_int_equal(lstat(q, &st), -1);
    snprintf(p, sizeof(p), "%s/.omni-bash-output-f", fx.work);
    assert_int_equal(mkfifo(p, 0600), 0);
    errno = 0;
    assert_int_equal(bash_save_create(wfd, ".omni-bash-output-f", "f.txt", &dfd), -1);
    assert_int_equal(errno, EEXIST);
    /* A fresh name works: 0700 directory, 0600 file. */
    int fd = bash_save_create(wfd, ".omni-bash-output-y", "ok.txt", &dfd);
    assert_true(fd >= 0 && dfd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(fstat(dfd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    close(fd);
    close(dfd);
    close(wfd);

    /* End to end: the agent replaces the last saved file's directory with one
     * holding a symlink to a secret (at the file's name) and a FIFO; the next
     * long output neither writes through them nor blocks. */
    struct tool_result r = fx_run("bash", "{\"command\":\"seq 1 20000\"}");
    char *path = saved_path(r.text, "Full output");
    assert_non_null(path);
    tool_result_release(&r);
    r = fx_run("bash",
               "{\"command\":\"f=%s; d=${f%%/*}; rm -rf $d; mkdir $d; ln -s %s/secret.txt $f; "
               "mkfifo $d/fifo; echo planted\"}",
               path, fx.outside);
    assert_string_equal(r.text, "planted");
    tool_result_release(&r);
    r = fx_run("bash", "{\"command\":\"seq 1 20000\"}");
    char *path2 = saved_path(r.text, "Full output");
    assert_non_null(path2);
    assert_string_not_equal(path, path2);
    tool_result_release(&r);
    snprintf(q, sizeof(q), "%s/secret.txt", fx.outside);
    char *secret = fx_slurp(q);
    assert_string_equal(secret, "SECRET\n");
    free(secret);
    assert_int_equal(lstat(path, &st), 0); /* the planted link is left alone */
    assert_true(S_ISLNK(st.st_mode));
    free(path);
    free(path2);
}

/* Two toolsets used at once from two threads (one per session thread, as the
 * executor will run them): no state is shared, each keeps its own shell,
 * saved output and limits. */
struct twin {
    char dir[600];
    const char *name;
    int failures;
};

static void twin_run(struct toolset *ts, const char *tool, const char *json, struct tool_result *r)
{
    cJSON *in = cJSON_Parse(json);
    toolset_run(ts, tool, in, NULL, r);
    cJSON_Delete(in);
}

static void *twin_main(void *arg)
{
    struct twin *t = arg;
    struct toolset_opts o;
    struct omni_err err = OMNI_ERR_INIT;
    memset(&o, 0, sizeof(o));
    o.workdir = t->dir;
    if (strcmp(t->name, "b") == 0)
        o.max_file_bytes = 8; /* limits are per instance too */
    struct toolset *ts = toolset_new(&o, &err);
    if (!ts) {
        t->failures++;
        return NULL;
    }
    char json[256], want[700];
    struct tool_result r;
    snprintf(json, sizeof(json), "{\"command\":\"export WHO=%s; echo %s > f.txt\"}", t->name,
             t->name);
    twin_run(ts, "bash", json, &r);
    t->failures += r.is_error;
    tool_result_release(&r);
    for (int i = 0; i < 20; i++) {
        twin_run(ts, "bash", "{\"command\":\"echo $WHO; pwd\"}", &r);
        snprintf(want, sizeof(want), "%s\n%s", t->name, t->dir);
        t->failures += r.is_error || strcmp(r.text, want) != 0;
        tool_result_release(&r);
        twin_run(ts, "read", "{\"file_path\":\"f.txt\"}", &r);
        snprintf(want, sizeof(want), "%s\n", t->name);
        t->failures += r.is_error || strcmp(r.text, want) != 0;
        tool_result_release(&r);
        twin_run(ts, "bash", "{\"command\":\"seq 1 9000\"}", &r);
        snprintf(want, sizeof(want), "Full output saved to: %s/.omni-bash-output-", t->dir);
        t->failures += r.is_error || !strstr(r.text, want);
        tool_result_release(&r);
    }
    twin_run(ts, "read", "{\"file_path\":\"/etc/hostname\"}", &r);
    t->failures += !r.is_error || strncmp(r.text, "read: path ", 11) != 0;
    tool_result_release(&r);
    toolset_free(ts);
    return NULL;
}

static void test_two_toolsets_in_threads(void **state)
{
    (void)state;
    struct twin tw[2] = {{"", "a", 0}, {"", "b", 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        snprintf(tw[i].dir, sizeof(tw[i].dir), "%s/%s", fx.work, tw[i].name);
        assert_int_equal(mkdir(tw[i].dir, 0700), 0);
    }
    /* One of them walks paths without openat2: a per-instance switch. */
    paths_set_openat2(0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, twin_main, &tw[i]), 0);
        if (i == 0) {
            struct timespec t = {0, 20 * 1000 * 1000};
            nanosleep(&t, NULL);
            paths_set_openat2(1);
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    paths_set_openat2(1);
    assert_int_equal(tw[0].failures, 0);
    assert_int_equal(tw[1].failures, 0);
    /* Closing each removed its saved output. */
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(tw[i].dir);
        struct dirent *de;
        assert_non_null(d);
        while ((de = readdir(d)) != NULL)
            assert_null(strstr(de->d_name, ".omni-bash-output-"));
        closedir(d);
    }
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

/* A job left running by one call survives into the next and dies with the
 * shell when a later call times out. */
static void test_timeout_kills_jobs(void **state)
{
    (void)state;
    struct tool_result r = fx_run("bash", "{\"command\":\"sleep 304 >/dev/null 2>&1 & echo $!\"}");
    assert_false(r.is_error);
    long pid = atol(r.text);
    tool_result_release(&r);
    assert_true(pid > 0 && alive((pid_t)pid));
    char want[64];
    snprintf(want, sizeof(want), "%ld", pid);
    EXPECT_RESULT("bash", 0, want, "{\"command\":\"jobs -p\"}");
    EXPECT_RESULT("bash", 1, "\ncommand timed out after 0.2s" SHELL_GONE,
                  "{\"command\":\"sleep 30\",\"timeout_ms\":200}");
    struct timespec t = {0, 100 * 1000 * 1000};
    nanosleep(&t, NULL);
    assert_false(alive((pid_t)pid));
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
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_cancel, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_sanitising, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_saved_output_planted, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_toolsets_in_threads, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_environment, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_background_between_calls, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_jobs, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_background_killed, setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tools: bash", tests, NULL, NULL);
}
