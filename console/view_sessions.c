#include "console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

static const char *const sess_sort_names[CON_SC_NCOLS] = {
    [CON_SC_STATUS] = "status",    [CON_SC_ID] = "id",
    [CON_SC_TITLE] = "title",      [CON_SC_AGE] = "age",
    [CON_SC_EVENT] = "last event", [CON_SC_WAIT] = "waiting",
};

static size_t sessions_count(struct con_app *a)
{
    con_table_view(&a->m.sessions, 0, a->now_us);
    return a->m.sessions.nidx;
}

/* "2 ask" for held calls; "" when none or not fetched. */
static void wait_text(const struct con_session *s, char *out, size_t outlen)
{
    if (!s->events_at_us)
        snprintf(out, outlen, "?");
    else if (s->nheld)
        snprintf(out, outlen, "%d ask", s->nheld);
    else if (s->ncustom)
        snprintf(out, outlen, "%d tool", s->ncustom);
    else
        out[0] = '\0';
}

static void sessions_draw(struct con_app *a, int top, int rows, int cols)
{
    struct con_table *t = &a->m.sessions;
    struct con_cursor *c = &a->pos[CON_VIEW_SESSIONS];
    int list_rows = rows - 3; /* header, held call, footer */
    int id_w = cols >= CON_WIDE_COLS ? CON_ID_W : CON_ID_W_NARROW;
    int st_w = 12, age_w = 6, wait_w = 6, ev_w = 22, title_w;
    char line[1024], age[32], wait[16], hdr[128], id[OMNI_ID_MAX + 8];
    int same_env = strcmp(t->env_id, a->env_id) == 0;

    title_w = cols - CON_FLAG_W - st_w - id_w - age_w - wait_w - ev_w - 5;
    if (title_w < 10) {
        ev_w -= 10 - title_w;
        if (ev_w < 12)
            ev_w = 12;
        title_w = cols - CON_FLAG_W - st_w - id_w - age_w - wait_w - ev_w - 5;
        if (title_w < 1)
            title_w = 1;
    }
    attrset(ui_attr(a, CON_A_HEAD));
    snprintf(line, sizeof line, "%-*s", CON_FLAG_W, "!");
    ui_head(line, sizeof line, a, t, CON_SC_STATUS, "STATUS", st_w, 0);
    ui_head(line, sizeof line, a, t, CON_SC_ID, "SESSION", id_w, 0);
    ui_head(line, sizeof line, a, t, CON_SC_AGE, "AGE", age_w, 1);
    ui_head(line, sizeof line, a, t, CON_SC_WAIT, "WAIT", wait_w, 0);
    ui_head(line, sizeof line, a, t, CON_SC_EVENT, "LAST EVENT", ev_w, 0);
    ui_head(line, sizeof line, a, t, CON_SC_TITLE, "TITLE", 0, 0);
    ui_put(top, 0, cols, line, 1);
    attrset(A_NORMAL);
    con_table_view(t, 0, a->now_us);
    ui_clamp(c, same_env ? t->nidx : 0, list_rows);
    if (!same_env || !t->nidx) {
        ui_put(top + 1, 1, cols - 1,
               t->err[0] && same_env            ? t->err
               : !same_env || !t->fetched_at_us ? "loading..."
               : t->only_waiting                ? "no session waits on a person"
               : t->filter[0]                   ? "no session matches the filter"
                                                : "no sessions",
               0);
    }
    for (int i = 0; same_env && i < list_rows; i++) {
        size_t k = c->top + (size_t)i;
        const struct con_session *s;
        unsigned attr = A_NORMAL;
        if (k >= t->nidx)
            break;
        s = con_session_at(t, k);
        wait_text(s, wait, sizeof wait);
        con_id_fit(s->id, id_w, a->utf8, id, sizeof id);
        snprintf(line, sizeof line, "%-*s%-*.*s %s%*s %*s %-*.*s %-*.*s %s", CON_FLAG_W,
                 con_session_waits_on_person(s) ? "!" : "", st_w, st_w, s->status, id,
                 id_w - ui_width(id), "", age_w, con_age(a->now_us, s->created_at, age, sizeof age),
                 wait_w, wait_w, wait, ev_w, ev_w, s->last_event[0] ? s->last_event : "-",
                 s->title);
        if (s->nheld)
            attr = ui_attr(a, CON_A_WARN);
        else if (strcmp(s->status, "terminated") == 0)
            attr = ui_attr(a, CON_A_DIM);
        else if (strcmp(s->status, "running") == 0)
            attr = ui_attr(a, CON_A_OK);
        if (k == c->cur)
            attr = ui_attr(a, CON_A_SEL) | (attr & A_BOLD);
        attrset(attr);
        ui_put(top + 1 + i, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    /* the held call of the selected session, above the footer */
    if (same_env && t->nidx && con_session_at(t, c->cur)->nheld) {
        const struct con_held *h = &con_session_at(t, c->cur)->held;
        snprintf(line, sizeof line, "held: %s %s: %s%s", h->id, h->name, h->input,
                 a->readonly ? "" : "  (a approve, d deny)");
        attrset(ui_attr(a, CON_A_WARN));
        ui_put(top + rows - 2, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    /* footer: counts, filter, sort */
    snprintf(hdr, sizeof hdr, "sort: %s %s%s", sess_sort_names[t->sort_col], ui_sort_mark(a, t),
             t->sort_desc ? " (reversed)" : "");
    {
        char when[32];
        size_t waiting = 0;
        for (size_t i = 0; i < t->n; i++)
            waiting += (size_t)con_session_waits_on_person(&((struct con_session *)t->rows)[i]);
        snprintf(line, sizeof line,
                 "%zu of %zu sessions%s%s%s%s  %zu waiting on a person  %s  updated %s", t->nidx,
                 t->n, t->only_waiting ? "  only waiting on a person (p: all)" : "",
                 t->filter[0] ? "  filter \"" : "", t->filter, t->filter[0] ? "\"" : "", waiting,
                 hdr, same_env ? con_age(a->now_us, t->fetched_at_us, when, sizeof when) : "-");
        if (same_env && t->err[0] && t->nidx) {
            snprintf(line, sizeof line, "refresh failed: %s", t->err);
            attrset(ui_attr(a, CON_A_ERR));
        } else {
            attrset(ui_attr(a, CON_A_DIM));
        }
    }
    ui_put(top + rows - 1, 0, cols, line, 1);
    attrset(A_NORMAL);
}

/* The selected session, NULL if none. */
static const struct con_session *sessions_selected(struct con_app *a)
{
    struct con_table *t = &a->m.sessions;
    size_t k;

    return con_app_selected(a, t, 0, &k) < 0 ? NULL : con_session_at(t, k);
}

static int sessions_enter(struct con_app *a)
{
    const struct con_session *s = sessions_selected(a);

    return s ? con_detail_show(a, s->id) : CON_R_NONE;
}

static int sessions_tab(struct con_app *a)
{
    return con_app_show(a, CON_VIEW_WORK);
}

/* The sessions table (a stop finds a session's work item on the action
 * thread), and the event lists of the visible sessions that are due. */
static void sessions_refresh(struct con_app *a, int64_t now_ms, int force)
{
    struct con_table *t = &a->m.sessions;
    const struct con_cursor *c = &a->pos[CON_VIEW_SESSIONS];
    struct net_job j = {0};
    int sent = 0;

    con_refresh_table(a, NET_SESSIONS, now_ms, force);
    if (!a->env_id[0] || strcmp(t->env_id, a->env_id) != 0)
        return;
    snprintf(j.env_id, sizeof j.env_id, "%s", a->env_id);
    j.kind = NET_EVENTS;
    con_table_view(t, 0, a->now_us);
    for (size_t i = c->top; i < t->nidx && i < c->top + (size_t)LINES && sent < CON_EVENTS_PER_TICK;
         i++) {
        const struct con_session *s = con_session_at(t, i);
        if (!con_session_events_due(s, a->now_us, CON_EVENTS_MIN_AGE_MS))
            continue;
        snprintf(j.session_id, sizeof j.session_id, "%s", s->id);
        con_refresh_submit(a, &j);
        sent++;
    }
}

static int sessions_target(struct con_app *a, struct con_target *t)
{
    const struct con_session *s = sessions_selected(a);

    if (!s)
        return -1;
    snprintf(t->session_id, sizeof t->session_id, "%s", s->id);
    t->held = s->nheld ? &s->held : NULL;
    return 0;
}

static int sessions_waiting(struct con_app *a)
{
    con_table_set_only_waiting(&a->m.sessions, !a->m.sessions.only_waiting);
    ui_status(a, 0, "%s",
              a->m.sessions.only_waiting ? "only the sessions waiting on a person"
                                         : "all sessions");
    return CON_R_DRAW;
}

static struct con_table *sessions_table(struct con_app *a)
{
    return &a->m.sessions;
}

const struct con_view_class con_view_sessions = {
    .name = "sessions",
    .hints = "Enter events  / filter  < > sort  p waiting on a person",
    .actions = "s stop  S force  i interrupt  a/d approve/deny",
    .in_env = 1,
    .draw = sessions_draw,
    .count = sessions_count,
    .enter = sessions_enter,
    .back = con_envs_back,
    .tab = sessions_tab,
    .refresh = sessions_refresh,
    .target = sessions_target,
    .table = sessions_table,
    .waiting = sessions_waiting,
    .sort_names = sess_sort_names,
    .nsort = CON_SC_NCOLS,
};
