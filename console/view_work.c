#include "console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

static const char *const work_sort_names[CON_WC_NCOLS] = {
    [CON_WC_STATE] = "state",         [CON_WC_ID] = "id",
    [CON_WC_SESSION] = "session",     [CON_WC_AGE] = "age",
    [CON_WC_HEARTBEAT] = "heartbeat", [CON_WC_STUCK] = "stuck",
};

static size_t work_count(struct con_app *a)
{
    con_table_view(&a->m.work, 1, a->now_us);
    return a->m.work.nidx;
}

static void work_draw(struct con_app *a, int top, int rows, int cols)
{
    struct con_table *t = &a->m.work;
    struct con_cursor *c = &a->pos[CON_VIEW_WORK];
    const struct con_env *e = con_model_env(&a->m, a->env_id);
    int list_rows = rows - 2;
    int st_w = 9, id_w = cols >= CON_WIDE_COLS ? CON_ID_W : CON_ID_W_NARROW;
    int age_w = 6, hb_w = 9, stuck_w = 5, sess_w;
    char line[1024], age[32], hb[32], when[32], id[OMNI_ID_MAX + 8], sid[OMNI_ID_MAX + 8];
    int same_env = strcmp(t->env_id, a->env_id) == 0;

    sess_w = cols - st_w - id_w - age_w - hb_w - stuck_w - 5;
    if (sess_w < 8)
        sess_w = 8;
    attrset(ui_attr(a, CON_A_HEAD));
    line[0] = '\0';
    ui_head(line, sizeof line, a, t, CON_WC_STATE, "STATE", st_w, 0);
    ui_head(line, sizeof line, a, t, CON_WC_ID, "WORK", id_w, 0);
    ui_head(line, sizeof line, a, t, CON_WC_SESSION, "SESSION", sess_w, 0);
    ui_head(line, sizeof line, a, t, CON_WC_AGE, "AGE", age_w, 1);
    ui_head(line, sizeof line, a, t, CON_WC_HEARTBEAT, "HEARTBEAT", hb_w, 1);
    ui_head(line, sizeof line, a, t, CON_WC_STUCK, "STUCK", 0, 0);
    ui_put(top, 0, cols, line, 1);
    attrset(A_NORMAL);
    if (e && !e->has_key_file) {
        ui_put(top + 1, 1, cols - 1,
               "work items are listed with the environment key, which is not configured:", 0);
        snprintf(line, sizeof line, "add env_key_file.%s = PATH to the config profile", a->env_id);
        ui_put(top + 2, 1, cols - 1, line, 0);
        return;
    }
    con_table_view(t, 1, a->now_us);
    ui_clamp(c, same_env ? t->nidx : 0, list_rows);
    if (!same_env || !t->nidx)
        ui_put(top + 1, 1, cols - 1,
               t->err[0] && same_env            ? t->err
               : !same_env || !t->fetched_at_us ? "loading..."
               : t->filter[0]                   ? "no work item matches the filter"
                                                : "no work items",
               0);
    for (int i = 0; same_env && i < list_rows; i++) {
        size_t k = c->top + (size_t)i;
        const struct con_work *w;
        int stuck;
        unsigned attr = A_NORMAL;
        if (k >= t->nidx)
            break;
        w = con_work_at(t, k);
        stuck = con_work_stuck(w, a->now_us, a->m.work.stuck_ms);
        con_id_fit(w->id, id_w, a->utf8, id, sizeof id);
        con_id_fit(w->session_id[0] ? w->session_id : w->data_type, sess_w, a->utf8, sid,
                   sizeof sid);
        snprintf(line, sizeof line, "%-*.*s %s%*s %s%*s %*s %*s %s", st_w, st_w, w->state, id,
                 id_w - ui_width(id), "", sid, sess_w - ui_width(sid), "", age_w,
                 con_age(a->now_us, w->created_at, age, sizeof age), hb_w,
                 con_age(a->now_us, w->latest_heartbeat_at, hb, sizeof hb), stuck ? "STUCK" : "");
        if (stuck)
            attr = ui_attr(a, CON_A_CRIT);
        else if (strcmp(w->state, "stopped") == 0)
            attr = ui_attr(a, CON_A_DIM);
        else if (strcmp(w->state, "active") == 0)
            attr = ui_attr(a, CON_A_OK);
        else if (strcmp(w->state, "stopping") == 0 || strcmp(w->state, "queued") == 0)
            attr = ui_attr(a, CON_A_WARN);
        if (k == c->cur)
            attr = ui_attr(a, CON_A_SEL) | (attr & A_BOLD);
        attrset(attr);
        ui_put(top + 1 + i, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    snprintf(line, sizeof line, "%zu of %zu work items%s%s%s  sort: %s %s%s  updated %s", t->nidx,
             t->n, t->filter[0] ? "  filter \"" : "", t->filter, t->filter[0] ? "\"" : "",
             work_sort_names[t->sort_col], ui_sort_mark(a, t), t->sort_desc ? " (reversed)" : "",
             same_env ? con_age(a->now_us, t->fetched_at_us, when, sizeof when) : "-");
    if (same_env && t->err[0] && t->nidx) {
        snprintf(line, sizeof line, "refresh failed: %s", t->err);
        attrset(ui_attr(a, CON_A_ERR));
    } else {
        attrset(ui_attr(a, CON_A_DIM));
    }
    ui_put(top + rows - 1, 0, cols, line, 1);
    attrset(A_NORMAL);
}

/* The selected work item, NULL if none. */
static const struct con_work *work_selected(struct con_app *a)
{
    struct con_table *t = &a->m.work;
    size_t k;

    return con_app_selected(a, t, 1, &k) < 0 ? NULL : con_work_at(t, k);
}

static int work_enter(struct con_app *a)
{
    const struct con_work *w = work_selected(a);

    if (!w)
        return CON_R_NONE;
    if (!w->session_id[0] || strcmp(w->data_type, "session") != 0) {
        ui_status(a, 1, "work %s is not session work", w->id);
        return CON_R_DRAW;
    }
    return con_detail_show(a, w->session_id);
}

static int work_tab(struct con_app *a)
{
    return con_app_show(a, CON_VIEW_SESSIONS);
}

static void work_refresh(struct con_app *a, int64_t now_ms, int force)
{
    con_refresh_table(a, NET_WORK, now_ms, force);
}

static int work_target(struct con_app *a, struct con_target *t)
{
    const struct con_work *w = work_selected(a);

    if (!w)
        return -1;
    snprintf(t->session_id, sizeof t->session_id, "%s", w->session_id);
    snprintf(t->work_id, sizeof t->work_id, "%s", w->id);
    t->no_held_hint = " (open its session with Enter)"; /* held calls are not listed here */
    return 0;
}

static struct con_table *work_table(struct con_app *a)
{
    return &a->m.work;
}

const struct con_view_class con_view_work = {
    .name = "work items",
    .hints = "Enter events  w sessions  / filter  < > sort",
    .actions = "s stop  S force",
    .in_env = 1,
    .draw = work_draw,
    .count = work_count,
    .enter = work_enter,
    .back = con_envs_back,
    .tab = work_tab,
    .refresh = work_refresh,
    .target = work_target,
    .table = work_table,
    .sort_names = work_sort_names,
    .nsort = CON_WC_NCOLS,
};
