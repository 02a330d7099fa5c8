#include "console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

/* One event in full: a tool call's input and output, then its raw JSON,
 * scrollable (Up/Down, PgUp/PgDn, g/G). */

static size_t event_count(struct con_app *a)
{
    return a->m.doc.nlines;
}

static void event_draw(struct con_app *a, int top, int rows, int cols)
{
    const struct con_doc *d = &a->m.doc;
    struct con_cursor *c = &a->pos[CON_VIEW_EVENT];
    char line[1024];
    int list_rows = rows - 1;

    attrset(ui_attr(a, CON_A_HEAD));
    snprintf(line, sizeof line, "event %s of session %s  line %zu of %zu", d->event_id,
             d->session_id, d->nlines ? c->cur + 1 : 0, d->nlines);
    ui_put(top, 0, cols, line, 1);
    attrset(A_NORMAL);
    if (!d->text) {
        attrset(d->err[0] ? ui_attr(a, CON_A_ERR) : A_NORMAL);
        ui_put(top + 1, 1, cols - 1, d->err[0] ? d->err : "loading...", 0);
        attrset(A_NORMAL);
        return;
    }
    ui_clamp(c, d->nlines, list_rows);
    for (int i = 0; i < list_rows; i++) {
        size_t k = c->top + (size_t)i;
        if (k >= d->nlines)
            break;
        con_doc_line(d, k, line, sizeof line);
        attrset(k == c->cur ? ui_attr(a, CON_A_SEL) : A_NORMAL);
        ui_put(top + 1 + i, 0, cols, line, 1);
        attrset(A_NORMAL);
    }
}

static int event_enter(struct con_app *a)
{
    (void)a;
    return CON_R_NONE;
}

static int event_back(struct con_app *a)
{
    a->view = CON_VIEW_DETAIL;
    return CON_R_DRAW;
}

int con_event_show(struct con_app *a, const char *session_id, const char *event_id)
{
    struct net_job j = {0};

    if (!event_id[0]) {
        ui_status(a, 1, "this line has no event id");
        return CON_R_DRAW;
    }
    con_doc_open(&a->m.doc, session_id, event_id);
    j.kind = NET_EVENT;
    snprintf(j.session_id, sizeof j.session_id, "%s", session_id);
    snprintf(j.event_id, sizeof j.event_id, "%s", event_id);
    if (a->net)
        net_submit(a->net, &j);
    a->pos[CON_VIEW_EVENT] = (struct con_cursor){0, 0};
    a->view = CON_VIEW_EVENT;
    return CON_R_DRAW;
}

const struct con_view_class con_view_event = {
    .name = "event",
    .hints = "Esc back  Up/Down PgUp/PgDn g/G scroll",
    .in_env = 1,
    .draw = event_draw,
    .count = event_count,
    .enter = event_enter,
    .back = event_back,
};
