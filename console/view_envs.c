#include "console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define ENVS_SPARK_MIN 10
#define ENVS_SPARK_MAX 40
#define ENVS_NAME_MIN 8
/* ST DEPTH PEND OLDEST WKRS STUCK and their blanks, beside the name */
#define ENVS_FIXED_W (4 + 1 + 1 + 6 + 1 + 5 + 1 + 7 + 1 + 5 + 1 + 5 + 1)

static int env_matches(const struct con_app *a, const struct con_env *e)
{
    return !a->envs_filter[0] || strcasestr(e->id, a->envs_filter) ||
           strcasestr(e->name, a->envs_filter);
}

/* The i-th environment shown (the filter applied), NULL past the end. */
static struct con_env *env_at(struct con_app *a, size_t i)
{
    for (size_t k = 0; k < a->m.nenvs; k++)
        if (env_matches(a, &a->m.envs[k]) && i-- == 0)
            return &a->m.envs[k];
    return NULL;
}

static size_t envs_count(struct con_app *a)
{
    size_t n = 0;
    for (size_t k = 0; k < a->m.nenvs; k++)
        n += (size_t)env_matches(a, &a->m.envs[k]);
    return n;
}

/* Whether any environment has worker metrics (the note then has a third line). */
static int envs_have_workers(const struct con_app *a)
{
    for (size_t k = 0; k < a->m.nenvs; k++)
        if (a->m.envs[k].nworkers)
            return 1;
    return 0;
}

/* "workers: HOST:PORT busy B/C held H | HOST:PORT fetch failed: why" */
static void envs_workers_line(const struct con_env *e, char *line, size_t n)
{
    size_t l;

    snprintf(line, n, "  workers:%s", e->nworkers ? "" : " none configured");
    for (int i = 0; i < e->nworkers; i++) {
        const struct con_worker *w = &e->workers[i];
        const char *u = strstr(w->url, "://");
        int ulen;
        u = u ? u + 3 : w->url;
        ulen = (int)strcspn(u, "/");
        l = strlen(line);
        if (l >= n - 1)
            break;
        if (w->ok)
            snprintf(line + l, n - l, "%s %.*s busy %ld/%ld held %ld", i ? " |" : "", ulen, u,
                     w->busy, w->configured, w->held);
        else
            snprintf(line + l, n - l, "%s %.*s FETCH FAILED: %s", i ? " |" : "", ulen, u, w->err);
    }
}

static void envs_draw(struct con_app *a, int top, int rows, int cols)
{
    struct con_cursor *c = &a->pos[CON_VIEW_ENVS];
    int wk = envs_have_workers(a);
    /* header + the selected environment's note (2 lines, 3 with workers) */
    int list_rows = rows - 3 - wk;
    int spark_w = cols - 70;
    int name_w;
    long scale = 0;
    char line[1024], age[32], spark[ENVS_SPARK_MAX * 3 + 1], workers[16], stuck[16];
    long samples[CON_SPARK_SAMPLES];
    size_t nshown;

    if (spark_w < ENVS_SPARK_MIN)
        spark_w = ENVS_SPARK_MIN;
    if (spark_w > ENVS_SPARK_MAX)
        spark_w = ENVS_SPARK_MAX;
    /* the values first: the sparkline gets what is left, or nothing */
    if (cols - ENVS_FIXED_W - ENVS_NAME_MIN < spark_w)
        spark_w = cols - ENVS_FIXED_W - ENVS_NAME_MIN;
    if (spark_w < ENVS_SPARK_MIN)
        spark_w = 0;
    name_w = cols - ENVS_FIXED_W - spark_w;
    if (name_w < ENVS_NAME_MIN)
        name_w = ENVS_NAME_MIN;
    attrset(ui_attr(a, CON_A_HEAD));
    snprintf(line, sizeof line, "%-4s %-*.*s %6s %5s %7s %5s %5s %s", "ST", name_w, name_w,
             "ENVIRONMENT", "DEPTH", "PEND", "OLDEST", "WKRS", "STUCK", "DEPTH HISTORY");
    ui_put(top, 0, cols, line, 1);
    attrset(A_NORMAL);
    nshown = envs_count(a);
    ui_clamp(c, nshown, list_rows);
    if (!nshown) {
        ui_put(top + 1, 1, cols - 1,
               a->m.envs_err[0]    ? "no environments (the last refresh failed)"
               : a->envs_filter[0] ? "no environment matches the filter"
               : a->m.envs_at_us   ? "no environments"
                                   : "loading...",
               0);
        return;
    }
    /* one scale for every sparkline on screen: rows compare */
    for (int i = 0; spark_w && i < list_rows; i++) {
        const struct con_env *e = env_at(a, c->top + (size_t)i);
        long max;
        if (!e)
            break;
        max = con_spark_max(e->spark, e->nspark, spark_w);
        if (max > scale)
            scale = max;
    }
    for (int i = 0; i < list_rows; i++) {
        size_t k = c->top + (size_t)i;
        const struct con_env *e;
        char name[OMNI_NAME_MAX];
        int n;
        if (!(e = env_at(a, k)))
            break;
        snprintf(name, sizeof name, "%s", e->name[0] ? e->name : e->id);
        n = con_env_spark(e, samples, CON_SPARK_SAMPLES);
        con_sparkline(samples, n, spark_w, scale, a->utf8, spark, sizeof spark);
        if (e->have_stats && e->stats.workers_polling >= 0)
            snprintf(workers, sizeof workers, "%ld", e->stats.workers_polling);
        else
            snprintf(workers, sizeof workers, "-");
        if (e->ws.known)
            snprintf(stuck, sizeof stuck, "%ld", e->ws.stuck);
        else
            snprintf(stuck, sizeof stuck, "-");
        if (e->have_stats)
            snprintf(line, sizeof line, "%-4.4s %-*.*s %6ld %5ld %7s %5s %5s ",
                     e->level == OMNI_LEVEL_UNKNOWN ? "?" : omni_level_name(e->level), name_w,
                     name_w, name, e->stats.depth, e->stats.pending,
                     con_age(a->now_us, e->stats.oldest_queued_at, age, sizeof age), workers,
                     stuck);
        else
            snprintf(line, sizeof line, "%-4s %-*.*s %6s %5s %7s %5s %5s ", "?", name_w, name_w,
                     name, "-", "-", "-", "-", stuck);
        attrset(k == c->cur ? ui_attr(a, CON_A_SEL) | (ui_level_attr(a, e->level) & ~A_COLOR)
                            : ui_level_attr(a, e->level));
        ui_put(top + 1 + i, 0, cols, line, 1);
        attrset(ui_attr(a, CON_A_TOOL));
        if (spark_w)
            ui_put(top + 1 + i, cols - spark_w, spark_w, spark, 0);
        attrset(A_NORMAL);
    }
    /* the selected environment, in words */
    {
        const struct con_env *e = env_at(a, c->cur);
        char when[32];
        char work[CON_MSG_MAX + 64];
        if (!e->has_key_file)
            snprintf(work, sizeof work, "no env key file");
        else if (e->ws.known)
            snprintf(work, sizeof work, "%ld live, %ld STUCK", e->ws.live, e->ws.stuck);
        else if (e->work_err[0])
            snprintf(work, sizeof work, "failed: %s", e->work_err);
        else
            snprintf(work, sizeof work, "key file set");
        snprintf(line, sizeof line, "%s  %s%s%s%s%s", e->id, omni_level_name(e->level),
                 e->why[0] ? ": " : "", e->why, e->err[0] ? "; stats error: " : "", e->err);
        attrset(ui_level_attr(a, e->level));
        ui_put(top + rows - 2 - wk, 0, cols, line, 1);
        snprintf(line, sizeof line, "  work list: %s", work);
        if (e->have_stats) {
            size_t l = strlen(line);
            snprintf(line + l, sizeof line - l, "  stats %s old",
                     con_age(a->now_us, e->stats_at_us, when, sizeof when));
        }
        ui_put(top + rows - 1 - wk, 0, cols, line, 1);
        if (wk) {
            envs_workers_line(e, line, sizeof line);
            ui_put(top + rows - 1, 0, cols, line, 1);
        }
        attrset(A_NORMAL);
    }
}

/* Open the selected environment in view id (its sessions or its work). */
static int envs_open(struct con_app *a, enum con_view_id id)
{
    const struct con_env *e;

    if (!(e = env_at(a, a->pos[CON_VIEW_ENVS].cur)))
        return CON_R_NONE;
    if (strcmp(a->env_id, e->id) != 0) {
        snprintf(a->env_id, sizeof a->env_id, "%s", e->id);
        a->pos[CON_VIEW_SESSIONS] = (struct con_cursor){0, 0};
        a->pos[CON_VIEW_WORK] = (struct con_cursor){0, 0};
    }
    return con_app_show(a, id);
}

static int envs_enter(struct con_app *a)
{
    return envs_open(a, CON_VIEW_SESSIONS);
}

/* p: the environment's sessions that wait on a person. */
static int envs_waiting(struct con_app *a)
{
    con_table_set_only_waiting(&a->m.sessions, 1);
    return envs_open(a, CON_VIEW_SESSIONS);
}

static int envs_tab(struct con_app *a)
{
    return envs_open(a, CON_VIEW_WORK);
}

/* The selected environment (n creates a session in it); no session. */
static int envs_target(struct con_app *a, struct con_target *t)
{
    const struct con_env *e = env_at(a, a->pos[CON_VIEW_ENVS].cur);

    if (!e) {
        t->env_id[0] = '\0';
        return -1;
    }
    snprintf(t->env_id, sizeof t->env_id, "%s", e->id);
    return 0;
}

int con_envs_back(struct con_app *a)
{
    a->view = CON_VIEW_ENVS;
    return CON_R_DRAW;
}

static const char *envs_filter(struct con_app *a)
{
    return a->envs_filter;
}

static void envs_set_filter(struct con_app *a, const char *text)
{
    con_sanitize(a->envs_filter, sizeof a->envs_filter, text);
}

const struct con_view_class con_view_envs = {
    .name = "environments",
    .hints = "Enter sessions  w work  p waiting on a person  / filter",
    .actions = "n new session",
    .draw = envs_draw,
    .count = envs_count,
    .enter = envs_enter,
    .tab = envs_tab,
    .target = envs_target,
    .filter = envs_filter,
    .set_filter = envs_set_filter,
    .waiting = envs_waiting,
};
