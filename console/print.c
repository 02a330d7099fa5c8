#include "console.h"

#include <stdio.h>
#include <string.h>

/* Plain-text tables for --once: no colours, no truncation of ids. */

void con_print_envs(FILE *fp, struct con_app *a)
{
    char age[32], workers[16], stuck[16];

    fprintf(fp, "%-9s %-30s %-24s %6s %7s %8s %7s %5s  %s\n", "LEVEL", "ENVIRONMENT", "NAME",
            "DEPTH", "PENDING", "OLDEST", "WORKERS", "STUCK", "REASON");
    for (size_t i = 0; i < a->m.nenvs; i++) {
        const struct con_env *e = &a->m.envs[i];
        if (e->ws.known)
            snprintf(stuck, sizeof stuck, "%ld", e->ws.stuck);
        else
            snprintf(stuck, sizeof stuck, "-");
        if (!e->have_stats) {
            fprintf(fp, "%-9s %-30s %-24s %6s %7s %8s %7s %5s  %s\n", "UNKNOWN", e->id, e->name,
                    "-", "-", "-", "-", stuck, e->err[0] ? e->err : "no stats");
            continue;
        }
        if (e->stats.workers_polling >= 0)
            snprintf(workers, sizeof workers, "%ld", e->stats.workers_polling);
        else
            snprintf(workers, sizeof workers, "-");
        fprintf(fp, "%-9s %-30s %-24s %6ld %7ld %8s %7s %5s  %s\n", omni_level_name(e->level),
                e->id, e->name, e->stats.depth, e->stats.pending,
                con_age(a->now_us, e->stats.oldest_queued_at, age, sizeof age), workers, stuck,
                e->why);
    }
}

void con_print_sessions(FILE *fp, struct con_app *a)
{
    struct con_table *t = &a->m.sessions;
    char age[32], wait[16];

    con_table_view(t, 0, a->now_us);
    fprintf(fp, "%-12s %-32s %7s %-6s %-28s %s\n", "STATUS", "SESSION", "AGE", "WAIT", "LAST EVENT",
            "TITLE");
    for (size_t i = 0; i < t->nidx; i++) {
        const struct con_session *s = con_session_at(t, i);
        if (!s->events_at_us)
            snprintf(wait, sizeof wait, "?");
        else if (s->nheld)
            snprintf(wait, sizeof wait, "%d ask", s->nheld);
        else if (s->ncustom)
            snprintf(wait, sizeof wait, "%d tool", s->ncustom);
        else
            snprintf(wait, sizeof wait, "-");
        fprintf(fp, "%-12s %-32s %7s %-6s %-28s %s\n", s->status, s->id,
                con_age(a->now_us, s->created_at, age, sizeof age), wait,
                s->last_event[0] ? s->last_event : "-", s->title[0] ? s->title : "-");
    }
}

void con_print_work(FILE *fp, struct con_app *a)
{
    struct con_table *t = &a->m.work;
    char age[32], hb[32];

    con_table_view(t, 1, a->now_us);
    fprintf(fp, "%-9s %-32s %-32s %7s %9s %s\n", "STATE", "WORK", "SESSION", "AGE", "HEARTBEAT",
            "STUCK");
    for (size_t i = 0; i < t->nidx; i++) {
        const struct con_work *w = con_work_at(t, i);
        fprintf(fp, "%-9s %-32s %-32s %7s %9s %s\n", w->state, w->id,
                w->session_id[0] ? w->session_id : w->data_type,
                con_age(a->now_us, w->created_at, age, sizeof age),
                con_age(a->now_us, w->latest_heartbeat_at, hb, sizeof hb),
                con_work_stuck(w, a->now_us, a->m.work.stuck_ms) ? "STUCK" : "-");
    }
}
