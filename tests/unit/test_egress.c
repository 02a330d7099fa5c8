/*
 * The egress allow-list (worker/egress.h): host-name validation, resolver
 * parsing, the nginx configuration (refusing every input that could change
 * its meaning), the sandbox's hosts file and the bubblewrap pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/egress.h"

static void test_name_valid(void **state)
{
    static const char *const good[] = {
        "example.com",
        "api.example.com",
        "a.b",
        "EXAMPLE.Com",
        "x-y.example.com",
        "xn--bcher-kva.example",
        "*.example.com",
        "*.a.b",
        "1.example.com",
        "a.1x",
        "s3.amazonaws.com",
        "a.0xg",
        "0x10.example",
    };
    static const char *const bad[] = {
        NULL,
        "",
        ".",
        "com",
        "localhost",
        "a.localhost",
        "*.localhost",
        "A.LocalHost",
        "127.0.0.1",
        "10.1",
        "1.2.3.4",
        "0x7f.1",
        "0x7f000001",
        "1.0x7f",
        "example.123",
        "::1",
        "[::1]",
        "fe80::1",
        "::ffff:127.0.0.1",
        "a..b",
        ".a.b",
        "a.b.",
        "-a.b",
        "a-.b",
        "a.-b",
        "a.b-",
        "a_b.com",
        "a b.com",
        "a.b;",
        "a.b\"",
        "a.b}",
        "a.b{",
        "$host.b",
        "a.b\n",
        "a.b/x",
        "a.b:443",
        "*",
        "*.",
        "*.com",
        "**.a.b",
        "*a.b",
        "a.*.b",
        "*.*.a.b",
        "\xc3\xa9.example",
        "a.b#",
    };
    char longlabel[80], longname[300];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!egress_name_valid(good[i]))
            fail_msg("refused good name \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (egress_name_valid(bad[i]))
            fail_msg("accepted bad name \"%s\"", bad[i]);
    /* label of 63 ok, 64 not */
    memset(longlabel, 'a', 63);
    strcpy(longlabel + 63, ".com");
    assert_true(egress_name_valid(longlabel));
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".com");
    assert_false(egress_name_valid(longlabel));
    /* 253 bytes in all ok, 254 not */
    memset(longname, 0, sizeof(longname));
    for (size_t i = 0; i < 250; i += 2)
        memcpy(longname + i, "a.", 2);
    memcpy(longname + 250, "com", 3); /* 253 */
    assert_int_equal(strlen(longname), 253);
    assert_true(egress_name_valid(longname));
    snprintf(longlabel, sizeof(longlabel), "*.%.59s", longname);
    assert_true(egress_name_valid(longlabel));
    char longer[320];
    snprintf(longer, sizeof(longer), "x%s", longname); /* 254 */
    assert_false(egress_name_valid(longer));
}

static void test_resolver_parse(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(egress_resolver_parse("10.0.0.2", out, sizeof(out)), 0);
    assert_string_equal(out, "10.0.0.2:53");
    assert_int_equal(egress_resolver_parse("127.0.0.1:5353", out, sizeof(out)), 0);
    assert_string_equal(out, "127.0.0.1:5353");
    assert_int_equal(egress_resolver_parse("::1", out, sizeof(out)), 0);
    assert_string_equal(out, "[::1]:53");
    assert_int_equal(egress_resolver_parse("[2001:DB8::0001]:54", out, sizeof(out)), 0);
    assert_string_equal(out, "[2001:db8::1]:54");
    static const char *const bad[] = {
        NULL,
        "",
        "dns.example",
        "1.2.3",
        "1.2.3.4.5",
        "010.0.0.1x",
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:53x",
        "1.2.3.4:-1",
        "1.2.3.4 valid=1s",
        "1.2.3.4;",
        "[::1",
        "[::1]x",
        "[::1]:",
        "::1%eth0",
        "[1.2.3.4]:53",
        "1.2.3.4:123456",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (egress_resolver_parse(bad[i], out, sizeof(out)) == 0)
            fail_msg("accepted bad resolver \"%s\"", bad[i] ? bad[i] : "(null)");
    assert_int_equal(egress_resolver_parse("1.2.3.4", out, 8), -1); /* too small */
}

static struct egress_spec spec_of(const char *const *names)
{
    struct egress_spec s = {0};
    s.names = names;
    s.run_dir = "/run/omni/egress/s1";
    s.resolver = "127.0.0.1:5353";
    s.client_uid = 1000;
    s.client_gid = 1000;
    return s;
}

static void test_config(void **state)
{
    static const char *const names[] = {"Example.com", "*.Pkg.Example.org", "example.COM", NULL};
    struct egress_spec s = spec_of(names);
    struct buf b = BUF_INIT;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    assert_int_equal(egress_config(&s, &b, &err), 0);
    const char *c = b.data;
    assert_non_null(strstr(c, "load_module \"" EGRESS_STREAM_MODULE "\";"));
    assert_non_null(strstr(c, "listen \"unix:/run/omni/egress/s1/tls.sock\";"));
    assert_non_null(strstr(c, "listen \"unix:/run/omni/egress/s1/http.sock\" default_server;"));
    assert_non_null(strstr(c, "ssl_preread on;"));
    assert_non_null(strstr(c, "resolver 127.0.0.1:5353 valid=30s ipv6=off;"));
    assert_non_null(strstr(c, "\"example.com\" \"example.com:443\";"));
    assert_non_null(strstr(c, "\"example.com\" \"example.com:80\";"));
    /* lower case, once per map */
    assert_null(strstr(c, "Example"));
    const char *first = strstr(c, "\"example.com\" \"example.com:443\";");
    assert_null(strstr(first + 1, "\"example.com\" \"example.com:443\";"));
    assert_non_null(strstr(c, "+pkg\\.example\\.org)$\" \"$egress_name:443\";"));
    assert_non_null(strstr(c, "default \"\";"));
    assert_non_null(strstr(c, "return 403;"));
    assert_non_null(strstr(c, "proxy_connect_timeout 10s;"));
    assert_non_null(strstr(c, "proxy_timeout 300s;"));
    assert_non_null(strstr(c, "resolver_timeout 5s;"));
    assert_null(strstr(c, "access_log /"));
    buf_release(&b);

    /* ports, timeouts, no stream module */
    s.upstream_tls_port = 8443;
    s.upstream_http_port = 8080;
    s.connect_timeout_s = 3;
    s.idle_timeout_s = 60;
    s.stream_module = "";
    assert_int_equal(egress_config(&s, &b, &err), 0);
    assert_non_null(strstr(b.data, "\"example.com\" \"example.com:8443\";"));
    assert_non_null(strstr(b.data, "\"example.com\" \"example.com:8080\";"));
    assert_non_null(strstr(b.data, "proxy_connect_timeout 3s;"));
    assert_non_null(strstr(b.data, "proxy_read_timeout 60s;"));
    assert_null(strstr(b.data, "load_module"));
    buf_release(&b);
}

static void expect_refused(struct egress_spec *s, const char *what)
{
    struct buf b = BUF_INIT;
    struct omni_err err = OMNI_ERR_INIT;
    if (egress_config(s, &b, &err) == 0)
        fail_msg("configuration written for %s:\n%s", what, b.data);
    assert_int_equal(b.len, 0);
    assert_true(err.kind == OMNI_E_USAGE || err.kind == OMNI_E_CONFIG);
    assert_true(err.msg[0] != '\0');
    assert_null(strchr(err.msg, '\n'));
    buf_release(&b);
}

static void test_config_refuses(void **state)
{
    static const char *const good[] = {"example.com", NULL};
    static const char *const injections[] = {
        "a.com\"; } server { listen 80; #",
        "a.com;",
        "a.com }",
        "a.com\ninclude /etc/x;",
        "$ssl_preread_server_name",
        "~.*",
        "default",
        "hostnames",
        "127.0.0.1",
        "a.com a.org",
    };
    struct egress_spec s;
    const char *names[3];

    (void)state;
    for (size_t i = 0; i < sizeof(injections) / sizeof(injections[0]); i++) {
        names[0] = "ok.example.com";
        names[1] = injections[i];
        names[2] = NULL;
        s = spec_of(names);
        expect_refused(&s, injections[i]);
    }
    static const char *const none[] = {NULL};
    s = spec_of(none);
    expect_refused(&s, "an empty list");
    s = spec_of(good);
    s.names = NULL;
    expect_refused(&s, "no list");

    static const char *const resolvers[] = {"1.1.1.1; include /x", "1.1.1.1 ipv6=on",
                                            "resolver.example", "1.1.1.1:0", ""};
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++) {
        s = spec_of(good);
        s.resolver = resolvers[i];
        expect_refused(&s, resolvers[i]);
    }
    static const char *const dirs[] = {"relative/dir",
                                       "/tmp/a\"b",
                                       "/tmp/a b",
                                       "/tmp/a;b",
                                       "/tmp/a{b",
                                       "/tmp/$x",
                                       "/tmp/../etc",
                                       "/tmp/./x",
                                       "/tmp/\nx",
                                       NULL,
                                       "/a/very/long/path/that/does/not/fit/into/the/sun_path"
                                       "/of/a/unix/socket/address/because/it/is/longer/than/"
                                       "one/hundred/and/eight"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        s = spec_of(good);
        s.run_dir = dirs[i];
        expect_refused(&s, dirs[i] ? dirs[i] : "(null run_dir)");
    }
    s = spec_of(good);
    s.stream_module = "/x\";y";
    expect_refused(&s, "a stream module path with a quote");
    s = spec_of(good);
    s.upstream_tls_port = 65536;
    expect_refused(&s, "port 65536");
    s = spec_of(good);
    s.upstream_http_port = -1;
    expect_refused(&s, "port -1");
    s = spec_of(good);
    s.connect_timeout_s = 76;
    expect_refused(&s, "connect timeout 76 s");
    s = spec_of(good);
    s.idle_timeout_s = -5;
    expect_refused(&s, "idle timeout -5 s");

    /* too many names */
    const char **many = calloc(EGRESS_NAMES_MAX + 2, sizeof(char *));
    assert_non_null(many);
    for (size_t i = 0; i <= EGRESS_NAMES_MAX; i++)
        many[i] = "example.com";
    s = spec_of(many);
    expect_refused(&s, "too many names");
    many[EGRESS_NAMES_MAX] = NULL;
    s = spec_of(many);
    struct buf b = BUF_INIT;
    struct omni_err err = OMNI_ERR_INIT;
    assert_int_equal(egress_config(&s, &b, &err), 0);
    buf_release(&b);
    free(many);
}

static void test_hosts_file(void **state)
{
    static const char *const names[] = {"Api.Example.com", "*.example.com", "api.example.com",
                                        "other.example.org", NULL};
    struct egress_spec s = spec_of(names);
    char out[1024];

    (void)state;
    int n = egress_hosts_file(&s, "127.0.0.1", out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_non_null(strstr(out, "127.0.0.1\tlocalhost\n"));
    assert_non_null(strstr(out, "\n127.0.0.1\tapi.example.com\n"));
    assert_non_null(strstr(out, "\n127.0.0.1\tother.example.org\n"));
    assert_null(strstr(out, "*"));
    assert_null(strstr(out, "Api"));
    assert_null(strstr(strstr(out, "api.example.com") + 1, "api.example.com"));
    assert_int_equal(egress_hosts_file(&s, "::1", out, sizeof(out)) > 0, 1);
    assert_int_equal(egress_hosts_file(&s, "localhost", out, sizeof(out)), -1);
    assert_int_equal(egress_hosts_file(&s, "127.0.0.1\nevil", out, sizeof(out)), -1);
    assert_int_equal(egress_hosts_file(&s, "127.0.0.1", out, 40), -1);
    static const char *const bad[] = {"ok.example.com", "evil.com\n1.2.3.4 x.com", NULL};
    s = spec_of(bad);
    assert_int_equal(egress_hosts_file(&s, "127.0.0.1", out, sizeof(out)), -1);
}

static void test_bwrap_argv_needs_proxy(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    char **opts = (char **)1, **cmd = (char **)1;

    (void)state;
    assert_int_equal(egress_bwrap_argv(NULL, 1, 1000, 1000, &opts, &cmd, &err), -1);
    assert_null(opts);
    assert_null(cmd);
    /* the relay script takes nothing of the session: constant text */
    assert_non_null(strstr(EGRESS_RELAY_SCRIPT, "TCP4-LISTEN:${p%:*},bind=127.0.0.1"));
    assert_non_null(strstr(EGRESS_RELAY_SCRIPT, "UNIX-CONNECT:" EGRESS_SANDBOX_DIR));
    assert_non_null(strstr(EGRESS_RELAY_SCRIPT, "</dev/null >/dev/null 2>&1 &)"));
}

/* A session's list is narrowed by the worker's: never widened. */
static void test_narrow(void **state)
{
    (void)state;
    const char *const allowed[] = {"api.example.com", "*.pypi.org", NULL};
    const char *out[8];
    char store[256], refused[80];
    int n = egress_narrow(allowed, "API.example.com, files.pypi.org x.y.pypi.org,evil.com,pypi.org",
                          store, sizeof(store), out, 8, refused, sizeof(refused));
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "API.example.com");
    assert_string_equal(out[1], "files.pypi.org");
    assert_string_equal(out[2], "x.y.pypi.org");
    assert_null(out[3]);
    assert_string_equal(refused, "evil.com");
    /* a wildcard asked for is kept only under a wildcard that covers it */
    n = egress_narrow(allowed, "*.example.com *.sub.pypi.org", store, sizeof(store), out, 8,
                      refused, sizeof(refused));
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "*.sub.pypi.org");
    assert_string_equal(refused, "*.example.com");
    /* nothing allowed, or an address: nothing kept */
    n = egress_narrow(allowed, "127.0.0.1", store, sizeof(store), out, 8, refused, sizeof(refused));
    assert_int_equal(n, 0);
    assert_null(out[0]);
    n = egress_narrow(NULL, "api.example.com", store, sizeof(store), out, 8, refused,
                      sizeof(refused));
    assert_int_equal(n, 0);
}

static void test_start_refuses_before_running(void **state)
{
    static const char *const names[] = {"example.com", "10.0.0.1", NULL};
    struct egress_spec s = spec_of(names);
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    s.run_dir = "/nonexistent-omni-egress-test/run";
    assert_null(egress_start(&s, &err));
    assert_int_equal(err.kind, OMNI_E_USAGE);
    assert_non_null(strstr(err.msg, "\"10.0.0.1\" is not a host name"));
    static const char *const ok_names[] = {"example.com", NULL};
    s = spec_of(ok_names);
    s.run_dir = "/nonexistent-omni-egress-test/run";
    s.nginx = "/nonexistent-omni-egress-test/nginx";
    assert_null(egress_start(&s, &err));
    assert_non_null(strstr(err.msg, "nginx not found"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_resolver_parse),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_refuses),
        cmocka_unit_test(test_hosts_file),
        cmocka_unit_test(test_bwrap_argv_needs_proxy),
        cmocka_unit_test(test_start_refuses_before_running),
        cmocka_unit_test(test_narrow),
    };
    return cmocka_run_group_tests_name("egress", tests, NULL, NULL);
}
