/*
 * stats — the per-environment work queue figures behind `omnictl stats` and
 * `omnictl exporter`: one collection (stats_gather) and one Prometheus
 * renderer (stats_prom_render), so both export the same metric names.
 */
#ifndef OMNICTL_STATS_H
#define OMNICTL_STATS_H

#include "api.h"
#include "buf.h"
#include "health.h"

#include <stdint.h>

#define STATS_MAX_ENVS 1000

struct ctl_ctx;

struct env_stats {
    char id[OMNI_ID_MAX];
    char name[OMNI_NAME_MAX];
    int name_known;
    int failed; /* tolerant gather: its queue figures could not be had */
    struct omni_stats st;
    double age_s; /* oldest_queued_at age, 0 when the queue is empty */
    /* The work list (env_key_file.<id> in the profile): ws.known 0 without it. */
    struct omni_work_summary ws;
    char ws_note[64]; /* why the work list is unknown ("no key file", "listing failed") */
    long waiting;     /* sessions with calls held for a person; -1 unknown */
    long held;        /* their held tool calls */
    enum omni_level level;
    char why[96];
};

struct stats_run {
    struct env_stats *envs;
    size_t n;
    int64_t now_us;
    int64_t stuck_ms; /* --stuck-after (default OMNI_STUCK_MS) */
};

/* What to gather: every environment (all), or the ids given. */
struct stats_want {
    int all;
    char *const *ids;
    size_t nids;
    int waiting;  /* list held calls too (one event listing per idle session) */
    int tolerant; /* an environment whose figures fail is marked failed, not fatal */
};

/* Fill run (run->envs malloc'd; free() it). -1 with err: config, API, abort. */
int stats_gather(struct ctl_ctx *ctx, const struct stats_want *w, struct stats_run *run,
                 struct omni_err *err);
/* Each environment's level and reason under th. */
void stats_levels(struct stats_run *run, const struct omni_thresholds *th);
/* The Prometheus text of run (run may be NULL when !success). */
void stats_prom_render(struct buf *b, const struct stats_run *run, int success, int64_t now_us);

#endif
