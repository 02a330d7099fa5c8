/*
 * metrics — progress counters shared by the poller and its session children
 * (issue 16), the Prometheus exposition of them, /healthz and /readyz, and
 * the per-slot status.
 *
 * Aggregation: the poller creates ONE fixed-size block (memfd, MAP_SHARED)
 * before any child starts; each serve-item child inherits the fd (named in
 * its hand-over header), maps it, closes the fd and adds to the same
 * counters with atomic operations, and writes its own slot record. Totals
 * live in the parent's mapping, so a crashed child loses nothing it counted;
 * the poller clears a slot record when it reaps the child. No secret, path,
 * input or id is ever a label: labels come from the fixed sets below.
 *
 * Every wm_* update is a no-op until wm_create()/wm_attach() succeeded.
 */
#ifndef OMNI_WK_METRICS_H
#define OMNI_WK_METRICS_H

#include "api.h"
#include "buf.h"
#include "err.h"

#include <stdatomic.h>
#include <stdint.h>

enum wm_counter {
    WM_SESS_COMPLETED,
    WM_SESS_STOPPED,
    WM_SESS_RELEASED,
    WM_SESS_FAILED,
    WM_ITEM_CLAIMED,
    WM_ITEM_ACKED,
    WM_ITEM_STOPPED,
    WM_ITEM_LEASE_LOST,
    WM_ITEM_POISON,
    WM_POST_POSTED,
    WM_POST_REPOSTED,
    WM_POST_FAILED,
    WM_HB_OK,
    WM_HB_CONFLICT,
    WM_HB_ERROR,
    WM_POLL_WORK,
    WM_POLL_EMPTY,
    WM_POLL_ERROR,
    WM_HTTP_4XX,
    WM_HTTP_5XX,
    WM_HTTP_NETWORK,
    WM_HTTP_TIMEOUT,
    WM_NCOUNTERS
};

enum wm_tool_outcome { WM_TOOL_OK, WM_TOOL_ERROR, WM_TOOL_TIMEOUT, WM_TOOL_DENIED, WM_TOOL_NOUT };

#define WM_TOOLS 7    /* bash read write edit glob grep other */
#define WM_BUCKETS 15 /* 0.005 .. 300 s, then +Inf */
#define WM_SLOTS 256  /* WK_CONCURRENCY_MAX */
#define WM_TOOL_NAME_MAX 32

struct wm_tool_stats {
    _Atomic uint64_t outcome[WM_TOOL_NOUT];
    _Atomic uint64_t bucket[WM_BUCKETS]; /* not cumulative: one bucket per observation */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

/* One slot's record. The strings are guarded by seq (odd while written). */
struct wm_slot {
    _Atomic uint32_t seq;
    _Atomic int32_t busy;
    _Atomic int32_t held;          /* every open call waits on a person */
    _Atomic int64_t item_since_ms; /* monotonic (system-wide clock) */
    _Atomic int64_t call_since_ms; /* oldest call started or waiting to post; 0 none */
    _Atomic int64_t pending_ms;    /* start of the oldest call whose result post failed
                                    * (cached for a re-post); 0 none */
    _Atomic int64_t post_ms;       /* last result posted by this slot's item */
    char work_id[OMNI_ID_MAX];
    char session_id[OMNI_ID_MAX];
    char tool[WM_TOOL_NAME_MAX];
};

struct wm_block {
    uint64_t magic;
    int32_t nslots;
    int32_t pad;
    _Atomic uint64_t c[WM_NCOUNTERS];
    struct wm_tool_stats tools[WM_TOOLS];
    _Atomic int64_t last_post_wall_ms;
    _Atomic int64_t last_poll_wall_ms;
    _Atomic int64_t loop_turn_ms;   /* monotonic: the poll loop (or in-process runner) turned */
    _Atomic int32_t last_poll_work; /* the last poll found work */
    struct wm_slot slots[WM_SLOTS];
};

extern const char *const wm_tool_names[WM_TOOLS];
extern const double wm_bucket_le[WM_BUCKETS];

/* Set up a block in memory the caller owns (tests, and wm_create). */
void wm_block_init(struct wm_block *b, int nslots);
/* The poller: a shared block for nslots; returns the fd children inherit
 * (close-on-exec; spawn clears it for serve-item), or -1 (metrics then
 * stay per process: logged). */
int wm_create(int nslots);
/* A serve-item child: map the parent's block from fd (then closed) as slot. */
int wm_attach(int fd, int slot);
/* This process's block, or NULL. */
struct wm_block *wm_block(void);
int wm_fd(void);

void wm_inc(enum wm_counter c);
/* An API call failed: count its class (4xx, 5xx, network, timeout). */
void wm_http_error(const struct omni_err *err);
void wm_tool_done(const char *tool, enum wm_tool_outcome o, int64_t us);
int wm_tool_index(const char *tool);
void wm_poll_done(int work);
void wm_turn(void);
void wm_result_posted(void);

/* The poller's view of a slot: an item started / ended there. */
void wm_slot_begin(int slot, const char *work_id, const char *session_id);
void wm_slot_end(int slot);
/* The serving process's own slot (the current tool, held state). */
void wm_call_begin(const char *tool);
/* The call is over: posted (or abandoned), or its post failed and the result
 * waits for a re-post (posted 0: it stays outstanding from since_ms). */
void wm_call_end(int posted, int64_t since_ms);
/* Calls of several session threads run at once: the slot shows `tool` (the
 * oldest running call's) since since_ms, its start (stuck-call checks). */
void wm_call_oldest(const char *tool, int64_t since_ms);
/* A cached result was re-posted: nothing waits to post any more. */
void wm_repost_done(void);
void wm_set_held(int held);

/* ---- rendering (pure: unit-tested) ---- */

struct wm_view {
    const char *version;
    int64_t now_mono_ms, now_wall_ms;
    long stuck_call_ms; /* /readyz: a call outstanding longer than this */
    long live_ms;       /* /healthz: the loop turned within this */
};
/* Prometheus text format 0.0.4. Returns 0, -1 when out is full. */
int wm_render_metrics(const struct wm_block *b, const struct wm_view *v, struct buf *out);
/* 1 healthy/ready, 0 not; the reasons, one a line, in out. */
int wm_healthz(const struct wm_block *b, const struct wm_view *v, struct buf *out);
int wm_readyz(const struct wm_block *b, const struct wm_view *v, struct buf *out);
/* What each slot is doing, one line per busy slot. */
int wm_render_status(const struct wm_block *b, const struct wm_view *v, struct buf *out);

/* ---- the endpoint (metrics_http.c) ---- */

#define WM_ADDR_MAX 256
/* 0 when addr is "unix:/path" or HOST:PORT (IPv6 as [addr]:port). */
int wm_addr_valid(const char *addr);
/* Bind addr and serve /metrics, /healthz, /readyz, /status from a thread.
 * Returns 0, or -1 with err (cannot bind). */
int wm_serve_start(const char *addr, const struct wm_view *tmpl, struct omni_err *err);
void wm_serve_stop(void);
/* A SIGUSR1 asked for the status in the log (the serving thread or the
 * poll loop takes it). */
void wm_status_log(const struct wm_view *tmpl);
/* omni-worker status ADDR: GET /status, print it. Returns an exit code. */
int wm_status_client(const char *addr);

#endif
