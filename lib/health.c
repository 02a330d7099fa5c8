#include "health.h"

#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_MIN_WORKERS_MAX 1000000L

static const struct {
    const char *key, *flag, *dflt;
    int durations;
    size_t off;
} range_keys[] = {
    {"warn_depth", "--warn-depth", OMNI_DEFAULT_WARN_DEPTH, 0,
     offsetof(struct omni_thresholds, warn_depth)},
    {"crit_depth", "--crit-depth", OMNI_DEFAULT_CRIT_DEPTH, 0,
     offsetof(struct omni_thresholds, crit_depth)},
    {"warn_age", "--warn-age", OMNI_DEFAULT_WARN_AGE, 1,
     offsetof(struct omni_thresholds, warn_age)},
    {"crit_age", "--crit-age", OMNI_DEFAULT_CRIT_AGE, 1,
     offsetof(struct omni_thresholds, crit_age)},
};

static struct omni_range *range_at(struct omni_thresholds *th, size_t i)
{
    return (struct omni_range *)((char *)th + range_keys[i].off);
}

void omni_thresholds_default(struct omni_thresholds *th)
{
    const char *cause;

    memset(th, 0, sizeof *th);
    for (size_t i = 0; i < sizeof range_keys / sizeof range_keys[0]; i++)
        (void)omni_range_parse(range_keys[i].dflt, range_keys[i].durations, range_at(th, i),
                               &cause);
    th->min_workers = OMNI_DEFAULT_MIN_WORKERS;
    th->stuck_ms = OMNI_STUCK_MS;
}

int omni_thresholds_resolve(struct omni_thresholds *th, const struct omni_threshold_flags *f,
                            const struct omni_profile *p, struct omni_err *err)
{
    const char *flags[4] = {f ? f->warn_depth : NULL, f ? f->crit_depth : NULL,
                            f ? f->warn_age : NULL, f ? f->crit_age : NULL};
    const char *v, *cause;
    char *end;
    long n;

    omni_thresholds_default(th);
    for (size_t i = 0; i < sizeof range_keys / sizeof range_keys[0]; i++) {
        int from_flag = flags[i] != NULL;

        v = from_flag ? flags[i] : p ? omni_profile_get(p, range_keys[i].key) : NULL;
        if (!v)
            continue;
        if (omni_range_parse(v, range_keys[i].durations, range_at(th, i), &cause) < 0)
            return omni_err_set(
                err, from_flag ? OMNI_E_USAGE : OMNI_E_CONFIG, "%s%s%s: bad range \"%.40s\": %s",
                from_flag ? range_keys[i].flag : "config key \"",
                from_flag ? "" : range_keys[i].key, from_flag ? "" : "\"", v, cause);
    }
    v = f && f->min_workers ? f->min_workers : p ? omni_profile_get(p, "min_workers") : NULL;
    if (v) {
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 0 || n > HEALTH_MIN_WORKERS_MAX)
            return omni_err_set(err, f && f->min_workers ? OMNI_E_USAGE : OMNI_E_CONFIG,
                                "%s \"%.40s\" is not a count of 0 to %ld",
                                f && f->min_workers ? "--min-workers"
                                                    : "config key \"min_workers\"",
                                v, HEALTH_MIN_WORKERS_MAX);
        th->min_workers = n;
    }
    v = f && f->stuck_after ? f->stuck_after : p ? omni_profile_get(p, "stuck_after") : NULL;
    if (v) {
        int64_t ms;

        if (omni_duration_parse(v, &ms) < 0 || ms <= 0)
            return omni_err_set(
                err, f && f->stuck_after ? OMNI_E_USAGE : OMNI_E_CONFIG,
                "%s \"%.40s\" is not a positive duration",
                f && f->stuck_after ? "--stuck-after" : "config key \"stuck_after\"", v);
        th->stuck_ms = ms;
    }
    return 0;
}

int omni_work_stuck(const struct omni_work *w, int64_t now_us, int64_t older_ms)
{
    int64_t since = w->acknowledged_at ? w->acknowledged_at : w->created_at;

    return strcmp(w->state, "starting") == 0 && !w->latest_heartbeat_at && since &&
           now_us - since >= older_ms * 1000;
}

void omni_work_summarize(const struct omni_work_list *wl, int64_t now_us, int64_t stuck_ms,
                         struct omni_work_summary *out)
{
    memset(out, 0, sizeof *out);
    out->known = 1;
    if (stuck_ms <= 0)
        stuck_ms = OMNI_STUCK_MS;
    for (size_t i = 0; i < wl->n; i++) {
        const struct omni_work *w = &wl->items[i];

        if (omni_work_stuck(w, now_us, stuck_ms))
            out->stuck++;
        if (strcmp(w->state, "active") == 0)
            out->active++;
        if ((strcmp(w->state, "starting") == 0 || strcmp(w->state, "active") == 0 ||
             strcmp(w->state, "stopping") == 0) &&
            w->latest_heartbeat_at &&
            now_us - w->latest_heartbeat_at < OMNI_HEARTBEAT_FRESH_MS * 1000)
            out->live++;
    }
}

double omni_stats_oldest_age(const struct omni_stats *st, int64_t now_us)
{
    if (!st->oldest_queued_at || now_us <= st->oldest_queued_at)
        return 0;
    return (double)(now_us - st->oldest_queued_at) / 1e6;
}

enum omni_level omni_stats_level(const struct omni_thresholds *th, const struct omni_stats *st,
                                 const struct omni_work_summary *ws, int64_t now_us, char *why,
                                 size_t whylen)
{
    char tmp[96], age[32];
    double age_s;
    int waiting, saturated, queued, crit, warn, o = 0;

    if (!why) {
        why = tmp;
        whylen = sizeof tmp;
    }
    why[0] = '\0';
    if (!st) {
        snprintf(why, whylen, "no stats");
        return OMNI_LEVEL_UNKNOWN;
    }
    waiting = st->depth + st->pending > 0 && st->workers_polling >= 0 &&
              st->workers_polling < th->min_workers;
    saturated = waiting && ws && ws->known && ws->live > 0;
    if (waiting && !saturated) {
        if (st->workers_polling == 0)
            snprintf(why, whylen, "work waiting, no worker polling%s",
                     ws && ws->known ? " or heartbeating" : " (busy or dead: no work list)");
        else
            snprintf(why, whylen, "work waiting, %ld worker%s < %ld", st->workers_polling,
                     st->workers_polling == 1 ? "" : "s", th->min_workers);
        return OMNI_LEVEL_CRIT;
    }
    age_s = omni_stats_oldest_age(st, now_us);
    queued = st->oldest_queued_at != 0;
    crit = omni_range_alert(&th->crit_depth, (double)st->depth) ||
           (queued && omni_range_alert(&th->crit_age, age_s));
    warn = omni_range_alert(&th->warn_depth, (double)st->depth) ||
           (queued && omni_range_alert(&th->warn_age, age_s));
    if (saturated)
        o = snprintf(why, whylen, "saturated: %ld session%s heartbeating%s", ws->live,
                     ws->live == 1 ? "" : "s", crit || warn ? "; " : "");
    if (!crit && !warn)
        return saturated ? OMNI_LEVEL_WARN : OMNI_LEVEL_OK;
    if (o < 0 || (size_t)o >= whylen)
        o = 0;
    omni_duration_format(age_s < 1 ? 0 : (int64_t)age_s * 1000, age, sizeof age);
    if (queued)
        snprintf(why + o, whylen - (size_t)o, "depth %ld, oldest %s", st->depth, age);
    else
        snprintf(why + o, whylen - (size_t)o, "depth %ld", st->depth);
    return crit ? OMNI_LEVEL_CRIT : OMNI_LEVEL_WARN;
}

const char *omni_level_name(enum omni_level l)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

    return (unsigned)l < 4 ? names[l] : "UNKNOWN";
}
