/*
 * read / write / edit: Appendix B texts, view_range table, edit counts,
 * atomic writes and modes, input validation, result normalisation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "tool_fixture.h"

struct text_case {
    const char *tool;
    const char *input; /* JSON */
    int is_error;
    const char *text;
};

/* Validation and simple error texts (Appendix B and §2.2). */
static const struct text_case validation[] = {
    {"read", "{}", 1, "read: file_path is required"},
    {"read", "{\"file_path\":\"\"}", 1, "read: file_path is required"},
    {"read", "{\"file_path\":5}", 1, "read: file_path must be a string"},
    {"read", "{\"file_path\":null}", 1, "read: file_path is required"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":[1]}", 1,
     "read: view_range must be [start_line, end_line]"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":[1,2,3]}", 1,
     "read: view_range must be [start_line, end_line]"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":\"1-2\"}", 1,
     "read: view_range must be [start_line, end_line]"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":[1.5,2]}", 1,
     "read: view_range must be [start_line, end_line]"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":[\"1\",2]}", 1,
     "read: view_range must be [start_line, end_line]"},
    {"read", "{\"file_path\":\"f.txt\",\"extra\":true}", 0, "l1\nl2\nl3\nl4\n"},
    {"read", "{\"file_path\":\"f.txt\",\"view_range\":[]}", 0, "l1\nl2\nl3\nl4\n"},
    {"read", "{\"file_path\":\"missing.txt\"}", 1, "read: missing.txt: no such file or directory"},
    {"read", "{\"file_path\":\"d\"}", 1, "read: d is not a regular file"},
    {"read", "{\"file_path\":\"empty.txt\"}", 0, "(no output)"},
    {"write", "{}", 1, "write: file_path is required"},
    {"write", "{\"file_path\":\"\",\"content\":\"x\"}", 1, "write: file_path is required"},
    {"write", "{\"file_path\":\"w.txt\"}", 1, "write: content is required"},
    {"write", "{\"file_path\":\"w.txt\",\"content\":7}", 1, "write: content must be a string"},
    {"write", "{\"file_path\":[],\"content\":\"x\"}", 1, "write: file_path must be a string"},
    {"write", "{\"file_path\":\"d\",\"content\":\"x\"}", 1, "write: d: is a directory"},
    {"write", "{\"file_path\":\".\",\"content\":\"x\"}", 1, "write: .: is a directory"},
    {"write", "{\"file_path\":\"f.txt/x\",\"content\":\"x\"}", 1,
     "write: f.txt/x: not a directory"},
    {"write", "{\"file_path\":\"w0.txt\",\"content\":\"\"}", 0, "wrote 0 bytes to w0.txt"},
    {"edit", "{}", 1, "edit: file_path is required"},
    {"edit", "{\"file_path\":\"f.txt\"}", 1, "edit: old_string is required"},
    {"edit", "{\"file_path\":\"f.txt\",\"old_string\":\"\",\"new_string\":\"x\"}", 1,
     "edit: old_string is required"},
    {"edit", "{\"file_path\":\"f.txt\",\"old_string\":\"l1\"}", 1, "edit: new_string is required"},
    {"edit", "{\"file_path\":\"f.txt\",\"old_string\":\"l1\",\"new_string\":1}", 1,
     "edit: new_string must be a string"},
    {"edit",
     "{\"file_path\":\"f.txt\",\"old_string\":\"l1\",\"new_string\":\"x\",\"replace_all\":"
     "\"false\"}",
     1, "edit: replace_all must be a boolean"},
    {"edit", "{\"file_path\":\"missing.txt\",\"old_string\":\"a\",\"new_string\":\"b\"}", 1,
     "edit: missing.txt: no such file or directory"},
    {"edit", "{\"file_path\":\"nodir/x\",\"old_string\":\"a\",\"new_string\":\"b\"}", 1,
     "edit: nodir/x: no such file or directory"},
    {"edit", "{\"file_path\":\"d\",\"old_string\":\"a\",\"new_string\":\"b\"}", 1,
     "edit: d is not a regular file"},
    {"edit", "{\"file_path\":\"f.txt\",\"old_string\":\"zz\",\"new_string\":\"b\"}", 1,
     "edit: old_string not found in f.txt"},
    {"edit", "{\"file_path\":\"f.txt\",\"old_string\":\"l\",\"new_string\":\"b\"}", 1,
     "edit: old_string appears 4 times in f.txt (must be unique)"},
    {"bash", "{}", 1, "bash: command is required"},
    {"bash", "{\"command\":\"\"}", 1, "bash: command is required"},
    {"bash", "{\"command\":5}", 1, "bash: command must be a string"},
    {"bash", "{\"restart\":true}", 0, "bash session restarted"},
    {"bash", "{\"restart\":\"yes\"}", 1, "bash: restart must be a boolean"},
    {"bash", "{\"command\":\"true\",\"timeout_ms\":\"5\"}", 1,
     "bash: timeout_ms must be an integer"},
    {"glob", "{}", 1, "glob: pattern is required"},
    {"glob", "{\"pattern\":\"\"}", 1, "glob: pattern is required"},
    {"glob", "{\"pattern\":\"/etc/*\"}", 1,
     "glob: absolute pattern not permitted; pass a relative pattern (and optionally path)"},
    {"glob", "{\"pattern\":\"../*\"}", 1, "glob: \"..\" is not permitted in the pattern"},
    {"glob", "{\"pattern\":\"{..,x}/*\"}", 1, "glob: \"..\" is not permitted in the pattern"},
    {"glob", "{\"pattern\":\"a\\\\..\\\\b\"}", 1, "glob: \"..\" is not permitted in the pattern"},
    {"glob", "{\"pattern\":\"*.nothing\"}", 0, "no matches"},
    {"glob", "{\"pattern\":\"*\",\"path\":7}", 1, "glob: path must be a string"},
    {"grep", "{}", 1, "grep: pattern is required"},
    {"grep", "{\"pattern\":\"\"}", 1, "grep: pattern is required"},
    {"grep", "{\"pattern\":\"(\"}", 1,
     "grep: invalid regex: missing closing parenthesis at offset 1"},
    {"grep", "{\"pattern\":\"nothing-matches-this\"}", 0, "no matches"},
    {"grep", "{\"pattern\":\"x\",\"path\":\"missing\"}", 1,
     "grep: missing: no such file or directory"},
    {"grep", "{\"pattern\":\"x\",\"path\":\"fifo\"}", 1,
     "grep: fifo is not a regular file or directory"},
};

static int setup(void **state)
{
    if (fx_setup(state) < 0)
        return -1;
    fx_wput("f.txt", "l1\nl2\nl3\nl4\n");
    fx_wput("empty.txt", "");
    mkdir(fx_w("d"), 0700);
    mkfifo(fx_w("fifo"), 0600);
    return 0;
}

static void test_texts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(validation) / sizeof(validation[0]); i++) {
        const struct text_case *tc = &validation[i];
        cJSON *in = cJSON_Parse(tc->input);
        assert_non_null(in);
        struct tool_result r;
        toolset_run(fx.ts, tc->tool, in, NULL, &r);
        cJSON_Delete(in);
        if (r.is_error != tc->is_error || strcmp(r.text, tc->text) != 0)
            fprintf(stderr, "  case %zu %s %s\n  got  %d [%s]\n  want %d [%s]\n", i, tc->tool,
                    tc->input, r.is_error, r.text, tc->is_error, tc->text);
        assert_int_equal(r.is_error, tc->is_error);
        assert_string_equal(r.text, tc->text);
        tool_result_release(&r);
    }
}

static void test_unknown_and_bad_input(void **state)
{
    (void)state;
    struct tool_result r;
    assert_false(toolset_owns(fx.ts, "Bash"));
    assert_false(toolset_owns(fx.ts, "web_fetch"));
    assert_true(toolset_owns(fx.ts, "grep"));
    toolset_run(fx.ts, "read", NULL, NULL, &r);
    assert_true(r.is_error);
    assert_string_equal(r.text, "read: file_path is required");
    tool_result_release(&r);
    cJSON *arr = cJSON_CreateArray();
    toolset_run(fx.ts, "read", arr, NULL, &r);
    cJSON_Delete(arr);
    assert_true(r.is_error);
    assert_string_equal(r.text, "read: input must be an object");
    tool_result_release(&r);
}

/* §5.3 view_range table on l1\nl2\nl3\nl4\n, for a small and a streamed (large) file. */
static const struct {
    const char *range;
    const char *text;
} ranges[] = {
    {"[2,3]", "l2\nl3"},
    {"[2,0]", "l2\nl3\nl4\n"},
    {"[2,-1]", "l2\nl3\nl4\n"},
    {"[0,1]", "l1"},
    {"[3,2]", "(no output)"},
    {"[10,20]", "(no output)"},
    {"[4,4]", "l4"},
    {"[1,1]", "l1"},
    {"[-5,2]", "l1\nl2"},
    {"[1,0]", "l1\nl2\nl3\nl4\n"},
    {"[5,5]", "(no output)"},
    {"[4,0]", "l4\n"},
};

static void test_view_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        EXPECT_RESULT("read", 0, ranges[i].text, "{\"file_path\":\"f.txt\",\"view_range\":%s}",
                      ranges[i].range);
    /* The same table through the streamed reader: a cap smaller than the file. */
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.max_file_bytes = 4;
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        struct tool_result r =
            fx_run("read", "{\"file_path\":\"f.txt\",\"view_range\":%s}", ranges[i].range);
        /* Ranges whose text exceeds 4 bytes hit the limit instead. */
        if (strlen(ranges[i].text) > 4 && strcmp(ranges[i].text, "(no output)") != 0) {
            assert_true(r.is_error);
            assert_non_null(strstr(r.text, "exceeds 4-byte limit."));
        } else {
            if (strcmp(r.text, ranges[i].text) != 0)
                fprintf(stderr, "  stream %s -> [%s]\n", ranges[i].range, r.text);
            assert_false(r.is_error);
            assert_string_equal(r.text, ranges[i].text);
        }
        tool_result_release(&r);
    }
    EXPECT_RESULT("read", 1,
                  "read: f.txt is 12 bytes, exceeds 4-byte limit. Use the view_range parameter "
                  "to read specific line ranges, e.g. view_range: [1, 500].",
                  "{\"file_path\":\"f.txt\"}");
    fx_wput("long.txt", "short\nthis-line-is-long\nx\n");
    EXPECT_RESULT("read", 1,
                  "read: line 2 of long.txt alone exceeds 4-byte limit. The read tool cannot "
                  "return part of a line, so view_range cannot narrow this further.",
                  "{\"file_path\":\"long.txt\",\"view_range\":[2,2]}");
    EXPECT_RESULT("read", 1,
                  "read: view_range [1, 3] of long.txt exceeds 4-byte limit. Narrow the "
                  "view_range to read a smaller portion.",
                  "{\"file_path\":\"long.txt\",\"view_range\":[1,3]}");
    EXPECT_RESULT("read", 0, "x", "{\"file_path\":\"long.txt\",\"view_range\":[3,3]}");
    EXPECT_RESULT("edit", 1,
                  "edit: f.txt is 12 bytes, exceeds 4-byte limit. The edit tool loads the whole "
                  "file and cannot modify a file this large.",
                  "{\"file_path\":\"f.txt\",\"old_string\":\"l1\",\"new_string\":\"x\"}");
}

static void test_streamed_big_file(void **state)
{
    (void)state;
    /* 300,000 lines of "line N": far over the default cap; range read streams. */
    FILE *f = fopen(fx_w("big.txt"), "w");
    for (int i = 1; i <= 300000; i++)
        fprintf(f, "line %d\n", i);
    fclose(f);
    EXPECT_RESULT("read", 0, "line 150000\nline 150001",
                  "{\"file_path\":\"big.txt\",\"view_range\":[150000,150001]}");
    EXPECT_RESULT("read", 0, "line 299999\nline 300000\n",
                  "{\"file_path\":\"big.txt\",\"view_range\":[299999,0]}");
    struct stat st;
    assert_int_equal(stat(fx_w("big.txt"), &st), 0);
    char want[300];
    snprintf(want, sizeof(want),
             "read: big.txt is %lld bytes, exceeds 110000-byte limit. Use the view_range "
             "parameter to read specific line ranges, e.g. view_range: [1, 500].",
             (long long)st.st_size);
    EXPECT_RESULT("read", 1, want, "{\"file_path\":\"big.txt\"}");
    /* The selection is capped at 110,000 bytes too (the SDK's two texts). */
    EXPECT_RESULT("read", 1,
                  "read: view_range [1, 20000] of big.txt exceeds 110000-byte limit. Narrow the "
                  "view_range to read a smaller portion.",
                  "{\"file_path\":\"big.txt\",\"view_range\":[1,20000]}");
    struct tool_result r = fx_run("read", "{\"file_path\":\"big.txt\",\"view_range\":[1,10000]}");
    assert_false(r.is_error);
    assert_int_equal(strlen(r.text), 98894 - 1); /* 10,000 lines, the last without its \n */
    tool_result_release(&r);
    f = fopen(fx_w("oneline.txt"), "w");
    fputs("a\n", f);
    for (int i = 0; i < 120000; i++)
        fputc('x', f);
    fputs("\nb\n", f);
    fclose(f);
    EXPECT_RESULT("read", 1,
                  "read: line 2 of oneline.txt alone exceeds 110000-byte limit. The read tool "
                  "cannot return part of a line, so view_range cannot narrow this further.",
                  "{\"file_path\":\"oneline.txt\",\"view_range\":[2,2]}");
    EXPECT_RESULT("read", 0, "b", "{\"file_path\":\"oneline.txt\",\"view_range\":[3,3]}");
    /* Whole-file reads: 110,000 bytes pass, 110,001 do not. */
    f = fopen(fx_w("edge.txt"), "w");
    for (int i = 0; i < 110000; i++)
        fputc('y', f);
    fclose(f);
    r = fx_run("read", "{\"file_path\":\"edge.txt\"}");
    assert_false(r.is_error);
    assert_int_equal(strlen(r.text), 110000);
    tool_result_release(&r);
    f = fopen(fx_w("edge.txt"), "a");
    fputc('Z', f);
    fclose(f);
    EXPECT_RESULT("read", 1,
                  "read: edge.txt is 110001 bytes, exceeds 110000-byte limit. Use the view_range "
                  "parameter to read specific line ranges, e.g. view_range: [1, 500].",
                  "{\"file_path\":\"edge.txt\"}");
    /* edit keeps its own cap, 256 KiB: the 110,001-byte file is edited. */
    EXPECT_RESULT("edit", 0, "edited edge.txt (1 replacement(s))",
                  "{\"file_path\":\"edge.txt\",\"old_string\":\"Z\",\"new_string\":\"z\"}");
    r = fx_run("edit",
               "{\"file_path\":\"big.txt\",\"old_string\":\"line 1\\n\",\"new_string\":\"\"}");
    assert_true(r.is_error);
    snprintf(want, sizeof(want),
             "edit: big.txt is %lld bytes, exceeds 262144-byte limit. The edit tool loads the "
             "whole file and cannot modify a file this large.",
             (long long)st.st_size);
    assert_string_equal(r.text, want);
    tool_result_release(&r);
}

static void test_read_bytes(void **state)
{
    (void)state;
    /* NUL and invalid UTF-8 become U+FFFD; CR and BOM are kept. */
    FILE *f = fopen(fx_w("bin"), "wb");
    fwrite("a\0b\xff\r\n\xef\xbb\xbf"
           "c",
           1, 10, f);
    fclose(f);
    EXPECT_RESULT("read", 0,
                  "a\xef\xbf\xbd"
                  "b\xef\xbf\xbd\r\n\xef\xbb\xbf"
                  "c",
                  "{\"file_path\":\"bin\"}");
    EXPECT_RESULT("read", 0,
                  "a\xef\xbf\xbd"
                  "b\xef\xbf\xbd\r",
                  "{\"file_path\":\"bin\",\"view_range\":[1,1]}");
}

static void test_write(void **state)
{
    (void)state;
    struct stat st;
    EXPECT_RESULT("write", 0, "wrote 6 bytes to h.txt",
                  "{\"file_path\":\"h.txt\",\"content\":\"h\xc3\xa9llo\"}");
    char *s = fx_slurp(fx_w("h.txt"));
    assert_string_equal(s, "h\xc3\xa9llo");
    free(s);
    assert_int_equal(stat(fx_w("h.txt"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Missing parents are created 0700. */
    EXPECT_RESULT("write", 0, "wrote 1 bytes to a/b/c/d.txt",
                  "{\"file_path\":\"a/b/c/d.txt\",\"content\":\"x\"}");
    assert_int_equal(stat(fx_w("a/b"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0077, 0);
    /* Existing mode bits are kept; no temp files are left behind. */
    fx_wput("x.sh", "old");
    chmod(fx_w("x.sh"), 0751);
    EXPECT_RESULT("write", 0, "wrote 3 bytes to x.sh",
                  "{\"file_path\":\"x.sh\",\"content\":\"new\"}");
    assert_int_equal(stat(fx_w("x.sh"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0751);
    DIR *d = opendir(fx.work);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        assert_null(strstr(de->d_name, ".tmp-"));
    closedir(d);
    /* A FIFO is replaced by a regular file (never opened, so never blocks). */
    EXPECT_RESULT("write", 0, "wrote 2 bytes to fifo",
                  "{\"file_path\":\"fifo\",\"content\":\"ok\"}");
    assert_int_equal(lstat(fx_w("fifo"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* Absolute path inside the workdir. */
    char want[600];
    snprintf(want, sizeof(want), "wrote 2 bytes to %s", fx_w("abs.txt"));
    EXPECT_RESULT("write", 0, want, "{\"file_path\":\"%s\",\"content\":\"ab\"}", fx_w("abs.txt"));
}

static void test_edit(void **state)
{
    (void)state;
    struct stat st;
    fx_wput("e.txt", "alpha beta alpha gamma alpha");
    chmod(fx_w("e.txt"), 0755);
    EXPECT_RESULT("edit", 1, "edit: old_string appears 3 times in e.txt (must be unique)",
                  "{\"file_path\":\"e.txt\",\"old_string\":\"alpha\",\"new_string\":\"A\"}");
    EXPECT_RESULT("edit", 0, "edited e.txt (1 replacement(s))",
                  "{\"file_path\":\"e.txt\",\"old_string\":\"beta\",\"new_string\":\"$&$1\"}");
    EXPECT_RESULT("edit", 0, "edited e.txt (3 replacement(s))",
                  "{\"file_path\":\"e.txt\",\"old_string\":\"alpha\",\"new_string\":\"\",\"replace_"
                  "all\":true}");
    char *s = fx_slurp(fx_w("e.txt"));
    assert_string_equal(s, " $&$1  gamma ");
    free(s);
    assert_int_equal(stat(fx_w("e.txt"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    /* replace_all with a single occurrence reports 1; false works like absent. */
    EXPECT_RESULT("edit", 0, "edited e.txt (1 replacement(s))",
                  "{\"file_path\":\"e.txt\",\"old_string\":\"gamma\",\"new_string\":\"G\","
                  "\"replace_all\":true}");
    EXPECT_RESULT("edit", 0, "edited e.txt (1 replacement(s))",
                  "{\"file_path\":\"e.txt\",\"old_string\":\"G\",\"new_string\":\"gg\",\"replace_"
                  "all\":false}");
    /* Non-overlapping, left to right: "aaa" holds one "aa". */
    fx_wput("o.txt", "aaa");
    EXPECT_RESULT("edit", 0, "edited o.txt (1 replacement(s))",
                  "{\"file_path\":\"o.txt\",\"old_string\":\"aa\",\"new_string\":\"b\",\"replace_"
                  "all\":true}");
    s = fx_slurp(fx_w("o.txt"));
    assert_string_equal(s, "ba");
    free(s);
    /* Raw bytes outside the match survive untouched (invalid UTF-8, CRLF). */
    FILE *f = fopen(fx_w("raw.bin"), "wb");
    fwrite("\xff\xfe key=1\r\n\x80", 1, 12, f);
    fclose(f);
    EXPECT_RESULT("edit", 0, "edited raw.bin (1 replacement(s))",
                  "{\"file_path\":\"raw.bin\",\"old_string\":\"key=1\\r\\n\",\"new_string\":\"key="
                  "2\\r\\n\"}");
    f = fopen(fx_w("raw.bin"), "rb");
    char got[32];
    size_t n = fread(got, 1, sizeof(got), f);
    fclose(f);
    assert_int_equal(n, 12);
    assert_memory_equal(got, "\xff\xfe key=2\r\n\x80", 12);
    /* CRLF file needs \r\n in old_string. */
    EXPECT_RESULT("edit", 1, "edit: old_string not found in raw.bin",
                  "{\"file_path\":\"raw.bin\",\"old_string\":\"key=2\\n\",\"new_string\":\"x\"}");
}

static void test_tool_timeout(void **state)
{
    (void)state;
    struct toolset_opts o;
    memset(&o, 0, sizeof(o));
    o.tool_timeout_ms = 1; /* expires before the first read loop check */
    toolset_free(fx.ts);
    fx.ts = fx_new_ts(&o);
    /* 22 MB streamed to its last line takes well over 1 ms. */
    FILE *f = fopen(fx_w("big2.txt"), "w");
    for (int i = 0; i < 2000000; i++)
        fputs("abcdefghij\n", f);
    fclose(f);
    /* The runner's text (SDK 1.16 SessionToolRunner). */
    EXPECT_RESULT("read", 1, "tool 'read' timed out",
                  "{\"file_path\":\"big2.txt\",\"view_range\":[2000000,2000000]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_texts, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_bad_input, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_view_range, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_streamed_big_file, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_bytes, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_write, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_edit, setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tool_timeout, setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("tools: read/write/edit", tests, NULL, NULL);
}
