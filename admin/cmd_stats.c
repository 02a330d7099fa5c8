/* stats — work queue health per environment: table, json, prom, nagios. */
#include "commands.h"
#include "ctx.h"
#include "health.h"
#include "held.h"
#include "stats.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define STATS_PATH_MAX 4096
#define STATS_NAGIOS_TIMEOUT_MS 8000 /* below NRPE's 10 s command timeout */
#define STATS_MAX_TIMEOUT_MS 3600000
#define STATS_HARD_STOP_MS 2000 /* after the deadline, if a call ignores the abort */

enum {
    OPT_ALL = CTL_OPT_LONG,
    OPT_TEXTFILE,
    OPT_WARN_DEPTH,
    OPT_CRIT_DEPTH,
    OPT_WARN_AGE,
    OPT_CRIT_AGE,
    OPT_MIN_WORKERS,
    OPT_STUCK_AFTER,
    OPT_WAITING,
    OPT_TIMEOUT = 't',
};

static const struct option stats_opts[] = {
    {"all", no_argument, NULL, OPT_ALL},
    {"textfile", required_argument, NULL, OPT_TEXTFILE},
    {"warn-depth", required_argument, NULL, OPT_WARN_DEPTH},
    {"crit-depth", required_argument, NULL, OPT_CRIT_DEPTH},
    {"warn-age", required_argument, NULL, OPT_WARN_AGE},
    {"crit-age", required_argument, NULL, OPT_CRIT_AGE},
    {"min-workers", required_argument, NULL, OPT_MIN_WORKERS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"stuck-after", required_argument, NULL, OPT_STUCK_AFTER},
    {"waiting", no_argument, NULL, OPT_WAITING},
    {0},
};

/* What the level's reason says, for json/prom: "saturated", "no_worker" or NULL. */
static const char *level_cause(const struct env_stats *e)
{
    if (e->level == OMNI_LEVEL_OK || e->level == OMNI_LEVEL_UNKNOWN)
        return NULL;
    if (strncmp(e->why, "saturated", 9) == 0)
        return "saturated";
    if (strncmp(e->why, "work waiting", 12) == 0)
        return "no_worker";
    return NULL;
}

/*
 * The environment's work list through its key, summarised (lib/health.h):
 * what tells a saturated environment from one without a worker, and the
 * stuck items. Not fatal: a missing key or a failed listing leaves the
 * summary unknown, with a note.
 */
static void work_summary(struct ctl_ctx *ctx, struct env_stats *e, int64_t now_us, int64_t stuck_ms)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_work_list wl = {0};
    struct omni_client *ec;

    memset(&e->ws, 0, sizeof e->ws);
    if (!ctx->prof_loaded || !omni_profile_env_key_file(&ctx->prof, e->id)) {
        snprintf(e->ws_note, sizeof e->ws_note, "no env_key_file");
        return;
    }
    ec = ctx_env_client(ctx, e->id, &err);
    if (!ec || omni_work_list(ec, e->id, &wl, &err) < 0) {
        snprintf(e->ws_note, sizeof e->ws_note, "work list failed");
        if (ctx->verbose)
            ctx_error(ctx, "stats: %s: work list: %s", e->id, err.msg);
        omni_client_free(ec);
        return;
    }
    omni_client_free(ec);
    omni_work_summarize(&wl, now_us, stuck_ms, &e->ws);
    omni_work_list_release(&wl);
}

/* Whole seconds as a duration ("0s", "45s", "3m12s"). */
static char *age_text(double secs, char *out, size_t n)
{
    if (secs < 1)
        snprintf(out, n, "0s");
    else
        omni_duration_format((int64_t)secs * 1000, out, n);
    return out;
}

/* Everything that can go wrong before output: usage (2), config (3), API (1). */
int stats_gather(struct ctl_ctx *ctx, const struct stats_want *w, struct stats_run *run,
                 struct omni_err *err)
{
    struct omni_client *c = ctx_api(ctx, err);
    struct omni_environment_list el = {0};
    int all = w->all;
    const char *def = NULL;

    if (!c)
        return -1;
    if (all && w->nids > 0)
        return omni_err_set(err, OMNI_E_USAGE, "stats: give environment ids or --all, not both");
    for (size_t i = 0; i < w->nids; i++)
        if (!omni_id_valid(w->ids[i]))
            return omni_err_set(err, OMNI_E_USAGE, "stats: invalid environment id \"%.80s\"",
                                w->ids[i]);
    if (!all && w->nids == 0) {
        def = ctx_config_get(ctx, "environment");
        if (!def)
            all = 1;
    }
    if (all) {
        if (omni_env_list(c, 0, &el, err) < 0)
            return -1;
        run->n = el.n > STATS_MAX_ENVS ? STATS_MAX_ENVS : el.n;
    } else {
        run->n = def ? 1 : w->nids;
    }
    run->envs = calloc(run->n ? run->n : 1, sizeof *run->envs);
    if (!run->envs) {
        omni_environment_list_release(&el);
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    }
    for (size_t i = 0; i < run->n; i++) {
        struct env_stats *e = &run->envs[i];
        if (all) {
            snprintf(e->id, sizeof e->id, "%s", el.items[i].id);
            snprintf(e->name, sizeof e->name, "%s", el.items[i].name);
            e->name_known = 1;
        } else {
            snprintf(e->id, sizeof e->id, "%s", def ? def : w->ids[i]);
        }
    }
    omni_environment_list_release(&el);
    for (size_t i = 0; i < run->n; i++) {
        struct env_stats *e = &run->envs[i];
        struct omni_err serr = OMNI_ERR_INIT;
        if (ctx->cancel)
            break;
        if (omni_work_stats(c, e->id, &e->st, &serr) < 0) {
            if (!w->tolerant || serr.kind == OMNI_E_ABORTED) {
                *err = serr;
                return -1;
            }
            e->failed = 1;
            if (ctx->verbose)
                ctx_error(ctx, "stats: %s: %s", e->id, serr.msg);
        }
    }
    run->now_us = omni_wall_us();
    for (size_t i = 0; i < run->n && !ctx->cancel; i++) {
        struct env_stats *e = &run->envs[i];
        struct omni_err werr = OMNI_ERR_INIT;
        e->waiting = -1;
        if (e->failed)
            continue;
        work_summary(ctx, e, run->now_us, run->stuck_ms);
        /* One event listing per idle session: only when asked for. */
        if (w->waiting)
            e->waiting = held_sessions_in_env(c, e->id, &e->held, &ctx->cancel, &werr);
        if (e->waiting < 0 && ctx->verbose && w->waiting)
            ctx_error(ctx, "stats: %s: waiting sessions: %s", e->id, werr.msg);
    }
    if (ctx->cancel)
        return omni_err_set(err, OMNI_E_ABORTED, "stats: aborted");
    for (size_t i = 0; i < run->n; i++) {
        struct env_stats *e = &run->envs[i];
        e->age_s = omni_stats_oldest_age(&e->st, run->now_us);
    }
    return 0;
}

void stats_levels(struct stats_run *run, const struct omni_thresholds *th)
{
    for (size_t i = 0; i < run->n; i++) {
        struct env_stats *e = &run->envs[i];
        if (e->failed) {
            e->level = OMNI_LEVEL_UNKNOWN;
            snprintf(e->why, sizeof e->why, "figures unavailable");
            continue;
        }
        e->level = omni_stats_level(th, &e->st, &e->ws, run->now_us, e->why, sizeof e->why);
    }
}

static int stats_collect(struct ctl_ctx *ctx, const struct ctl_args *a, struct stats_run *run,
                         struct omni_err *err)
{
    const struct stats_want w = {
        .all = args_has(a, OPT_ALL),
        .ids = a->argv,
        .nids = (size_t)a->argc,
        .waiting = args_has(a, OPT_WAITING),
    };
    return stats_gather(ctx, &w, run, err);
}

/* ---- table / json ------------------------------------------------------ */

static const char *level_color(enum omni_level l)
{
    return l == OMNI_LEVEL_CRIT ? CTL_RED : l == OMNI_LEVEL_WARN ? CTL_YELLOW : NULL;
}

static void out_table(struct ctl_ctx *ctx, const struct stats_run *run)
{
    static const char *const hdr[] = {"ENVIRONMENT", "NAME",    "DEPTH", "PENDING", "OLDEST",
                                      "AGE",         "WORKERS", "LIVE",  "STUCK",   "WAITING",
                                      "HEALTH",      "ACTIVE",  "HELD"};
    int wide = ctx->output == CTL_OUT_WIDE;
    struct ctl_table t;

    ctl_table_init(&t, wide ? 13 : 11, hdr);
    for (size_t i = 0; i < run->n; i++) {
        const struct env_stats *e = &run->envs[i];
        char depth[32], pend[32], oldest[40], age[32], workers[32], live[32], stuck[32],
            waiting[32], health[128], active[32], held[32];
        snprintf(active, sizeof active, "%ld", e->ws.active);
        snprintf(held, sizeof held, "%ld", e->held);
        snprintf(waiting, sizeof waiting, "%ld", e->waiting);
        snprintf(depth, sizeof depth, "%ld", e->st.depth);
        snprintf(pend, sizeof pend, "%ld", e->st.pending);
        ctl_time(e->st.oldest_queued_at, oldest, sizeof oldest);
        if (e->st.oldest_queued_at)
            age_text(e->age_s, age, sizeof age);
        else
            snprintf(age, sizeof age, "-");
        if (e->st.workers_polling < 0)
            snprintf(workers, sizeof workers, "-");
        else
            snprintf(workers, sizeof workers, "%ld", e->st.workers_polling);
        snprintf(live, sizeof live, "%ld", e->ws.live);
        snprintf(stuck, sizeof stuck, "%ld", e->ws.stuck);
        if (e->level == OMNI_LEVEL_OK)
            snprintf(health, sizeof health, "OK");
        else
            snprintf(health, sizeof health, "%s: %s", omni_level_name(e->level), e->why);
        const char *row[] = {e->id,
                             e->name_known ? e->name : NULL,
                             depth,
                             pend,
                             oldest,
                             age,
                             workers,
                             e->ws.known ? live : NULL,
                             e->ws.known ? stuck : NULL,
                             e->waiting >= 0 ? waiting : NULL,
                             health,
                             e->ws.known ? active : NULL,
                             e->waiting >= 0 ? held : NULL};
        ctl_table_row(&t, row, level_color(e->level));
    }
    ctl_table_print(ctx, &t);
    ctl_table_release(&t);
}

static void out_json(struct ctl_ctx *ctx, const struct stats_run *run)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "environments");
    char ts[64];

    for (size_t i = 0; i < run->n; i++) {
        const struct env_stats *e = &run->envs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", e->id);
        if (e->name_known)
            cJSON_AddStringToObject(o, "name", e->name);
        else
            cJSON_AddNullToObject(o, "name");
        cJSON_AddNumberToObject(o, "depth", (double)e->st.depth);
        cJSON_AddNumberToObject(o, "pending", (double)e->st.pending);
        if (e->st.oldest_queued_at) {
            omni_rfc3339_format(e->st.oldest_queued_at, ts, sizeof ts, 3);
            cJSON_AddStringToObject(o, "oldest_queued_at", ts);
        } else {
            cJSON_AddNullToObject(o, "oldest_queued_at");
        }
        cJSON_AddNumberToObject(o, "oldest_age_seconds", (double)(long)e->age_s);
        if (e->st.workers_polling < 0)
            cJSON_AddNullToObject(o, "workers_polling");
        else
            cJSON_AddNumberToObject(o, "workers_polling", (double)e->st.workers_polling);
        if (e->ws.known) {
            cJSON_AddNumberToObject(o, "live", (double)e->ws.live);
            cJSON_AddNumberToObject(o, "stuck", (double)e->ws.stuck);
            cJSON_AddNullToObject(o, "work_list_note");
        } else {
            cJSON_AddNullToObject(o, "live");
            cJSON_AddNullToObject(o, "stuck");
            cJSON_AddStringToObject(o, "work_list_note", e->ws_note);
        }
        if (e->waiting >= 0)
            cJSON_AddNumberToObject(o, "waiting", (double)e->waiting);
        else
            cJSON_AddNullToObject(o, "waiting");
        cJSON_AddStringToObject(o, "level", omni_level_name(e->level));
        cJSON_AddStringToObject(o, "reason", e->why);
        if (level_cause(e))
            cJSON_AddStringToObject(o, "cause", level_cause(e));
        else
            cJSON_AddNullToObject(o, "cause");
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddStringToObject(root, "generated_at",
                            omni_rfc3339_format(run->now_us, ts, sizeof ts, 3));
    ctx_json(ctx, root);
    cJSON_Delete(root);
}

/* ---- prom --------------------------------------------------------------- */

static void prom_label_value(struct buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_addf(b, "\\%c", *v);
        else if (*v == '\n')
            buf_addf(b, "\\n");
        else
            buf_addf(b, "%c", *v);
    }
}

/* The per-environment gauges, in output order. */
enum gauge {
    G_DEPTH,
    G_PENDING,
    G_OLDEST_AGE,
    G_WORKERS,
    G_LIVE,
    G_STUCK,
    G_HEALTH,
    G_SATURATED,
    G_NO_WORKER,
    G_WAITING,
    G_HELD,
    G_ACTIVE,
    G_OLDEST_TS,
    G_INFO,
    G_COUNT
};

static const struct {
    const char *name, *help;
} gauges[G_COUNT] = {
    {"omni_work_queue_depth", "Work items waiting to be picked up by a poll."},
    {"omni_work_queue_pending", "Work items delivered by a poll but not yet acknowledged."},
    {"omni_work_queue_oldest_age_seconds",
     "Age of the oldest queued or pending work item (0 when empty)."},
    {"omni_workers_polling", "Distinct workers that polled in the last 30 seconds."},
    {"omni_work_items_live", "Work items with a fresh heartbeat (needs the environment key)."},
    {"omni_work_items_stuck",
     "Work items acknowledged but never heartbeating (needs the environment key)."},
    {"omni_environment_health", "Health level: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."},
    {"omni_environment_saturated", "1 when work waits and every worker is busy (live heartbeats)."},
    {"omni_environment_no_worker", "1 when work waits and no worker polls or heartbeats."},
    {"omni_sessions_waiting", "Sessions with a tool call held for a person's confirmation."},
    {"omni_tool_calls_held", "Tool calls held for a person's confirmation, unanswered."},
    {"omni_work_items_active", "Work items in state active (needs the environment key)."},
    {"omni_work_queue_oldest_queued_timestamp_seconds",
     "When the oldest queued or pending work item was queued (absent when empty)."},
    {"omni_environment_info", "The environment's name (\"\" when given by id), always 1."},
};

/* A gauge's value for e; 0 when it has none (unknown, or an empty queue). */
static int gauge_value(const struct env_stats *e, enum gauge g, double *v)
{
    const char *cause = level_cause(e);
    int known = 1;

    if (e->failed && g != G_HEALTH && g != G_INFO)
        return 0;

    switch (g) {
    case G_DEPTH:
        *v = (double)e->st.depth;
        break;
    case G_PENDING:
        *v = (double)e->st.pending;
        break;
    case G_OLDEST_AGE:
        *v = e->age_s;
        break;
    case G_WORKERS:
        known = e->st.workers_polling >= 0;
        *v = (double)e->st.workers_polling;
        break;
    case G_LIVE:
        known = e->ws.known;
        *v = (double)e->ws.live;
        break;
    case G_STUCK:
        known = e->ws.known;
        *v = (double)e->ws.stuck;
        break;
    case G_HEALTH:
        *v = (double)e->level;
        break;
    case G_SATURATED:
        *v = cause && strcmp(cause, "saturated") == 0;
        break;
    case G_NO_WORKER:
        *v = cause && strcmp(cause, "no_worker") == 0;
        break;
    case G_WAITING:
        known = e->waiting >= 0;
        *v = (double)e->waiting;
        break;
    case G_HELD:
        known = e->waiting >= 0;
        *v = (double)e->held;
        break;
    case G_ACTIVE:
        known = e->ws.known;
        *v = (double)e->ws.active;
        break;
    case G_OLDEST_TS:
        known = e->st.oldest_queued_at != 0;
        *v = (double)e->st.oldest_queued_at / 1e6;
        break;
    default:
        *v = 1;
        break;
    }
    return known;
}

/* Ids are [A-Za-z0-9_-] (checked), so label values need no escaping; names
 * do (text format: backslash, double quote and newline). */
void stats_prom_render(struct buf *b, const struct stats_run *run, int success, int64_t now_us)
{
    for (int g = 0; success && g < G_COUNT; g++) {
        buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].name, gauges[g].help,
                 gauges[g].name);
        for (size_t i = 0; i < run->n; i++) {
            const struct env_stats *e = &run->envs[i];
            double v;
            if (!gauge_value(e, (enum gauge)g, &v))
                continue;
            buf_addf(b, "%s{environment=\"%s\"", gauges[g].name, e->id);
            if (g == G_INFO) {
                buf_addf(b, ",name=\"");
                prom_label_value(b, e->name_known ? e->name : "");
                buf_addf(b, "\"");
            }
            if (g == G_OLDEST_AGE || g == G_OLDEST_TS)
                buf_addf(b, "} %.3f\n", v);
            else
                buf_addf(b, "} %.0f\n", v);
        }
    }
    buf_addf(b,
             "# HELP omni_stats_scrape_success Whether the last omnictl stats run reached "
             "the API (1) or not (0).\n# TYPE omni_stats_scrape_success gauge\n"
             "omni_stats_scrape_success %d\n",
             success ? 1 : 0);
    buf_addf(b,
             "# HELP omni_stats_scrape_timestamp_seconds When the last omnictl stats run "
             "finished.\n# TYPE omni_stats_scrape_timestamp_seconds gauge\n"
             "omni_stats_scrape_timestamp_seconds %.3f\n",
             (double)now_us / 1e6);
}

/* Write atomically: temp file in the same directory, fsync, rename. */
static int textfile_write(const char *path, const struct buf *b, struct omni_err *err)
{
    char tmp[STATS_PATH_MAX], dir[STATS_PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t off = 0;
    int fd, dfd;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return omni_err_set(err, OMNI_E_USAGE, "textfile path too long");
    fd = mkstemp(tmp);
    if (fd < 0)
        return omni_err_set(err, OMNI_E_IO, "cannot create a temporary file next to \"%s\": %s",
                            path, strerror(errno));
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            omni_err_set(err, OMNI_E_IO, "cannot write \"%s\": %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        omni_err_set(err, OMNI_E_IO, "cannot sync \"%s\": %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        omni_err_set(err, OMNI_E_IO, "cannot rename to \"%s\": %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- nagios ------------------------------------------------------------- */

static int thresholds_get(struct ctl_ctx *ctx, const struct ctl_args *a, struct omni_thresholds *th,
                          struct omni_err *err)
{
    const struct omni_threshold_flags f = {
        .warn_depth = args_get(a, OPT_WARN_DEPTH),
        .crit_depth = args_get(a, OPT_CRIT_DEPTH),
        .warn_age = args_get(a, OPT_WARN_AGE),
        .crit_age = args_get(a, OPT_CRIT_AGE),
        .min_workers = args_get(a, OPT_MIN_WORKERS),
        .stuck_after = args_get(a, OPT_STUCK_AFTER),
    };
    const struct omni_profile *p = ctx_profile(ctx, err);

    if (!p)
        return -1;
    return omni_thresholds_resolve(th, &f, p, err);
}

static int nagios_unknown(struct ctl_ctx *ctx, const struct omni_err *err)
{
    fprintf(ctx->out, "OMNI UNKNOWN - %s\n", err->msg);
    return CTL_NAGIOS_UNKNOWN;
}

/* Perfdata of one environment; label "" for a single environment (depth=...),
 * else "_<id>" ('depth_env_X'=...) so each environment graphs on its own. */
static void nagios_perf(struct buf *b, const struct env_stats *e, const char *label,
                        const struct omni_thresholds *th, const char *minw)
{
    const char *q = *label ? "'" : "";
    long workers = e->st.workers_polling > 0 ? e->st.workers_polling : 0;

    buf_addf(b, " %sdepth%s%s=%ld;%s;%s;0", q, label, q, e->st.depth, th->warn_depth.text,
             th->crit_depth.text);
    buf_addf(b, " %spending%s%s=%ld;;;0", q, label, q, e->st.pending);
    buf_addf(b, " %soldest_age%s%s=%lds;%s;%s;0", q, label, q, (long)e->age_s, th->warn_age.text,
             th->crit_age.text);
    buf_addf(b, " %sworkers%s%s=%ld;;%s;0", q, label, q, workers, minw);
    if (e->ws.known)
        buf_addf(b, " %slive%s%s=%ld;;;0 %sstuck%s%s=%ld;;;0", q, label, q, e->ws.live, q, label, q,
                 e->ws.stuck);
    if (e->waiting >= 0)
        buf_addf(b, " %swaiting%s%s=%ld;;;0", q, label, q, e->waiting);
}

static int out_nagios(struct ctl_ctx *ctx, const struct stats_run *run,
                      const struct omni_thresholds *th)
{
    struct buf why = BUF_INIT_MAX(2048), perf = BUF_INIT_MAX(1u << 20);
    enum omni_level state = OMNI_LEVEL_OK;
    long depth = 0, pending = 0, workers = 0;
    double oldest = 0;
    char age[32], minw[32] = "", label[OMNI_ID_MAX + 2];

    if (th->min_workers > 0)
        snprintf(minw, sizeof minw, "%ld:", th->min_workers);
    for (size_t i = 0; i < run->n; i++) {
        const struct env_stats *e = &run->envs[i];
        enum omni_level s = e->level;

        depth += e->st.depth;
        pending += e->st.pending;
        if (e->st.workers_polling > 0)
            workers += e->st.workers_polling;
        if (e->age_s > oldest)
            oldest = e->age_s;
        if (s != OMNI_LEVEL_OK)
            buf_addf(&why, "%s: %s; ", e->id, e->why);
        if (e->ws.stuck > 0)
            buf_addf(&why, "%s: %ld stuck; ", e->id, e->ws.stuck);
        if (e->waiting > 0)
            buf_addf(&why, "%s: %ld waiting on a person; ", e->id, e->waiting);
        if (s > state)
            state = s;
        if (run->n == 1)
            label[0] = '\0';
        else
            snprintf(label, sizeof label, "_%s", e->id);
        nagios_perf(&perf, e, label, th, minw);
    }
    age_text(oldest, age, sizeof age);
    fprintf(ctx->out,
            "OMNI %s - %s%zu environment%s, depth %ld, pending %ld, oldest %s, %ld worker%s |%s\n",
            omni_level_name(state), why.data ? why.data : "", run->n, run->n == 1 ? "" : "s", depth,
            pending, age, workers, workers == 1 ? "" : "s", perf.data ? perf.data : "");
    buf_release(&why);
    buf_release(&perf);
    return (int)state;
}

/* ---- the whole-check deadline (-t) -------------------------------------- */

/*
 * SIGALRM at the deadline sets ctx->cancel, every client's abort flag: the
 * transfer in flight and any retry wait end at once (libcurl checks within a
 * second) and stats reports "timed out". Should a call ignore it, the second
 * alarm STATS_HARD_STOP_MS later writes the UNKNOWN line itself and exits 3,
 * so a monitoring scheduler never has to kill the check.
 */
static volatile int *deadline_flag;
static volatile sig_atomic_t deadline_fired, deadline_nagios;
static char deadline_line[128];
static size_t deadline_len;

static void deadline_alarm(int sig)
{
    (void)sig;
    if (!deadline_fired) {
        struct itimerval it = {{0, 0}, {STATS_HARD_STOP_MS / 1000, 0}};
        deadline_fired = 1;
        if (deadline_flag)
            *deadline_flag = 1;
        setitimer(ITIMER_REAL, &it, NULL);
        return;
    }
    if (deadline_nagios) {
        ssize_t w = write(STDOUT_FILENO, deadline_line, deadline_len);
        (void)w;
        _exit(CTL_NAGIOS_UNKNOWN);
    }
    {
        static const char msg[] = "omnictl: stats timed out (-t)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
    }
    _exit(CTL_EXIT_FAIL);
}

static void deadline_arm(struct ctl_ctx *ctx, long ms)
{
    struct sigaction sa;
    struct itimerval it;
    char d[32];

    memset(&sa, 0, sizeof sa);
    memset(&it, 0, sizeof it);
    omni_duration_format(ms, d, sizeof d);
    deadline_len = (size_t)snprintf(deadline_line, sizeof deadline_line,
                                    "OMNI UNKNOWN - stats timed out after %s (-t)\n", d);
    if (deadline_len >= sizeof deadline_line)
        deadline_len = sizeof deadline_line - 1;
    deadline_flag = &ctx->cancel;
    deadline_fired = 0;
    deadline_nagios = ctx->output == CTL_OUT_NAGIOS;
    ctx->cancel = 0;
    sa.sa_handler = deadline_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void deadline_disarm(struct ctl_ctx *ctx)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_DFL);
    ctx->cancel = 0;
    deadline_flag = NULL;
}

/* -t/--timeout: given, else 8 s for -o nagios, else 0 (per-request timeouts only). */
static int timeout_get(struct ctl_ctx *ctx, const struct ctl_args *a, long *ms)
{
    const char *t = args_get(a, OPT_TIMEOUT);
    int64_t v;

    *ms = ctx->output == CTL_OUT_NAGIOS ? STATS_NAGIOS_TIMEOUT_MS : 0;
    if (!t)
        return 0;
    if (omni_duration_parse(t, &v) < 0 || v <= 0 || v > STATS_MAX_TIMEOUT_MS)
        return -1;
    *ms = (long)v;
    return 0;
}

/* ---- exec --------------------------------------------------------------- */

static int stats_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct stats_run run = {0};
    struct omni_thresholds th;
    const char *textfile = args_get(a, OPT_TEXTFILE);
    int rc = CTL_EXIT_OK, r;
    long timeout_ms;

    memset(&th, 0, sizeof th);
    if (textfile && ctx->output != CTL_OUT_PROM)
        return ctx_usage_error(ctx, "stats: --textfile needs -o prom");
    if (timeout_get(ctx, a, &timeout_ms) < 0)
        return ctx_usage_error(ctx, "stats: -t/--timeout \"%.40s\" is not a duration (e.g. 8s)",
                               args_get(a, OPT_TIMEOUT));
    if (thresholds_get(ctx, a, &th, &err) < 0) {
        if (ctx->output == CTL_OUT_NAGIOS)
            return nagios_unknown(ctx, &err);
        return ctx_fail(ctx, &err);
    }
    run.stuck_ms = th.stuck_ms;
    if (timeout_ms > 0)
        deadline_arm(ctx, timeout_ms);
    r = stats_collect(ctx, a, &run, &err);
    if (timeout_ms > 0) {
        int fired = deadline_fired;
        deadline_disarm(ctx);
        if (r < 0 && fired) {
            char d[32];
            omni_duration_format(timeout_ms, d, sizeof d);
            omni_err_set(&err, OMNI_E_TIMEOUT, "stats timed out after %s (-t)", d);
        }
    }
    if (r < 0) {
        if (ctx->output == CTL_OUT_NAGIOS) {
            rc = nagios_unknown(ctx, &err);
        } else if (ctx->output == CTL_OUT_PROM && textfile && err.kind != OMNI_E_USAGE) {
            /* Leave a scrape-failed file behind so the failure is visible. */
            struct buf b = BUF_INIT_MAX(1u << 20);
            struct omni_err werr = OMNI_ERR_INIT;
            stats_prom_render(&b, NULL, 0, omni_wall_us());
            if (textfile_write(textfile, &b, &werr) < 0)
                ctx_fail(ctx, &werr);
            buf_release(&b);
            rc = ctx_fail(ctx, &err);
        } else {
            rc = ctx_fail(ctx, &err);
        }
        free(run.envs);
        return rc;
    }
    stats_levels(&run, &th);
    switch (ctx->output) {
    case CTL_OUT_JSON:
        out_json(ctx, &run);
        break;
    case CTL_OUT_PROM: {
        struct buf b = BUF_INIT_MAX(16u << 20);
        stats_prom_render(&b, &run, 1, run.now_us);
        if (textfile) {
            if (textfile_write(textfile, &b, &err) < 0)
                rc = ctx_fail(ctx, &err);
        } else {
            fwrite(b.data, 1, b.len, ctx->out);
        }
        buf_release(&b);
        break;
    }
    case CTL_OUT_NAGIOS:
        rc = out_nagios(ctx, &run, &th);
        break;
    default:
        out_table(ctx, &run);
        break;
    }
    free(run.envs);
    return rc;
}

const struct ctl_cmd ctl_cmd_stats = {
    .name = "stats",
    .usage = "stats [-o table|wide|json|prom|nagios] [--watch SECS] [--all] [--textfile PATH] "
             "[--warn-depth RANGE] "
             "[--crit-depth RANGE] [--warn-age RANGE] [--crit-age RANGE] [--min-workers N] "
             "[--stuck-after DURATION] [--waiting] [--timeout DURATION] [ENV ...]",
    .summary = "Show work queue depth, pending items, oldest age and polling workers.",
    .shortopts = "t:",
    .longopts = stats_opts,
    .min_args = 0,
    .max_args = STATS_MAX_ENVS,
    .flags = CTL_F_API | CTL_F_WATCH,
    .outputs = CTL_O_TABLE | CTL_O_WIDE | CTL_O_JSON | CTL_O_PROM | CTL_O_NAGIOS,
    .exec = stats_exec,
};
