#include "sse.h"

#include <string.h>

/* Room for the field name, colon and space around a maximal value. */
#define SSE_LINE_SLACK 64

static const char sse_bom[] = "\xEF\xBB\xBF";

void sse_parser_init(struct sse_parser *p, size_t max_frame, sse_frame_cb cb, void *ud)
{
    if (max_frame == 0)
        max_frame = SSE_DEFAULT_MAX_FRAME;
    p->cb = cb;
    p->ud = ud;
    p->max_frame = max_frame;
    buf_init(&p->line, max_frame + SSE_LINE_SLACK);
    buf_init(&p->event, max_frame);
    buf_init(&p->data, max_frame);
    buf_init(&p->id, max_frame);
    p->have_data = 0;
    p->saw_cr = 0;
    p->failed = 0;
}

void sse_parser_release(struct sse_parser *p)
{
    buf_release(&p->line);
    buf_release(&p->event);
    buf_release(&p->data);
    buf_release(&p->id);
    p->have_data = 0;
    p->saw_cr = 0;
    p->failed = 0;
}

static void sse_frame_clear(struct sse_parser *p)
{
    buf_reset(&p->event);
    buf_reset(&p->data);
    buf_reset(&p->id);
    p->have_data = 0;
}

void sse_parser_reset(struct sse_parser *p)
{
    buf_reset(&p->line);
    sse_frame_clear(p);
    p->saw_cr = 0;
    p->failed = 0;
}

static int sse_fail(struct sse_parser *p)
{
    p->failed = 1;
    return -1;
}

/* A blank line: deliver the frame (if it has anything) and start a new one. */
static int sse_dispatch(struct sse_parser *p)
{
    struct sse_frame f;
    int r;

    if (!p->have_data && p->event.len == 0) {
        sse_frame_clear(p);
        return 0;
    }
    f.event = p->event.data;
    f.data = p->data.data;
    f.data_len = p->data.len;
    f.id = p->id.data;
    r = p->cb ? p->cb(&f, p->ud) : 0;
    sse_frame_clear(p);
    return r;
}

static int sse_set(struct buf *b, const char *v, size_t n)
{
    buf_reset(b);
    return buf_add(b, v, n);
}

/* One complete line (without its terminator). */
static int sse_line(struct sse_parser *p, const char *s, size_t n)
{
    const char *colon, *val;
    size_t name_len, vlen;

    if (n >= 3 && memcmp(s, sse_bom, 3) == 0) {
        s += 3;
        n -= 3;
    }
    if (n == 0)
        return sse_dispatch(p);
    if (s[0] == ':')
        return 0;
    colon = memchr(s, ':', n);
    if (colon) {
        name_len = (size_t)(colon - s);
        val = colon + 1;
        vlen = n - name_len - 1;
        if (vlen > 0 && val[0] == ' ') {
            val++;
            vlen--;
        }
    } else {
        name_len = n;
        val = "";
        vlen = 0;
    }
    if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        if (sse_set(&p->event, val, vlen) < 0)
            return sse_fail(p);
    } else if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if ((p->have_data && buf_addc(&p->data, '\n') < 0) || buf_add(&p->data, val, vlen) < 0)
            return sse_fail(p);
        p->have_data = 1;
    } else if (name_len == 2 && memcmp(s, "id", 2) == 0) {
        if (sse_set(&p->id, val, vlen) < 0)
            return sse_fail(p);
    }
    /* "retry" and unknown fields are ignored. */
    if (p->event.len + p->data.len + p->id.len > p->max_frame)
        return sse_fail(p);
    return 0;
}

static int sse_end_line(struct sse_parser *p)
{
    int r = sse_line(p, p->line.data, p->line.len);

    buf_reset(&p->line);
    return r;
}

int sse_parser_feed(struct sse_parser *p, const char *data, size_t len)
{
    size_t i = 0;

    if (p->failed)
        return -1;
    while (i < len) {
        size_t j = i;
        int r;

        if (p->saw_cr) {
            p->saw_cr = 0;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j < len && p->line.len == 0) {
            /* A whole line inside the chunk: parse it in place. */
            if (j - i > p->line.max)
                return sse_fail(p);
            p->saw_cr = data[j] == '\r';
            r = sse_line(p, data + i, j - i);
        } else {
            if (buf_add(&p->line, data + i, j - i) < 0)
                return sse_fail(p);
            if (j == len)
                break;
            p->saw_cr = data[j] == '\r';
            r = sse_end_line(p);
        }
        i = j + 1;
        if (r != 0)
            return r;
    }
    return 0;
}
