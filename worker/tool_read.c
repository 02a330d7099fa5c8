/*
 * read — return a file's text, whole or a line range (toolset.md §5).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_int.h"

#define READ_CHUNK 65536

/* Parse view_range. 0 absent, 1 present (s, e set), -1 error result set. */
static int read_range(struct tool_call *c, long long *s, long long *e)
{
    const cJSON *v = c->input ? cJSON_GetObjectItemCaseSensitive(c->input, "view_range") : NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0)
        return 0;
    const cJSON *a =
        cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 ? cJSON_GetArrayItem(v, 0) : NULL;
    const cJSON *b = a ? cJSON_GetArrayItem(v, 1) : NULL;
    /* range first (NaN fails it too): casting an out-of-range double is undefined */
    if (!a || !b || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
        !(a->valuedouble >= -9e15 && a->valuedouble <= 9e15) ||
        !(b->valuedouble >= -9e15 && b->valuedouble <= 9e15) ||
        a->valuedouble != (double)(long long)a->valuedouble ||
        b->valuedouble != (double)(long long)b->valuedouble) {
        tool_err(c, "read: view_range must be [start_line, end_line]");
        return -1;
    }
    *s = (long long)a->valuedouble;
    *e = (long long)b->valuedouble;
    return 1;
}

/* Read the whole fd (size hint st_size, hard cap cap+1). Returns 0 or errno. */
static int read_all(struct tool_call *c, int fd, size_t cap, struct buf *b, int *timed_out)
{
    char chunk[READ_CHUNK];
    for (;;) {
        if (tool_expired(c)) {
            *timed_out = 1;
            return 0;
        }
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return 0;
        if (buf_add(b, chunk, (size_t)n) < 0)
            return b->overflow ? EFBIG : ENOMEM;
        if (b->len > cap)
            return EFBIG;
    }
}

/* Set the result to cleaned bytes s[0..len). */
static void read_set(struct tool_call *c, const char *s, size_t len)
{
    char *t = utf8_clean(s, len, NULL);
    if (t)
        tool_set(c, 0, t);
    else
        tool_err(c, "Error: out of memory");
}

/* Lines [from, to) of s (to < 0: to the end), joined with \n as split pieces. */
static void read_slice(struct tool_call *c, const char *s, size_t len, long long from, long long to)
{
    size_t i = 0, start = len, end = len;
    long long line = 0;
    if (to >= 0 && to <= from) {
        read_set(c, "", 0);
        return;
    }
    if (from == 0)
        start = 0;
    for (i = 0; i < len; i++) {
        if (s[i] != '\n')
            continue;
        line++;
        if (line == from)
            start = i + 1;
        if (to >= 0 && line == to) {
            end = i;
            break;
        }
    }
    if (start > end)
        start = end;
    read_set(c, s + start, end - start);
}

static void read_stream(struct tool_call *c, int fd, const char *p, long long s, long long e,
                        long long from, long long to)
{
    size_t cap = c->ts->read_cap;
    struct buf out = BUF_INIT_MAX(cap);
    char chunk[READ_CHUNK];
    long long line = 0; /* index of the line the next byte belongs to */
    int done = 0;
    while (!done) {
        if (tool_expired(c))
            goto out;
        if (tool_cancelled(c)) {
            tool_err(c, "read: aborted");
            goto out;
        }
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            tool_errno(c, p, errno);
            goto out;
        }
        if (n == 0)
            break;
        size_t i = 0;
        while (i < (size_t)n) {
            char *nl = memchr(chunk + i, '\n', (size_t)n - i);
            size_t seg_end = nl ? (size_t)(nl - chunk) : (size_t)n;
            int in_range = line >= from && (to < 0 || line < to);
            if (in_range) {
                /* The newline is kept unless it ends the last line of a closed range. */
                size_t take = seg_end - i;
                if (nl && (to < 0 || line + 1 < to))
                    take++;
                if (buf_add(&out, chunk + i, take) < 0) {
                    if (to == from + 1)
                        tool_err(c,
                                 "read: line %lld of %s alone exceeds %zu-byte limit. The read "
                                 "tool cannot return part of a line, so view_range cannot "
                                 "narrow this further.",
                                 from + 1, p, cap);
                    else
                        tool_err(c,
                                 "read: view_range [%lld, %lld] of %s exceeds %zu-byte limit. "
                                 "Narrow the view_range to read a smaller portion.",
                                 s, e, p, cap);
                    goto out;
                }
            }
            if (!nl) {
                i = (size_t)n;
                break;
            }
            line++;
            i = seg_end + 1;
            if (to >= 0 && line >= to) {
                done = 1;
                break;
            }
        }
    }
    read_set(c, out.data, out.len);
out:
    buf_release(&out);
}

void tool_read(struct tool_call *c)
{
    const char *p;
    long long s = 0, e = 0;
    struct path_res r = PATH_RES_INIT;
    struct stat st;
    int kind, has_range;

    if (tool_str(c, "file_path", 1, &p) < 0)
        return;
    kind = paths_open(c->ts->paths, p, O_RDONLY | O_NONBLOCK, &r);
    if (kind != PATHS_OK) {
        tool_path_fail(c, p, kind, r.err);
        return;
    }
    has_range = read_range(c, &s, &e);
    if (has_range < 0)
        goto out;
    if (tool_regular_file(c, p, r.fd, &st) < 0)
        goto out;
    /* Regular file: blocking reads from here on. */
    fcntl(r.fd, F_SETFL, fcntl(r.fd, F_GETFL) & ~O_NONBLOCK);
    long long from = has_range ? (s > 1 ? s - 1 : 0) : 0;
    long long to = has_range ? (e > 0 ? e : -1) : -1;
    size_t cap = c->ts->read_cap;
    if ((unsigned long long)st.st_size > cap) {
        if (!has_range) {
            tool_err(c,
                     "read: %s is %lld bytes, exceeds %zu-byte limit. Use the view_range "
                     "parameter to read specific line ranges, e.g. view_range: [1, 500].",
                     p, (long long)st.st_size, cap);
            goto out;
        }
        if (to >= 0 && to <= from) {
            read_set(c, "", 0);
            goto out;
        }
        read_stream(c, r.fd, p, s, e, from, to);
        goto out;
    }
    struct buf b = BUF_INIT_MAX(cap + READ_CHUNK + 1);
    int timed_out = 0;
    int err = read_all(c, r.fd, cap, &b, &timed_out);
    if (timed_out) {
        buf_release(&b);
        goto out;
    }
    if (err == EFBIG) {
        /* The file grew past the cap while being read: treat like a big file. */
        size_t grown = b.len;
        buf_release(&b);
        if (!has_range) {
            tool_err(c,
                     "read: %s is %zu bytes, exceeds %zu-byte limit. Use the view_range "
                     "parameter to read specific line ranges, e.g. view_range: [1, 500].",
                     p, grown, cap);
            goto out;
        }
        if (lseek(r.fd, 0, SEEK_SET) < 0) {
            tool_errno(c, p, errno);
            goto out;
        }
        read_stream(c, r.fd, p, s, e, from, to);
        goto out;
    }
    if (err) {
        buf_release(&b);
        tool_errno(c, p, err);
        goto out;
    }
    if (has_range)
        read_slice(c, b.data, b.len, from, to);
    else
        read_set(c, b.data, b.len);
    buf_release(&b);
out:
    path_res_release(&r);
}
