/*
 * metrics_http — the --metrics-listen endpoint: a poll()-driven HTTP/1.0
 * responder on its own thread (the poll loop never waits on a scraper).
 * Strict caps: WM_CONNS connections (the oldest is dropped for a new one),
 * a request head of at most WM_REQ_MAX bytes, WM_CONN_MS from accept to the
 * last byte sent, responses of at most WM_RESP_MAX bytes. A scrape reads the
 * shared block only: no API call. The same thread writes the status to the
 * log on SIGUSR1.
 */
#include "metrics.h"

#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define WM_CONNS 8
#define WM_REQ_MAX 2048
#define WM_RESP_MAX (256u * 1024)
#define WM_CONN_MS 2000
#define WM_TICK_MS 250

struct conn {
    int fd;
    int64_t deadline;
    char req[WM_REQ_MAX];
    size_t rlen;
    struct buf out; /* the response, once the request head is complete */
    size_t sent;
    int ready; /* out holds the response */
};

static struct {
    int lfd;
    pthread_t th;
    int started;
    volatile int stop;
    struct wm_view view;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct conn conns[WM_CONNS];
} srv = {.lfd = -1};

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
    (void)sig;
    usr1 = 1;
}

/* Split HOST:PORT ([v6]:PORT); 0 or -1. */
static int split_hostport(const char *addr, char *host, size_t hl, char *port, size_t pl)
{
    const char *colon;
    size_t n;

    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return -1;
        n = (size_t)(rb - addr - 1);
        colon = rb + 1;
        addr++;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -1;
        n = (size_t)(colon - addr);
    }
    if (!n || n >= hl || strlen(colon + 1) >= pl || !colon[1])
        return -1;
    memcpy(host, addr, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    long v = strtol(port, NULL, 10);
    return v >= 1 && v <= 65535 && strlen(port) <= 5 ? 0 : -1;
}

int wm_addr_valid(const char *addr)
{
    char host[WM_ADDR_MAX], port[8];
    if (!addr || strlen(addr) >= WM_ADDR_MAX)
        return -1;
    if (strncmp(addr, "unix:", 5) == 0)
        return addr[5] == '/' && strlen(addr + 5) < sizeof srv.unix_path ? 0 : -1;
    return split_hostport(addr, host, sizeof host, port, sizeof port);
}

/* A connected (or listening, when listen_ != 0) socket for addr; -1 with err. */
static int addr_socket(const char *addr, int listen_, struct omni_err *err)
{
    int fd = -1;
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && listen_) {
            unlink(sa.sun_path); /* a stale socket of ours */
            if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0)
                goto fail;
            snprintf(srv.unix_path, sizeof srv.unix_path, "%s", sa.sun_path);
        } else if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            goto fail;
        }
        return fd;
    }
    char host[WM_ADDR_MAX], port[8];
    struct addrinfo hints = {0}, *res = NULL;
    if (split_hostport(addr, host, sizeof host, port, sizeof port) < 0) {
        omni_err_set(err, OMNI_E_USAGE, "\"%s\" is not HOST:PORT or unix:/path", addr);
        return -1;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (listen_ ? AI_PASSIVE : 0);
    int gr = getaddrinfo(host, port, &hints, &res);
    if (gr != 0) {
        omni_err_set(err, OMNI_E_NET, "%s: %s", addr, gai_strerror(gr));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && listen_) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
            freeaddrinfo(res);
            goto fail;
        }
    } else if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        freeaddrinfo(res);
        goto fail;
    }
    freeaddrinfo(res);
    if (fd < 0)
        omni_err_set(err, OMNI_E_IO, "%s: %s", addr, strerror(errno));
    return fd;
fail:
    omni_err_set(err, OMNI_E_IO, "%s: %s", addr, strerror(errno));
    close(fd);
    return -1;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->ready = 0;
    buf_release(&c->out);
}

static void view_now(struct wm_view *v)
{
    *v = srv.view;
    v->now_mono_ms = omni_mono_ms();
    v->now_wall_ms = omni_wall_us() / 1000;
}

/* The request head is complete: build the response. */
static void respond(struct conn *c)
{
    struct wm_block *b = wm_block();
    struct wm_view v;
    struct buf body = BUF_INIT_MAX(WM_RESP_MAX);
    const char *status = "200 OK", *ctype = "text/plain; charset=utf-8";
    char path[64] = "";

    view_now(&v);
    if (sscanf(c->req, "GET %63s", path) != 1) {
        status = "405 Method Not Allowed";
        buf_adds(&body, "only GET\n");
    } else if (!b) {
        status = "503 Service Unavailable";
        buf_adds(&body, "no metrics\n");
    } else if (strcmp(path, "/metrics") == 0) {
        ctype = "text/plain; version=0.0.4; charset=utf-8";
        wm_render_metrics(b, &v, &body);
    } else if (strcmp(path, "/healthz") == 0) {
        if (!wm_healthz(b, &v, &body))
            status = "503 Service Unavailable";
    } else if (strcmp(path, "/readyz") == 0) {
        if (!wm_readyz(b, &v, &body))
            status = "503 Service Unavailable";
    } else if (strcmp(path, "/status") == 0) {
        wm_render_status(b, &v, &body);
    } else {
        status = "404 Not Found";
        buf_adds(&body, "not found: /metrics /healthz /readyz /status\n");
    }
    buf_init(&c->out, WM_RESP_MAX + 512);
    buf_addf(&c->out,
             "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
             "close\r\nCache-Control: no-store\r\n\r\n",
             status, ctype, body.len);
    buf_add(&c->out, body.data, body.len);
    buf_release(&body);
    c->sent = 0;
    c->ready = 1;
}

static void conn_read(struct conn *c)
{
    ssize_t n = read(c->fd, c->req + c->rlen, sizeof c->req - 1 - c->rlen);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    c->rlen += (size_t)n;
    c->req[c->rlen] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        respond(c);
    else if (c->rlen >= sizeof c->req - 1)
        conn_close(c); /* a request head larger than the cap */
}

static void conn_write(struct conn *c)
{
    ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->sent += (size_t)n;
    if (c->sent >= c->out.len)
        conn_close(c);
}

static void accept_one(void)
{
    int fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct conn *c = NULL;
    if (fd < 0)
        return;
    for (int i = 0; i < WM_CONNS; i++) {
        if (srv.conns[i].fd < 0) {
            c = &srv.conns[i];
            break;
        }
        if (!c || srv.conns[i].deadline < c->deadline)
            c = &srv.conns[i];
    }
    if (c->fd >= 0)
        conn_close(c); /* full: drop the oldest */
    c->fd = fd;
    c->rlen = 0;
    c->req[0] = '\0';
    c->sent = 0;
    buf_init(&c->out, 0);
    c->deadline = omni_mono_ms() + WM_CONN_MS;
}

void wm_status_log(const struct wm_view *tmpl)
{
    struct wm_block *b = wm_block();
    struct buf o = BUF_INIT_MAX(WM_RESP_MAX);
    struct wm_view v = *tmpl;
    if (!b)
        return;
    v.now_mono_ms = omni_mono_ms();
    wm_render_status(b, &v, &o);
    buf_addc(&o, '\0');
    for (char *line = o.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        log_info("status: %s", line);
    }
    buf_release(&o);
}

static void *serve_main(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        struct pollfd p[WM_CONNS + 1];
        int idx[WM_CONNS + 1], n = 0;
        int64_t now = omni_mono_ms();

        if (usr1) {
            usr1 = 0;
            wm_status_log(&srv.view);
        }
        if (srv.lfd >= 0) {
            p[n] = (struct pollfd){srv.lfd, POLLIN, 0};
            idx[n++] = -1;
        }
        for (int i = 0; i < WM_CONNS; i++) {
            struct conn *c = &srv.conns[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline) {
                conn_close(c); /* a slow or silent client */
                continue;
            }
            p[n] = (struct pollfd){c->fd, c->ready ? POLLOUT : POLLIN, 0};
            idx[n++] = i;
        }
        if (poll(p, (nfds_t)n, WM_TICK_MS) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!p[k].revents)
                continue;
            if (idx[k] < 0) {
                accept_one();
                continue;
            }
            struct conn *c = &srv.conns[idx[k]];
            if (c->fd < 0)
                continue;
            if (c->ready)
                conn_write(c);
            else
                conn_read(c);
        }
    }
    return NULL;
}

int wm_serve_start(const char *addr, const struct wm_view *tmpl, struct omni_err *err)
{
    struct sigaction sa;

    srv.view = *tmpl;
    for (int i = 0; i < WM_CONNS; i++)
        srv.conns[i].fd = -1;
    if (addr) {
        srv.lfd = addr_socket(addr, 1, err);
        if (srv.lfd < 0)
            return omni_err_prefix(err, "cannot listen on --metrics-listen");
        fcntl(srv.lfd, F_SETFL, fcntl(srv.lfd, F_GETFL) | O_NONBLOCK);
        log_kv(LOG_INFO, "metrics endpoint listening", "address", addr, NULL);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    if (pthread_create(&srv.th, NULL, serve_main, NULL) != 0) {
        if (srv.lfd >= 0)
            close(srv.lfd);
        srv.lfd = -1;
        return omni_err_set(err, OMNI_E_IO, "cannot start the metrics thread");
    }
    srv.started = 1;
    return 0;
}

void wm_serve_stop(void)
{
    if (!srv.started)
        return;
    srv.stop = 1;
    pthread_join(srv.th, NULL);
    srv.started = 0;
    for (int i = 0; i < WM_CONNS; i++)
        if (srv.conns[i].fd >= 0)
            conn_close(&srv.conns[i]);
    if (srv.lfd >= 0)
        close(srv.lfd);
    srv.lfd = -1;
    if (srv.unix_path[0])
        unlink(srv.unix_path);
}

int wm_status_client(const char *addr)
{
    struct omni_err err = OMNI_ERR_INIT;
    static const char req[] = "GET /status HTTP/1.0\r\n\r\n";
    char buf[8192];
    struct buf in = BUF_INIT_MAX(WM_RESP_MAX + 1024);
    int fd = addr_socket(addr, 0, &err), code = 0;
    struct timeval tv = {5, 0};
    ssize_t n;

    if (fd < 0) {
        fprintf(stderr, "omni-worker: status: cannot reach %s: %s\n", addr, err.msg);
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        fprintf(stderr, "omni-worker: status: cannot send to %s\n", addr);
        return 1;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (buf_add(&in, buf, (size_t)n) < 0)
            break;
    close(fd);
    buf_addc(&in, '\0');
    const char *body = in.data ? strstr(in.data, "\r\n\r\n") : NULL;
    if (!body || sscanf(in.data, "HTTP/1.%*d %d", &code) != 1 || code != 200) {
        fprintf(stderr, "omni-worker: status: no valid answer from %s\n", addr);
        buf_release(&in);
        return 1;
    }
    fputs(body + 4, stdout);
    buf_release(&in);
    return 0;
}
