#include "console.h"

#include <stdio.h>
#include <string.h>

#define CON_APP_REFRESH_MS 2000

#define CON_VIEW_ENTRY_(id, cls) [id] = &cls,
const struct con_view_class *const con_views[CON_VIEW_COUNT] = {CON_VIEWS(CON_VIEW_ENTRY_)};
#undef CON_VIEW_ENTRY_

void con_app_init(struct con_app *a)
{
    memset(a, 0, sizeof *a);
    con_model_init(&a->m);
    a->refresh_ms = CON_APP_REFRESH_MS;
    a->follow = 1;
}

void con_app_release(struct con_app *a)
{
    omni_agent_list_release(&a->agents);
    con_model_release(&a->m);
}

int con_app_show(struct con_app *a, enum con_view_id id)
{
    a->view = id;
    return CON_R_DRAW | CON_R_REFRESH;
}

void con_app_track(struct con_app *a)
{
    const struct con_view_class *v = con_views[a->view];
    struct con_table *t = v->table ? v->table(a) : NULL;
    struct con_cursor *c = &a->pos[a->view];
    char *id = a->sel_id[a->view];

    if (!t || strcmp(t->env_id, a->env_id) != 0)
        return;
    con_table_view(t, t->is_work, a->now_us);
    if (t->gen != a->sel_gen[a->view]) {
        long k = id[0] ? con_table_find(t, id) : -1;
        if (k >= 0)
            c->cur = (size_t)k;
        a->sel_gen[a->view] = t->gen;
    }
    if (c->cur < t->nidx)
        snprintf(id, OMNI_ID_MAX, "%s", con_table_id(t, c->cur));
}

int con_app_selected(struct con_app *a, struct con_table *t, int is_work, size_t *k)
{
    con_app_track(a);
    con_table_view(t, is_work, a->now_us);
    if (!t->nidx || strcmp(t->env_id, a->env_id) != 0)
        return -1;
    *k = a->pos[a->view].cur;
    return 0;
}

void con_refresh_submit(struct con_app *a, struct net_job *j)
{
    j->tag = a->refresh_gen;
    net_submit(a->net, j);
    a->inflight++;
}

void con_app_refresh(struct con_app *a, int64_t now_ms)
{
    const struct con_view_class *v = con_views[a->view];
    struct net_job j = {0};
    int force = a->force_tables;

    a->force_tables = 0;
    a->refresh_gen++;
    a->inflight = 0;
    a->refresh_started_ms = now_ms;
    j.kind = NET_ENVS;
    con_refresh_submit(a, &j);
    /* The workers' /metrics of environments that name them (worker_metrics.<id>). */
    for (size_t i = 0; a->nopts && i < a->m.nenvs; i++) {
        struct net_job w = {0};
        if (!net_worker_metrics(a->nopts, a->m.envs[i].id))
            continue;
        w.kind = NET_WORKERS;
        snprintf(w.env_id, sizeof w.env_id, "%s", a->m.envs[i].id);
        con_refresh_submit(a, &w);
    }
    if (v->refresh)
        v->refresh(a, now_ms, force);
}

void con_refresh_table(struct con_app *a, enum net_kind kind, int64_t now_ms, int force)
{
    int k = kind == NET_WORK; /* index of a->table_next_ms */
    const struct con_table *t = k ? &a->m.work : &a->m.sessions;
    struct net_job j = {0};

    if (!a->env_id[0])
        return;
    if (!force && now_ms < a->table_next_ms[k] && strcmp(t->env_id, a->env_id) == 0)
        return;
    j.kind = kind;
    snprintf(j.env_id, sizeof j.env_id, "%s", a->env_id);
    con_refresh_submit(a, &j);
}
