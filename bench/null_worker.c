/*
 * null_worker — the floor for bench/worker.sh (b): the least a client can do to
 * answer omni-sim's noop-read calls, over raw loopback sockets. It holds the
 * session's event stream on one connection and posts each agent.tool_use's
 * result ("x\n", what the scripted read expects) on a second keep-alive
 * connection, with no tool run, no JSON parser and no HTTP library. What the
 * sim measures for it (tool_use emitted -> result received) is the sim's and
 * the loopback's share of every worker's per-call time.
 *
 * usage: null_worker PORT SESSION_ID ORG_KEY_FILE CALLS
 * Prints "ready" once the stream is open, then answers CALLS tool uses and
 * exits 0. Built by bench/worker.sh with cc; not part of the product.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NW_BUF_MAX (1024 * 1024)
#define NW_KEY_MAX 512
#define NW_ID_MAX 64
#define NW_TIMEOUT_S 30

static char key[NW_KEY_MAX];

static int nw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {NW_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int nw_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read one HTTP response with a content-length body on a keep-alive connection. */
static int nw_read_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        buf[len] = 0;
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (end) {
            size_t head = (size_t)(end - buf) + 4;
            *end = 0;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            int ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
            *end = '\r';
            if (!cl || !ok)
                return -1;
            cl += sizeof("\r\ncontent-length:") - 1;
            size_t want = head + strtoul(cl, NULL, 10);
            if (want >= cap)
                return -1;
            while (len < want) {
                ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
                if (r <= 0)
                    return -1;
                len += (size_t)r;
            }
            return 0;
        }
        if (len + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fputs("usage: null_worker PORT SESSION_ID ORG_KEY_FILE CALLS\n", stderr);
        return 2;
    }
    int port = atoi(argv[1]);
    const char *sid = argv[2];
    long calls = strtol(argv[4], NULL, 10);
    FILE *kf = fopen(argv[3], "r");
    if (!kf || !fgets(key, sizeof(key), kf)) {
        fprintf(stderr, "null_worker: cannot read key file '%s'\n", argv[3]);
        return 1;
    }
    fclose(kf);
    key[strcspn(key, "\r\n")] = 0;
    if (strlen(sid) >= NW_ID_MAX) {
        fputs("null_worker: session id too long\n", stderr);
        return 2;
    }

    static char sbuf[NW_BUF_MAX], rbuf[NW_BUF_MAX], req[8192];
    int sfd = nw_connect(port), pfd = nw_connect(port);
    if (sfd < 0 || pfd < 0) {
        perror("null_worker: connect");
        return 1;
    }
    int n =
        snprintf(req, sizeof(req),
                 "GET /v1/sessions/%s/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "x-api-key: %s\r\nanthropic-version: 2023-06-01\r\n"
                 "anthropic-beta: managed-agents-2026-04-01\r\naccept: text/event-stream\r\n\r\n",
                 sid, key);
    if (nw_send_all(sfd, req, (size_t)n) < 0)
        return 1;
    size_t len = 0, scan = 0;
    int ready = 0;
    long answered = 0;
    static const char pat[] = "data: {\"type\":\"agent.tool_use\",\"id\":\"";
    while (answered < calls) {
        if (len + 1 >= sizeof(sbuf)) { /* keep the unscanned tail only */
            size_t keep = len - scan;
            memmove(sbuf, sbuf + scan, keep);
            len = keep;
            scan = 0;
        }
        ssize_t r = recv(sfd, sbuf + len, sizeof(sbuf) - len - 1, 0);
        if (r <= 0) {
            fputs("null_worker: stream ended or timed out\n", stderr);
            return 1;
        }
        len += (size_t)r;
        sbuf[len] = 0;
        if (!ready && strstr(sbuf, ": connected")) {
            ready = 1;
            puts("ready");
            fflush(stdout);
        }
        for (;;) {
            char *p = memmem(sbuf + scan, len - scan, pat, sizeof(pat) - 1);
            if (!p)
                break;
            char *id = p + sizeof(pat) - 1;
            char *q = memchr(id, '"', (size_t)(sbuf + len - id));
            if (!q)
                break; /* the rest of the frame has not arrived yet */
            char tid[NW_ID_MAX];
            size_t il = (size_t)(q - id);
            if (il >= sizeof(tid))
                return 1;
            memcpy(tid, id, il);
            tid[il] = 0;
            scan = (size_t)(q - sbuf);
            char body[256];
            int bl = snprintf(
                body, sizeof(body),
                "{\"events\":[{\"type\":\"user.tool_result\",\"tool_use_id\":\"%s\","
                "\"is_error\":false,\"content\":[{\"type\":\"text\",\"text\":\"x\\n\"}]}]}",
                tid);
            n = snprintf(req, sizeof(req),
                         "POST /v1/sessions/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "x-api-key: %s\r\nanthropic-version: 2023-06-01\r\n"
                         "anthropic-beta: managed-agents-2026-04-01\r\n"
                         "content-type: application/json\r\ncontent-length: %d\r\n\r\n%s",
                         sid, key, bl, body);
            if (nw_send_all(pfd, req, (size_t)n) < 0 ||
                nw_read_response(pfd, rbuf, sizeof(rbuf)) < 0) {
                fputs("null_worker: posting a result failed\n", stderr);
                return 1;
            }
            answered++;
        }
    }
    close(sfd);
    close(pfd);
    return 0;
}
