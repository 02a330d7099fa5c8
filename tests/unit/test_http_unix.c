/*
 * The HTTP client through an AF_UNIX socket (omni_client_opts.unix_socket):
 * the request goes over the socket while the URL's host still names the
 * server (Host header; TLS SNI for https), omni_client_dup() keeps the
 * socket, and a missing socket is a network error. The server is a thread
 * that accepts one connection, records what it read and writes a canned
 * answer (or closes without answering).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define UX_READ_MAX 8192
#define UX_WAIT_MS 5000
#define UX_HOST "api.relay-test.invalid"

static const char canned[] = "HTTP/1.1 200 OK\r\n"
                             "content-type: application/json\r\n"
                             "request-id: req_UNIX1\r\n"
                             "content-length: 13\r\n"
                             "connection: close\r\n"
                             "\r\n"
                             "{\"via\":\"unix\"}";

struct ux_server {
    char dir[64];
    char path[128];
    int lfd;
    int answer; /* 1: write `canned` after the request head; 0: close */
    pthread_t th;
    char got[UX_READ_MAX + 1];
    size_t got_len;
    int accepted;
};

static int ux_wait(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

static void *ux_serve(void *arg)
{
    struct ux_server *s = arg;
    int fd;

    if (!ux_wait(s->lfd, UX_WAIT_MS))
        return NULL;
    fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    s->accepted = 1;
    while (s->got_len < UX_READ_MAX && ux_wait(fd, UX_WAIT_MS)) {
        ssize_t n = read(fd, s->got + s->got_len, UX_READ_MAX - s->got_len);
        if (n <= 0)
            break;
        s->got_len += (size_t)n;
        s->got[s->got_len] = '\0';
        /* http: the head is complete; https: the ClientHello is enough */
        if (!s->answer || strstr(s->got, "\r\n\r\n"))
            break;
    }
    if (s->answer) {
        ssize_t w = write(fd, canned, sizeof canned - 1);
        (void)w;
    }
    close(fd);
    return NULL;
}

/* A TCP listener on 127.0.0.1 (ephemeral port) for the no-socket case. */
static int tcp_start(struct ux_server *s, int *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    memset(s, 0, sizeof *s);
    s->answer = 1;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s->lfd, 4) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return pthread_create(&s->th, NULL, ux_serve, s) == 0 ? 0 : -1;
}

static int ux_start(struct ux_server *s, int answer)
{
    struct sockaddr_un sa;

    memset(s, 0, sizeof *s);
    s->answer = answer;
    snprintf(s->dir, sizeof s->dir, "/tmp/omni-ux.XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    snprintf(s->path, sizeof s->path, "%s/api.sock", s->dir);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
    if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s->lfd, 4) < 0)
        return -1;
    return pthread_create(&s->th, NULL, ux_serve, s) == 0 ? 0 : -1;
}

static void ux_stop(struct ux_server *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
    if (s->path[0]) {
        unlink(s->path);
        rmdir(s->dir);
    }
}

static struct omni_client *ux_client(const char *base, const char *sock)
{
    struct omni_client_opts o = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c;

    o.base_url = base;
    o.auth = OMNI_AUTH_BEARER;
    o.credential = "sk-ant-oat01-UNIXTESTKEY";
    o.timeout_ms = UX_WAIT_MS;
    o.connect_timeout_ms = UX_WAIT_MS;
    o.max_retries = -1;
    o.unix_socket = sock;
    c = omni_client_new(&o, &err);
    assert_non_null(c);
    return c;
}

static void ux_get_ok(struct omni_client *c)
{
    struct omni_request rq = {.method = "GET", .path = "/v1/environments/env_1"};
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_err err = OMNI_ERR_INIT;

    assert_int_equal(omni_client_do(c, &rq, &rs, &err), 0);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.request_id, "req_UNIX1");
    assert_int_equal(rs.body.len, 13);
    assert_memory_equal(rs.body.data, "{\"via\":\"unix\"}", 13);
    omni_response_release(&rs);
}

/* Plain http: the request arrives over the socket, Host names the URL's host
 * (which does not resolve: no DNS or TCP is involved). */
static void test_http_over_unix_socket(void **state)
{
    struct ux_server s;
    struct omni_client *c;

    (void)state;
    assert_int_equal(ux_start(&s, 1), 0);
    c = ux_client("http://" UX_HOST ":8123/", s.path);
    ux_get_ok(c);
    omni_client_free(c);
    ux_stop(&s);
    assert_true(s.accepted);
    assert_non_null(strstr(s.got, "GET /v1/environments/env_1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s.got, "\r\nHost: " UX_HOST ":8123\r\n"));
    assert_non_null(strstr(s.got, "\r\nAuthorization: Bearer sk-ant-oat01-UNIXTESTKEY\r\n"));
}

/* omni_client_dup() keeps the socket; the original's copy is its own. */
static void test_dup_keeps_socket(void **state)
{
    struct ux_server s;
    struct omni_client *c, *d;
    struct omni_err err = OMNI_ERR_INIT;
    char path[128];

    (void)state;
    assert_int_equal(ux_start(&s, 1), 0);
    snprintf(path, sizeof path, "%s", s.path);
    c = ux_client("http://" UX_HOST, path);
    memset(path, 'x', sizeof path - 1); /* the client holds a copy */
    d = omni_client_dup(c, &err);
    assert_non_null(d);
    omni_client_free(c);
    ux_get_ok(d);
    omni_client_free(d);
    ux_stop(&s);
    assert_true(s.accepted);
    assert_non_null(strstr(s.got, "\r\nHost: " UX_HOST "\r\n"));
}

/* https: TLS still runs over the socket, with the URL's host as SNI; a peer
 * that is not a TLS server fails the request. */
static void test_https_sni_over_unix_socket(void **state)
{
    struct ux_server s;
    struct omni_client *c;
    struct omni_request rq = {.method = "GET", .path = "/v1/x"};
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    assert_int_equal(ux_start(&s, 0), 0);
    c = ux_client("https://" UX_HOST, s.path);
    assert_int_equal(omni_client_do(c, &rq, &rs, &err), -1);
    assert_int_equal(err.kind, OMNI_E_NET);
    omni_response_release(&rs);
    omni_client_free(c);
    ux_stop(&s);
    assert_true(s.accepted);
    assert_true(s.got_len > 5);
    assert_int_equal((unsigned char)s.got[0], 0x16); /* TLS handshake record */
    assert_non_null(memmem(s.got, s.got_len, UX_HOST, strlen(UX_HOST)));
}

/* A socket that is not there: a network error naming the request, quickly. */
static void test_missing_socket(void **state)
{
    struct omni_client *c;
    struct omni_request rq = {.method = "GET", .path = "/v1/x"};
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_err err = OMNI_ERR_INIT;

    (void)state;
    c = ux_client("http://" UX_HOST, "/nonexistent/omni-test/api.sock");
    assert_int_equal(omni_client_do(c, &rq, &rs, &err), -1);
    assert_int_equal(err.kind, OMNI_E_NET);
    assert_non_null(strstr(err.msg, "GET /v1/x"));
    assert_null(strstr(err.msg, "UNIXTESTKEY"));
    omni_response_release(&rs);
    omni_client_free(c);
}

/* An empty path means no socket: the client connects by TCP as usual. */
static void test_empty_socket_is_tcp(void **state)
{
    struct ux_server s;
    struct omni_client *c;
    char base[64];
    int port = 0;

    (void)state;
    assert_int_equal(tcp_start(&s, &port), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    c = ux_client(base, "");
    ux_get_ok(c);
    omni_client_free(c);
    ux_stop(&s);
    assert_true(s.accepted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_over_unix_socket),      cmocka_unit_test(test_dup_keeps_socket),
        cmocka_unit_test(test_https_sni_over_unix_socket), cmocka_unit_test(test_missing_socket),
        cmocka_unit_test(test_empty_socket_is_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
