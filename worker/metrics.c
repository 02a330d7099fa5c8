/*
 * metrics — the shared counter block and its rendering (see metrics.h).
 */
#include "metrics.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WM_MAGIC 0x4f4d4e494d455431ull /* "OMNIMET1" */
#define WM_SEQ_TRIES 64

const char *const wm_tool_names[WM_TOOLS] = {"bash", "read", "write", "edit",
                                             "glob", "grep", "other"};
const double wm_bucket_le[WM_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                         2.5,   5,    10,    30,   60,  120,  300};

static struct wm_block *g_block;
static int g_fd = -1;
static int g_slot = -1;

void wm_block_init(struct wm_block *b, int nslots)
{
    memset(b, 0, sizeof *b);
    b->magic = WM_MAGIC;
    b->nslots = nslots < 1 ? 1 : nslots > WM_SLOTS ? WM_SLOTS : nslots;
}

int wm_create(int nslots)
{
    int fd = memfd_create("omni-worker-metrics", MFD_CLOEXEC);
    void *m;

    if (fd < 0 || ftruncate(fd, (off_t)sizeof(struct wm_block)) < 0) {
        log_warn("metrics: no shared memory (%s); counting this process only", strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        m = mmap(NULL, sizeof(struct wm_block), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    } else {
        m = mmap(NULL, sizeof(struct wm_block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (m == MAP_FAILED) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    g_block = m;
    g_fd = fd;
    g_slot = 0;
    wm_block_init(g_block, nslots);
    return fd;
}

int wm_attach(int fd, int slot)
{
    struct stat st;
    void *m;

    if (fstat(fd, &st) < 0 || (size_t)st.st_size != sizeof(struct wm_block)) {
        close(fd);
        return -1;
    }
    m = mmap(NULL, sizeof(struct wm_block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    if (((struct wm_block *)m)->magic != WM_MAGIC || slot < 0 ||
        slot >= ((struct wm_block *)m)->nslots) {
        munmap(m, sizeof(struct wm_block));
        return -1;
    }
    g_block = m;
    g_slot = slot;
    return 0;
}

struct wm_block *wm_block(void)
{
    return g_block;
}

int wm_fd(void)
{
    return g_fd;
}

void wm_inc(enum wm_counter c)
{
    if (g_block)
        atomic_fetch_add_explicit(&g_block->c[c], 1, memory_order_relaxed);
}

void wm_http_error(const struct omni_err *err)
{
    if (!err)
        return;
    switch (err->kind) {
    case OMNI_E_HTTP:
        wm_inc(err->status >= 500 ? WM_HTTP_5XX : WM_HTTP_4XX);
        break;
    case OMNI_E_NET:
    case OMNI_E_PARSE:
    case OMNI_E_TOOBIG:
        wm_inc(WM_HTTP_NETWORK);
        break;
    case OMNI_E_TIMEOUT:
        wm_inc(WM_HTTP_TIMEOUT);
        break;
    default:
        break;
    }
}

int wm_tool_index(const char *tool)
{
    for (int i = 0; tool && i < WM_TOOLS - 1; i++)
        if (strcmp(tool, wm_tool_names[i]) == 0)
            return i;
    return WM_TOOLS - 1;
}

void wm_tool_done(const char *tool, enum wm_tool_outcome o, int64_t us)
{
    struct wm_tool_stats *t;
    int k = 0;

    if (!g_block)
        return;
    t = &g_block->tools[wm_tool_index(tool)];
    atomic_fetch_add_explicit(&t->outcome[o], 1, memory_order_relaxed);
    if (o == WM_TOOL_DENIED)
        return; /* not run: no duration */
    if (us < 0)
        us = 0;
    while (k < WM_BUCKETS && (double)us > wm_bucket_le[k] * 1e6)
        k++;
    if (k < WM_BUCKETS)
        atomic_fetch_add_explicit(&t->bucket[k], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->sum_us, (uint64_t)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
}

void wm_poll_done(int work)
{
    if (!g_block)
        return;
    wm_inc(work ? WM_POLL_WORK : WM_POLL_EMPTY);
    atomic_store(&g_block->last_poll_wall_ms, omni_wall_us() / 1000);
    atomic_store(&g_block->last_poll_work, work ? 1 : 0);
}

void wm_turn(void)
{
    if (g_block)
        atomic_store(&g_block->loop_turn_ms, omni_mono_ms());
}

void wm_result_posted(void)
{
    if (!g_block)
        return;
    atomic_store(&g_block->last_post_wall_ms, omni_wall_us() / 1000);
    if (g_slot >= 0)
        atomic_store(&g_block->slots[g_slot].post_ms, omni_mono_ms());
}

static struct wm_slot *slot_at(int slot)
{
    return g_block && slot >= 0 && slot < g_block->nslots ? &g_block->slots[slot] : NULL;
}

static void seq_write_begin(struct wm_slot *s)
{
    atomic_fetch_add(&s->seq, 1);
}

static void seq_write_end(struct wm_slot *s)
{
    atomic_fetch_add(&s->seq, 1);
}

void wm_slot_begin(int slot, const char *work_id, const char *session_id)
{
    struct wm_slot *s = slot_at(slot);
    if (!s)
        return;
    atomic_store(&s->seq, 0);
    seq_write_begin(s);
    snprintf(s->work_id, sizeof s->work_id, "%s", work_id ? work_id : "");
    snprintf(s->session_id, sizeof s->session_id, "%s", session_id ? session_id : "");
    s->tool[0] = '\0';
    seq_write_end(s);
    atomic_store(&s->held, 0);
    atomic_store(&s->call_since_ms, 0);
    atomic_store(&s->pending_ms, 0);
    atomic_store(&s->post_ms, 0);
    atomic_store(&s->item_since_ms, omni_mono_ms());
    atomic_store(&s->busy, 1);
}

void wm_slot_end(int slot)
{
    struct wm_slot *s = slot_at(slot);
    if (!s)
        return;
    atomic_store(&s->busy, 0);
    atomic_store(&s->held, 0);
    atomic_store(&s->call_since_ms, 0);
    atomic_store(&s->pending_ms, 0);
    atomic_store(&s->seq, 0); /* a child that died mid-write left it odd */
    s->tool[0] = '\0';
}

void wm_call_oldest(const char *tool, int64_t since_ms)
{
    struct wm_slot *s = slot_at(g_slot);
    if (!s)
        return;
    seq_write_begin(s);
    snprintf(s->tool, sizeof s->tool, "%s", wm_tool_names[wm_tool_index(tool)]);
    seq_write_end(s);
    atomic_store(&s->call_since_ms, since_ms);
}

void wm_call_begin(const char *tool)
{
    struct wm_slot *s = slot_at(g_slot);
    if (!s)
        return;
    atomic_store(&s->held, 0);
    wm_call_oldest(tool, omni_mono_ms());
}

void wm_call_end(int posted, int64_t since_ms)
{
    struct wm_slot *s = slot_at(g_slot);
    if (!s)
        return;
    if (!posted && !atomic_load(&s->pending_ms))
        atomic_store(&s->pending_ms, since_ms);
    atomic_store(&s->call_since_ms, 0);
    seq_write_begin(s);
    s->tool[0] = '\0';
    seq_write_end(s);
}

void wm_repost_done(void)
{
    struct wm_slot *s = slot_at(g_slot);
    if (s)
        atomic_store(&s->pending_ms, 0);
}

void wm_set_held(int held)
{
    struct wm_slot *s = slot_at(g_slot);
    if (s)
        atomic_store(&s->held, held ? 1 : 0);
}

/* ---- rendering ---------------------------------------------------------------- */

/* A consistent copy of a slot's strings; 0, or -1 when it kept changing. */
static int slot_copy(const struct wm_slot *s, struct wm_slot *out)
{
    for (int i = 0; i < WM_SEQ_TRIES; i++) {
        uint32_t a = atomic_load(&s->seq);
        if (a & 1)
            continue;
        memcpy(out->work_id, s->work_id, sizeof out->work_id);
        memcpy(out->session_id, s->session_id, sizeof out->session_id);
        memcpy(out->tool, s->tool, sizeof out->tool);
        if (atomic_load(&s->seq) == a) {
            out->work_id[sizeof out->work_id - 1] = '\0';
            out->session_id[sizeof out->session_id - 1] = '\0';
            out->tool[sizeof out->tool - 1] = '\0';
            return 0;
        }
    }
    out->work_id[0] = out->session_id[0] = out->tool[0] = '\0';
    return -1;
}

static uint64_t cnt(const struct wm_block *b, enum wm_counter c)
{
    return atomic_load_explicit(&b->c[c], memory_order_relaxed);
}

static void head(struct buf *o, const char *name, const char *type, const char *help)
{
    buf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter family over one label with fixed values. */
static void family(struct buf *o, const struct wm_block *b, const char *name, const char *help,
                   const char *label, enum wm_counter first, const char *const *vals, int n)
{
    head(o, name, "counter", help);
    for (int i = 0; i < n; i++)
        buf_addf(o, "%s{%s=\"%s\"} %llu\n", name, label, vals[i],
                 (unsigned long long)cnt(b, (enum wm_counter)(first + i)));
}

/* When the slot's oldest outstanding call started (running, or its result
 * waiting for a re-post); 0 none. */
static int64_t outstanding_since(const struct wm_slot *s)
{
    int64_t run = atomic_load(&s->call_since_ms), pend = atomic_load(&s->pending_ms);
    return !run ? pend : !pend ? run : run < pend ? run : pend;
}

static int64_t oldest_call_ms(const struct wm_block *b, int64_t now, int *slot)
{
    int64_t oldest = 0;
    for (int i = 0; i < b->nslots; i++) {
        int64_t since = outstanding_since(&b->slots[i]);
        if (atomic_load(&b->slots[i].busy) && since && now - since > oldest) {
            oldest = now - since;
            if (slot)
                *slot = i;
        }
    }
    return oldest;
}

int wm_render_metrics(const struct wm_block *b, const struct wm_view *v, struct buf *o)
{
    static const char *const sess[] = {"completed", "stopped", "released", "failed"};
    static const char *const items[] = {"claimed", "acked", "stopped", "lease_lost", "poison"};
    static const char *const posts[] = {"posted", "reposted", "failed"};
    static const char *const hbs[] = {"ok", "conflict", "error"};
    static const char *const polls[] = {"work", "empty", "error"};
    static const char *const http[] = {"4xx", "5xx", "network", "timeout"};
    static const char *const touts[] = {"ok", "error", "timeout", "denied"};
    int busy = 0, held = 0;

    for (int i = 0; i < b->nslots; i++) {
        if (atomic_load(&b->slots[i].busy)) {
            busy++;
            held += atomic_load(&b->slots[i].held) != 0;
        }
    }
    head(o, "omni_worker_build_info", "gauge", "The worker's version (always 1).");
    buf_addf(o, "omni_worker_build_info{version=\"%s\"} 1\n", v->version);
    head(o, "omni_worker_slots_configured", "gauge", "Sessions the worker serves at once.");
    buf_addf(o, "omni_worker_slots_configured %d\n", b->nslots);
    head(o, "omni_worker_slots_busy", "gauge", "Slots serving an item.");
    buf_addf(o, "omni_worker_slots_busy %d\n", busy);
    head(o, "omni_worker_slots_held", "gauge",
         "Busy slots whose every open call waits on a person (confirmation or custom tool).");
    buf_addf(o, "omni_worker_slots_held %d\n", held);
    family(o, b, "omni_worker_sessions_served_total", "Session items served, by how they ended.",
           "outcome", WM_SESS_COMPLETED, sess, 4);
    family(o, b, "omni_worker_items_total", "Work item events.", "event", WM_ITEM_CLAIMED, items,
           5);
    head(o, "omni_worker_tool_calls_total", "counter", "Tool calls, by tool and outcome.");
    for (int t = 0; t < WM_TOOLS; t++)
        for (int k = 0; k < WM_TOOL_NOUT; k++)
            buf_addf(o, "omni_worker_tool_calls_total{tool=\"%s\",outcome=\"%s\"} %llu\n",
                     wm_tool_names[t], touts[k],
                     (unsigned long long)atomic_load(&b->tools[t].outcome[k]));
    head(o, "omni_worker_tool_call_duration_seconds", "histogram",
         "Time a tool call ran, in seconds.");
    for (int t = 0; t < WM_TOOLS; t++) {
        const struct wm_tool_stats *s = &b->tools[t];
        uint64_t cum = 0, count = atomic_load(&s->count);
        for (int k = 0; k < WM_BUCKETS; k++) {
            cum += atomic_load(&s->bucket[k]);
            buf_addf(o,
                     "omni_worker_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"%g\"} %llu\n",
                     wm_tool_names[t], wm_bucket_le[k], (unsigned long long)cum);
        }
        if (count < cum)
            count = cum; /* (read while one was being added) */
        buf_addf(o, "omni_worker_tool_call_duration_seconds_bucket{tool=\"%s\",le=\"+Inf\"} %llu\n",
                 wm_tool_names[t], (unsigned long long)count);
        buf_addf(o, "omni_worker_tool_call_duration_seconds_sum{tool=\"%s\"} %.6f\n",
                 wm_tool_names[t], (double)atomic_load(&s->sum_us) / 1e6);
        buf_addf(o, "omni_worker_tool_call_duration_seconds_count{tool=\"%s\"} %llu\n",
                 wm_tool_names[t], (unsigned long long)count);
    }
    family(o, b, "omni_worker_result_posts_total", "Tool results posted to the API.", "outcome",
           WM_POST_POSTED, posts, 3);
    family(o, b, "omni_worker_heartbeats_total", "Heartbeats (conflict: 412, the lease is lost).",
           "outcome", WM_HB_OK, hbs, 3);
    family(o, b, "omni_worker_polls_total", "Work polls.", "outcome", WM_POLL_WORK, polls, 3);
    family(o, b, "omni_worker_http_errors_total", "Failed API calls, by class.", "class",
           WM_HTTP_4XX, http, 4);
    head(o, "omni_worker_last_result_posted_timestamp_seconds", "gauge",
         "When a tool result was last posted (unix seconds; 0 never).");
    buf_addf(o, "omni_worker_last_result_posted_timestamp_seconds %.3f\n",
             (double)atomic_load(&b->last_post_wall_ms) / 1e3);
    head(o, "omni_worker_last_poll_timestamp_seconds", "gauge",
         "When a work poll last completed (unix seconds; 0 never).");
    buf_addf(o, "omni_worker_last_poll_timestamp_seconds %.3f\n",
             (double)atomic_load(&b->last_poll_wall_ms) / 1e3);
    head(o, "omni_worker_oldest_outstanding_call_seconds", "gauge",
         "Age of the oldest tool call running or waiting to post (0 none).");
    buf_addf(o, "omni_worker_oldest_outstanding_call_seconds %.3f\n",
             (double)oldest_call_ms(b, v->now_mono_ms, NULL) / 1e3);
    return o->overflow ? -1 : 0;
}

int wm_healthz(const struct wm_block *b, const struct wm_view *v, struct buf *o)
{
    int64_t turn = atomic_load(&b->loop_turn_ms);
    int64_t age = turn ? v->now_mono_ms - turn : -1;

    if (turn && age <= v->live_ms) {
        buf_addf(o, "ok: the poll loop turned %.1fs ago\n", (double)age / 1e3);
        return 1;
    }
    if (!turn)
        buf_adds(o, "not live: the poll loop has not turned yet\n");
    else
        buf_addf(o, "not live: the poll loop last turned %.1fs ago (limit %.0fs)\n",
                 (double)age / 1e3, (double)v->live_ms / 1e3);
    return 0;
}

int wm_readyz(const struct wm_block *b, const struct wm_view *v, struct buf *o)
{
    int ok = 1, busy = 0;

    for (int i = 0; i < b->nslots; i++) {
        const struct wm_slot *s = &b->slots[i];
        int64_t since = outstanding_since(s);
        if (!atomic_load(&s->busy))
            continue;
        busy++;
        if (since && v->now_mono_ms - since > v->stuck_call_ms) {
            struct wm_slot c;
            slot_copy(s, &c);
            buf_addf(o,
                     "stuck: slot %d (work %s, tool %s) has had a call outstanding for %.0fs "
                     "with no result posted (limit %.0fs)\n",
                     i, c.work_id[0] ? c.work_id : "?", c.tool[0] ? c.tool : "?",
                     (double)(v->now_mono_ms - since) / 1e3, (double)v->stuck_call_ms / 1e3);
            ok = 0;
        }
    }
    if (busy >= b->nslots && atomic_load(&b->last_poll_work)) {
        buf_addf(o, "full: all %d slots are busy and the last poll found work waiting\n",
                 b->nslots);
        ok = 0;
    }
    if (ok)
        buf_addf(o, "ok: %d of %d slots busy, no call outstanding past %.0fs\n", busy, b->nslots,
                 (double)v->stuck_call_ms / 1e3);
    return ok;
}

int wm_render_status(const struct wm_block *b, const struct wm_view *v, struct buf *o)
{
    int busy = 0;
    buf_addf(o, "%-4s %-28s %-28s %-6s %9s %9s %s\n", "SLOT", "WORK", "SESSION", "TOOL", "CALL_S",
             "ITEM_S", "STATE");
    for (int i = 0; i < b->nslots; i++) {
        const struct wm_slot *s = &b->slots[i];
        struct wm_slot c;
        int64_t since, isince;
        char call[24] = "-";
        if (!atomic_load(&s->busy))
            continue;
        busy++;
        slot_copy(s, &c);
        since = atomic_load(&s->call_since_ms);
        isince = atomic_load(&s->item_since_ms);
        if (since)
            snprintf(call, sizeof call, "%.1f", (double)(v->now_mono_ms - since) / 1e3);
        buf_addf(o, "%-4d %-28s %-28s %-6s %9s %9.1f %s\n", i, c.work_id[0] ? c.work_id : "-",
                 c.session_id[0] ? c.session_id : "-", c.tool[0] ? c.tool : "-", call,
                 isince ? (double)(v->now_mono_ms - isince) / 1e3 : 0.0,
                 atomic_load(&s->held) ? "held"
                 : since               ? "running"
                                       : "idle");
    }
    buf_addf(o, "%d of %d slots busy\n", busy, b->nslots);
    return o->overflow ? -1 : 0;
}
