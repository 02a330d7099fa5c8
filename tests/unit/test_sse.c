/* Unit tests for lib/sse.c: framing rules and chunking independence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "sse.h"

#include <stdio.h>
#include <string.h>

#define S(lit) lit, sizeof(lit) - 1

/* Frames are recorded as "E=<event>;I=<id>;D=<data>|" (data copied by length). */
struct collect {
    struct buf out;
    int frames;
    int stop_at; /* return stop_val when frames reaches this (0: never) */
    int stop_val;
};

static int collect_cb(const struct sse_frame *f, void *ud)
{
    struct collect *c = ud;

    assert_non_null(f->event);
    assert_non_null(f->data);
    assert_non_null(f->id);
    assert_int_equal(f->data[f->data_len], '\0');
    buf_addf(&c->out, "E=%s;I=%s;D=", f->event, f->id);
    buf_add(&c->out, f->data, f->data_len);
    buf_addc(&c->out, '|');
    c->frames++;
    if (c->stop_at && c->frames == c->stop_at)
        return c->stop_val;
    return 0;
}

static void collect_init(struct collect *c)
{
    buf_init(&c->out, 4u << 20);
    c->frames = 0;
    c->stop_at = 0;
    c->stop_val = 0;
}

struct sse_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
    size_t want_len;
};

static const struct sse_case cases[] = {
    {"two frames LF", S("event: a\ndata: {\"x\":1}\n\nevent: b\ndata: 2\n\n"),
     S("E=a;I=;D={\"x\":1}|E=b;I=;D=2|")},
    {"CRLF", S("event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n"),
     S("E=a;I=;D=1|E=b;I=;D=2|")},
    {"CR only", S("event: a\rdata: 1\r\revent: b\rdata: 2\r\r"), S("E=a;I=;D=1|E=b;I=;D=2|")},
    {"mixed line ends", S("event: a\rdata: 1\r\n\nevent: b\ndata: 2\r\r\n"),
     S("E=a;I=;D=1|E=b;I=;D=2|")},
    {"CR then LF is one line end", S("data: a\r\ndata: b\r\n\r\n"), S("E=;I=;D=a\nb|")},
    {"comments", S(": hello\nevent: a\n: mid\ndata: 1\n\n:ping\n\n"), S("E=a;I=;D=1|")},
    {"multi-line data", S("event: m\ndata: one\ndata: two\ndata: three\n\n"),
     S("E=m;I=;D=one\ntwo\nthree|")},
    {"BOM at start",
     S("\xEF\xBB\xBF"
       "event: a\ndata: 1\n\n"),
     S("E=a;I=;D=1|")},
    {"BOM at start of a later line",
     S("event: a\n\xEF\xBB\xBF"
       "data: 1\n\n"),
     S("E=a;I=;D=1|")},
    {"missing event name", S("data: {\"type\":\"x\"}\n\n"), S("E=;I=;D={\"type\":\"x\"}|")},
    {"id kept per frame", S("id: 42\nevent: a\ndata: 1\n\nevent: b\ndata: 2\n\n"),
     S("E=a;I=42;D=1|E=b;I=;D=2|")},
    {"retry ignored", S("retry: 1000\nevent: a\ndata: 1\n\n"), S("E=a;I=;D=1|")},
    {"retry-only frame dropped", S("retry: 1000\n\nevent: a\ndata: 1\n\n"), S("E=a;I=;D=1|")},
    {"unknown field ignored", S("foo: bar\nevent: a\ndata: 1\n\n"), S("E=a;I=;D=1|")},
    {"field without colon: data", S("data\n\n"), S("E=;I=;D=|")},
    {"field without colon: event", S("event: a\nevent\ndata: 1\n\n"), S("E=;I=;D=1|")},
    {"no space after colon", S("event:a\ndata:1\n\n"), S("E=a;I=;D=1|")},
    {"only one space stripped", S("event: a\ndata:  1 \n\n"), S("E=a;I=;D= 1 |")},
    {"last event wins", S("event: a\nevent: b\ndata: 1\n\n"), S("E=b;I=;D=1|")},
    {"event without data", S("event: ping\n\n"), S("E=ping;I=;D=|")},
    {"blank lines only", S("\n\n\r\n\r\r\n"), S("")},
    {"unterminated frame not delivered", S("event: a\ndata: 1\n\nevent: b\ndata: 2\n"),
     S("E=a;I=;D=1|")},
    {"empty data lines", S("data:\ndata:\n\n"), S("E=;I=;D=\n|")},
    {"colon in value", S("event: a\ndata: {\"u\":\"http://x:1\"}\n\n"),
     S("E=a;I=;D={\"u\":\"http://x:1\"}|")},
    {"NUL byte in data", S("data: a\0b\n\n"), S("E=;I=;D=a\0b|")},
    {"protocol example",
     S("event: agent.tool_use\ndata: {\"type\":\"agent.tool_use\",\"id\":\"sevt_01A\"}\n\n"
       "event: session.status_idle\ndata: {\"type\":\"session.status_idle\"}\n\n"
       "event: ping\ndata: {\"type\":\"ping\"}\n\n"),
     S("E=agent.tool_use;I=;D={\"type\":\"agent.tool_use\",\"id\":\"sevt_01A\"}|"
       "E=session.status_idle;I=;D={\"type\":\"session.status_idle\"}|"
       "E=ping;I=;D={\"type\":\"ping\"}|")},
};

#define NCASES (sizeof cases / sizeof cases[0])

static void check_output(const struct sse_case *tc, const struct collect *c, const char *how)
{
    if (c->out.len != tc->want_len || memcmp(c->out.data, tc->want, tc->want_len) != 0) {
        print_error("case \"%s\" (%s): got \"%s\"\n", tc->name, how, c->out.data);
        fail();
    }
}

/* Feed `in` split at the given offsets (ascending, count n). */
static void run_split(const struct sse_case *tc, const size_t *cuts, size_t n, const char *how)
{
    struct sse_parser p;
    struct collect c;
    size_t at = 0;

    collect_init(&c);
    sse_parser_init(&p, 0, collect_cb, &c);
    for (size_t i = 0; i <= n; i++) {
        size_t end = i < n ? cuts[i] : tc->in_len;
        assert_int_equal(sse_parser_feed(&p, tc->in + at, end - at), 0);
        at = end;
    }
    check_output(tc, &c, how);
    sse_parser_release(&p);
    buf_release(&c.out);
}

static void test_whole(void **state)
{
    for (size_t i = 0; i < NCASES; i++)
        run_split(&cases[i], NULL, 0, "whole");
}

static void test_every_offset(void **state)
{
    char how[64];

    for (size_t i = 0; i < NCASES; i++) {
        for (size_t k = 0; k <= cases[i].in_len; k++) {
            snprintf(how, sizeof how, "split at %zu", k);
            run_split(&cases[i], &k, 1, how);
        }
    }
}

static void test_every_two_offsets(void **state)
{
    char how[64];

    for (size_t i = 0; i < NCASES; i++) {
        for (size_t a = 0; a <= cases[i].in_len; a++) {
            for (size_t b = a; b <= cases[i].in_len; b++) {
                size_t cuts[2] = {a, b};
                snprintf(how, sizeof how, "split at %zu and %zu", a, b);
                run_split(&cases[i], cuts, 2, how);
            }
        }
    }
}

static void test_byte_by_byte(void **state)
{
    size_t cuts[1024];

    for (size_t i = 0; i < NCASES; i++) {
        assert_true(cases[i].in_len < 1024);
        for (size_t k = 0; k < cases[i].in_len; k++)
            cuts[k] = k + 1;
        run_split(&cases[i], cuts, cases[i].in_len, "byte by byte");
    }
}

/* All cases concatenated, fed as one stream, give all outputs concatenated
 * (each case ends with a frame boundary, except the unterminated one: skip). */
static void test_concatenated(void **state)
{
    struct buf in = BUF_INIT, want = BUF_INIT;
    struct sse_parser p;
    struct collect c;

    for (size_t i = 0; i < NCASES; i++) {
        if (strcmp(cases[i].name, "unterminated frame not delivered") == 0)
            continue;
        buf_add(&in, cases[i].in, cases[i].in_len);
        buf_add(&want, cases[i].want, cases[i].want_len);
    }
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        collect_init(&c);
        sse_parser_init(&p, 0, collect_cb, &c);
        for (size_t at = 0; at < in.len; at += chunk) {
            size_t n = in.len - at < chunk ? in.len - at : chunk;
            assert_int_equal(sse_parser_feed(&p, in.data + at, n), 0);
        }
        assert_int_equal(c.out.len, want.len);
        assert_memory_equal(c.out.data, want.data, want.len);
        sse_parser_release(&p);
        buf_release(&c.out);
    }
    buf_release(&in);
    buf_release(&want);
}

static void test_oversize_frame(void **state)
{
    struct sse_parser p;
    struct collect c;

    collect_init(&c);
    sse_parser_init(&p, 16, collect_cb, &c);
    /* exactly 16 bytes of data is fine */
    assert_int_equal(sse_parser_feed(&p, S("data: 0123456789abcdef\n\n")), 0);
    assert_int_equal(c.frames, 1);
    /* 17 bytes is not */
    assert_int_equal(sse_parser_feed(&p, S("data: 0123456789abcdefg\n\n")), -1);
    assert_int_equal(c.frames, 1);
    /* the parser stays failed until reset */
    assert_int_equal(sse_parser_feed(&p, S("data: x\n\n")), -1);
    assert_int_equal(c.frames, 1);
    sse_parser_reset(&p);
    assert_int_equal(sse_parser_feed(&p, S("data: x\n\n")), 0);
    assert_int_equal(c.frames, 2);
    /* event + data counted together, across lines */
    assert_int_equal(sse_parser_feed(&p, S("event: 01234567\ndata: 0123\n")), 0);
    assert_int_equal(sse_parser_feed(&p, S("data: 012\n")), 0); /* 16 */
    assert_int_equal(sse_parser_feed(&p, S("data: \n")), -1);   /* 17 */
    sse_parser_reset(&p);
    /* many small data lines add up */
    for (int i = 0; i < 8; i++)
        assert_int_equal(sse_parser_feed(&p, S("data: a\n")), 0);
    assert_int_equal(sse_parser_feed(&p, S("data: a\n")), -1);
    sse_parser_reset(&p);
    /* an endless line without terminator is refused too (comment included) */
    {
        char big[200];
        int r = 0;
        memset(big, 'x', sizeof big);
        big[0] = ':';
        for (size_t i = 0; i < sizeof big && r == 0; i++)
            r = sse_parser_feed(&p, big + i, 1);
        assert_int_equal(r, -1);
    }
    sse_parser_reset(&p);
    assert_int_equal(sse_parser_feed(&p, S("event: a\ndata: y\n\n")), 0);
    assert_int_equal(c.frames, 3);
    assert_string_equal(c.out.data, "E=;I=;D=0123456789abcdef|E=;I=;D=x|E=a;I=;D=y|");
    sse_parser_release(&p);
    buf_release(&c.out);
}

static void test_oversize_in_one_chunk(void **state)
{
    struct sse_parser p;
    struct collect c;
    char line[300];

    collect_init(&c);
    sse_parser_init(&p, 16, collect_cb, &c);
    memset(line, 'y', sizeof line);
    line[sizeof line - 1] = '\n';
    assert_int_equal(sse_parser_feed(&p, line, sizeof line), -1);
    assert_int_equal(c.frames, 0);
    sse_parser_release(&p);
    buf_release(&c.out);
}

static void test_callback_stop(void **state)
{
    static const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct sse_parser p;
    struct collect c;

    collect_init(&c);
    c.stop_at = 2;
    c.stop_val = 7;
    sse_parser_init(&p, 0, collect_cb, &c);
    assert_int_equal(sse_parser_feed(&p, in, sizeof in - 1), 7);
    assert_int_equal(c.frames, 2);
    assert_string_equal(c.out.data, "E=;I=;D=1|E=;I=;D=2|");
    /* after a reset the parser is usable again */
    sse_parser_reset(&p);
    c.stop_at = 0;
    assert_int_equal(sse_parser_feed(&p, S("data: 4\n\n")), 0);
    assert_int_equal(c.frames, 3);
    sse_parser_release(&p);
    buf_release(&c.out);
}

static void test_no_callback_and_reset(void **state)
{
    struct sse_parser p;
    struct collect c;

    sse_parser_init(&p, 0, NULL, NULL);
    assert_int_equal(p.max_frame, SSE_DEFAULT_MAX_FRAME);
    assert_int_equal(sse_parser_feed(&p, S("data: 1\n\n")), 0);
    sse_parser_release(&p);

    /* reset drops a half-read frame and a pending CR */
    collect_init(&c);
    sse_parser_init(&p, 0, collect_cb, &c);
    assert_int_equal(sse_parser_feed(&p, S("event: a\ndata: half\r")), 0);
    sse_parser_reset(&p);
    assert_int_equal(sse_parser_feed(&p, S("\ndata: b\n\n")), 0);
    assert_string_equal(c.out.data, "E=;I=;D=b|");
    sse_parser_release(&p);
    /* release twice is harmless */
    sse_parser_release(&p);
    buf_release(&c.out);
}

static void test_large_frame(void **state)
{
    struct sse_parser p;
    struct collect c;
    struct buf in = BUF_INIT;
    size_t n = 1 << 20;

    buf_adds(&in, "event: big\ndata: ");
    for (size_t i = 0; i < n; i++)
        buf_addc(&in, (char)('a' + i % 26));
    buf_adds(&in, "\n\n");
    collect_init(&c);
    sse_parser_init(&p, 0, collect_cb, &c);
    for (size_t at = 0; at < in.len; at += 4093) {
        size_t k = in.len - at < 4093 ? in.len - at : 4093;
        assert_int_equal(sse_parser_feed(&p, in.data + at, k), 0);
    }
    assert_int_equal(c.frames, 1);
    assert_int_equal(c.out.len, strlen("E=big;I=;D=|") + n);
    sse_parser_release(&p);
    buf_release(&c.out);
    buf_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_every_offset),
        cmocka_unit_test(test_every_two_offsets),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_concatenated),
        cmocka_unit_test(test_oversize_frame),
        cmocka_unit_test(test_oversize_in_one_chunk),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_no_callback_and_reset),
        cmocka_unit_test(test_large_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
