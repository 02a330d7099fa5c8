#include "runstate.h"

#include "metrics.h"
#include "event.h"
#include "hash.h"

#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Per-id flags. */
#define F_SEEN 0x01      /* routed at least once (live dedup) */
#define F_ANSWERED 0x02  /* a result is known */
#define F_QUEUED 0x04    /* in the run queue or running */
#define F_HELD 0x08      /* waiting for a confirmation */
#define F_NOTOWNED 0x10  /* logged once as not owned */
#define F_PASS 0x20      /* added to `seen` by the current reconcile pass */
#define F_CANCELLED 0x40 /* held when an interrupt or the session's end settled it */

enum verdict { V_NONE = 0, V_ALLOW, V_DENY };

struct idinfo {
    char *key;
    unsigned flags;
    enum verdict verdict;
    struct rs_call *held;     /* the held call (F_HELD) */
    struct rs_result *cached; /* result whose post failed */
};

struct table {
    struct idinfo *slots;
    size_t cap, n;
};

struct pend {
    struct rs_call *c;
    enum omni_permission p;
};

struct rstate {
    rs_owns_fn owns;
    void *ud;
    struct table ids;
    struct table threads;   /* terminated thread ids */
    struct rs_call **queue; /* FIFO */
    size_t qhead, qlen, qcap;
    size_t held, inflight;
    size_t max_inflight; /* calls of different threads at once (>= 1) */
    struct busy {
        char *thread;     /* of a call in flight ("" = primary); NULL: a free slot */
        int unwanted;     /* its thread's turn ended while it ran */
    } * busy;             /* max_inflight slots */
    char **ended_threads; /* terminated threads not yet taken by the runner */
    size_t nended, capended;
    size_t notowned; /* calls left for another client (custom tools), unanswered */
    int ended;
    int turn_ended;
    unsigned gen;
    /* reconcile pass */
    int reconciling;
    struct pend *pending; /* pass-1 tool uses still unanswered, in order */
    size_t npending, cappending;
    int hist_turn_ended;
};

/* ---- string-keyed open-addressing table (entries are never removed) --- */

static struct idinfo *table_find(const struct table *t, const char *key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = omni_hash_str(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].key)
            return NULL;
        if (strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
    }
}

static int table_grow(struct table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    struct idinfo *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key)
            continue;
        size_t j = omni_hash_str(t->slots[i].key) & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

/* Find or add; NULL when out of memory or over RS_MAX_IDS. */
static struct idinfo *table_get(struct table *t, const char *key)
{
    struct idinfo *e = table_find(t, key);
    if (e)
        return e;
    if (t->n >= RS_MAX_IDS)
        return NULL;
    if ((t->n + 1) * 10 >= t->cap * 7 && table_grow(t) < 0)
        return NULL;
    size_t i = omni_hash_str(key) & (t->cap - 1);
    while (t->slots[i].key)
        i = (i + 1) & (t->cap - 1);
    t->slots[i].key = strdup(key);
    if (!t->slots[i].key)
        return NULL;
    t->n++;
    return &t->slots[i];
}

static void result_free(struct rs_result *r)
{
    if (r) {
        free(r->text);
        free(r);
    }
}

static void table_release(struct table *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key)
            continue;
        free(t->slots[i].key);
        rs_call_free(t->slots[i].held);
        result_free(t->slots[i].cached);
    }
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

/* ---- calls ---------------------------------------------------------------- */

void rs_call_free(struct rs_call *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->name);
    free(c->thread);
    cJSON_Delete(c->input);
    free(c);
}

/* A call this worker may run: a tool use or a custom tool use (MCP calls run server side). */
static int is_tool_use(enum omni_event_kind kind, int *custom)
{
    *custom = kind == OMNI_EV_AGENT_CUSTOM_TOOL_USE;
    return kind == OMNI_EV_AGENT_TOOL_USE || kind == OMNI_EV_AGENT_CUSTOM_TOOL_USE;
}

static struct rs_call *call_from_event(const cJSON *ev, int custom)
{
    const char *id = omni_json_string(ev, "id"), *name = omni_json_string(ev, "name"),
               *th = omni_json_string(ev, "session_thread_id");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(ev, "input");
    struct rs_call *c;

    if (!id || !*id)
        return NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = strdup(id);
    c->name = strdup(name ? name : "");
    c->thread = th && *th ? strdup(th) : NULL;
    c->input = in ? cJSON_Duplicate(in, 1) : cJSON_CreateObject();
    c->custom = custom;
    if (!c->id || !c->name || (th && *th && !c->thread) || !c->input) {
        rs_call_free(c);
        return NULL;
    }
    return c;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct rstate *rstate_new(rs_owns_fn owns, void *ud)
{
    struct rstate *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->owns = owns;
    rs->ud = ud;
    rs->max_inflight = 1;
    rs->busy = calloc(1, sizeof *rs->busy);
    if (!rs->busy) {
        free(rs);
        return NULL;
    }
    return rs;
}

int rstate_set_max_inflight(struct rstate *rs, size_t n)
{
    struct busy *nb;
    if (n < 1 || rs->inflight)
        return -1;
    nb = calloc(n, sizeof *nb);
    if (!nb)
        return -1;
    free(rs->busy);
    rs->busy = nb;
    rs->max_inflight = n;
    return 0;
}

static void pending_clear(struct rstate *rs)
{
    for (size_t i = 0; i < rs->npending; i++)
        rs_call_free(rs->pending[i].c);
    rs->npending = 0;
}

void rstate_free(struct rstate *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->qlen; i++)
        rs_call_free(rs->queue[(rs->qhead + i) % rs->qcap]);
    free(rs->queue);
    pending_clear(rs);
    free(rs->pending);
    table_release(&rs->ids);
    table_release(&rs->threads);
    for (size_t i = 0; i < rs->max_inflight; i++)
        free(rs->busy[i].thread);
    free(rs->busy);
    for (size_t i = 0; i < rs->nended; i++)
        free(rs->ended_threads[i]);
    free(rs->ended_threads);
    free(rs);
}

/* ---- queue ---------------------------------------------------------------- */

static int queue_push(struct rstate *rs, struct rs_call *c)
{
    if (rs->qlen == rs->qcap) {
        size_t ncap = rs->qcap ? rs->qcap * 2 : 16;
        struct rs_call **nq = malloc(ncap * sizeof *nq);
        if (!nq)
            return -1;
        for (size_t i = 0; i < rs->qlen; i++)
            nq[i] = rs->queue[(rs->qhead + i) % rs->qcap];
        free(rs->queue);
        rs->queue = nq;
        rs->qcap = ncap;
        rs->qhead = 0;
    }
    rs->queue[(rs->qhead + rs->qlen) % rs->qcap] = c;
    rs->qlen++;
    return 0;
}

/* Take the k-th queued call out (0 = the oldest), keeping the others in order. */
static struct rs_call *queue_take(struct rstate *rs, size_t k)
{
    struct rs_call *c = rs->queue[(rs->qhead + k) % rs->qcap];
    for (size_t i = k; i > 0; i--)
        rs->queue[(rs->qhead + i) % rs->qcap] = rs->queue[(rs->qhead + i - 1) % rs->qcap];
    rs->qhead = (rs->qhead + 1) % rs->qcap;
    rs->qlen--;
    return c;
}

static void enqueue(struct rstate *rs, struct idinfo *e, struct rs_call *c)
{
    if (queue_push(rs, c) < 0) {
        log_kv(LOG_ERROR, "out of memory queueing a tool call", "tool_use_id", c->id, NULL);
        rs_call_free(c);
        return;
    }
    e->flags |= F_QUEUED;
}

/* ---- routing (§8.7, §8.8) -------------------------------------------------- */

static int thread_terminated(const struct rstate *rs, const char *thread)
{
    return thread && table_find(&rs->threads, thread) != NULL;
}

static void mark_answered(struct rstate *rs, struct idinfo *e)
{
    if ((e->flags & (F_NOTOWNED | F_ANSWERED)) == F_NOTOWNED)
        rs->notowned--;
    e->flags |= F_ANSWERED;
    if (e->flags & F_HELD) {
        e->flags &= ~(unsigned)F_HELD;
        rs_call_free(e->held);
        e->held = NULL;
        rs->held--;
    }
    result_free(e->cached);
    e->cached = NULL;
}

static void route(struct rstate *rs, struct rs_call *c, enum omni_permission p)
{
    struct idinfo *e = table_get(&rs->ids, c->id);

    if (!e) {
        log_kv(LOG_ERROR, "too many tool calls tracked; call ignored", "tool_use_id", c->id, NULL);
        rs_call_free(c);
        return;
    }
    if (e->flags & (F_ANSWERED | F_QUEUED | F_HELD)) {
        rs_call_free(c); /* already handled, running, or held (the hold stays) */
        return;
    }
    if (thread_terminated(rs, c->thread)) {
        log_kv(LOG_DEBUG, "tool call dropped: its thread is terminated", "tool_use_id", c->id,
               "thread", c->thread, NULL);
        rs_call_free(c);
        return;
    }
    if (!rs->owns(rs->ud, c->name)) {
        if (!(e->flags & F_NOTOWNED)) {
            log_kv(LOG_INFO, "tool call not owned by this worker; left for its owner", "tool",
                   c->name, "tool_use_id", c->id, NULL);
            rs->notowned++;
        }
        e->flags |= F_NOTOWNED;
        rs_call_free(c);
        return;
    }
    if (e->cached) {
        c->cached = e->cached;
        enqueue(rs, e, c);
        return;
    }
    if (p == OMNI_PERM_DENY || e->verdict == V_DENY) {
        log_kv(LOG_INFO, "tool call denied; not run", "tool", c->name, "tool_use_id", c->id, NULL);
        wm_tool_done(c->name, WM_TOOL_DENIED, 0);
        mark_answered(rs, e);
        rs_call_free(c);
        return;
    }
    if (e->verdict == V_ALLOW) {
        c->gated = 1;
        enqueue(rs, e, c);
        return;
    }
    if (p == OMNI_PERM_ALLOW) {
        enqueue(rs, e, c);
        return;
    }
    log_kv(LOG_INFO, "tool call held for confirmation", "tool", c->name, "tool_use_id", c->id,
           NULL);
    e->flags |= F_HELD;
    e->held = c;
    rs->held++;
}

static void on_confirmation(struct rstate *rs, const cJSON *ev)
{
    const char *id = omni_json_string(ev, "tool_use_id"), *res = omni_json_string(ev, "result");
    struct idinfo *e;

    if (!id || !*id || !(e = table_get(&rs->ids, id)) || (e->flags & F_ANSWERED))
        return;
    e->verdict = res && strcmp(res, "allow") == 0 ? V_ALLOW : V_DENY;
    if (e->flags & F_HELD) {
        struct rs_call *c = e->held;
        e->held = NULL;
        e->flags &= ~(unsigned)F_HELD;
        rs->held--;
        if (e->verdict == V_ALLOW) {
            log_kv(LOG_INFO, "tool call allowed by confirmation", "tool", c->name, "tool_use_id",
                   id, NULL);
            c->gated = 1;
            enqueue(rs, e, c);
        } else {
            log_kv(LOG_INFO, "tool call denied by confirmation; not run", "tool", c->name,
                   "tool_use_id", id, NULL);
            wm_tool_done(c->name, WM_TOOL_DENIED, 0);
            e->flags |= F_ANSWERED;
            rs_call_free(c);
        }
    }
}

static void on_answer(struct rstate *rs, const char *id)
{
    struct idinfo *e;
    if (id && *id && (e = table_get(&rs->ids, id)))
        mark_answered(rs, e);
}

static void on_thread_terminated(struct rstate *rs, const cJSON *ev)
{
    const char *th = omni_json_string(ev, "session_thread_id");
    if (!th || !*th)
        th = omni_json_string(ev, "thread_id");
    if (!th || !*th)
        return;
    if (!table_find(&rs->threads, th) && rs->nended < RS_ENDED_THREADS_MAX) {
        /* the runner cancels the thread's call in flight and ends its shell */
        if (rs->nended == rs->capended) {
            size_t ncap = rs->capended ? rs->capended * 2 : 8;
            char **na = realloc(rs->ended_threads, ncap * sizeof *na);
            if (na) {
                rs->ended_threads = na;
                rs->capended = ncap;
            }
        }
        if (rs->nended < rs->capended && (rs->ended_threads[rs->nended] = strdup(th)) != NULL)
            rs->nended++;
    }
    if (!table_get(&rs->threads, th))
        return;
    for (size_t i = 0; i < rs->ids.cap; i++) {
        struct idinfo *e = &rs->ids.slots[i];
        if (e->key && (e->flags & F_HELD) && e->held->thread && strcmp(e->held->thread, th) == 0) {
            rs_call_free(e->held);
            e->held = NULL;
            e->flags &= ~(unsigned)F_HELD;
            rs->held--;
        }
    }
}

/* A held call settled by an interrupt or the session's end (omni_event_cancels_held):
 * never run, answered for good, so a later confirmation for it does nothing. */
static void cancel_held(struct rstate *rs, struct idinfo *e, const char *name)
{
    log_kv(LOG_INFO, "held tool call cancelled (interrupt or session end); not run", "tool", name,
           "tool_use_id", e->key, NULL);
    e->flags |= F_CANCELLED;
    mark_answered(rs, e);
}

/* Live: every call held now. */
static void on_cancel_held(struct rstate *rs)
{
    for (size_t i = 0; rs->held && i < rs->ids.cap; i++) {
        struct idinfo *e = &rs->ids.slots[i];
        if (e->key && (e->flags & F_HELD))
            cancel_held(rs, e, e->held->name);
    }
}

/* Reconcile pass 1: the calls listed so far that would be held (ask or
 * unknown permission, no verdict yet, unanswered); a held call listed after
 * the interrupt belongs to a later turn and stays. */
static void reconcile_cancel_held(struct rstate *rs)
{
    for (size_t i = 0; i < rs->npending; i++) {
        struct idinfo *e = table_find(&rs->ids, rs->pending[i].c->id);
        enum omni_permission p = rs->pending[i].p;
        if (e && !(e->flags & (F_ANSWERED | F_QUEUED)) && e->verdict == V_NONE &&
            (p == OMNI_PERM_ASK || p == OMNI_PERM_UNKNOWN))
            cancel_held(rs, e, rs->pending[i].c->name);
    }
}

/* 1 for an idle (session or thread) that ends a turn: the session no longer
 * waits on the calls made before it (SDK 1.16 runs only the calls the
 * session waits on; after retries_exhausted it still accepts their results). */
static int idle_ends_turn(enum omni_event_kind kind, const cJSON *ev)
{
    const char *t;
    if (kind != OMNI_EV_SESSION_STATUS_IDLE && kind != OMNI_EV_SESSION_THREAD_STATUS_IDLE)
        return 0;
    t = omni_json_string(cJSON_GetObjectItemCaseSensitive(ev, "stop_reason"), "type");
    return !t || (strcmp(t, "requires_action") != 0 && strcmp(t, "retries_exhausted") != 0);
}

/* The thread an idle is about: a thread idle's own, NULL (primary) for a session idle. */
static const char *idle_thread(enum omni_event_kind kind, const cJSON *ev)
{
    const char *th = kind == OMNI_EV_SESSION_THREAD_STATUS_IDLE
                         ? omni_json_string(ev, "session_thread_id")
                         : NULL;
    return th && *th ? th : NULL;
}

static int same_thread(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A call the session stopped waiting on: never run, settled for good. */
static void drop_unwaited(struct rstate *rs, struct idinfo *e, const char *name)
{
    log_kv(LOG_INFO, "tool call not run: its turn ended before it ran", "tool", name, "tool_use_id",
           e->key, NULL);
    mark_answered(rs, e);
}

/* Live: the queued calls of the thread whose turn ended (re-posts of results
 * already made stay). */
static void drop_queued(struct rstate *rs, const char *thread)
{
    for (size_t k = 0; k < rs->qlen;) {
        struct rs_call *c = rs->queue[(rs->qhead + k) % rs->qcap];
        struct idinfo *e = table_find(&rs->ids, c->id);
        if (c->cached || !same_thread(c->thread, thread) || !e) {
            k++;
            continue;
        }
        queue_take(rs, k);
        e->flags &= ~(unsigned)F_QUEUED;
        drop_unwaited(rs, e, c->name);
        rs_call_free(c);
    }
}

/* Reconcile: the calls of that thread listed so far and still unanswered. */
static void drop_pending(struct rstate *rs, const char *thread)
{
    size_t keep = 0;
    for (size_t i = 0; i < rs->npending; i++) {
        struct rs_call *c = rs->pending[i].c;
        struct idinfo *e = table_find(&rs->ids, c->id);
        if (same_thread(c->thread, thread) && e && !(e->flags & (F_ANSWERED | F_QUEUED)) &&
            !e->cached) {
            drop_unwaited(rs, e, c->name);
            rs_call_free(c);
            continue;
        }
        rs->pending[keep++] = rs->pending[i];
    }
    rs->npending = keep;
}

/* Idle bookkeeping (§9.6): neutral events leave the turn state alone. */
static void track_turn(struct rstate *rs, enum omni_event_kind kind, const cJSON *ev, int *turn)
{
    if (kind == OMNI_EV_USER_TOOL_CONFIRMATION || kind == OMNI_EV_SESSION_THREAD_STATUS_TERMINATED)
        return;
    if (kind == OMNI_EV_SESSION_STATUS_IDLE) {
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(ev, "stop_reason");
        const char *t = omni_json_string(sr, "type");
        *turn = !(t && strcmp(t, "requires_action") == 0);
    } else {
        *turn = 0;
    }
}

/* State updates shared by history and live events (not tool-use routing). */
static void apply_event(struct rstate *rs, enum omni_event_kind kind, const cJSON *ev)
{
    if (kind == OMNI_EV_USER_TOOL_CONFIRMATION)
        on_confirmation(rs, ev);
    else if (omni_event_is_tool_result(kind))
        on_answer(rs, omni_event_answers(ev));
    else if (kind == OMNI_EV_SESSION_THREAD_STATUS_TERMINATED)
        on_thread_terminated(rs, ev);
    if (omni_event_cancels_held(kind)) {
        if (rs->reconciling)
            reconcile_cancel_held(rs);
        else
            on_cancel_held(rs);
    }
    if (omni_event_ends_session(kind))
        rs->ended = 1;
    if (idle_ends_turn(kind, ev)) {
        const char *th = idle_thread(kind, ev);
        if (rs->reconciling)
            drop_pending(rs, th);
        else
            drop_queued(rs, th);
        /* a child thread's running call: the thread no longer takes its
         * result (1.16 aborts it; a session idle leaves running calls be) */
        for (size_t i = 0; th && i < rs->max_inflight; i++)
            if (rs->busy[i].thread && strcmp(rs->busy[i].thread, th) == 0)
                rs->busy[i].unwanted = 1;
    }
}

/* ---- reconcile (§8.9 step 2) ----------------------------------------------- */

void rstate_reconcile_begin(struct rstate *rs)
{
    pending_clear(rs);
    rs->reconciling = 1;
    rs->hist_turn_ended = 0;
}

void rstate_reconcile_add(struct rstate *rs, const cJSON *ev)
{
    const char *type = omni_json_string(ev, "type");
    enum omni_event_kind kind = omni_event_kind_of_type(type);
    int custom;

    if (!rs->reconciling || !type)
        return;
    if (is_tool_use(kind, &custom)) {
        const char *id = omni_json_string(ev, "id");
        struct idinfo *e = id && *id ? table_get(&rs->ids, id) : NULL;
        if (e) {
            if (!(e->flags & F_SEEN))
                e->flags |= F_SEEN | F_PASS;
            if (!(e->flags & F_ANSWERED)) {
                struct rs_call *c = call_from_event(ev, custom);
                if (c) {
                    if (rs->npending == rs->cappending) {
                        size_t ncap = rs->cappending ? rs->cappending * 2 : 32;
                        struct pend *np = realloc(rs->pending, ncap * sizeof *np);
                        if (!np) {
                            rs_call_free(c);
                            return;
                        }
                        rs->pending = np;
                        rs->cappending = ncap;
                    }
                    rs->pending[rs->npending].c = c;
                    rs->pending[rs->npending++].p = omni_event_permission(ev);
                }
            }
        }
    } else {
        apply_event(rs, kind, ev);
    }
    track_turn(rs, kind, ev, &rs->hist_turn_ended);
}

void rstate_reconcile_end(struct rstate *rs, int ok)
{
    if (!rs->reconciling)
        return;
    rs->reconciling = 0;
    if (!ok) {
        /* Listing failed: forget this pass so live events route those ids. */
        for (size_t i = 0; i < rs->ids.cap; i++) {
            struct idinfo *e = &rs->ids.slots[i];
            if (e->key && (e->flags & F_PASS))
                e->flags &= ~(unsigned)(F_SEEN | F_PASS);
        }
        pending_clear(rs);
        rs->turn_ended = 0;
        return;
    }
    for (size_t i = 0; i < rs->ids.cap; i++)
        if (rs->ids.slots[i].key)
            rs->ids.slots[i].flags &= ~(unsigned)F_PASS;
    for (size_t i = 0; i < rs->npending; i++) {
        struct rs_call *c = rs->pending[i].c;
        rs->pending[i].c = NULL;
        route(rs, c, rs->pending[i].p);
    }
    rs->npending = 0;
    rs->turn_ended = rs->hist_turn_ended;
    if (rs->turn_ended)
        rs->gen++;
}

/* ---- live events (§8.9 step 3) ------------------------------------------------ */

void rstate_live(struct rstate *rs, const cJSON *ev)
{
    const char *type = omni_json_string(ev, "type");
    enum omni_event_kind kind = omni_event_kind_of_type(type);
    int custom, turn = rs->turn_ended;

    if (!type) /* an event without a type changes nothing; an unknown type ends a turn */
        return;
    if (is_tool_use(kind, &custom)) {
        const char *id = omni_json_string(ev, "id");
        struct idinfo *e = id && *id ? table_get(&rs->ids, id) : NULL;
        if (e && !(e->flags & F_SEEN)) {
            struct rs_call *c = call_from_event(ev, custom);
            e->flags |= F_SEEN;
            if (c)
                route(rs, c, omni_event_permission(ev));
        }
    } else {
        apply_event(rs, kind, ev);
    }
    track_turn(rs, kind, ev, &turn);
    if (turn && kind == OMNI_EV_SESSION_STATUS_IDLE)
        rs->gen++;
    rs->turn_ended = turn;
}

/* ---- the runner's side -------------------------------------------------------- */

/* The busy[] slot of a thread's call in flight, or -1. */
static long busy_slot(const struct rstate *rs, const char *thread)
{
    const char *key = thread ? thread : "";
    for (size_t i = 0; i < rs->max_inflight; i++)
        if (rs->busy[i].thread && strcmp(rs->busy[i].thread, key) == 0)
            return (long)i;
    return -1;
}

struct rs_call *rstate_next(struct rstate *rs)
{
    size_t k = 0;

    while (rs->inflight < rs->max_inflight && k < rs->qlen) {
        struct rs_call *c = rs->queue[(rs->qhead + k) % rs->qcap];
        struct idinfo *e = table_find(&rs->ids, c->id);
        if (!e || (e->flags & F_ANSWERED) || thread_terminated(rs, c->thread)) {
            queue_take(rs, k);
            if (e)
                e->flags &= ~(unsigned)F_QUEUED;
            rs_call_free(c);
            continue;
        }
        if (busy_slot(rs, c->thread) >= 0) {
            k++; /* its thread has a call in flight: calls of one thread run in order */
            continue;
        }
        for (size_t i = 0; i < rs->max_inflight; i++) {
            if (!rs->busy[i].thread) {
                rs->busy[i].thread = strdup(c->thread ? c->thread : "");
                if (!rs->busy[i].thread)
                    return NULL; /* out of memory: tried again on the next turn */
                break;
            }
        }
        queue_take(rs, k);
        c->cached = e->cached;
        rs->inflight++;
        return c;
    }
    return NULL;
}

int rstate_thread_ended(const struct rstate *rs, const char *thread)
{
    return thread_terminated(rs, thread);
}

int rstate_unwanted(const struct rstate *rs, const struct rs_call *c)
{
    const struct idinfo *e = table_find(&rs->ids, c->id);
    long slot = busy_slot(rs, c->thread);
    return (e && (e->flags & F_ANSWERED)) || thread_terminated(rs, c->thread) ||
           (slot >= 0 && rs->busy[slot].unwanted);
}

char *rstate_take_ended_thread(struct rstate *rs)
{
    return rs->nended ? rs->ended_threads[--rs->nended] : NULL;
}

void rstate_done(struct rstate *rs, const struct rs_call *c, enum rs_outcome how,
                 const struct rs_result *res)
{
    struct idinfo *e = table_find(&rs->ids, c->id);
    long slot = busy_slot(rs, c->thread);

    if (slot >= 0) {
        free(rs->busy[slot].thread);
        rs->busy[slot].thread = NULL;
        rs->busy[slot].unwanted = 0;
        rs->inflight--;
    }
    if (!e)
        return;
    e->flags &= ~(unsigned)F_QUEUED;
    switch (how) {
    case RS_POSTED:
    case RS_GAVE_UP:
        mark_answered(rs, e);
        break;
    case RS_POST_FAILED:
        if (!e->cached && res) {
            struct rs_result *r = calloc(1, sizeof *r);
            if (r) {
                r->is_error = res->is_error;
                r->text = strdup(res->text ? res->text : "");
                if (!r->text) {
                    free(r);
                    r = NULL;
                }
            }
            e->cached = r;
        }
        break;
    case RS_ABANDONED:
        break;
    }
}

int rstate_idle_ready(const struct rstate *rs, unsigned *gen)
{
    if (gen)
        *gen = rs->gen;
    return rs->turn_ended && !rs->ended && !rs->qlen && !rs->inflight && !rs->held;
}

int rstate_ended(const struct rstate *rs)
{
    return rs->ended;
}

size_t rstate_held(const struct rstate *rs)
{
    return rs->held;
}

size_t rstate_waiting(const struct rstate *rs)
{
    if (rs->ended || rs->qlen || rs->inflight)
        return 0;
    return rs->held + rs->notowned;
}

size_t rstate_queued(const struct rstate *rs)
{
    return rs->qlen + rs->inflight;
}

int rstate_answered(const struct rstate *rs, const char *id)
{
    const struct idinfo *e = table_find(&rs->ids, id);
    return e && (e->flags & F_ANSWERED);
}

cJSON *rstate_result_event(const char *id, int custom, int is_error, const char *text)
{
    cJSON *ev = cJSON_CreateObject(), *content, *blk;

    if (!ev)
        return NULL;
    cJSON_AddStringToObject(
        ev, "type",
        omni_event_type_name(custom ? OMNI_EV_USER_CUSTOM_TOOL_RESULT : OMNI_EV_USER_TOOL_RESULT));
    cJSON_AddStringToObject(ev, custom ? "custom_tool_use_id" : "tool_use_id", id);
    cJSON_AddBoolToObject(ev, "is_error", is_error ? 1 : 0);
    content = cJSON_AddArrayToObject(ev, "content");
    blk = cJSON_CreateObject();
    cJSON_AddItemToArray(content, blk);
    cJSON_AddStringToObject(blk, "type", "text");
    cJSON_AddStringToObject(blk, "text", text && *text ? text : RS_NO_OUTPUT);
    return ev;
}
