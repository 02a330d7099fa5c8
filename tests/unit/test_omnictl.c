/* Unit tests for omnictl internals: threshold ranges, shell line splitting,
 * command lookup, dispatch usage errors and completion candidates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../admin/commands.h"
#include "../../admin/ctx.h"
#include "range.h"
#include "../../admin/shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_range_table(void **state)
{
    static const struct {
        const char *spec;
        int durations;
        double x;
        int alert;
    } cases[] = {
        {"10", 0, 5, 0},      {"10", 0, 11, 1},    {"10", 0, -1, 1},     {"10", 0, 10, 0},
        {"10:", 0, 9, 1},     {"10:", 0, 10, 0},   {"10:", 0, 1e9, 0},   {"~:10", 0, -50, 0},
        {"~:10", 0, 11, 1},   {"10:20", 0, 9, 1},  {"10:20", 0, 15, 0},  {"10:20", 0, 21, 1},
        {"@10:20", 0, 15, 1}, {"@10:20", 0, 9, 0}, {"@10:20", 0, 20, 1}, {"0", 0, 0, 0},
        {"0", 0, 1, 1},       {"5m", 1, 299, 0},   {"5m", 1, 301, 1},    {"1h:", 1, 3599, 1},
        {"~:90s", 1, 91, 1},  {":5", 0, 6, 1},     {"2.5", 0, 2.6, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct omni_range r;
        const char *cause;
        assert_int_equal(omni_range_parse(cases[i].spec, cases[i].durations, &r, &cause), 0);
        if (omni_range_alert(&r, cases[i].x) != cases[i].alert)
            fail_msg("range \"%s\" at %g: want alert=%d", cases[i].spec, cases[i].x,
                     cases[i].alert);
    }
}

static void test_range_errors(void **state)
{
    static const char *const bad[] = {"", "x", "10:5", "1:2:3", "@", "~", "5m", "abc:", NULL};
    struct omni_range r;
    const char *cause;
    for (const char *const *b = bad; *b; b++) {
        if (omni_range_parse(*b, 0, &r, &cause) != -1)
            fail_msg("range \"%s\" accepted", *b);
        assert_non_null(cause);
    }
    /* unset range never alerts */
    memset(&r, 0, sizeof r);
    assert_int_equal(omni_range_alert(&r, 1e9), 0);
    /* normalised text for perfdata */
    assert_int_equal(omni_range_parse("5m", 1, &r, &cause), 0);
    assert_string_equal(r.text, "300");
    assert_int_equal(omni_range_parse("@1:2", 0, &r, &cause), 0);
    assert_string_equal(r.text, "@1:2");
    assert_int_equal(omni_range_parse("~:10", 0, &r, &cause), 0);
    assert_string_equal(r.text, "~:10");
}

static void test_split(void **state)
{
    char *argv[8];
    const char *cause;
    int n = ctl_split_line("  stop  'a b' \"c \\\" d\" e\\ f # comment\n", argv, 8, &cause);
    assert_int_equal(n, 4);
    assert_string_equal(argv[0], "stop");
    assert_string_equal(argv[1], "a b");
    assert_string_equal(argv[2], "c \" d");
    assert_string_equal(argv[3], "e f");
    assert_null(argv[4]);
    ctl_split_free(argv, n);
    assert_int_equal(ctl_split_line("   # only a comment", argv, 8, &cause), 0);
    assert_int_equal(ctl_split_line("''", argv, 8, &cause), 1);
    assert_string_equal(argv[0], "");
    ctl_split_free(argv, 1);
    assert_int_equal(ctl_split_line("a 'b", argv, 8, &cause), -1);
    assert_string_equal(cause, "unterminated single quote");
    assert_int_equal(ctl_split_line("a \"b", argv, 8, &cause), -1);
    assert_string_equal(cause, "unterminated double quote");
    assert_int_equal(ctl_split_line("a b c d e f g h i", argv, 8, &cause), -1);
    assert_string_equal(cause, "too many words");
    assert_int_equal(ctl_split_line("x\\", argv, 8, &cause), -1);
}

static void test_lookup(void **state)
{
    int amb;
    assert_ptr_equal(ctl_lookup(ctl_commands, "stats", &amb), &ctl_cmd_stats);
    assert_ptr_equal(ctl_lookup(ctl_commands, "sta", &amb), &ctl_cmd_stats);
    assert_ptr_equal(ctl_lookup(ctl_commands, "session", &amb), &ctl_cmd_sessions);
    assert_null(ctl_lookup(ctl_commands, "s", &amb));
    assert_int_equal(amb, 1);
    assert_null(ctl_lookup(ctl_commands, "nope", &amb));
    assert_int_equal(amb, 0);
    assert_null(ctl_lookup(ctl_commands, "__u", &amb)); /* hidden: exact only */
    assert_ptr_equal(ctl_lookup(ctl_commands, "__usage", &amb), &ctl_cmd_usage_dump);
}

/* Every table entry is well-formed: usage starts with its name, min <= max. */
static void test_table_sane(void **state)
{
    for (const struct ctl_cmd *const *c = ctl_commands; *c; c++) {
        const struct ctl_cmd *const *subs = (*c)->subcmds;
        assert_non_null((*c)->usage);
        assert_int_equal(strncmp((*c)->usage, (*c)->name, strlen((*c)->name)), 0);
        if (!subs) {
            assert_non_null((*c)->exec);
            assert_true((*c)->max_args < 0 || (*c)->min_args <= (*c)->max_args);
            continue;
        }
        for (; *subs; subs++) {
            char want[64];
            snprintf(want, sizeof want, "%s %s", (*c)->name, (*subs)->name);
            assert_non_null((*subs)->exec);
            if (strncmp((*subs)->usage, want, strlen(want)) != 0)
                fail_msg("usage \"%s\" does not start with \"%s\"", (*subs)->usage, want);
        }
    }
}

static int run(struct ctl_ctx *ctx, const char *line, char *out, size_t outlen, char *err,
               size_t errlen)
{
    char *argv[32];
    const char *cause;
    int n = ctl_split_line(line, argv, 32, &cause), rc;
    ctx->out = fmemopen(out, outlen, "w");
    ctx->err = fmemopen(err, errlen, "w");
    rc = ctl_dispatch(ctx, n, argv);
    fclose(ctx->out);
    fclose(ctx->err);
    ctl_split_free(argv, n);
    return rc;
}

static void test_dispatch_usage(void **state)
{
    struct ctl_ctx ctx;
    char out[4096], err[4096];

    ctx_init(&ctx);
    assert_int_equal(run(&ctx, "frob", out, sizeof out, err, sizeof err), CTL_EXIT_USAGE);
    assert_non_null(strstr(err, "unknown command \"frob\""));
    assert_string_equal(out, "");
    assert_int_equal(run(&ctx, "stats --bogus", out, sizeof out, err, sizeof err), CTL_EXIT_USAGE);
    assert_non_null(strstr(err, "\"--bogus\""));
    assert_int_equal(run(&ctx, "stop", out, sizeof out, err, sizeof err), CTL_EXIT_USAGE);
    assert_non_null(strstr(err, "usage: omnictl stop"));
    assert_int_equal(run(&ctx, "stop a b", out, sizeof out, err, sizeof err), CTL_EXIT_USAGE);
    assert_non_null(strstr(err, "too many arguments"));
    assert_int_equal(run(&ctx, "env list -o nagios", out, sizeof out, err, sizeof err),
                     CTL_EXIT_USAGE);
    assert_int_equal(run(&ctx, "help stop", out, sizeof out, err, sizeof err), CTL_EXIT_OK);
    assert_non_null(strstr(out, "usage: omnictl stop"));
    /* options parse again after a previous line (optind reset) */
    assert_int_equal(run(&ctx, "stop --wait=1 --escalate -h", out, sizeof out, err, sizeof err),
                     CTL_EXIT_OK);
    assert_int_equal(run(&ctx, "stop -h", out, sizeof out, err, sizeof err), CTL_EXIT_OK);
    assert_non_null(strstr(out, "--escalate"));
    ctx.out = stdout;
    ctx.err = stderr;
    ctx_release(&ctx);
}

static void test_complete(void **state)
{
    struct ctl_ctx ctx;
    const char *c[CTL_COMPLETE_MAX];
    char *w1[] = {(char *)"sessions"};
    char *w2[] = {(char *)"stop"};
    char *w3[] = {(char *)"stats", (char *)"-o"};
    char *w4[] = {(char *)"env", (char *)"show"};
    size_t n;

    ctx_init(&ctx);
    n = ctl_complete(&ctx, NULL, 0, "st", c, CTL_COMPLETE_MAX);
    assert_int_equal(n, 2);
    assert_string_equal(c[0], "stats");
    assert_string_equal(c[1], "stop");
    n = ctl_complete(&ctx, w1, 1, "cr", c, CTL_COMPLETE_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(c[0], "create");
    n = ctl_complete(&ctx, w2, 1, "--esc", c, CTL_COMPLETE_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(c[0], "--escalate");
    n = ctl_complete(&ctx, w3, 2, "", c, CTL_COMPLETE_MAX);
    assert_int_equal(n, 5); /* table wide json prom nagios */
    ctx_note_id(&ctx, "env_01ABC");
    ctx_note_id(&ctx, "env_01ABC");
    ctx_note_id(&ctx, "not-an-id");
    n = ctl_complete(&ctx, w4, 2, "env_", c, CTL_COMPLETE_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(c[0], "env_01ABC");
    ctx_release(&ctx);
}

/* work annotate's merge patch (lib/api.c omni_metadata_patch_parse) */
static void test_metadata_patch(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *ok[] = {(char *)"team=infra", (char *)"gone=", (char *)"team=ops", (char *)"x=a=b"};
    cJSON *p = omni_metadata_patch_parse(ok, 4, &err);
    char *s;

    assert_non_null(p);
    s = cJSON_PrintUnformatted(p);
    assert_string_equal(s, "{\"gone\":null,\"team\":\"ops\",\"x\":\"a=b\"}");
    free(s);
    cJSON_Delete(p);

    static const struct {
        const char *word, *msg;
    } bad[] = {
        {"noeq", "is not KEY=VALUE"},
        {"=v", "is not KEY=VALUE"},
        {"k\x01=v", "control characters"},
        {"k=a\nb", "control characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *w[] = {(char *)bad[i].word};
        assert_null(omni_metadata_patch_parse(w, 1, &err));
        assert_int_equal(err.kind, OMNI_E_USAGE);
        assert_non_null(strstr(err.msg, bad[i].msg));
    }
    char key[80], val[600], *w[17];
    memset(key, 'k', 64);
    strcpy(key + 64, "=v");
    w[0] = key;
    p = omni_metadata_patch_parse(w, 1, &err);
    assert_non_null(p); /* 64 bytes: the limit */
    cJSON_Delete(p);
    memset(key, 'k', 65);
    strcpy(key + 65, "=v");
    assert_null(omni_metadata_patch_parse(w, 1, &err));
    val[0] = 'k', val[1] = '=';
    memset(val + 2, 'v', 512);
    val[514] = '\0';
    w[0] = val;
    p = omni_metadata_patch_parse(w, 1, &err);
    assert_non_null(p); /* 512 bytes: the limit */
    cJSON_Delete(p);
    val[514] = 'v', val[515] = '\0';
    assert_null(omni_metadata_patch_parse(w, 1, &err));
    static char many[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(many[i], sizeof many[i], "k%d=", i);
        w[i] = many[i];
    }
    p = omni_metadata_patch_parse(w, 16, &err);
    assert_non_null(p);
    cJSON_Delete(p);
    assert_null(omni_metadata_patch_parse(w, 17, &err));
    assert_non_null(strstr(err.msg, "at most 16 keys"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table), cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_split),       cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_table_sane),  cmocka_unit_test(test_dispatch_usage),
        cmocka_unit_test(test_complete),    cmocka_unit_test(test_metadata_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
