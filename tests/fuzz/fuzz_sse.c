/*
 * Fuzz the SSE parser. Differential: the input fed whole and fed in chunks
 * whose sizes come from the input itself must give the same frames and the
 * same result.
 */
#include "buf.h"
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FRAME 512

static int record(const struct sse_frame *f, void *ud)
{
    struct buf *out = ud;

    if (f->data[f->data_len] != '\0')
        abort();
    buf_adds(out, f->event);
    buf_addc(out, 0);
    buf_adds(out, f->id);
    buf_addc(out, 0);
    buf_add(out, f->data, f->data_len);
    buf_addc(out, 1);
    /* stop when a frame's data is exactly "STOP" */
    return f->data_len == 4 && memcmp(f->data, "STOP", 4) == 0 ? 5 : 0;
}

static int feed_all(struct sse_parser *p, const uint8_t *d, size_t n, const uint8_t *sizes,
                    size_t nsizes)
{
    size_t at = 0, k = 0;

    while (at < n) {
        size_t step = nsizes ? (size_t)(sizes[k++ % nsizes] % 17) : n - at;
        int r;
        if (step == 0) { /* an empty chunk, then go on */
            if (sse_parser_feed(p, (const char *)d + at, 0) != 0)
                abort();
            step = 1;
        }
        if (step > n - at)
            step = n - at;
        r = sse_parser_feed(p, (const char *)d + at, step);
        if (r != 0)
            return r;
        at += step;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf a = BUF_INIT_MAX(64u << 20), b = BUF_INIT_MAX(64u << 20);
    struct sse_parser p1, p2;
    size_t nsizes;
    int r1, r2;

    if (size < 1)
        return 0;
    /* first byte: how many of the following bytes are chunk sizes */
    nsizes = data[0] % 8;
    if (nsizes + 1 > size)
        nsizes = size - 1;
    sse_parser_init(&p1, FUZZ_MAX_FRAME, record, &a);
    sse_parser_init(&p2, FUZZ_MAX_FRAME, record, &b);
    r1 = feed_all(&p1, data + 1 + nsizes, size - 1 - nsizes, NULL, 0);
    r2 = feed_all(&p2, data + 1 + nsizes, size - 1 - nsizes, data + 1, nsizes);
    if (r1 != r2 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    if (r1 != 0 && r1 != -1 && r1 != 5)
        abort();
    /* after a reset the parser works again */
    sse_parser_reset(&p1);
    buf_reset(&a);
    if (sse_parser_feed(&p1, "data: x\n\n", 9) != 0 || a.len != 4)
        abort();
    sse_parser_release(&p1);
    sse_parser_release(&p2);
    buf_release(&a);
    buf_release(&b);
    return 0;
}
