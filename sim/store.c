/*
 * store — the simulator's objects: ids, keys, environments, agents, sessions,
 * events and work items, their JSON forms, and the credential table.
 * Callers hold sim->mu (see sim.h).
 */
#include "sim.h"
#include "event.h"

#include "alloc.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char store_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void store_random(unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r <= 0) {
            fputs("omni-sim: getrandom failed\n", stderr);
            abort();
        }
        got += (size_t)r;
    }
}

static void store_random_chars(char *out, size_t n, const char *alphabet)
{
    unsigned char rnd[128];
    size_t alen = strlen(alphabet);
    while (n > 0) {
        size_t chunk = n < sizeof(rnd) ? n : sizeof(rnd);
        store_random(rnd, chunk);
        for (size_t i = 0; i < chunk; i++)
            *out++ = alphabet[rnd[i] % alen];
        n -= chunk;
    }
    *out = '\0';
}

void simstore_new_id(struct sim *sim, const char *prefix, char *out, size_t outlen)
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char ctr[11], rnd[13];
    uint64_t c = ++sim->id_counter;
    for (int i = 9; i >= 0; i--) {
        ctr[i] = b32[c % 32];
        c /= 32;
    }
    ctr[10] = '\0';
    store_random_chars(rnd, 12, "0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    snprintf(out, outlen, "%s01%s%s", prefix, ctr, rnd);
}

void simstore_new_key(const char *prefix, char *out, size_t outlen)
{
    char rnd[65];
    store_random_chars(rnd, 64, store_alnum);
    snprintf(out, outlen, "%s%s", prefix, rnd);
}

char *simstore_ts(int64_t us, char *out, size_t outlen)
{
    return omni_rfc3339_format(us, out, outlen, 6);
}

void simstore_add_ts(cJSON *o, const char *name, int64_t us)
{
    char ts[40];
    if (us)
        cJSON_AddStringToObject(o, name, simstore_ts(us, ts, sizeof(ts)));
    else
        cJSON_AddNullToObject(o, name);
}

static void store_add_str_or_null(cJSON *o, const char *name, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

struct store_cred_rec;
static struct store_cred_rec *store_cred_add(struct sim *sim, const char *key,
                                             enum sim_cred_kind kind, struct sim_env *e,
                                             struct sim_work *w);

void simstore_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

int simstore_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_mono_ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline_mono_ms / 1000);
    ts.tv_nsec = (long)(deadline_mono_ms % 1000) * 1000000;
    return pthread_cond_timedwait(cv, mu, &ts);
}

int simstore_init(struct sim *sim, const struct sim_config *cfg)
{
    pthread_mutex_init(&sim->mu, NULL);
    pthread_mutex_init(&sim->log_mu, NULL);
    sim->cfg = *cfg;
    sim->faults = cfg->faults;
    sim->rng = cfg->seed;
    sim->envs = simmap_new();
    sim->agents = simmap_new();
    sim->sessions = simmap_new();
    sim->works = simmap_new();
    sim->creds = simmap_new();
    sim->request_log_fd = -1;
    return 0;
}

struct sim_env *simstore_env_create(struct sim *sim, const char *name, cJSON *config)
{
    struct sim_env *e = omni_xcalloc(1, sizeof(*e));
    simstore_new_id(sim, "env_", e->id, sizeof(e->id));
    simstore_new_key("sk-ant-oat01-", e->key, sizeof(e->key));
    e->name = omni_xstrdup(name);
    e->scope = omni_xstrdup("organization");
    e->config = config ? config : cJSON_CreateObject();
    if (!config)
        cJSON_AddStringToObject(e->config, "type", "self_hosted");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e->config, "type");
    e->self_hosted = cJSON_IsString(t) && strcmp(t->valuestring, "self_hosted") == 0;
    e->metadata = cJSON_CreateObject();
    e->created_us = e->updated_us = omni_wall_us();
    simstore_cond_init(&e->work_cv);
    simmap_put(sim->envs, e->id, e);
    store_cred_add(sim, e->key, CRED_ENV, e, NULL);
    simvec_push(&sim->env_list, e);
    return e;
}

struct sim_env *simstore_env_get(struct sim *sim, const char *id)
{
    struct sim_env *e = simmap_get(sim->envs, id);
    return e && !e->deleted ? e : NULL;
}

struct sim_session *simstore_session_get(struct sim *sim, const char *id)
{
    struct sim_session *s = simmap_get(sim->sessions, id);
    return s && !s->deleted ? s : NULL;
}

struct sim_work *simstore_work_get(struct sim *sim, const char *id)
{
    return simmap_get(sim->works, id);
}

struct sim_agent *simstore_agent_get(struct sim *sim, const char *id)
{
    return simmap_get(sim->agents, id);
}

/* Credentials: the creds map points at a record naming the kind. The org key
 * is compared directly. Records live until shutdown (sim->tokens). */
struct store_cred_rec {
    char key[SIM_KEY_LEN];
    enum sim_cred_kind kind;
    struct sim_env *env;
    struct sim_work *work;
};

static struct store_cred_rec *store_cred_add(struct sim *sim, const char *key,
                                             enum sim_cred_kind kind, struct sim_env *e,
                                             struct sim_work *w)
{
    struct store_cred_rec *r = omni_xcalloc(1, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", key);
    r->kind = kind;
    r->env = e;
    r->work = w;
    simmap_put(sim->creds, r->key, r);
    simvec_push(&sim->tokens, r);
    return r;
}

void simstore_env_set_key(struct sim *sim, struct sim_env *e, const char *key)
{
    struct store_cred_rec *old = simmap_get(sim->creds, e->key);
    if (old)
        old->kind = CRED_NONE;
    snprintf(e->key, sizeof(e->key), "%s", key);
    store_cred_add(sim, e->key, CRED_ENV, e, NULL);
}

void simstore_env_add_key(struct sim *sim, struct sim_env *e)
{
    simstore_new_key("sk-ant-oat01-", e->key, sizeof(e->key));
    store_cred_add(sim, e->key, CRED_ENV, e, NULL);
}

int simstore_env_revoke_key(struct sim *sim, struct sim_env *e, const char *key)
{
    struct store_cred_rec *r = simmap_get(sim->creds, key);
    if (!r || r->kind != CRED_ENV || r->env != e)
        return -1;
    r->kind = CRED_NONE; /* sessions tokens already handed out stay valid */
    return 0;
}

void simstore_cred_lookup(struct sim *sim, const char *key, struct sim_cred *out)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(key, sim->org_key) == 0) {
        out->kind = CRED_ORG;
        return;
    }
    struct store_cred_rec *r = simmap_get(sim->creds, key);
    if (!r || r->kind == CRED_NONE)
        return;
    if (r->kind == CRED_ENV && r->env->deleted)
        return;
    out->kind = r->kind;
    out->env = r->kind == CRED_TOKEN ? r->work->env : r->env;
    out->work = r->work;
}

char *simstore_token_new(struct sim *sim, struct sim_work *w)
{
    char key[SIM_KEY_LEN];
    simstore_new_key("sk-ant-req-", key, sizeof(key));
    return store_cred_add(sim, key, CRED_TOKEN, w->env, w)->key;
}

struct sim_agent *simstore_agent_create(struct sim *sim, cJSON *body)
{
    struct sim_agent *a = omni_xcalloc(1, sizeof(*a));
    simstore_new_id(sim, "agent_", a->id, sizeof(a->id));
    cJSON *o = cJSON_CreateObject();
    const cJSON *v;
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "type", "agent");
    cJSON_AddNumberToObject(o, "version", 1);
    v = cJSON_GetObjectItemCaseSensitive(body, "name");
    cJSON_AddStringToObject(o, "name", cJSON_IsString(v) ? v->valuestring : "sim-agent");
    v = cJSON_GetObjectItemCaseSensitive(body, "description");
    store_add_str_or_null(o, "description", cJSON_IsString(v) ? v->valuestring : NULL);
    v = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (cJSON_IsString(v) || cJSON_IsObject(v))
        cJSON_AddItemToObject(o, "model", cJSON_Duplicate(v, 1));
    else
        cJSON_AddStringToObject(o, "model", "claude-sim-1");
    v = cJSON_GetObjectItemCaseSensitive(body, "system");
    store_add_str_or_null(o, "system", cJSON_IsString(v) ? v->valuestring : NULL);
    static const char *const arrays[] = {"tools", "mcp_servers", "skills"};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, arrays[i]);
        if (cJSON_IsArray(v)) {
            cJSON_AddItemToObject(o, arrays[i], cJSON_Duplicate(v, 1));
        } else if (i == 0) {
            cJSON *tools = cJSON_AddArrayToObject(o, "tools");
            cJSON *ts = cJSON_CreateObject();
            cJSON_AddStringToObject(ts, "type", "agent_toolset_20260401");
            cJSON_AddItemToArray(tools, ts);
        } else {
            cJSON_AddArrayToObject(o, arrays[i]);
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    cJSON_AddItemToObject(o, "metadata",
                          cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
    int64_t now = omni_wall_us();
    simstore_add_ts(o, "created_at", now);
    simstore_add_ts(o, "updated_at", now);
    cJSON_AddNullToObject(o, "archived_at");
    a->obj = o;
    simmap_put(sim->agents, a->id, a);
    simvec_push(&sim->agent_list, a);
    return a;
}

cJSON *simstore_env_json(const struct sim_env *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "type", "environment");
    cJSON_AddStringToObject(o, "name", e->name);
    store_add_str_or_null(o, "description", e->description);
    cJSON_AddItemToObject(o, "config", cJSON_Duplicate(e->config, 1));
    cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(e->metadata, 1));
    cJSON_AddStringToObject(o, "scope", e->scope);
    simstore_add_ts(o, "archived_at", e->archived_us);
    simstore_add_ts(o, "created_at", e->created_us);
    simstore_add_ts(o, "updated_at", e->updated_us);
    return o;
}

cJSON *simstore_session_json(const struct sim_session *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "type", "session");
    cJSON_AddStringToObject(o, "status", s->status);
    cJSON_AddStringToObject(o, "environment_id", s->env->id);
    cJSON_AddItemToObject(o, "agent", cJSON_Duplicate(s->agent, 1));
    cJSON_AddItemToObject(o, "resources", cJSON_Duplicate(s->resources, 1));
    cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(s->metadata, 1));
    store_add_str_or_null(o, "title", s->title);
    cJSON_AddArrayToObject(o, "vault_ids");
    simstore_add_ts(o, "archived_at", s->archived_us);
    simstore_add_ts(o, "created_at", s->created_us);
    simstore_add_ts(o, "updated_at", s->updated_us);
    return o;
}

const char *simstore_work_state_name(enum sim_work_state st)
{
    static const char *const names[] = {"queued", "starting", "active", "stopping", "stopped"};
    return names[st];
}

cJSON *simstore_work_json(const struct sim_work *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", w->id);
    cJSON_AddStringToObject(o, "type", "work");
    cJSON_AddStringToObject(o, "environment_id", w->env->id);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "type", w->data_type);
    cJSON_AddStringToObject(d, "id", w->data_id);
    cJSON_AddStringToObject(o, "state", simstore_work_state_name(w->state));
    cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(w->metadata, 1));
    cJSON_AddNullToObject(o, "secret");
    simstore_add_ts(o, "created_at", w->created_us);
    simstore_add_ts(o, "acknowledged_at", w->acked_us);
    simstore_add_ts(o, "started_at", w->started_us);
    simstore_add_ts(o, "latest_heartbeat_at", w->heartbeat_us);
    simstore_add_ts(o, "stop_requested_at", w->stop_req_us);
    simstore_add_ts(o, "stopped_at", w->stopped_us);
    return o;
}

struct sim_event *simstore_event_append(struct sim *sim, struct sim_session *s, cJSON *ev,
                                        const char *id_prefix)
{
    return simstore_event_append_ex(sim, s, NULL, ev, id_prefix, NULL, 0);
}

struct sim_event *simstore_event_append_ex(struct sim *sim, struct sim_session *s,
                                           struct sim_thread *th, cJSON *ev, const char *id_prefix,
                                           const char *id, int64_t processed_us)
{
    struct sim_event *e = omni_xcalloc(1, sizeof(*e));
    struct sim_event ***list = th ? &th->events : &s->events;
    size_t *n = th ? &th->nevents : &s->nevents, *cap = th ? &th->evcap : &s->evcap;
    if (id)
        snprintf(e->id, sizeof(e->id), "%s", id);
    else
        simstore_new_id(sim, id_prefix ? id_prefix : "sevt_", e->id, sizeof(e->id));
    /* rebuild with "type" first and the server's "id" second */
    cJSON_DeleteItemFromObjectCaseSensitive(ev, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(ev, "processed_at");
    cJSON *o = cJSON_CreateObject();
    cJSON *ty = cJSON_DetachItemFromObjectCaseSensitive(ev, "type");
    if (ty)
        cJSON_AddItemToObject(o, "type", ty);
    cJSON_AddStringToObject(o, "id", e->id);
    while (ev->child) {
        cJSON *c = ev->child;
        char *k = c->string ? omni_xstrdup(c->string) : NULL;
        cJSON_DetachItemViaPointer(ev, c);
        if (k)
            cJSON_AddItemToObject(o, k, c);
        else
            cJSON_Delete(c);
        free(k);
    }
    cJSON_Delete(ev);
    ev = o;
    e->processed_us = processed_us ? processed_us : omni_wall_us();
    if (*n && e->processed_us <= (*list)[*n - 1]->processed_us)
        e->processed_us = (*list)[*n - 1]->processed_us + 1;
    simstore_add_ts(ev, "processed_at", e->processed_us);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    snprintf(e->type, sizeof(e->type), "%s", cJSON_IsString(t) ? t->valuestring : "");
    e->json = cJSON_PrintUnformatted(ev);
    if (!e->json)
        omni_oom();
    e->len = strlen(e->json);
    cJSON_Delete(ev);
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        *list = omni_xreallocarray(*list, nc, sizeof(**list));
        *cap = nc;
    }
    (*list)[(*n)++] = e;
    if (th) {
        th->updated_us = e->processed_us;
        pthread_cond_broadcast(&s->cv);
        return e;
    }
    switch (omni_event_kind_of_type(e->type)) {
    case OMNI_EV_SESSION_STATUS_RUNNING:
        snprintf(s->status, sizeof(s->status), "running");
        break;
    case OMNI_EV_SESSION_STATUS_IDLE:
        snprintf(s->status, sizeof(s->status), "idle");
        break;
    case OMNI_EV_SESSION_STATUS_TERMINATED:
        snprintf(s->status, sizeof(s->status), "terminated");
        break;
    case OMNI_EV_SESSION_STATUS_RESCHEDULED:
        snprintf(s->status, sizeof(s->status), "rescheduling");
        break;
    default:
        break;
    }
    s->updated_us = e->processed_us;
    pthread_cond_broadcast(&s->cv);
    return e;
}

struct sim_work *simstore_work_enqueue(struct sim *sim, struct sim_env *e, struct sim_session *s,
                                       const char *data_type)
{
    struct sim_work *w = omni_xcalloc(1, sizeof(*w));
    simstore_new_id(sim, "work_", w->id, sizeof(w->id));
    w->env = e;
    w->session = s;
    snprintf(w->data_type, sizeof(w->data_type), "%s", data_type);
    if (s)
        snprintf(w->data_id, sizeof(w->data_id), "%s", s->id);
    else
        simstore_new_id(sim, "hc_", w->data_id, sizeof(w->data_id));
    w->state = WS_QUEUED;
    w->metadata = cJSON_CreateObject();
    w->created_us = w->queued_us = omni_wall_us();
    w->ttl = sim->cfg.lease_ttl;
    simmap_put(sim->works, w->id, w);
    simvec_push(&e->works, w);
    simvec_push(&sim->work_list, w);
    if (s)
        s->live_work = w;
    pthread_cond_broadcast(&e->work_cv);
    return w;
}

const char *simstore_metadata_check(const cJSON *md, int patch)
{
    if (!cJSON_IsObject(md))
        return "metadata must be an object";
    int n = 0;
    for (const cJSON *c = md->child; c; c = c->next) {
        if (++n > SIM_METADATA_PAIRS)
            return "metadata has more than 16 keys";
        if (!c->string || strlen(c->string) > SIM_METADATA_KEY_MAX)
            return "metadata key longer than 64 characters";
        if (!*c->string)
            return "metadata key is empty";
        if (patch && cJSON_IsNull(c))
            continue;
        if (!cJSON_IsString(c))
            return "metadata values must be strings";
        if (strlen(c->valuestring) > SIM_METADATA_VALUE_MAX)
            return "metadata value longer than 512 characters";
    }
    return NULL;
}

void simstore_metadata_patch(cJSON *dst, const cJSON *patch, int empty_deletes)
{
    for (const cJSON *c = patch->child; c; c = c->next) {
        if (cJSON_IsNull(c) || (empty_deletes && cJSON_IsString(c) && !*c->valuestring)) {
            cJSON_DeleteItemFromObjectCaseSensitive(dst, c->string);
            continue;
        }
        if (!cJSON_IsString(c))
            continue;
        if (cJSON_GetObjectItemCaseSensitive(dst, c->string))
            cJSON_ReplaceItemInObjectCaseSensitive(dst, c->string,
                                                   cJSON_CreateString(c->valuestring));
        else
            cJSON_AddStringToObject(dst, c->string, c->valuestring);
    }
}

void simstore_wake_all(struct sim *sim)
{
    for (size_t i = 0; i < sim->env_list.n; i++) {
        struct sim_env *e = sim->env_list.v[i];
        pthread_cond_broadcast(&e->work_cv);
    }
    for (size_t i = 0; i < sim->session_list.n; i++) {
        struct sim_session *s = sim->session_list.v[i];
        pthread_cond_broadcast(&s->cv);
    }
}

void simstore_release(struct sim *sim)
{
    for (size_t i = 0; i < sim->env_list.n; i++) {
        struct sim_env *e = sim->env_list.v[i];
        free(e->name);
        free(e->description);
        free(e->scope);
        cJSON_Delete(e->config);
        cJSON_Delete(e->metadata);
        for (size_t j = 0; j < e->workers.n; j++)
            free(e->workers.v[j]);
        simvec_release(&e->workers);
        simvec_release(&e->works);
        pthread_cond_destroy(&e->work_cv);
        free(e);
    }
    for (size_t i = 0; i < sim->agent_list.n; i++) {
        struct sim_agent *a = sim->agent_list.v[i];
        cJSON_Delete(a->obj);
        free(a);
    }
    for (size_t i = 0; i < sim->session_list.n; i++) {
        struct sim_session *s = sim->session_list.v[i];
        for (size_t j = 0; j < s->nevents; j++) {
            free(s->events[j]->json);
            free(s->events[j]);
        }
        free(s->events);
        for (size_t j = 0; j < s->ncalls; j++) {
            free(s->calls[j]->expect);
            free(s->calls[j]);
        }
        free(s->calls);
        for (int t = 0; t < s->nthreads; t++) {
            struct sim_thread *th = s->threads[t];
            for (size_t j = 0; j < th->nevents; j++) {
                free(th->events[j]->json);
                free(th->events[j]);
            }
            free(th->events);
            free(th);
        }
        cJSON_Delete(s->agent);
        cJSON_Delete(s->metadata);
        cJSON_Delete(s->resources);
        free(s->title);
        pthread_cond_destroy(&s->cv);
        free(s);
    }
    for (size_t i = 0; i < sim->work_list.n; i++) {
        struct sim_work *w = sim->work_list.v[i];
        cJSON_Delete(w->metadata);
        free(w);
    }
    for (size_t i = 0; i < sim->tokens.n; i++)
        free(sim->tokens.v[i]);
    for (size_t i = 0; i < sim->ctr.mismatch_log.n; i++)
        free(sim->ctr.mismatch_log.v[i]);
    simvec_release(&sim->ctr.mismatch_log);
    simvec_release(&sim->env_list);
    simvec_release(&sim->agent_list);
    simvec_release(&sim->session_list);
    simvec_release(&sim->work_list);
    simvec_release(&sim->tokens);
    simmap_free(sim->envs);
    simmap_free(sim->agents);
    simmap_free(sim->sessions);
    simmap_free(sim->works);
    simmap_free(sim->creds);
    pthread_mutex_destroy(&sim->mu);
    pthread_mutex_destroy(&sim->log_mu);
}
