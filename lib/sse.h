/*
 * sse — incremental Server-Sent Events parser (protocol.md §8.4).
 *
 * Feed any chunking of the byte stream; complete frames are delivered to the
 * callback in order. Rules:
 *  - lines end with LF, CRLF or CR (a CR at the end of one chunk followed by
 *    LF at the start of the next is one line end);
 *  - a UTF-8 BOM at the start of a line is dropped;
 *  - lines starting with ':' are comments;
 *  - "field:value" with one optional space after the colon stripped; a line
 *    without a colon is a field with an empty value;
 *  - fields: "event" (last one wins), "data" (several joined with '\n'), "id"
 *    (last one wins, delivered with its frame and not carried over to the
 *    next one), "retry" and others ignored;
 *  - a blank line ends a frame; a frame with no data and no event is not
 *    delivered. A frame without an event name is delivered with event = ""
 *    (callers drop it, as the TS SDK does; PY would use data.type). A frame
 *    with an event but no data line is delivered with data = "".
 *  - an unterminated frame at the end of the stream is never delivered.
 *  - a frame (event + data + id) larger than max_frame bytes, or a single
 *    line longer than max_frame + 64, is an error: feed() returns -1, and
 *    keeps returning -1 until sse_parser_reset().
 *
 * The callback returns 0 to continue or non-zero (use a positive value, -1
 * means "too large") to stop; feed() then returns that value and the rest
 * of the chunk is dropped: reset the parser before feeding it again.
 * max_frame 0 means SSE_DEFAULT_MAX_FRAME.
 */
#ifndef OMNI_SSE_H
#define OMNI_SSE_H

#include "buf.h"

#include <stddef.h>

#define SSE_DEFAULT_MAX_FRAME (4u * 1024 * 1024)

struct sse_frame {
    const char *event; /* "" when absent */
    const char *data;  /* "" when absent; NUL-terminated */
    size_t data_len;
    const char *id; /* "" when absent */
};

typedef int (*sse_frame_cb)(const struct sse_frame *f, void *ud);

struct sse_parser {
    sse_frame_cb cb;
    void *ud;
    size_t max_frame;
    struct buf line;
    struct buf event;
    struct buf data;
    struct buf id;
    int have_data;
    int saw_cr; /* last byte seen was CR: swallow a following LF */
    int failed;
};

void sse_parser_init(struct sse_parser *p, size_t max_frame, sse_frame_cb cb, void *ud);
void sse_parser_release(struct sse_parser *p);
void sse_parser_reset(struct sse_parser *p);
/* Returns 0, the callback's non-zero value, or -1 (frame too large). */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t len);

#endif
