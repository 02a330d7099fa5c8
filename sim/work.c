/*
 * work — the work queue of protocol.md §6: poll (long-poll, reclaim, secret),
 * ack, heartbeat leases with the exact-echo precondition, stop, list,
 * retrieve, update, stats, and lease expiry (simwork_tick). Handlers run with
 * sim->mu held (server.c); the poll wait releases it while blocked.
 */
#include "reply.h"

#include "alloc.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORK_HB_SENTINEL "NO_HEARTBEAT"

static char *work_b64url(const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = omni_xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

/* Look up env and work item from the path; 404 when either is unknown. */
static struct sim_work *work_lookup(struct sim_req *rq, struct sim_resp *rs, struct sim_env **envp)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e) {
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
        return NULL;
    }
    struct sim_work *w = rq->param[1] ? simstore_work_get(rq->sim, rq->param[1]) : NULL;
    if (rq->param[1] && (!w || w->env != e)) {
        sim_err(rq, rs, 404, NULL, NULL, "work item '%.64s' not found in environment '%s'",
                rq->param[1], e->id);
        return NULL;
    }
    if (envp)
        *envp = e;
    return w;
}

static void work_record_worker(struct sim_env *e, const char *id, int64_t now)
{
    for (size_t i = 0; i < e->workers.n; i++) {
        struct sim_worker_seen *ws = e->workers.v[i];
        if (strcmp(ws->id, id) == 0) {
            ws->last_ms = now;
            return;
        }
    }
    struct sim_worker_seen *ws = omni_xcalloc(1, sizeof(*ws));
    snprintf(ws->id, sizeof(ws->id), "%s", id);
    ws->last_ms = now;
    simvec_push(&e->workers, ws);
}

/* Drop workers not seen within the window; returns the live count. */
static long work_workers_live(struct sim_env *e, int64_t now)
{
    size_t j = 0;
    for (size_t i = 0; i < e->workers.n; i++) {
        struct sim_worker_seen *ws = e->workers.v[i];
        if (now - ws->last_ms <= SIM_WORKERS_WINDOW_MS)
            e->workers.v[j++] = ws;
        else
            free(ws);
    }
    e->workers.n = j;
    return (long)j;
}

static struct sim_work *work_pick(struct sim_env *e, long reclaim, int64_t now, int64_t *next_ms)
{
    *next_ms = 0;
    for (size_t i = 0; i < e->works.n; i++) {
        struct sim_work *w = e->works.v[i];
        if (w->state != WS_QUEUED)
            continue;
        if (!w->delivered || now - w->delivered_ms >= reclaim)
            return w;
        int64_t at = w->delivered_ms + reclaim;
        if (!*next_ms || at < *next_ms)
            *next_ms = at;
    }
    return NULL;
}

void simh_work_poll(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_env *e;
    work_lookup(rq, rs, &e);
    if (rs->status)
        return;
    if (rq->cred.kind != CRED_ENV) {
        sim_err(rq, rs, 403, NULL, NULL, "polling requires the environment key of '%s'", e->id);
        return;
    }
    if (!sim_can_env(rq, rs, e))
        return;
    long block = 0, reclaim = 0;
    if (sim_query_int(rq, rs, "block_ms", 1, 999, 0, &block) < 0 ||
        sim_query_int(rq, rs, "reclaim_older_than_ms", 1, 86400000L, SIM_RECLAIM_DEFAULT_MS,
                      &reclaim) < 0)
        return;
    int64_t now = omni_mono_ms();
    const char *wid = sim_header(rq, "anthropic-worker-id");
    if (wid && *wid)
        work_record_worker(e, wid, now);
    sim->ctr.polls++;
    int64_t deadline = now + block;
    struct sim_work *w;
    for (;;) {
        int64_t next_ms;
        now = omni_mono_ms();
        w = work_pick(e, reclaim, now, &next_ms);
        if (w || now >= deadline || sim->shutting_down || e->deleted)
            break;
        int64_t until = next_ms && next_ms < deadline ? next_ms : deadline;
        simstore_cond_wait_until(&e->work_cv, &sim->mu, until);
    }
    if (!w) {
        sim->ctr.polls_empty++;
        sim_json_raw(rs, 200, omni_xstrdup("null"));
        return;
    }
    w->delivered = 1;
    w->delivered_ms = omni_mono_ms();
    w->deliveries++;
    sim->ctr.deliveries++;
    cJSON *sec = cJSON_CreateObject();
    cJSON_AddStringToObject(sec, "sessions_token", simstore_token_new(sim, w));
    cJSON_AddStringToObject(sec, "api_base_url", sim->base_url);
    char *sj = cJSON_PrintUnformatted(sec);
    cJSON_Delete(sec);
    if (!sj)
        omni_oom();
    char *wire = work_b64url((const unsigned char *)sj, strlen(sj));
    free(sj);
    cJSON *o = simstore_work_json(w);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "secret", cJSON_CreateString(wire));
    free(wire);
    sim_json(rs, 200, o);
}

void simh_work_stats(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e;
    work_lookup(rq, rs, &e);
    if (rs->status || !sim_can_env(rq, rs, e))
        return;
    long depth = 0, pending = 0;
    int64_t oldest = 0;
    for (size_t i = 0; i < e->works.n; i++) {
        struct sim_work *w = e->works.v[i];
        if (w->state != WS_QUEUED)
            continue;
        if (w->delivered)
            pending++;
        else
            depth++;
        if (!oldest || w->queued_us < oldest)
            oldest = w->queued_us;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "work_queue_stats");
    cJSON_AddNumberToObject(o, "depth", (double)depth);
    cJSON_AddNumberToObject(o, "pending", (double)pending);
    if (oldest) {
        char ts[40];
        cJSON_AddStringToObject(o, "oldest_queued_at", simstore_ts(oldest, ts, sizeof(ts)));
    } else {
        cJSON_AddNullToObject(o, "oldest_queued_at");
    }
    cJSON_AddNumberToObject(o, "workers_polling", (double)work_workers_live(e, omni_mono_ms()));
    sim_json(rs, 200, o);
}

void simh_work_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e;
    work_lookup(rq, rs, &e);
    if (rs->status)
        return;
    if (rq->cred.kind != CRED_ENV) {
        sim_err(rq, rs, 403, NULL, NULL,
                "listing work requires the environment key; %s is not accepted here",
                rq->cred.kind == CRED_ORG ? "an organisation API key" : "a sessions token");
        return;
    }
    if (!sim_can_env(rq, rs, e))
        return;
    long limit;
    size_t start = 0;
    int given;
    if (sim_page_bounds(rq, rs, e->works.n, &limit, &start, &given) < 0)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    size_t i = start;
    for (long n = 0; i < e->works.n && n < limit; i++, n++)
        cJSON_AddItemToArray(data, simstore_work_json(e->works.v[i]));
    sim_page_next(o, i < e->works.n, i);
    sim_json(rs, 200, o);
}

void simh_work_get(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_work *w = work_lookup(rq, rs, NULL);
    if (!w || !sim_need_org(rq, rs))
        return;
    sim_json(rs, 200, simstore_work_json(w));
}

void simh_work_update(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_work *w = work_lookup(rq, rs, NULL);
    if (!w || !sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 0);
    if (!b)
        return;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    if (md && !cJSON_IsNull(md)) {
        const char *why = simstore_metadata_check(md, 1);
        /* a merge patch: the limit holds for the metadata it leaves, and a
         * refused patch changes nothing */
        cJSON *merged = why ? NULL : cJSON_Duplicate(w->metadata, 1);
        if (merged) {
            simstore_metadata_patch(merged, md, 0);
            if (cJSON_GetArraySize(merged) > SIM_METADATA_PAIRS)
                why = "metadata would have more than 16 keys";
        } else if (!why) {
            why = "out of memory";
        }
        if (why) {
            sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
            cJSON_Delete(merged);
            cJSON_Delete(b);
            return;
        }
        cJSON_Delete(w->metadata);
        w->metadata = merged;
    }
    cJSON_Delete(b);
    sim_json(rs, 200, simstore_work_json(w));
}

void simh_work_ack(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_work *w = work_lookup(rq, rs, NULL);
    if (!w || !sim_can_work(rq, rs, w))
        return;
    if (w->state != WS_QUEUED) {
        sim_err(rq, rs, 409, "conflict_error", NULL,
                "work item '%s' cannot be acknowledged in state '%s'", w->id,
                simstore_work_state_name(w->state));
        return;
    }
    w->state = WS_STARTING;
    w->acked_us = omni_wall_us();
    w->delivered = 0;
    w->lease_exp_ms = omni_mono_ms() + (int64_t)w->ttl * 1000;
    sim_json(rs, 200, simstore_work_json(w));
}

void simwork_reply_412(struct sim_req *rq, struct sim_resp *rs, const struct sim_work *w,
                       const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON *er = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(er, "type", "invalid_request_error");
    cJSON_AddStringToObject(er, "message", msg);
    cJSON *d = cJSON_AddObjectToObject(er, "details");
    cJSON_AddStringToObject(d, "error_code", "heartbeat_precondition_failed");
    cJSON *cs = cJSON_AddObjectToObject(d, "current_state");
    cJSON_AddStringToObject(cs, "state", simstore_work_state_name(w->state));
    if (w->last_hb[0])
        cJSON_AddStringToObject(cs, "last_heartbeat", w->last_hb);
    else
        cJSON_AddNullToObject(cs, "last_heartbeat");
    cJSON_AddFalseToObject(cs, "lease_extended");
    cJSON_AddNumberToObject(cs, "ttl_seconds", w->ttl);
    cJSON_AddStringToObject(o, "request_id", rq->request_id);
    sim_json(rs, 412, o);
}

static void work_hb_412(struct sim_req *rq, struct sim_resp *rs, struct sim_work *w,
                        const char *expected)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "Heartbeat precondition failed: expected %.60s, actual was %s",
             expected, w->last_hb[0] ? w->last_hb : "NULL");
    simwork_reply_412(rq, rs, w, msg);
}

static void work_requeue(struct sim *sim, struct sim_work *w)
{
    w->state = WS_QUEUED;
    w->last_hb[0] = '\0';
    w->lease_exp_ms = 0;
    w->delivered = 0;
    w->queued_us = omni_wall_us();
    pthread_cond_broadcast(&w->env->work_cv);
    (void)sim;
}

void simh_work_heartbeat(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_work *w = work_lookup(rq, rs, NULL);
    if (!w || !sim_can_work(rq, rs, w))
        return;
    long ttl = 0;
    if (sim_query_int(rq, rs, "desired_ttl_seconds", 0, 1L << 30, 0, &ttl) < 0)
        return;
    const char *expected = sim_query(rq, "expected_last_heartbeat");
    if (!expected) {
        sim_err(rq, rs, 400, NULL, NULL, "missing 'expected_last_heartbeat' query parameter");
        return;
    }
    sim->ctr.heartbeats++;
    int extend = 1;
    if (w->state == WS_STOPPED) {
        extend = 0;
    } else if (w->state != WS_STOPPING) {
        int match;
        if (w->state == WS_QUEUED)
            match = 0;
        else if (strcmp(expected, WORK_HB_SENTINEL) == 0)
            match = w->last_hb[0] == '\0';
        else
            match = w->last_hb[0] && strcmp(expected, w->last_hb) == 0;
        if (!match) {
            work_hb_412(rq, rs, w, expected);
            return;
        }
        int k = sim->faults.steal_lease_every;
        if (k > 0 && ++sim->ctr.hb_matched % k == 0) {
            sim->ctr.leases_stolen++;
            work_requeue(sim, w);
            work_hb_412(rq, rs, w, expected);
            return;
        }
    }
    if (ttl > 0)
        w->ttl = ttl < SIM_TTL_MIN ? SIM_TTL_MIN : ttl > SIM_TTL_MAX ? SIM_TTL_MAX : (int)ttl;
    if (extend) {
        int64_t now = omni_wall_us();
        if (now <= w->heartbeat_us)
            now = w->heartbeat_us + 1;
        w->heartbeat_us = now;
        simstore_ts(now, w->last_hb, sizeof(w->last_hb));
        w->lease_exp_ms = omni_mono_ms() + (int64_t)w->ttl * 1000;
        if (w->state == WS_STARTING) {
            w->state = WS_ACTIVE;
            w->started_us = now;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "work_heartbeat");
    cJSON_AddStringToObject(o, "last_heartbeat", w->last_hb);
    cJSON_AddBoolToObject(o, "lease_extended", extend);
    cJSON_AddStringToObject(o, "state", simstore_work_state_name(w->state));
    cJSON_AddNumberToObject(o, "ttl_seconds", w->ttl);
    sim_json(rs, 200, o);
}

static void work_set_stopped(struct sim_work *w)
{
    w->state = WS_STOPPED;
    w->stopped_us = omni_wall_us();
    w->lease_exp_ms = 0;
    w->delivered = 0;
}

void simh_work_stop(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_work *w = work_lookup(rq, rs, NULL);
    if (!w)
        return;
    if (rq->cred.kind != CRED_ORG && !sim_can_work(rq, rs, w))
        return;
    cJSON *b = sim_body(rq, rs, 0);
    if (!b)
        return;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(b, "force");
    if (f && !cJSON_IsBool(f) && !cJSON_IsNull(f)) {
        cJSON_Delete(b);
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'force': must be a boolean");
        return;
    }
    int force = cJSON_IsTrue(f);
    cJSON_Delete(b);
    if (w->state == WS_STOPPED) {
        sim_err(rq, rs, 409, "conflict_error", NULL, "work item '%s' is already stopped", w->id);
        rs->should_retry = 0;
        return;
    }
    if (force || w->state == WS_QUEUED) {
        work_set_stopped(w);
    } else if (w->state != WS_STOPPING) {
        w->state = WS_STOPPING;
        w->stop_req_us = omni_wall_us();
    }
    if (sim->cfg.stop_reply == 200) {
        sim_json(rs, 200, simstore_work_json(w));
    } else {
        rs->status = 204;
        rs->body = NULL;
    }
}

void simwork_session_ended(struct sim *sim, struct sim_session *s)
{
    struct sim_work *w = s->live_work;
    (void)sim;
    if (!w)
        return;
    if (w->state == WS_QUEUED) {
        work_set_stopped(w);
    } else if (w->state == WS_STARTING || w->state == WS_ACTIVE) {
        w->state = WS_STOPPING;
        w->stop_req_us = omni_wall_us();
    }
}

void simwork_tick(struct sim *sim)
{
    int64_t now = omni_mono_ms();
    for (size_t i = 0; i < sim->work_list.n; i++) {
        struct sim_work *w = sim->work_list.v[i];
        if (!w->lease_exp_ms || now < w->lease_exp_ms)
            continue;
        if (w->state == WS_STARTING || w->state == WS_ACTIVE) {
            sim->ctr.leases_lost++;
            if (w->session && (w->session->deleted || w->session->archived_us))
                work_set_stopped(w);
            else
                work_requeue(sim, w);
        } else if (w->state == WS_STOPPING) {
            work_set_stopped(w);
        } else {
            w->lease_exp_ms = 0;
        }
    }
}
