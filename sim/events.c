/*
 * events — session events (§8): list with cursor pagination and filters,
 * send (validation, result bookkeeping through the scripted agent, work
 * re-enqueue), and the SSE stream (only events after attach, pings, fault
 * cuts and error frames, end after termination).
 */
#include "reply.h"

#include "alloc.h"
#include "event.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_stream {
    struct sim *sim;
    struct sim_session *s;
    struct sim_thread *th; /* a child thread's stream; NULL: the session's */
    size_t next;
    long sent;
    int hello;
    int ending;
    int error_next;
    int cut_after;
    int error_every;
    int64_t ping_ms;
    int64_t next_ping;
    struct buf out;
    size_t off;
};

struct sim_session *simevents_session(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = simstore_session_get(rq->sim, rq->param[0]);
    if (!s) {
        sim_err(rq, rs, 404, NULL, NULL, "session '%.64s' not found", rq->param[0]);
        return NULL;
    }
    if (!sim_can_session(rq, rs, s))
        return NULL;
    return s;
}

void simh_events_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = simevents_session(rq, rs);
    if (s)
        simevents_list_of(rq, rs, s->events, s->nevents);
}

void simevents_list_of(struct sim_req *rq, struct sim_resp *rs, struct sim_event *const *evs,
                       size_t nevents)
{
    long limit;
    size_t start = 0;
    int given;
    int64_t gt, gte, lt, lte;
    const char *order = sim_query(rq, "order");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'order': expected 'asc' or 'desc'");
        return;
    }
    int desc = order && strcmp(order, "desc") == 0;
    if (sim_page_bounds(rq, rs, nevents, &limit, &start, &given) < 0 ||
        sim_query_ts(rq, rs, "created_at[gt]", &gt) < 0 ||
        sim_query_ts(rq, rs, "created_at[gte]", &gte) < 0 ||
        sim_query_ts(rq, rs, "created_at[lt]", &lt) < 0 ||
        sim_query_ts(rq, rs, "created_at[lte]", &lte) < 0)
        return;
    struct sim_vec types = {0};
    sim_query_all(rq, "types", &types);
    struct buf b = BUF_INIT_MAX(SIZE_MAX / 2);
    buf_adds(&b, "{\"data\":[");
    long n = 0;
    int more = 0;
    size_t next = 0;
    size_t i = given ? start : (desc ? nevents : 0);
    for (;;) {
        if (desc ? i == 0 : i >= nevents)
            break;
        const struct sim_event *e = evs[desc ? i - 1 : i];
        int ok = 1;
        if (types.n) {
            ok = 0;
            for (size_t t = 0; t < types.n && !ok; t++)
                ok = strcmp(types.v[t], e->type) == 0;
        }
        if (ok && ((gt && !(e->processed_us > gt)) || (gte && !(e->processed_us >= gte)) ||
                   (lt && !(e->processed_us < lt)) || (lte && !(e->processed_us <= lte))))
            ok = 0;
        if (ok) {
            if (n == limit) {
                more = 1;
                next = i;
                break;
            }
            if (n)
                buf_addc(&b, ',');
            buf_add(&b, e->json, e->len);
            n++;
        }
        i = desc ? i - 1 : i + 1;
    }
    simvec_release(&types);
    if (more)
        buf_addf(&b, "],\"next_page\":\"page_%zu\"}", next);
    else
        buf_adds(&b, "],\"next_page\":null}");
    sim_json_raw(rs, 200, buf_detach(&b, NULL));
}

/* The event kinds a client may post. */
static int ev_accepted(enum omni_event_kind kind)
{
    switch (kind) {
    case OMNI_EV_USER_MESSAGE:
    case OMNI_EV_USER_INTERRUPT:
    case OMNI_EV_USER_TOOL_CONFIRMATION:
    case OMNI_EV_USER_CUSTOM_TOOL_RESULT:
    case OMNI_EV_USER_DEFINE_OUTCOME:
    case OMNI_EV_USER_TOOL_RESULT:
    case OMNI_EV_SYSTEM_MESSAGE:
        return 1;
    default:
        return 0;
    }
}

/*
 * Input that re-queues a session with no live work item (protocol.md §6.1:
 * "a long-dormant session receives new input"; §14 item 7 names
 * user.message). Which events count as input is not documented; chosen
 * default: a message, and the answers a person or an app gives to a call the
 * agent waits on (a tool confirmation, a custom tool result) — so a session
 * whose worker released it while it waited (omni-worker --release-waiting)
 * is served again once answered.
 */
static int ev_requeues(enum omni_event_kind kind)
{
    return kind == OMNI_EV_USER_MESSAGE || kind == OMNI_EV_USER_TOOL_CONFIRMATION ||
           kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT;
}

static struct sim_call *ev_find_call(struct sim_session *s, const char *id)
{
    for (size_t i = s->ncalls; i > 0; i--)
        if (strcmp(s->calls[i - 1]->id, id) == 0)
            return s->calls[i - 1];
    return NULL;
}

/*
 * Why a confirmation for id cannot be taken, or NULL: the call must exist in
 * the session, be an agent.tool_use held for a confirmation (evaluated
 * permission ask), and still be open — not answered (confirmed, denied or
 * given a result), not cancelled by an interrupt or the session's end, and
 * not confirmed by an earlier event of the same request. protocol.md does
 * not say how the real API answers such a confirmation (§8.7 only has the
 * worker ignore confirmations of answered ids, and §8.5 lets one name an MCP
 * call, which the simulator never emits): refusing with 400 naming the
 * reason is the simulator's chosen default.
 */
static const char *ev_confirmation_refused(struct sim_session *s, const cJSON *evs, size_t idx,
                                           const char *id)
{
    const struct sim_call *c = ev_find_call(s, id);
    if (!c)
        return "does not name a tool use of this session";
    if (c->custom)
        return "names a custom tool use; only agent.tool_use calls are confirmed";
    if (!c->ask)
        return "is not held for a confirmation (its permission was not 'ask')";
    if (c->cancelled)
        return "was cancelled by an interrupt or the session's end";
    if (c->confirmed || c->denied || c->answered)
        return "was already answered";
    size_t i = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs) {
        if (i++ >= idx)
            break;
        if (omni_event_kind(ev) == OMNI_EV_USER_TOOL_CONFIRMATION) {
            const char *other = omni_json_string(ev, "tool_use_id");
            if (other && strcmp(other, id) == 0)
                return "is confirmed twice in this request";
        }
    }
    return NULL;
}

/* The call an answer (result or confirmation) names, NULL when none. */
static struct sim_call *ev_answered_call(struct sim_session *s, const cJSON *ev,
                                         enum omni_event_kind kind)
{
    const char *field = NULL;
    if (kind == OMNI_EV_USER_TOOL_RESULT || kind == OMNI_EV_USER_TOOL_CONFIRMATION)
        field = "tool_use_id";
    else if (kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT)
        field = "custom_tool_use_id";
    const char *id = field ? omni_json_string(ev, field) : NULL;
    return id ? ev_find_call(s, id) : NULL;
}

/*
 * session_thread_id on a posted event. The server routes an answer by the
 * call's id (events.ts of SDK 1.16: clients need not send the thread), so it
 * is optional; when sent it must name a thread of the session, and on an
 * answer the thread of that call (400 otherwise). On a user.interrupt it
 * must name a thread of the session: a child thread is interrupted alone
 * (its open calls cancelled, idle end_turn), the primary interrupts the
 * whole turn, as an interrupt without it does.
 */
static int ev_thread_check(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s,
                           const cJSON *ev, enum omni_event_kind kind, size_t idx)
{
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(ev, "session_thread_id");
    if (!tid || cJSON_IsNull(tid))
        return 0;
    if (!cJSON_IsString(tid))
        return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: 'session_thread_id' must be a string",
                       idx),
               -1;
    const struct sim_thread *th = simthread_get(s, tid->valuestring);
    if (!th)
        return sim_err(rq, rs, 400, NULL, NULL,
                       "events[%zu]: session_thread_id '%.64s' is not a thread of session '%s'",
                       idx, tid->valuestring, s->id),
               -1;
    const struct sim_call *c = ev_answered_call(s, ev, kind);
    const struct sim_thread *owner = c && c->thread ? c->thread : s->threads[0];
    if (c && owner != th)
        return sim_err(rq, rs, 400, NULL, NULL,
                       "events[%zu]: session_thread_id '%s' is not the thread of call '%s' (%s)",
                       idx, th->id, c->id, owner->id),
               -1;
    return 0;
}

static int ev_check(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s, const cJSON *ev,
                    const cJSON *evs, size_t idx, size_t count)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    if (!cJSON_IsObject(ev) || !cJSON_IsString(t))
        return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: expected an object with a 'type'",
                       idx),
               -1;
    enum omni_event_kind kind = omni_event_kind_of_type(t->valuestring);
    if (!ev_accepted(kind))
        return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: type '%.64s' cannot be sent", idx,
                       t->valuestring),
               -1;
    if (ev_thread_check(rq, rs, s, ev, kind, idx) < 0)
        return -1;
    if (kind == OMNI_EV_USER_MESSAGE) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "content");
        if (!cJSON_IsArray(c) && !cJSON_IsString(c))
            return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: user.message needs 'content'",
                           idx),
                   -1;
    } else if (kind == OMNI_EV_SYSTEM_MESSAGE) {
        if (idx + 1 != count)
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: system.message must be the last event", idx),
                   -1;
    } else if (kind == OMNI_EV_USER_TOOL_CONFIRMATION) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "tool_use_id");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(ev, "result");
        if (!cJSON_IsString(id) || !cJSON_IsString(r) ||
            (strcmp(r->valuestring, "allow") != 0 && strcmp(r->valuestring, "deny") != 0))
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: user.tool_confirmation needs 'tool_use_id' and "
                           "'result' (allow or deny)",
                           idx),
                   -1;
        const char *why = ev_confirmation_refused(s, evs, idx, id->valuestring);
        if (why)
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: user.tool_confirmation: tool_use_id '%.64s' %s", idx,
                           id->valuestring, why),
                   -1;
    } else if (kind == OMNI_EV_USER_TOOL_RESULT || kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT) {
        int custom = kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT;
        const char *field = custom ? "custom_tool_use_id" : "tool_use_id";
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, field);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "content");
        const cJSON *ie = cJSON_GetObjectItemCaseSensitive(ev, "is_error");
        if (!custom && !s->env->self_hosted)
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: user.tool_result is only valid on self_hosted "
                           "environments",
                           idx),
                   -1;
        if (!cJSON_IsString(id))
            return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: '%s' is required", idx, field),
                   -1;
        if (c && !cJSON_IsArray(c) && !cJSON_IsString(c))
            return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: 'content' must be an array", idx),
                   -1;
        if (ie && !cJSON_IsBool(ie))
            return sim_err(rq, rs, 400, NULL, NULL, "events[%zu]: 'is_error' must be a boolean",
                           idx),
                   -1;
        const struct sim_call *call = ev_find_call(s, id->valuestring);
        if (!call) {
            rq->sim->ctr.unknown_results++;
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: %s '%.64s' does not name a tool use of session '%s'", idx,
                           field, id->valuestring, s->id),
                   -1;
        }
        /* SDK 1.16 (SessionToolRunner): the API refuses the result of a
         * terminated thread's call */
        if (call->thread && call->thread->archived_us)
            return sim_err(rq, rs, 400, NULL, NULL,
                           "events[%zu]: thread '%s' of call '%s' is terminated (archived)", idx,
                           call->thread->id, call->id),
                   -1;
    }
    return 0;
}

void simh_events_send(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_session *s = simevents_session(rq, rs);
    if (!s)
        return;
    if (s->archived_us) {
        sim_err(rq, rs, 400, NULL, NULL, "session '%s' is terminated (archived)", s->id);
        return;
    }
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(b, "events");
    int count = cJSON_IsArray(evs) ? cJSON_GetArraySize(evs) : -1;
    if (count < 1 || count > SIM_SEND_EVENTS_MAX) {
        cJSON_Delete(b);
        sim_err(rq, rs, 400, NULL, NULL, "'events' must be an array of 1 to 50 events");
        return;
    }
    size_t i = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs) {
        if (ev_check(rq, rs, s, ev, evs, i++, (size_t)count) < 0) {
            cJSON_Delete(b);
            return;
        }
    }
    struct sim_event **posted = omni_xcalloc((size_t)count, sizeof(*posted));
    i = 0;
    cJSON_ArrayForEach(ev, evs) {
        /* an answer to a child thread's call is routed to it by the call's id */
        const struct sim_call *ac = ev_answered_call(s, ev, omni_event_kind(ev));
        cJSON *copy = cJSON_Duplicate(ev, 1);
        if (ac && ac->thread && !ac->thread->primary) {
            cJSON_DeleteItemFromObjectCaseSensitive(copy, "session_thread_id");
            cJSON *own = cJSON_Duplicate(copy, 1);
            cJSON_AddStringToObject(copy, "session_thread_id", ac->thread->id);
            posted[i] = simstore_event_append(sim, s, copy, NULL);
            simstore_event_append_ex(sim, s, ac->thread, own, NULL, posted[i]->id,
                                     posted[i]->processed_us);
            i++;
        } else {
            if (ac)
                cJSON_DeleteItemFromObjectCaseSensitive(copy, "session_thread_id");
            posted[i++] = simstore_event_append(sim, s, copy, NULL);
        }
        if (ev_requeues(omni_event_kind(ev)) && s->env->self_hosted &&
            (!s->live_work || s->live_work->state == WS_STOPPED))
            simstore_work_enqueue(sim, s->env, s, "session");
        simagent_on_event(sim, s, ev);
    }
    struct buf out = BUF_INIT_MAX(SIZE_MAX / 2);
    buf_adds(&out, "{\"data\":[");
    for (int k = 0; k < count; k++) {
        if (k)
            buf_addc(&out, ',');
        buf_add(&out, posted[k]->json, posted[k]->len);
    }
    buf_adds(&out, "]}");
    free(posted);
    cJSON_Delete(b);
    sim_json_raw(rs, 200, buf_detach(&out, NULL));
}

static sim_stream_read_fn ev_stream_read;
static sim_stream_release_fn ev_stream_release;

void simh_events_stream(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = simevents_session(rq, rs);
    if (s)
        simevents_stream_of(rq, rs, s, NULL);
}

void simevents_stream_of(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s,
                         struct sim_thread *th)
{
    struct sim *sim = rq->sim;
    struct sim_stream *st = omni_xcalloc(1, sizeof(*st));
    st->sim = sim;
    st->s = s;
    st->th = th;
    st->next = th ? th->nevents : s->nevents;
    st->cut_after = sim->faults.cut_stream_after;
    st->error_every = sim->faults.sse_error_every;
    st->ping_ms = (int64_t)sim->cfg.ping_interval * 1000;
    st->next_ping = omni_mono_ms() + st->ping_ms;
    st->ending = s->archived_us != 0 || (th && th->archived_us);
    buf_init(&st->out, SIZE_MAX / 2);
    s->nstreams++;
    sim_sse(rs, st, ev_stream_read, ev_stream_release);
}

static void ev_frame(struct buf *b, const char *type, const char *json, size_t len)
{
    buf_adds(b, "event: ");
    buf_adds(b, type);
    buf_adds(b, "\ndata: ");
    buf_add(b, json, len);
    buf_adds(b, "\n\n");
}

static long ev_stream_read(struct sim_stream *st, char *out, size_t max)
{
    struct sim *sim = st->sim;
    struct sim_session *s = st->s;
    if (st->off >= st->out.len) {
        buf_reset(&st->out);
        st->off = 0;
        pthread_mutex_lock(&sim->mu);
        for (;;) {
            if (sim->shutting_down) {
                pthread_mutex_unlock(&sim->mu);
                return -1;
            }
            if (!st->hello) {
                buf_adds(&st->out, ": connected\n\n");
                st->hello = 1;
                break;
            }
            if (st->ending) {
                pthread_mutex_unlock(&sim->mu);
                return -1;
            }
            if (st->error_next) {
                static const char err[] =
                    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                    "\"message\":\"injected fault: stream error\"},\"request_id\":null}";
                ev_frame(&st->out, "error", err, sizeof(err) - 1);
                sim->ctr.sse_errors++;
                st->ending = 1;
                break;
            }
            size_t nev = st->th ? st->th->nevents : s->nevents;
            if (st->next < nev) {
                const struct sim_event *e = (st->th ? st->th->events : s->events)[st->next++];
                ev_frame(&st->out, e->type, e->json, e->len);
                st->sent++;
                if (omni_event_ends_session(omni_event_kind_of_type(e->type)) ||
                    (st->th && strcmp(e->type, "session.thread_status_terminated") == 0)) {
                    st->ending = 1;
                } else if (st->cut_after > 0 && st->sent >= st->cut_after) {
                    sim->ctr.streams_cut++;
                    st->ending = 1;
                } else if (st->error_every > 0 && st->sent % st->error_every == 0) {
                    st->error_next = 1;
                }
                break;
            }
            int64_t now = omni_mono_ms();
            if (now >= st->next_ping) {
                ev_frame(&st->out, "ping", "{\"type\":\"ping\"}", 15);
                st->next_ping = now + st->ping_ms;
                break;
            }
            simstore_cond_wait_until(&s->cv, &sim->mu, st->next_ping);
        }
        pthread_mutex_unlock(&sim->mu);
    }
    size_t n = st->out.len - st->off;
    if (n > max)
        n = max;
    memcpy(out, st->out.data + st->off, n);
    st->off += n;
    return (long)n;
}

static void ev_stream_release(struct sim_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->sim->mu);
    st->s->nstreams--;
    pthread_mutex_unlock(&st->sim->mu);
    buf_release(&st->out);
    free(st);
}
