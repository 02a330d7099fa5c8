#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_empty_[1];

void buf_init(struct buf *b, size_t max)
{
    b->data = buf_empty_;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
    b->overflow = 0;
}

void buf_release(struct buf *b)
{
    if (b->alloc)
        free(b->data);
    buf_init(b, b->max);
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p;

    if (len)
        *len = b->len;
    if (b->alloc) {
        p = b->data;
    } else {
        p = calloc(1, 1);
    }
    buf_init(b, b->max);
    return p;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->overflow = 0;
    b->data[0] = '\0';
}

static int buf_grow(struct buf *b, size_t extra)
{
    size_t want, n;
    char *p;

    if (extra > b->max || b->len > b->max - extra) {
        b->overflow = 1;
        return -1;
    }
    want = b->len + extra + 1;
    if (want <= b->alloc)
        return 0;
    n = b->alloc ? b->alloc : 64;
    while (n < want)
        n = n > ((size_t)-1) / 2 ? want : n * 2;
    if (n > b->max + 1)
        n = b->max + 1;
    p = b->alloc ? realloc(b->data, n) : malloc(n);
    if (!p)
        return -1;
    if (!b->alloc)
        p[0] = '\0';
    b->data = p;
    b->alloc = n;
    return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (buf_grow(b, len) < 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -1;
    if (buf_grow(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = buf_vaddf(b, fmt, ap);
    va_end(ap);
    return r;
}

int buf_add_json_str(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = b->len;

    if (buf_addc(b, '"') < 0)
        return -1;
    for (; *p; p++) {
        int r;
        switch (*p) {
        case '"':
            r = buf_add(b, "\\\"", 2);
            break;
        case '\\':
            r = buf_add(b, "\\\\", 2);
            break;
        case '\n':
            r = buf_add(b, "\\n", 2);
            break;
        case '\r':
            r = buf_add(b, "\\r", 2);
            break;
        case '\t':
            r = buf_add(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20)
                r = buf_addf(b, "\\u%04x", *p);
            else
                r = buf_addc(b, (char)*p);
        }
        if (r < 0) {
            buf_truncate(b, start);
            return -1;
        }
    }
    if (buf_addc(b, '"') < 0) {
        buf_truncate(b, start);
        return -1;
    }
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}
