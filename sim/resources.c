/*
 * resources — environments (§5), agents and sessions (§7) routes.
 * Handlers run with sim->mu held (server.c).
 */
#include "reply.h"

#include "alloc.h"
#include "event.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_MEMORY_STORES_MAX 8
#define RES_RESOURCES_MAX 64
#define RES_TITLE_MAX 1024

/* ---- environments ---- */

static struct sim_env *res_env(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e)
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
    return e;
}

static int res_check_config(struct sim_req *rq, struct sim_resp *rs, const cJSON *cfg)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "type");
    if (!cJSON_IsObject(cfg) || !cJSON_IsString(t) ||
        (strcmp(t->valuestring, "self_hosted") != 0 && strcmp(t->valuestring, "cloud") != 0)) {
        sim_err(rq, rs, 400, NULL, NULL,
                "invalid 'config': expected an object with type 'self_hosted' or 'cloud'");
        return -1;
    }
    return 0;
}

static int res_check_scope(struct sim_req *rq, struct sim_resp *rs, const cJSON *sc)
{
    if (!cJSON_IsString(sc) ||
        (strcmp(sc->valuestring, "organization") != 0 && strcmp(sc->valuestring, "account") != 0)) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'scope': expected 'organization' or 'account'");
        return -1;
    }
    return 0;
}

void simh_env_create(struct sim_req *rq, struct sim_resp *rs)
{
    if (!sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(b, "config");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(b, "description");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(b, "scope");
    const char *why;
    if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > SIM_NAME_MAX)
        sim_err(rq, rs, 400, NULL, NULL, "'name' is required: a string of 1-256 characters");
    else if (cfg && !cJSON_IsNull(cfg) && res_check_config(rq, rs, cfg) < 0)
        (void)0; /* error already made */
    else if (desc && !cJSON_IsNull(desc) && !cJSON_IsString(desc))
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'description': must be a string or null");
    else if (md && !cJSON_IsNull(md) && (why = simstore_metadata_check(md, 0)))
        sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
    else if (sc && !cJSON_IsNull(sc) && res_check_scope(rq, rs, sc) < 0)
        (void)0; /* error already made */
    if (rs->status) {
        cJSON_Delete(b);
        return;
    }
    cJSON *config;
    if (cfg && !cJSON_IsNull(cfg)) {
        config = cJSON_Duplicate(cfg, 1);
    } else {
        /* §16 Q19: the API presumably defaults to cloud */
        config = cJSON_CreateObject();
        cJSON_AddStringToObject(config, "type", "cloud");
    }
    struct sim_env *e = simstore_env_create(rq->sim, name->valuestring, config);
    if (cJSON_IsString(desc))
        e->description = omni_xstrdup(desc->valuestring);
    if (cJSON_IsObject(md))
        simstore_metadata_patch(e->metadata, md, 0);
    if (cJSON_IsString(sc)) {
        free(e->scope);
        e->scope = omni_xstrdup(sc->valuestring);
    }
    cJSON_Delete(b);
    sim_json(rs, 200, simstore_env_json(e));
}

void simh_env_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    if (!sim_need_org(rq, rs))
        return;
    int inc = 0, given;
    long limit;
    size_t start = 0;
    if (sim_query_bool(rq, rs, "include_archived", &inc) < 0 ||
        sim_page_bounds(rq, rs, sim->env_list.n, &limit, &start, &given) < 0)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    long n = 0;
    size_t i;
    int more = 0;
    for (i = start; i < sim->env_list.n; i++) {
        struct sim_env *e = sim->env_list.v[i];
        if (e->deleted || (e->archived_us && !inc))
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(data, simstore_env_json(e));
        n++;
    }
    sim_page_next(o, more, i);
    sim_json(rs, 200, o);
}

void simh_env_get(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = res_env(rq, rs);
    if (!e || !sim_can_env(rq, rs, e))
        return;
    sim_json(rs, 200, simstore_env_json(e));
}

void simh_env_update(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = res_env(rq, rs);
    if (!e || !sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 0);
    if (!b)
        return;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(b, "config");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(b, "description");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(b, "scope");
    const char *why;
    if (e->archived_us)
        sim_err(rq, rs, 400, NULL, "environment_archived", "environment '%s' is archived", e->id);
    else if (name && (!cJSON_IsString(name) || !*name->valuestring ||
                      strlen(name->valuestring) > SIM_NAME_MAX))
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'name': a string of 1-256 characters");
    else if (cfg && res_check_config(rq, rs, cfg) < 0)
        (void)0; /* error already made */
    else if (cfg && strcmp(cJSON_GetObjectItemCaseSensitive(cfg, "type")->valuestring,
                           e->self_hosted ? "self_hosted" : "cloud") != 0)
        sim_err(rq, rs, 400, NULL, "invalid_config_type_change",
                "the config type of environment '%s' cannot change", e->id);
    else if (desc && !cJSON_IsNull(desc) && !cJSON_IsString(desc))
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'description': must be a string or null");
    else if (md && !cJSON_IsNull(md) && (why = simstore_metadata_check(md, 1)))
        sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
    else if (sc && res_check_scope(rq, rs, sc) < 0)
        (void)0; /* error already made */
    if (rs->status) {
        cJSON_Delete(b);
        return;
    }
    if (name) {
        free(e->name);
        e->name = omni_xstrdup(name->valuestring);
    }
    if (desc) {
        free(e->description);
        e->description = cJSON_IsString(desc) ? omni_xstrdup(desc->valuestring) : NULL;
    }
    if (cfg) {
        cJSON_Delete(e->config);
        e->config = cJSON_Duplicate(cfg, 1);
    }
    if (cJSON_IsObject(md))
        simstore_metadata_patch(e->metadata, md, 1);
    if (sc) {
        free(e->scope);
        e->scope = omni_xstrdup(sc->valuestring);
    }
    e->updated_us = omni_wall_us();
    cJSON_Delete(b);
    sim_json(rs, 200, simstore_env_json(e));
}

void simh_env_archive(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = res_env(rq, rs);
    if (!e || !sim_need_org(rq, rs))
        return;
    if (!e->archived_us)
        e->archived_us = e->updated_us = omni_wall_us();
    sim_json(rs, 200, simstore_env_json(e));
}

void simh_env_delete(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = res_env(rq, rs);
    if (!e || !sim_need_org(rq, rs))
        return;
    e->deleted = 1;
    pthread_cond_broadcast(&e->work_cv);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "type", "environment_deleted");
    sim_json(rs, 200, o);
}

/* ---- agents ---- */

void simh_agent_create(struct sim_req *rq, struct sim_resp *rs)
{
    if (!sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const char *why;
    if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) > SIM_NAME_MAX)
        sim_err(rq, rs, 400, NULL, NULL, "'name' is required: a string of 1-256 characters");
    else if (md && (why = simstore_metadata_check(md, 0)))
        sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
    else if ((why = simskills_agent_check(b)))
        sim_err(rq, rs, 400, NULL, NULL, "%s", why);
    if (!rs->status) {
        struct sim_agent *a = simstore_agent_create(rq->sim, b);
        sim_json(rs, 200, cJSON_Duplicate(a->obj, 1));
    }
    cJSON_Delete(b);
}

void simh_agent_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    if (!sim_need_org(rq, rs))
        return;
    long limit;
    size_t start = 0;
    int given;
    if (sim_page_bounds(rq, rs, sim->agent_list.n, &limit, &start, &given) < 0)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    size_t i = start;
    for (long n = 0; i < sim->agent_list.n && n < limit; i++, n++) {
        struct sim_agent *a = sim->agent_list.v[i];
        cJSON_AddItemToArray(data, cJSON_Duplicate(a->obj, 1));
    }
    sim_page_next(o, i < sim->agent_list.n, i);
    sim_json(rs, 200, o);
}

void simh_agent_get(struct sim_req *rq, struct sim_resp *rs)
{
    if (!sim_need_org(rq, rs))
        return;
    struct sim_agent *a = simstore_agent_get(rq->sim, rq->param[0]);
    if (!a) {
        sim_err(rq, rs, 404, NULL, NULL, "agent '%.64s' not found", rq->param[0]);
        return;
    }
    sim_json(rs, 200, cJSON_Duplicate(a->obj, 1));
}

/* ---- sessions ---- */

static cJSON *res_agent_snapshot(const struct sim_agent *a, const cJSON *ovr)
{
    static const char *const keep[] = {"type",  "id",     "version", "name",        "description",
                                       "model", "system", "tools",   "mcp_servers", "skills"};
    static const char *const over[] = {"model", "system", "tools", "mcp_servers", "skills"};
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(a->obj, keep[i]);
        if (v)
            cJSON_AddItemToObject(o, keep[i], cJSON_Duplicate(v, 1));
    }
    cJSON_AddNullToObject(o, "multiagent");
    cJSON_AddNullToObject(o, "execution_identity");
    if (ovr) {
        for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(ovr, over[i]);
            if (v)
                cJSON_ReplaceItemInObjectCaseSensitive(o, over[i], cJSON_Duplicate(v, 1));
        }
    }
    return o;
}

static int res_check_user_event(struct sim_req *rq, struct sim_resp *rs, const cJSON *ev,
                                size_t idx)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    if (!cJSON_IsObject(ev) || !cJSON_IsString(t)) {
        sim_err(rq, rs, 400, NULL, NULL, "initial_events[%zu]: expected an object with a 'type'",
                idx);
        return -1;
    }
    if (omni_event_kind_of_type(t->valuestring) == OMNI_EV_USER_MESSAGE) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "content");
        if (!cJSON_IsArray(c) && !cJSON_IsString(c)) {
            sim_err(rq, rs, 400, NULL, NULL, "initial_events[%zu]: user.message needs 'content'",
                    idx);
            return -1;
        }
        return 0;
    }
    if (omni_event_kind_of_type(t->valuestring) == OMNI_EV_USER_DEFINE_OUTCOME)
        return 0;
    sim_err(rq, rs, 400, NULL, NULL,
            "initial_events[%zu]: type '%.64s' is not allowed (user.message or "
            "user.define_outcome)",
            idx, t->valuestring);
    return -1;
}

void simh_session_create(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    if (!sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const cJSON *ag = cJSON_GetObjectItemCaseSensitive(b, "agent");
    const cJSON *envid = cJSON_GetObjectItemCaseSensitive(b, "environment_id");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(b, "title");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(b, "resources");
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(b, "initial_events");
    const char *agent_id = NULL, *why;
    const cJSON *ovr = NULL;
    struct sim_agent *a = NULL;
    struct sim_env *e = NULL;
    enum sim_scenario scen = SCEN_BASH_ONCE;
    long scen_n = 0;
    const char *scen_text = "bash-once";

    if (cJSON_IsString(ag)) {
        agent_id = ag->valuestring;
    } else if (cJSON_IsObject(ag)) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ag, "id");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(ag, "type");
        if (cJSON_IsString(id))
            agent_id = id->valuestring;
        if (cJSON_IsString(ty) && strcmp(ty->valuestring, "agent_with_overrides") == 0)
            ovr = ag;
        else if (ty && (!cJSON_IsString(ty) || strcmp(ty->valuestring, "agent") != 0))
            agent_id = NULL;
    }
    if (!agent_id) {
        sim_err(rq, rs, 400, NULL, NULL,
                "'agent' is required: an agent id or {\"type\":\"agent\",\"id\":...}");
    } else if (!(a = simstore_agent_get(sim, agent_id))) {
        sim_err(rq, rs, 404, NULL, NULL, "agent '%.64s' not found", agent_id);
    } else if (!cJSON_IsString(envid)) {
        sim_err(rq, rs, 400, NULL, NULL, "'environment_id' is required");
    } else if (!(e = simstore_env_get(sim, envid->valuestring))) {
        sim_err(rq, rs, 404, NULL, "environment_not_found", "environment '%.64s' not found",
                envid->valuestring);
    } else if (e->archived_us) {
        sim_err(rq, rs, 400, NULL, "environment_archived", "environment '%s' is archived", e->id);
    } else if (title && !cJSON_IsNull(title) &&
               (!cJSON_IsString(title) || strlen(title->valuestring) > RES_TITLE_MAX)) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'title': a string of at most 1024 characters");
    } else if (md && !cJSON_IsNull(md) && (why = simstore_metadata_check(md, 0))) {
        sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
    } else if (res && !cJSON_IsNull(res) &&
               (!cJSON_IsArray(res) || cJSON_GetArraySize(res) > RES_RESOURCES_MAX)) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'resources': expected an array");
    } else if (init && !cJSON_IsNull(init) &&
               (!cJSON_IsArray(init) || cJSON_GetArraySize(init) > SIM_INITIAL_EVENTS_MAX)) {
        sim_err(rq, rs, 400, NULL, NULL,
                "invalid 'initial_events': expected an array of at most 50 events");
    }
    if (!rs->status && cJSON_IsArray(res)) {
        int stores = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, res) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "type");
            if (!cJSON_IsString(t)) {
                sim_err(rq, rs, 400, NULL, NULL, "invalid 'resources': each needs a 'type'");
                break;
            }
            if (strcmp(t->valuestring, "memory_store") == 0 && ++stores > RES_MEMORY_STORES_MAX) {
                sim_err(rq, rs, 400, NULL, NULL, "at most 8 memory stores per session");
                break;
            }
        }
    }
    if (!rs->status && cJSON_IsArray(init)) {
        size_t i = 0;
        const cJSON *ev;
        cJSON_ArrayForEach(ev, init) {
            if (res_check_user_event(rq, rs, ev, i++) < 0)
                break;
        }
    }
    if (!rs->status && cJSON_IsObject(md)) {
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(md, "sim_scenario");
        if (cJSON_IsString(sc)) {
            scen_text = sc->valuestring;
            if (simagent_scenario_parse(scen_text, &scen, &scen_n) < 0)
                sim_err(rq, rs, 400, NULL, NULL,
                        "unknown sim_scenario '%.64s' (see omni-sim(1) SCENARIOS)", scen_text);
        }
    }
    if (rs->status) {
        cJSON_Delete(b);
        return;
    }

    struct sim_session *s = omni_xcalloc(1, sizeof(*s));
    simstore_new_id(sim, "sesn_", s->id, sizeof(s->id));
    s->index = sim->session_list.n;
    s->env = e;
    s->agent = res_agent_snapshot(a, ovr);
    s->title = cJSON_IsString(title) ? omni_xstrdup(title->valuestring) : NULL;
    s->metadata = cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject();
    s->resources = cJSON_IsArray(res) ? cJSON_Duplicate(res, 1) : cJSON_CreateArray();
    snprintf(s->status, sizeof(s->status), "idle");
    s->created_us = s->updated_us = omni_wall_us();
    simstore_cond_init(&s->cv);
    s->scen = e->self_hosted ? scen : SCEN_IDLE;
    s->scen_n = scen_n;
    snprintf(s->scen_text, sizeof(s->scen_text), "%s", scen_text);
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(s->agent, "name");
    simthread_new(sim, s, 1, cJSON_IsString(an) ? an->valuestring : "agent");
    simmap_put(sim->sessions, s->id, s);
    simvec_push(&sim->session_list, s);
    if (e->self_hosted)
        simstore_work_enqueue(sim, e, s, "session");
    if (cJSON_IsArray(init)) {
        const cJSON *ev;
        cJSON_ArrayForEach(ev, init) {
            cJSON *copy = cJSON_Duplicate(ev, 1);
            simstore_event_append(sim, s, copy, NULL);
            simagent_on_event(sim, s, ev);
        }
    }
    cJSON_Delete(b);
    sim_json(rs, 200, simstore_session_json(s));
}

static struct sim_session *res_session(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = simstore_session_get(rq->sim, rq->param[0]);
    if (!s)
        sim_err(rq, rs, 404, NULL, NULL, "session '%.64s' not found", rq->param[0]);
    return s;
}

struct res_filter {
    int include_archived;
    struct sim_vec statuses;
    const char *agent_id;
    const char *env_id;
    long agent_version;
    int64_t gt, gte, lt, lte; /* 0 = unset */
};

static int res_session_match(const struct res_filter *f, const struct sim_session *s)
{
    if (s->deleted || (s->archived_us && !f->include_archived))
        return 0;
    if (f->statuses.n) {
        size_t i;
        for (i = 0; i < f->statuses.n; i++)
            if (strcmp(f->statuses.v[i], s->status) == 0)
                break;
        if (i == f->statuses.n)
            return 0;
    }
    if (f->agent_id) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(s->agent, "id");
        if (!cJSON_IsString(id) || strcmp(id->valuestring, f->agent_id) != 0)
            return 0;
    }
    if (f->agent_version >= 0) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->agent, "version");
        if (!cJSON_IsNumber(v) || (long)v->valuedouble != f->agent_version)
            return 0;
    }
    if (f->env_id && strcmp(f->env_id, s->env->id) != 0)
        return 0;
    if ((f->gt && !(s->created_us > f->gt)) || (f->gte && !(s->created_us >= f->gte)) ||
        (f->lt && !(s->created_us < f->lt)) || (f->lte && !(s->created_us <= f->lte)))
        return 0;
    return 1;
}

void simh_session_list(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    if (!sim_need_org(rq, rs))
        return;
    struct res_filter f;
    memset(&f, 0, sizeof(f));
    f.agent_version = -1;
    long limit;
    size_t start = 0;
    int given;
    const char *order = sim_query(rq, "order");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'order': expected 'asc' or 'desc'");
        return;
    }
    int desc = !order || strcmp(order, "desc") == 0;
    if (sim_query_bool(rq, rs, "include_archived", &f.include_archived) < 0 ||
        sim_page_bounds(rq, rs, sim->session_list.n, &limit, &start, &given) < 0 ||
        sim_query_int(rq, rs, "agent_version", 0, 1L << 30, -1, &f.agent_version) < 0 ||
        sim_query_ts(rq, rs, "created_at[gt]", &f.gt) < 0 ||
        sim_query_ts(rq, rs, "created_at[gte]", &f.gte) < 0 ||
        sim_query_ts(rq, rs, "created_at[lt]", &f.lt) < 0 ||
        sim_query_ts(rq, rs, "created_at[lte]", &f.lte) < 0)
        return;
    f.agent_id = sim_query(rq, "agent_id");
    f.env_id = sim_query(rq, "environment_id");
    sim_query_all(rq, "statuses", &f.statuses);
    for (size_t i = 0; i < f.statuses.n; i++) {
        const char *st = f.statuses.v[i];
        if (strcmp(st, "idle") != 0 && strcmp(st, "running") != 0 &&
            strcmp(st, "rescheduling") != 0 && strcmp(st, "terminated") != 0) {
            sim_err(rq, rs, 400, NULL, NULL, "invalid 'statuses' value '%.32s'", st);
            simvec_release(&f.statuses);
            return;
        }
    }
    size_t n_all = sim->session_list.n;
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    long n = 0;
    int more = 0;
    size_t next = 0;
    /* cursor = index into the creation-ordered list; desc walks down from it */
    size_t i = given ? start : (desc ? n_all : 0);
    if (desc) {
        while (i > 0) {
            struct sim_session *s = sim->session_list.v[i - 1];
            if (res_session_match(&f, s)) {
                if (n == limit) {
                    more = 1;
                    next = i;
                    break;
                }
                cJSON_AddItemToArray(data, simstore_session_json(s));
                n++;
            }
            i--;
        }
    } else {
        for (; i < n_all; i++) {
            struct sim_session *s = sim->session_list.v[i];
            if (!res_session_match(&f, s))
                continue;
            if (n == limit) {
                more = 1;
                next = i;
                break;
            }
            cJSON_AddItemToArray(data, simstore_session_json(s));
            n++;
        }
    }
    sim_page_next(o, more, next);
    cJSON_AddNullToObject(o, "prev_page");
    simvec_release(&f.statuses);
    sim_json(rs, 200, o);
}

void simh_session_get(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = res_session(rq, rs);
    if (!s || !sim_can_session(rq, rs, s))
        return;
    sim_json(rs, 200, simstore_session_json(s));
}

void simh_session_update(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_session *s = res_session(rq, rs);
    if (!s || !sim_need_org(rq, rs))
        return;
    cJSON *b = sim_body(rq, rs, 0);
    if (!b)
        return;
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(b, "title");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const char *why;
    if (title && !cJSON_IsNull(title) &&
        (!cJSON_IsString(title) || strlen(title->valuestring) > RES_TITLE_MAX))
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'title': a string of at most 1024 characters");
    else if (md && !cJSON_IsNull(md) && (why = simstore_metadata_check(md, 1)))
        sim_err(rq, rs, 400, NULL, "invalid_metadata", "%s", why);
    if (rs->status) {
        cJSON_Delete(b);
        return;
    }
    if (title) {
        free(s->title);
        s->title = cJSON_IsString(title) ? omni_xstrdup(title->valuestring) : NULL;
    }
    if (cJSON_IsObject(md)) {
        simstore_metadata_patch(s->metadata, md, 0);
        if (cJSON_GetArraySize(s->metadata) > SIM_METADATA_PAIRS) {
            cJSON_Delete(b);
            sim_err(rq, rs, 400, NULL, "invalid_metadata", "metadata has more than 16 keys");
            return;
        }
    }
    s->updated_us = omni_wall_us();
    cJSON_Delete(b);
    sim_json(rs, 200, simstore_session_json(s));
}

void simh_session_archive(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_session *s = res_session(rq, rs);
    if (!s || !sim_need_org(rq, rs))
        return;
    if (!s->archived_us) {
        s->archived_us = omni_wall_us();
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", "session.status_terminated");
        simstore_event_append(sim, s, ev, NULL);
        simagent_on_terminated(sim, s);
        simwork_session_ended(sim, s);
    }
    sim_json(rs, 200, simstore_session_json(s));
}

void simh_session_delete(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    struct sim_session *s = res_session(rq, rs);
    if (!s || !sim_need_org(rq, rs))
        return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "session.deleted");
    simstore_event_append(sim, s, ev, NULL);
    simagent_on_terminated(sim, s);
    simwork_session_ended(sim, s);
    s->deleted = 1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "type", "session_deleted");
    sim_json(rs, 200, o);
}
