/*
 * threads — session threads (SDK 1.16 resources/beta/sessions/threads): the
 * thread objects, their list/retrieve/archive routes and per-thread event
 * list and stream, and the helpers the scripted agent uses to emit a
 * thread's events. Every session has a primary thread whose stream is the
 * session's; a child thread (threads:N, threads-ask) has its own list, and
 * its calls and status events are cross-posted to the session's stream with
 * session_thread_id, which the primary thread's own events never carry.
 * Called with sim->mu held.
 */
#include "reply.h"

#include "alloc.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_thread *simthread_new(struct sim *sim, struct sim_session *s, int primary,
                                 const char *agent_name)
{
    if (s->nthreads >= SIM_THREADS_MAX)
        return NULL;
    struct sim_thread *th = omni_xcalloc(1, sizeof(*th));
    simstore_new_id(sim, "sthr_", th->id, sizeof(th->id));
    th->s = s;
    th->primary = primary;
    snprintf(th->agent_name, sizeof(th->agent_name), "%s", agent_name);
    snprintf(th->status, sizeof(th->status), "idle");
    th->created_us = th->updated_us = omni_wall_us();
    s->threads[s->nthreads++] = th;
    return th;
}

struct sim_thread *simthread_get(struct sim_session *s, const char *id)
{
    for (int i = 0; id && i < s->nthreads; i++)
        if (strcmp(s->threads[i]->id, id) == 0)
            return s->threads[i];
    return NULL;
}

const char *simthread_status_name(const struct sim_thread *th)
{
    if (!th->primary)
        return th->status;
    return th->s->archived_us || th->s->deleted ? "terminated" : th->s->status;
}

cJSON *simthread_json(const struct sim_thread *th)
{
    const struct sim_session *s = th->s;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", th->id);
    cJSON_AddStringToObject(o, "type", "session_thread");
    cJSON_AddStringToObject(o, "session_id", s->id);
    if (th->primary)
        cJSON_AddNullToObject(o, "parent_thread_id");
    else
        cJSON_AddStringToObject(o, "parent_thread_id", s->threads[0]->id);
    cJSON *agent = cJSON_Duplicate(s->agent, 1);
    if (!th->primary) {
        /* a spawned thread runs an inline agent: no id, no version */
        cJSON_DeleteItemFromObjectCaseSensitive(agent, "id");
        cJSON_DeleteItemFromObjectCaseSensitive(agent, "version");
        cJSON_DeleteItemFromObjectCaseSensitive(agent, "multiagent");
        cJSON_ReplaceItemInObjectCaseSensitive(agent, "type", cJSON_CreateString("inline"));
        cJSON_ReplaceItemInObjectCaseSensitive(agent, "name", cJSON_CreateString(th->agent_name));
    }
    cJSON_AddItemToObject(o, "agent", agent);
    cJSON_AddStringToObject(o, "status", simthread_status_name(th));
    int64_t archived = th->primary ? s->archived_us : th->archived_us;
    simstore_add_ts(o, "archived_at", archived);
    simstore_add_ts(o, "created_at", th->created_us);
    simstore_add_ts(o, "updated_at", th->primary ? s->updated_us : th->updated_us);
    int64_t end = archived ? archived : omni_wall_us();
    cJSON *st = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(st, "startup_seconds", 0);
    cJSON_AddNumberToObject(st, "duration_seconds", (double)(end - th->created_us) / 1e6);
    cJSON_AddNullToObject(o, "usage");
    cJSON_AddNullToObject(o, "workflow_run_id");
    return o;
}

struct sim_event *simthread_event(struct sim *sim, struct sim_thread *th, cJSON *ev,
                                  const char *id_prefix, int crosspost)
{
    struct sim_session *s = th->s;
    if (th->primary)
        return simstore_event_append(sim, s, ev, id_prefix);
    cJSON *copy = crosspost ? cJSON_Duplicate(ev, 1) : NULL;
    struct sim_event *own = simstore_event_append_ex(sim, s, th, ev, id_prefix, NULL, 0);
    if (!copy)
        return own;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "session_thread_id");
    cJSON_AddStringToObject(copy, "session_thread_id", th->id);
    return simstore_event_append_ex(sim, s, NULL, copy, NULL, own->id, own->processed_us);
}

void simthread_status(struct sim *sim, struct sim_thread *th, const char *status,
                      const char *stop_reason)
{
    char type[64];
    snprintf(type, sizeof(type), "session.thread_status_%s", status);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddStringToObject(ev, "session_thread_id", th->id);
    cJSON_AddStringToObject(ev, "agent_name", th->agent_name);
    if (strcmp(status, "idle") == 0) {
        cJSON *sr = cJSON_AddObjectToObject(ev, "stop_reason");
        cJSON_AddStringToObject(sr, "type", stop_reason);
        if (strcmp(stop_reason, "requires_action") == 0) {
            cJSON *ids = cJSON_AddArrayToObject(sr, "event_ids");
            struct sim_session *s = th->s;
            for (size_t i = 0; i < s->ncalls; i++) {
                const struct sim_call *c = s->calls[i];
                if (c->thread == th && !c->answered && !c->cancelled)
                    cJSON_AddItemToArray(ids, cJSON_CreateString(c->id));
            }
        }
        cJSON_AddNullToObject(ev, "stop_details");
    }
    snprintf(th->status, sizeof(th->status), "%s", status); /* the primary's: last emitted */
    simthread_event(sim, th, ev, NULL, 1);
}

/* ---- routes ---- */

static struct sim_thread *thr_thread(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = simevents_session(rq, rs);
    if (!s)
        return NULL;
    struct sim_thread *th = simthread_get(s, rq->param[1]);
    if (!th)
        sim_err(rq, rs, 404, NULL, NULL, "thread '%.64s' not found in session '%s'", rq->param[1],
                s->id);
    return th;
}

void simh_thread_list(struct sim_req *rq, struct sim_resp *rs)
{
    static const char *const known[] = {"running", "idle", "rescheduling", "terminated"};
    struct sim_session *s = simevents_session(rq, rs);
    if (!s)
        return;
    long limit;
    size_t start = 0;
    int given;
    if (sim_page_bounds(rq, rs, (size_t)s->nthreads, &limit, &start, &given) < 0)
        return;
    struct sim_vec st = {0};
    sim_query_all(rq, "statuses", &st);
    for (size_t k = 0; k < st.n; k++) {
        int ok = 0;
        for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
            ok |= strcmp(st.v[k], known[j]) == 0;
        if (!ok) {
            sim_err(rq, rs, 400, NULL, NULL,
                    "invalid 'statuses' value '%.32s': expected running, idle, rescheduling or "
                    "terminated",
                    (const char *)st.v[k]);
            simvec_release(&st);
            return;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    size_t i = start;
    long n = 0;
    int more = 0;
    for (; i < (size_t)s->nthreads; i++) {
        const struct sim_thread *th = s->threads[i];
        int ok = st.n == 0;
        for (size_t k = 0; k < st.n && !ok; k++)
            ok = strcmp(st.v[k], simthread_status_name(th)) == 0;
        if (!ok)
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(data, simthread_json(th));
        n++;
    }
    simvec_release(&st);
    sim_page_next(o, more, i);
    sim_json(rs, 200, o);
}

void simh_thread_get(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_thread *th = thr_thread(rq, rs);
    if (th)
        sim_json(rs, 200, simthread_json(th));
}

/*
 * Archiving a child thread terminates it: session.thread_status_terminated
 * on its stream and the session's, and its open calls are cancelled (a
 * result posted for one later is a protocol error, as after an interrupt).
 * The primary thread is archived with its session (chosen default: 400 here,
 * which the SDK's types do not rule out). Archiving twice answers the thread.
 */
void simh_thread_archive(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_thread *th = thr_thread(rq, rs);
    if (!th || !sim_need_org(rq, rs))
        return;
    if (th->primary) {
        sim_err(rq, rs, 400, NULL, NULL,
                "thread '%s' is the session's primary thread; archive the session instead", th->id);
        return;
    }
    if (!th->archived_us) {
        th->archived_us = omni_wall_us();
        simagent_on_thread_archived(rq->sim, th->s, th);
        simthread_status(rq->sim, th, "terminated", NULL);
    }
    sim_json(rs, 200, simthread_json(th));
}

void simh_thread_events_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_thread *th = thr_thread(rq, rs);
    if (!th)
        return;
    if (th->primary)
        simevents_list_of(rq, rs, th->s->events, th->s->nevents);
    else
        simevents_list_of(rq, rs, th->events, th->nevents);
}

void simh_thread_events_stream(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_thread *th = thr_thread(rq, rs);
    if (th)
        simevents_stream_of(rq, rs, th->s, th->primary ? NULL : th);
}
