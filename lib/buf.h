/*
 * buf — the one growable byte buffer of the project.
 *
 * Invariants:
 *  - b->data is never NULL after buf_init(): it points at a NUL-terminated
 *    array (a static empty string until the first growth), so b->data can
 *    always be used as a C string.
 *  - b->len is the number of bytes stored, not counting the terminating NUL.
 *  - b->len never exceeds b->max. An append that would cross the cap fails
 *    with -1, sets b->overflow and leaves the buffer unchanged.
 *  - buf_release() frees the storage and re-initialises the buffer with the
 *    same cap; buf_detach() hands the storage to the caller (free() it).
 */
#ifndef OMNI_BUF_H
#define OMNI_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_DEFAULT_MAX (16u * 1024 * 1024)

struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t max;
    int overflow;
};

extern char buf_empty_[];
#define BUF_INIT_MAX(m)                                                                            \
    {                                                                                              \
        buf_empty_, 0, 0, (m), 0                                                                   \
    }
#define BUF_INIT BUF_INIT_MAX(BUF_DEFAULT_MAX)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
char *buf_detach(struct buf *b, size_t *len);
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal (with quotes). */
int buf_add_json_str(struct buf *b, const char *s);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Truncate to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);

#endif
