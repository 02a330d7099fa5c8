#include "console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DETAIL_HELD_SHOWN 3

static size_t detail_count(struct con_app *a)
{
    return con_detail_count(&a->m.detail);
}

static unsigned kind_attr(const struct con_app *a, enum con_line_kind k)
{
    switch (k) {
    case CON_LK_TOOL:
        return ui_attr(a, CON_A_TOOL);
    case CON_LK_RESULT:
        return ui_attr(a, CON_A_OK);
    case CON_LK_ERROR:
        return ui_attr(a, CON_A_ERR);
    case CON_LK_USER:
        return ui_attr(a, CON_A_USER);
    case CON_LK_STATUS:
        return ui_attr(a, CON_A_DIM);
    default:
        return A_NORMAL;
    }
}

static void detail_draw(struct con_app *a, int top, int rows, int cols)
{
    struct con_detail *d = &a->m.detail;
    const struct con_session *s = con_model_session(&a->m, d->session_id);
    struct con_cursor *c = &a->pos[CON_VIEW_DETAIL];
    char line[1024], ts[32];
    int y = top, nheld = d->ap.n < DETAIL_HELD_SHOWN ? d->ap.n : DETAIL_HELD_SHOWN;
    int list_rows;
    size_t n;

    attrset(ui_attr(a, CON_A_HEAD));
    snprintf(line, sizeof line, "session %s  %s  %s  stream: %s", d->session_id, s ? s->status : "",
             s ? s->title : "",
             d->streaming ? "live"
             : d->err[0]  ? "reconnecting"
                          : "connecting...");
    ui_put(y++, 0, cols, line, 1);
    attrset(A_NORMAL);
    if (!d->streaming && d->err[0]) {
        attrset(ui_attr(a, CON_A_ERR));
        ui_put(y++, 0, cols, d->err, 1);
        attrset(A_NORMAL);
    }
    for (int i = 0; i < nheld; i++) {
        const struct con_held *h = &d->ap.held[i];
        snprintf(line, sizeof line, "HELD %s %s: %s%s", h->id, h->name, h->input,
                 i == 0 && !a->readonly ? "   (a approve, d deny)" : "");
        attrset(ui_attr(a, CON_A_WARN));
        ui_put(y++, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    if (d->ap.n > nheld) {
        snprintf(line, sizeof line, "... and %d more held calls", d->ap.n - nheld);
        ui_put(y++, 0, cols, line, 1);
    }
    if (d->ap.ncustom) {
        snprintf(line, sizeof line, "WAITING on %d custom tool call%s nobody answered (%s%s)",
                 d->ap.ncustom, d->ap.ncustom == 1 ? "" : "s", d->ap.custom[0],
                 d->ap.ncustom > 1 ? ", ..." : "");
        attrset(ui_attr(a, CON_A_WARN));
        ui_put(y++, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    if (d->filter[0]) {
        snprintf(line, sizeof line, "%zu of %zu events  filter \"%s\"", con_detail_count(d), d->n,
                 d->filter);
        attrset(ui_attr(a, CON_A_DIM));
        ui_put(y++, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
    list_rows = top + rows - y;
    if (list_rows < 1)
        return;
    n = con_detail_count(d);
    if (a->follow) {
        c->cur = n ? n - 1 : 0;
        c->top = n > (size_t)list_rows ? n - (size_t)list_rows : 0;
    } else {
        ui_clamp(c, n, list_rows);
    }
    if (!n)
        ui_put(y, 1, cols - 1, d->n ? "no event matches the filter" : "no events yet", 0);
    for (int i = 0; i < list_rows; i++) {
        size_t k = c->top + (size_t)i;
        const struct con_line *ln = con_detail_shown(d, k);
        if (!ln)
            break;
        snprintf(line, sizeof line, "%s %s", ui_clock(a, ln->at, ts, sizeof ts), ln->text);
        attrset(!a->follow && k == c->cur ? ui_attr(a, CON_A_SEL) : kind_attr(a, ln->kind));
        ui_put(y + i, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
}

/* Enter: the selected event in full (the newest while following). */
static int detail_enter(struct con_app *a)
{
    struct con_detail *d = &a->m.detail;
    size_t n = con_detail_count(d);
    const struct con_line *ln;

    if (!n)
        return CON_R_NONE;
    ln = con_detail_shown(d, a->follow ? n - 1 : a->pos[CON_VIEW_DETAIL].cur);
    return ln ? con_event_show(a, d->session_id, ln->id) : CON_R_NONE;
}

int con_detail_show(struct con_app *a, const char *session_id)
{
    con_detail_open(&a->m.detail, session_id);
    if (a->net)
        net_stream_follow(a->net, session_id);
    a->detail_from = a->view;
    a->follow = 1;
    a->view = CON_VIEW_DETAIL;
    return CON_R_DRAW;
}

static int detail_back(struct con_app *a)
{
    if (a->net)
        net_stream_follow(a->net, NULL);
    con_detail_close(&a->m.detail);
    a->view = a->detail_from;
    return CON_R_DRAW | CON_R_REFRESH;
}

/* The session's list (its status and title in the header). */
static void detail_refresh(struct con_app *a, int64_t now_ms, int force)
{
    con_refresh_table(a, NET_SESSIONS, now_ms, force);
}

static int detail_target(struct con_app *a, struct con_target *t)
{
    const struct con_detail *d = &a->m.detail;

    snprintf(t->session_id, sizeof t->session_id, "%s", d->session_id);
    t->held = d->ap.n ? &d->ap.held[0] : NULL;
    return 0;
}

static const char *detail_filter(struct con_app *a)
{
    return a->m.detail.filter;
}

static void detail_set_filter(struct con_app *a, const char *text)
{
    con_detail_set_filter(&a->m.detail, text);
}

const struct con_view_class con_view_detail = {
    .name = "session",
    .hints = "Esc back  Enter event  / search  End follow",
    .actions = "s stop  S force  i interrupt  a approve  d deny",
    .in_env = 1,
    .tail = 1,
    .draw = detail_draw,
    .count = detail_count,
    .enter = detail_enter,
    .back = detail_back,
    .refresh = detail_refresh,
    .target = detail_target,
    .filter = detail_filter,
    .set_filter = detail_set_filter,
};
