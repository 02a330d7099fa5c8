/*
 * exec_proto — length-prefixed JSON frames (see exec_proto.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "exec_proto.h"
#include "timeutil.h"

/* Wait for fd to be ready for events; 1 ready, 0 not yet (tick passed), -1 error. */
static int xp_wait(int fd, short events, int64_t deadline, volatile int *abort)
{
    for (;;) {
        if (abort && *abort) {
            errno = ECANCELED;
            return -1;
        }
        int wait = XP_POLL_MS;
        if (deadline >= 0) {
            int64_t left = deadline - omni_mono_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            if (left < wait)
                wait = (int)left;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, wait);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return 1;
    }
}

int xp_write(int fd, const char *data, size_t len, int timeout_ms)
{
    unsigned char hdr[4];
    int64_t deadline = timeout_ms < 0 ? -1 : omni_mono_ms() + timeout_ms;
    if (len > XP_FRAME_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
    /* one system call for header and body in the common case, so the peer
     * wakes once per frame */
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
    int niov = 2, first = 0;
    while (first < niov) {
        struct msghdr mh = {0};
        mh.msg_iov = iov + first;
        mh.msg_iovlen = (size_t)(niov - first);
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = writev(fd, iov + first, niov - first); /* a pipe: SIGPIPE is ignored */
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (xp_wait(fd, POLLOUT, deadline, NULL) < 0)
                return -1;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        size_t n = (size_t)w;
        while (first < niov && n >= iov[first].iov_len) {
            n -= iov[first].iov_len;
            first++;
        }
        if (first < niov) {
            iov[first].iov_base = (char *)iov[first].iov_base + n;
            iov[first].iov_len -= n;
        }
    }
    return 0;
}

/* Read exactly n bytes; 1 done, 0 EOF before the first byte, -1 error. The
 * read comes first and poll only when it would block, so a ready frame costs
 * no extra system call. */
static int xp_read_n(int fd, char *p, size_t n, int64_t deadline, volatile int *abort)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (xp_wait(fd, POLLIN, deadline, abort) < 0)
                return -1;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (got == 0)
                return 0;
            errno = EPROTO;
            return -1;
        }
        got += (size_t)r;
    }
    return 1;
}

int xp_read(int fd, struct buf *out, int timeout_ms, volatile int *abort)
{
    unsigned char hdr[4];
    int64_t deadline = timeout_ms < 0 ? -1 : omni_mono_ms() + timeout_ms;
    buf_reset(out);
    int r = xp_read_n(fd, (char *)hdr, sizeof(hdr), deadline, abort);
    if (r <= 0)
        return r;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len > XP_FRAME_MAX || len > out->max) {
        errno = EMSGSIZE;
        return -1;
    }
    char chunk[16384];
    size_t left = len;
    while (left > 0) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        r = xp_read_n(fd, chunk, n, deadline, abort);
        if (r == 0) {
            errno = EPROTO;
            return -1;
        }
        if (r < 0)
            return -1;
        if (buf_add(out, chunk, n) < 0) {
            errno = EMSGSIZE;
            return -1;
        }
        left -= n;
    }
    return 1;
}
