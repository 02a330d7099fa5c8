/* Unit tests for lib/creds.c: key kinds, key files, base64, the work secret. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "creds.h"
#include "err.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/omni-test-creds-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write `len` bytes to tmpdir/name with `mode`; returns the path (static). */
static const char *write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    static char path[512];
    int fd;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

/* ---- classification ------------------------------------------------------ */

static void test_classify(void **state)
{
    static const struct {
        const char *key;
        enum omni_key_kind kind;
    } t[] = {
        {"sk-ant-api03-abc", OMNI_KEY_ORG},
        {"sk-ant-oat01-abc", OMNI_KEY_ENV},
        {"sk-ant-req-example", OMNI_KEY_SESSION},
        {"sk-ant-api", OMNI_KEY_ORG},
        {"sk-ant-ap", OMNI_KEY_UNKNOWN},
        {"SK-ANT-API03", OMNI_KEY_UNKNOWN},
        {"", OMNI_KEY_UNKNOWN},
        {"private-deployment-key", OMNI_KEY_UNKNOWN},
        {" sk-ant-api03", OMNI_KEY_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(omni_key_classify(t[i].key), t[i].kind);
    assert_int_equal(omni_key_classify(NULL), OMNI_KEY_UNKNOWN);
    assert_string_equal(omni_key_kind_name(OMNI_KEY_ORG), "organisation API key");
    assert_string_equal(omni_key_kind_name(OMNI_KEY_ENV), "environment key");
    assert_string_equal(omni_key_kind_name(OMNI_KEY_SESSION), "sessions token");
    assert_string_equal(omni_key_kind_name(OMNI_KEY_UNKNOWN), "unknown key");
}

static void test_key_check(void **state)
{
    static const struct {
        const char *key;
        int ok;
        const char *msg_part;
    } t[] = {
        {"sk-ant-oat01-abc", 1, NULL},
        {"x", 1, NULL},
        {"\xc3\xa9t\xc3\xa9", 1, NULL},
        {"", 0, "is empty"},
        {"sk-ant oat", 0, "whitespace or control"},
        {"sk-ant-oat\n", 0, "whitespace or control"},
        {"sk-ant-oat\r\nX-Evil: 1", 0, "whitespace or control"},
        {"sk\tx", 0, "whitespace or control"},
        {"sk\x7f", 0, "whitespace or control"},
    };
    struct omni_err err = OMNI_ERR_INIT;
    char *longkey;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        omni_err_clear(&err);
        int r = omni_key_check(t[i].key, "ANTHROPIC_ENVIRONMENT_KEY", &err);
        assert_int_equal(r, t[i].ok ? 0 : -1);
        if (!t[i].ok) {
            assert_int_equal(err.kind, OMNI_E_CONFIG);
            assert_non_null(strstr(err.msg, "ANTHROPIC_ENVIRONMENT_KEY"));
            assert_non_null(strstr(err.msg, t[i].msg_part));
            if (t[i].key[0])
                assert_null(strstr(err.msg, t[i].key));
        }
    }
    assert_int_equal(omni_key_check(NULL, "k", &err), -1);
    longkey = malloc(OMNI_KEY_MAX + 2);
    memset(longkey, 'a', OMNI_KEY_MAX + 1);
    longkey[OMNI_KEY_MAX + 1] = '\0';
    assert_int_equal(omni_key_check(longkey, "k", &err), -1);
    assert_non_null(strstr(err.msg, "longer than"));
    longkey[OMNI_KEY_MAX] = '\0';
    assert_int_equal(omni_key_check(longkey, "k", &err), 0);
    free(longkey);
}

/* ---- key files ------------------------------------------------------------ */

#define SECRET_KEY "sk-ant-oat01-SECRETVALUE123"

static void test_key_file_ok(void **state)
{
    static const struct {
        const char *content;
        const char *want;
    } t[] = {
        {SECRET_KEY "\n", SECRET_KEY},
        {SECRET_KEY, SECRET_KEY},
        {"  " SECRET_KEY " \t\r\n", SECRET_KEY},
        {SECRET_KEY "\r\n", SECRET_KEY},
        {SECRET_KEY "\nsecond line ignored\n", SECRET_KEY},
    };
    struct omni_err err = OMNI_ERR_INIT;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *path = write_file("ok.key", t[i].content, strlen(t[i].content), 0600);
        char *k = omni_key_read_file(path, &err);
        assert_non_null(k);
        assert_string_equal(k, t[i].want);
        omni_key_free(k);
    }
    /* 0400 is fine too */
    {
        const char *path = write_file("ro.key", SECRET_KEY, strlen(SECRET_KEY), 0400);
        char *k = omni_key_read_file(path, &err);
        assert_non_null(k);
        omni_key_free(k);
    }
    omni_key_free(NULL);
}

static void expect_refused(const char *path, const char *msg_part)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *k = omni_key_read_file(path, &err);

    if (k) {
        print_error("\"%s\" was accepted\n", path);
        omni_key_free(k);
        fail();
    }
    assert_int_equal(err.kind, OMNI_E_CONFIG);
    if (!strstr(err.msg, msg_part)) {
        print_error("message \"%s\" lacks \"%s\"\n", err.msg, msg_part);
        fail();
    }
    assert_non_null(strstr(err.msg, path));
    assert_null(strstr(err.msg, "SECRETVALUE"));
}

static void test_key_file_mode(void **state)
{
    /* 0640/0440 with the process's own group is accepted (test_file.c) */
    static const mode_t bad[] = {0644, 0604, 0660, 0606, 0610, 0601, 0677, 0777, 0620, 0460};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *path = write_file("loose.key", SECRET_KEY "\n", strlen(SECRET_KEY) + 1, bad[i]);
        expect_refused(path, "chmod 600");
        expect_refused(path, "(mode 0");
    }
}

static void test_key_file_refusals(void **state)
{
    char path[512], big[OMNI_KEY_MAX + 10];
    const char *p;

    p = write_file("empty.key", "", 0, 0600);
    expect_refused(p, "is empty");
    p = write_file("blank.key", " \n\nsk-ant-oat01-x\n", 16, 0600);
    expect_refused(p, "is empty");
    p = write_file("ctl.key", "sk-ant-oat01-\x01SECRETVALUE\n", 26, 0600);
    expect_refused(p, "control characters");
    p = write_file("space.key", "sk-ant oat01-SECRETVALUE\n", 25, 0600);
    expect_refused(p, "control characters");
    p = write_file("nul.key", "sk-ant\0oat01-SECRETVALUE\n", 25, 0600);
    expect_refused(p, "control characters");
    memset(big, 'a', sizeof big);
    p = write_file("big.key", big, OMNI_KEY_MAX + 1, 0600);
    expect_refused(p, "larger than");
    p = write_file("max.key", big, OMNI_KEY_MAX, 0600);
    {
        struct omni_err err = OMNI_ERR_INIT;
        char *k = omni_key_read_file(p, &err);
        assert_non_null(k);
        assert_int_equal(strlen(k), OMNI_KEY_MAX);
        omni_key_free(k);
    }
    /* not a regular file: a directory and a FIFO */
    snprintf(path, sizeof path, "%s/dir.key", tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_refused(path, "not a regular file");
    snprintf(path, sizeof path, "%s/fifo.key", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    expect_refused(path, "not a regular file");
    /* missing */
    snprintf(path, sizeof path, "%s/missing.key", tmpdir);
    expect_refused(path, "cannot open");
}

/* ---- base64 --------------------------------------------------------------- */

static void test_base64_vectors(void **state)
{
    static const struct {
        const char *plain, *url;
    } t[] = {
        {"", ""},
        {"f", "Zg"},
        {"fo", "Zm8"},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy"},
        {"\xfb\xff\xbf", "-_-_"},
        {"\xfb\xef", "--8"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = strlen(t[i].plain), outlen = 99;
        char *enc = omni_base64url_encode((const unsigned char *)t[i].plain, n);
        unsigned char *dec;
        assert_string_equal(enc, t[i].url);
        dec = omni_base64_decode(enc, &outlen);
        assert_non_null(dec);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, t[i].plain, n);
        assert_int_equal(dec[n], 0);
        free(dec);
        free(enc);
    }
}

static void test_base64_decode_forms(void **state)
{
    static const struct {
        const char *in;
        const char *want; /* NULL: refused */
        size_t want_len;
    } t[] = {
        {"Zm9vYg==", "foob", 4},
        {"Zm9vYg", "foob", 4},
        {"Zm9vYmE=", "fooba", 5},
        {"Zm9vYmE", "fooba", 5},
        {"+/+/", "\xfb\xff\xbf", 3},
        {"-_-_", "\xfb\xff\xbf", 3},
        {"+_-/", "\xfb\xff\xbf", 3},
        {"", "", 0},
        {"Z", NULL, 0},
        {"Zm9vY", NULL, 0},
        {"Zg=", NULL, 0},
        {"Zg===", NULL, 0},
        {"Z===", NULL, 0},
        {"Zm8==", NULL, 0},
        {"=Zg=", NULL, 0},
        {"Zg==Zg==", NULL, 0},
        {"Zm9v\n", NULL, 0},
        {"Zm 9v", NULL, 0},
        {"Zm9v!", NULL, 0},
        {"Zm9v.", NULL, 0},
        {"====", NULL, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = 0;
        unsigned char *d = omni_base64_decode(t[i].in, &n);
        if (!t[i].want) {
            if (d) {
                print_error("\"%s\" decoded but should be refused\n", t[i].in);
                fail();
            }
            continue;
        }
        assert_non_null(d);
        assert_int_equal(n, t[i].want_len);
        assert_memory_equal(d, t[i].want, n);
        free(d);
    }
}

static void test_base64_roundtrip(void **state)
{
    unsigned char data[257];

    srand(1234);
    for (size_t len = 0; len < sizeof data; len++) {
        for (size_t i = 0; i < len; i++)
            data[i] = (unsigned char)(rand() & 0xff);
        char *enc = omni_base64url_encode(data, len);
        size_t n;
        unsigned char *dec;
        assert_non_null(enc);
        assert_null(strchr(enc, '='));
        assert_null(strchr(enc, '+'));
        assert_null(strchr(enc, '/'));
        dec = omni_base64_decode(enc, &n);
        assert_non_null(dec);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
        free(dec);
        free(enc);
    }
}

/* ---- work secret ---------------------------------------------------------- */

/* base64url (unpadded) of a JSON text; caller frees. */
static char *enc_json(const char *json)
{
    return omni_base64url_encode((const unsigned char *)json, strlen(json));
}

/* Turn unpadded base64url into padded standard base64. */
static char *to_std_padded(const char *url)
{
    size_t n = strlen(url);
    char *s = malloc(n + 4);
    size_t i;
    for (i = 0; i < n; i++)
        s[i] = url[i] == '-' ? '+' : url[i] == '_' ? '/' : url[i];
    while (i % 4)
        s[i++] = '=';
    s[i] = '\0';
    return s;
}

#define TOKEN "sk-ant-req-SECRETTOKEN"

static void test_secret_protocol_example(void **state)
{
    const char *wire = "eyJzZXNzaW9uc190b2tlbiI6InNrLWFudC1yZXEtZXhhbXBsZSIsImFwaV9iYXNlX3VybCI6"
                       "Imh0dHA6Ly8xMjcuMC4wLjE6ODA4MCJ9";
    struct omni_err err = OMNI_ERR_INIT;
    char *tok, *url;

    assert_int_equal(omni_secret_decode(wire, &tok, &url, &err), 0);
    assert_string_equal(tok, "sk-ant-req-example");
    assert_string_equal(url, "http://127.0.0.1:8080");
    omni_key_free(tok);
    free(url);
    /* api_base_url may be ignored by passing NULL */
    assert_int_equal(omni_secret_decode(wire, &tok, NULL, &err), 0);
    assert_string_equal(tok, "sk-ant-req-example");
    omni_key_free(tok);
}

static void test_secret_good(void **state)
{
    static const struct {
        const char *json;
        const char *url; /* expected api_base_url, NULL when absent */
    } t[] = {
        {"{\"sessions_token\":\"" TOKEN "\"}", NULL},
        {"{\"sessions_token\":\"" TOKEN "\",\"api_base_url\":\"http://127.0.0.1:9\"}",
         "http://127.0.0.1:9"},
        {"{\"sessions_token\":\"" TOKEN "\",\"api_base_url\":42}", NULL},
        {"{\"sessions_token\":\"" TOKEN "\",\"api_base_url\":null}", NULL},
        {"{\"sessions_token\":\"" TOKEN "\",\"api_base_url\":\"\"}", NULL},
        {"{\"sessions_token\":\"" TOKEN "\",\"api_base_url\":{\"a\":1}}", NULL},
        {"{\"session_ingress_token\":\"x\",\"auth\":{\"k\":[1,2]},\"sessions_token\":\"" TOKEN
         "\"}",
         NULL},
        {" \n{ \"sessions_token\" : \"" TOKEN "\" } \n", NULL},
        {"{\"sessions_token\":\"" TOKEN "\",\"x\":\"\\u00e9\"}", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *url_wire = enc_json(t[i].json);
        char *std_wire = to_std_padded(url_wire);
        const char *forms[2] = {url_wire, std_wire};
        for (int f = 0; f < 2; f++) {
            struct omni_err err = OMNI_ERR_INIT;
            char *tok = (char *)1, *url = (char *)1;
            int r = omni_secret_decode(forms[f], &tok, &url, &err);
            if (r != 0) {
                print_error("case %zu form %d: %s\n", i, f, err.msg);
                fail();
            }
            assert_string_equal(tok, TOKEN);
            if (t[i].url) {
                assert_non_null(url);
                assert_string_equal(url, t[i].url);
            } else {
                assert_null(url);
            }
            omni_key_free(tok);
            free(url);
        }
        free(url_wire);
        free(std_wire);
    }
}

static void expect_secret_refused(const char *wire, const char *msg_part)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *tok = (char *)1, *url = (char *)1;

    assert_int_equal(omni_secret_decode(wire, &tok, &url, &err), -1);
    assert_null(tok);
    assert_null(url);
    assert_int_equal(err.kind, OMNI_E_PARSE);
    if (!strstr(err.msg, msg_part)) {
        print_error("message \"%s\" lacks \"%s\"\n", err.msg, msg_part);
        fail();
    }
    /* never the payload, the token or a part of it */
    assert_null(strstr(err.msg, "SECRET"));
    if (*wire && strlen(wire) >= 4)
        assert_null(strstr(err.msg, wire));
}

static void test_secret_bad(void **state)
{
    static const struct {
        const char *json;
        const char *msg_part;
    } t[] = {
        {"not json SECRETTOKEN", "does not decode to JSON"},
        {"{\"sessions_token\":\"" TOKEN "\"", "does not decode to JSON"},
        {"[\"" TOKEN "\"]", "not a JSON object"},
        {"\"" TOKEN "\"", "not a JSON object"},
        {"42", "not a JSON object"},
        {"{}", "no \"sessions_token\""},
        {"{\"api_base_url\":\"http://x\",\"token\":\"" TOKEN "\"}", "no \"sessions_token\""},
        {"{\"sessions_token\":\"\"}", "is empty"},
        {"{\"sessions_token\":42}", "not a string"},
        {"{\"sessions_token\":null}", "not a string"},
        {"{\"sessions_token\":{\"v\":\"" TOKEN "\"}}", "not a string"},
        {"{\"sessions_token\":[\"" TOKEN "\"]}", "not a string"},
        {"{\"sessions_token\":\"" TOKEN "\\r\\nX-Evil: 1\"}", "whitespace or control"},
        {"{\"sessions_token\":\"sk-ant-req SECRET\"}", "whitespace or control"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *wire = enc_json(t[i].json);
        char *std = to_std_padded(wire);
        expect_secret_refused(wire, t[i].msg_part);
        expect_secret_refused(std, t[i].msg_part);
        free(wire);
        free(std);
    }
}

static void test_secret_bad_wire(void **state)
{
    char *wire = enc_json("{\"sessions_token\":\"" TOKEN "\"}");
    char *bad;
    size_t n = strlen(wire);

    expect_secret_refused("", "is empty");
    expect_secret_refused("!!!!", "not valid base64");
    expect_secret_refused("Z", "not valid base64");
    /* a valid secret with one character broken */
    bad = strdup(wire);
    bad[n / 2] = '*';
    expect_secret_refused(bad, "not valid base64");
    free(bad);
    /* a newline inside */
    bad = malloc(n + 2);
    memcpy(bad, wire, 8);
    bad[8] = '\n';
    memcpy(bad + 9, wire + 8, n - 8 + 1);
    expect_secret_refused(bad, "not valid base64");
    free(bad);
    /* too long */
    bad = malloc(OMNI_SECRET_MAX + 2);
    memset(bad, 'A', OMNI_SECRET_MAX + 1);
    bad[OMNI_SECRET_MAX + 1] = '\0';
    expect_secret_refused(bad, "longer than");
    free(bad);
    free(wire);
    {
        struct omni_err err = OMNI_ERR_INIT;
        char *tok = (char *)1;
        assert_int_equal(omni_secret_decode(NULL, &tok, NULL, &err), -1);
        assert_null(tok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_key_check),
        cmocka_unit_test(test_key_file_ok),
        cmocka_unit_test(test_key_file_mode),
        cmocka_unit_test(test_key_file_refusals),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_decode_forms),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_secret_protocol_example),
        cmocka_unit_test(test_secret_good),
        cmocka_unit_test(test_secret_bad),
        cmocka_unit_test(test_secret_bad_wire),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
