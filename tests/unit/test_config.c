/* Unit tests for lib/config.c: INI parsing, profiles, errors, loading. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "err.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOME "/home/tester"

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/omni-test-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    setenv("HOME", HOME, 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct omni_config *parse(const char *text, struct omni_err *err)
{
    return omni_config_parse(text, strlen(text), "test.conf", err);
}

struct lookup {
    const char *profile, *key, *want; /* want NULL: unset */
};

static const char sample[] = "# top comment\n"
                             "; another comment\n"
                             "base_url = https://api.anthropic.com\n"
                             "\n"
                             "[default]\n"
                             "api_key_file = ~/.config/omni/org.key\n"
                             "environment = env_01DEF          # default environment for commands\n"
                             "timeout = 30s\n"
                             "ca_file = \"/etc/ssl/private ca.pem\" ; quoted, with a space\n"
                             "env_key_file.env_01ABC = ~/.config/omni/env_01ABC.key\n"
                             "log_format=json\n"
                             "warn_depth = 10:\n"
                             "x-note = anything # goes\n"
                             "\n"
                             "[profile staging]\n"
                             "  base_url   =   http://127.0.0.1:8080  \n"
                             "environment = env_STAGE\n"
                             "env_key_file.env_STAGE = /keys/stage.key\n"
                             "\n"
                             "[local]\n"
                             "base_url = \"http://127.0.0.1:9#not-a-comment\"\n"
                             "output = json\n"
                             "x-url = http://h/p#frag\n"
                             "refresh = 250ms\n"
                             "crit_age = \"\"\n";

static void test_sample(void **state)
{
    static const struct lookup t[] = {
        {NULL, "base_url", "https://api.anthropic.com"},
        {"default", "base_url", "https://api.anthropic.com"},
        {"", "api_key_file", HOME "/.config/omni/org.key"},
        {NULL, "environment", "env_01DEF"},
        {NULL, "timeout", "30s"},
        {NULL, "ca_file", "/etc/ssl/private ca.pem"},
        {NULL, "log_format", "json"},
        {NULL, "warn_depth", "10:"},
        {NULL, "x-note", "anything"},
        {NULL, "output", NULL},
        {NULL, "nope", NULL},
        {"staging", "base_url", "http://127.0.0.1:8080"},
        {"staging", "environment", "env_STAGE"},
        {"staging", "timeout", "30s"}, /* falls back to [default] */
        {"staging", "api_key_file", HOME "/.config/omni/org.key"},
        {"local", "base_url", "http://127.0.0.1:9#not-a-comment"},
        {"local", "output", "json"},
        {"local", "x-url", "http://h/p#frag"},
        {"local", "refresh", "250ms"},
        {"local", "environment", "env_01DEF"},
        {"local", "crit_age", NULL}, /* x-... only may be empty: see below */
    };
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_config *cfg;

    /* crit_age = "" is an error (empty value for a known key) */
    cfg = parse(sample, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "test.conf:25: empty value for \"crit_age\""));

    {
        char *text = strdup(sample);
        char *p = strstr(text, "crit_age");
        *p = '\0';
        cfg = parse(text, &err);
        free(text);
    }
    if (!cfg) {
        print_error("%s\n", err.msg);
        fail();
    }
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *v = omni_config_get(cfg, t[i].profile, t[i].key);
        if (!t[i].want) {
            if (v) {
                print_error("%s/%s: got \"%s\", want unset\n",
                            t[i].profile ? t[i].profile : "(null)", t[i].key, v);
                fail();
            }
            continue;
        }
        if (!v || strcmp(v, t[i].want) != 0) {
            print_error("%s/%s: got \"%s\", want \"%s\"\n", t[i].profile ? t[i].profile : "(null)",
                        t[i].key, v ? v : "(unset)", t[i].want);
            fail();
        }
    }
    assert_true(omni_config_has_profile(cfg, NULL));
    assert_true(omni_config_has_profile(cfg, "default"));
    assert_true(omni_config_has_profile(cfg, "staging"));
    assert_true(omni_config_has_profile(cfg, "local"));
    assert_false(omni_config_has_profile(cfg, "profile staging"));
    assert_false(omni_config_has_profile(cfg, "prod"));
    /* unknown profile: lookups still fall back to default */
    assert_string_equal(omni_config_get(cfg, "prod", "timeout"), "30s");

    assert_string_equal(omni_config_env_key_file(cfg, NULL, "env_01ABC"),
                        HOME "/.config/omni/env_01ABC.key");
    assert_string_equal(omni_config_env_key_file(cfg, "staging", "env_01ABC"),
                        HOME "/.config/omni/env_01ABC.key");
    assert_string_equal(omni_config_env_key_file(cfg, "staging", "env_STAGE"), "/keys/stage.key");
    assert_null(omni_config_env_key_file(cfg, NULL, "env_STAGE"));
    assert_null(omni_config_env_key_file(cfg, NULL, "env_none"));
    assert_null(omni_config_env_key_file(cfg, NULL, ""));
    assert_null(omni_config_env_key_file(cfg, NULL, NULL));
    omni_config_free(cfg);
}

static void test_semantics(void **state)
{
    static const struct {
        const char *text;
        struct lookup l[3];
    } t[] = {
        /* duplicate key: last wins */
        {"timeout = 1s\ntimeout = 2s\n", {{NULL, "timeout", "2s"}}},
        /* section repeated: keys merge */
        {"[a]\ntimeout = 1s\n[b]\n[a]\nrefresh = 2s\n",
         {{"a", "timeout", "1s"}, {"a", "refresh", "2s"}, {"b", "timeout", NULL}}},
        /* [profile default] is [default] */
        {"[profile default]\ntimeout = 3s\n", {{NULL, "timeout", "3s"}}},
        /* profile keyword with extra blanks, section with blanks */
        {"[ profile   p1 ]\ntimeout = 4s\n[ p2 ]\ntimeout=5s\n",
         {{"p1", "timeout", "4s"}, {"p2", "timeout", "5s"}}},
        /* [profile] alone is a section named "profile" */
        {"[profile]\ntimeout = 6s\n", {{"profile", "timeout", "6s"}}},
        /* CRLF, BOM, tabs */
        {"\xEF\xBB\xBF[p]\r\n\ttimeout\t=\t7s\t\r\n", {{"p", "timeout", "7s"}}},
        /* quotes and escapes */
        {"x-a = \"a \\\"b\\\" \\\\c \\n\"\n", {{NULL, "x-a", "a \"b\" \\c \\n"}}},
        /* ~ expansion, only at the start, only "~" or "~/" */
        {"x-a = ~\nx-b = ~/k\nx-c = ~other/k\nx-d = a/~/b\n",
         {{NULL, "x-a", HOME}, {NULL, "x-b", HOME "/k"}, {NULL, "x-c", "~other/k"}}},
        {"x-a = \"~/q k\"\n", {{NULL, "x-a", HOME "/q k"}}},
        /* inline comments need a blank before them */
        {"x-a = a#b\nx-b = a ;b\nx-c = a\t# b\n",
         {{NULL, "x-a", "a#b"}, {NULL, "x-b", "a"}, {NULL, "x-c", "a"}}},
        /* x- keys may be empty */
        {"x-a =\nx-b = \"\"\n", {{NULL, "x-a", ""}, {NULL, "x-b", ""}}},
        /* no newline at end */
        {"timeout = 9s", {{NULL, "timeout", "9s"}}},
        /* empty text */
        {"", {{NULL, "timeout", NULL}}},
        /* value with '=' */
        {"x-q = a=b=c\n", {{NULL, "x-q", "a=b=c"}}},
        /* bare number of seconds and fractional durations */
        {"timeout = 30\nrefresh = 0.5\n", {{NULL, "timeout", "30"}, {NULL, "refresh", "0.5"}}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct omni_err err = OMNI_ERR_INIT;
        struct omni_config *cfg = parse(t[i].text, &err);
        if (!cfg) {
            print_error("case %zu: %s\n", i, err.msg);
            fail();
        }
        for (size_t j = 0; j < 3 && t[i].l[j].key; j++) {
            const struct lookup *l = &t[i].l[j];
            const char *v = omni_config_get(cfg, l->profile, l->key);
            if (l->want ? !v || strcmp(v, l->want) != 0 : v != NULL) {
                print_error("case %zu %s: got \"%s\", want \"%s\"\n", i, l->key, v ? v : "(unset)",
                            l->want ? l->want : "(unset)");
                fail();
            }
        }
        omni_config_free(cfg);
    }
}

static void test_errors(void **state)
{
    static const struct {
        const char *text;
        const char *msg; /* expected substring, includes the line */
    } t[] = {
        {"bogus = 1\n", "test.conf:1: unknown key \"bogus\""},
        {"\n\n[p]\ntimeot = 1s\n", "test.conf:4: unknown key \"timeot\""},
        {"BASE_URL = http://x\n", "unknown key \"BASE_URL\""},
        {"just words\n", "test.conf:1: expected \"key = value\""},
        {"= value\n", "missing key"},
        {"ba se = x\n", "invalid key name"},
        {"[p\n", "test.conf:1: section header without \"]\""},
        {"[]\n", "invalid section name"},
        {"[profile a b]\n", "invalid section name"},
        {"[a b]\n", "invalid section name"},
        {"[a] junk\n", "text after section header"},
        {"x-a = \"open\n", "unterminated quoted value"},
        {"x-a = \"a\" b\n", "text after quoted value"},
        {"timeout = soon\n", "test.conf:1: \"timeout\" is not a duration"},
        {"timeout = -5s\n", "\"timeout\" is not a duration"},
        {"refresh = 1x\n", "\"refresh\" is not a duration"},
        {"log_format = xml\n", "\"log_format\" must be \"text\" or \"json\""},
        {"base_url = ftp://x\n", "\"base_url\" must start with http:// or https://"},
        {"base_url =\n", "empty value for \"base_url\""},
        {"environment = # nothing\n", "empty value for \"environment\""},
        {"env_key_file. = /k\n", "unknown key \"env_key_file.\""},
        {"env_key_file.a.b = /k\n", "unknown key \"env_key_file.a.b\""},
        {"x- = 1\n", "unknown key \"x-\""},
        {"x-a = a\x01"
         "b\n",
         "test.conf:1: control character"},
        {"x-a = a\rb\n", "control character"},
        {"ok = \n", "unknown key \"ok\""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct omni_err err = OMNI_ERR_INIT;
        struct omni_config *cfg = parse(t[i].text, &err);
        if (cfg) {
            print_error("case %zu accepted\n", i);
            omni_config_free(cfg);
            fail();
        }
        assert_int_equal(err.kind, OMNI_E_CONFIG);
        if (!strstr(err.msg, t[i].msg)) {
            print_error("case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, t[i].msg);
            fail();
        }
        assert_true(strncmp(err.msg, "config test.conf:", 17) == 0);
    }
    /* NUL byte inside the text */
    {
        static const char nul[] = "x-a = a\0b\n";
        struct omni_err err = OMNI_ERR_INIT;
        assert_null(omni_config_parse(nul, sizeof nul - 1, "n.conf", &err));
        assert_non_null(strstr(err.msg, "n.conf:1: control character"));
    }
}

static void test_values_not_echoed(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;

    assert_null(parse("timeout = sk-ant-api03-SECRET\n", &err));
    assert_null(strstr(err.msg, "SECRET"));
    assert_null(parse("base_url = sk-ant-api03-SECRET\n", &err));
    assert_null(strstr(err.msg, "SECRET"));
    assert_null(parse("api_key = sk-ant-api03-SECRET\n", &err));
    assert_null(strstr(err.msg, "SECRET"));
    assert_non_null(strstr(err.msg, "unknown key \"api_key\""));
}

static void test_home_unset(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_config *cfg;

    unsetenv("HOME");
    assert_null(parse("api_key_file = ~/k\n", &err));
    assert_non_null(strstr(err.msg, "HOME is not set"));
    cfg = parse("api_key_file = /abs/k\n", &err);
    assert_non_null(cfg);
    omni_config_free(cfg);
    setenv("HOME", HOME, 1);
}

static void test_caps(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_config *cfg;
    char *big;
    size_t n = 0, cap = (size_t)OMNI_CONFIG_MAX_BYTES + 2;

    /* too many entries */
    big = malloc(cap);
    for (int i = 0; i <= OMNI_CONFIG_MAX_ENTRIES; i++)
        n += (size_t)snprintf(big + n, cap - n, "x-%d = v\n", i);
    cfg = omni_config_parse(big, n, "big.conf", &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "more than"));
    assert_non_null(strstr(err.msg, "big.conf:4097:"));
    /* exactly the maximum is fine; repeating a key does not count */
    n = 0;
    for (int i = 0; i < OMNI_CONFIG_MAX_ENTRIES; i++)
        n += (size_t)snprintf(big + n, cap - n, "x-%d = v\n", i);
    n += (size_t)snprintf(big + n, cap - n, "x-0 = w\n");
    cfg = omni_config_parse(big, n, "big.conf", &err);
    assert_non_null(cfg);
    assert_string_equal(omni_config_get(cfg, NULL, "x-0"), "w");
    omni_config_free(cfg);
    /* too many bytes */
    memset(big, '\n', cap);
    assert_null(omni_config_parse(big, OMNI_CONFIG_MAX_BYTES + 1, "big.conf", &err));
    assert_non_null(strstr(err.msg, "larger than"));
    cfg = omni_config_parse(big, OMNI_CONFIG_MAX_BYTES, "big.conf", &err);
    assert_non_null(cfg);
    omni_config_free(cfg);
    free(big);
}

static void test_load(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_config *cfg;
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/missing", tmpdir);
    cfg = omni_config_load(path, 1, &err);
    assert_non_null(cfg);
    assert_null(omni_config_get(cfg, NULL, "base_url"));
    assert_true(omni_config_has_profile(cfg, "default"));
    assert_false(omni_config_has_profile(cfg, "x"));
    omni_config_free(cfg);
    assert_null(omni_config_load(path, 0, &err));
    assert_non_null(strstr(err.msg, path));

    snprintf(path, sizeof path, "%s/config", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[p]\nbase_url = http://127.0.0.1:1\n\nnope = 1\n", f);
    fclose(f);
    assert_null(omni_config_load(path, 1, &err));
    {
        char want[600];
        snprintf(want, sizeof want, "config %s:4: unknown key \"nope\"", path);
        assert_string_equal(err.msg, want);
    }
    f = fopen(path, "w");
    fputs("[p]\nbase_url = http://127.0.0.1:1\n", f);
    fclose(f);
    cfg = omni_config_load(path, 0, &err);
    assert_non_null(cfg);
    assert_string_equal(omni_config_get(cfg, "p", "base_url"), "http://127.0.0.1:1");
    omni_config_free(cfg);

    /* a directory is not a config file */
    assert_null(omni_config_load(tmpdir, 1, &err));
    assert_non_null(strstr(err.msg, "not a regular file"));

    /* too big on disk */
    f = fopen(path, "w");
    for (int i = 0; i <= OMNI_CONFIG_MAX_BYTES / 64; i++)
        fprintf(f, "%063d\n", 0);
    fclose(f);
    assert_null(omni_config_load(path, 0, &err));
    assert_non_null(strstr(err.msg, "larger than"));
    omni_config_free(NULL);
}

static void test_default_path(void **state)
{
    char *p;

    setenv("OMNI_CONFIG", "/etc/omni.conf", 1);
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    p = omni_config_default_path();
    assert_string_equal(p, "/etc/omni.conf");
    free(p);
    unsetenv("OMNI_CONFIG");
    p = omni_config_default_path();
    assert_string_equal(p, "/xdg/omni/config");
    free(p);
    setenv("XDG_CONFIG_HOME", "", 1);
    p = omni_config_default_path();
    assert_string_equal(p, HOME "/.config/omni/config");
    free(p);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_null(omni_config_default_path());
    setenv("HOME", HOME, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),     cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_values_not_echoed),
        cmocka_unit_test(test_home_unset), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_load),       cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
