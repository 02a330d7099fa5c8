/*
 * health — how healthy an environment's work queue is: the one rule behind
 * `omnictl stats -o nagios` and omni-console's colours.
 *
 * Rule, first match wins:
 *   CRITICAL  work waits (queued or pending) while fewer than min_workers
 *             workers poll (a count the API does not report is not judged);
 *   CRITICAL  depth alerts on crit_depth, or the oldest queued item's age
 *             alerts on crit_age;
 *   WARNING   the same on warn_depth / warn_age;
 *   OK        otherwise.
 * An empty queue has no oldest item, so the age ranges judge only a queue
 * that holds something (a range such as "10:" must not fire on an idle queue).
 *
 * Thresholds come from the flag, else the profile's config key, else the
 * default (range.h): warn_depth, crit_depth, warn_age, crit_age (durations),
 * min_workers (a count; 0 turns the worker rule off).
 *
 * Caller contract: omni_thresholds_resolve() once, then omni_stats_level()
 * per environment with the caller's clock. Nothing allocates. A bad flag is
 * OMNI_E_USAGE, a bad config value OMNI_E_CONFIG, naming which.
 */
#ifndef OMNI_HEALTH_H
#define OMNI_HEALTH_H

#include "api.h"
#include "profile.h"
#include "range.h"

#include <stddef.h>
#include <stdint.h>

/* The values are the Nagios plugin exit codes. */
enum omni_level {
    OMNI_LEVEL_OK = 0,
    OMNI_LEVEL_WARN = 1,
    OMNI_LEVEL_CRIT = 2,
    OMNI_LEVEL_UNKNOWN = 3
};

struct omni_thresholds {
    struct omni_range warn_depth, crit_depth, warn_age, crit_age; /* ages in seconds */
    long min_workers;                                             /* 0: not checked */
};

/* Flags as given on the command line (NULL: not given). */
struct omni_threshold_flags {
    const char *warn_depth, *crit_depth, *warn_age, *crit_age, *min_workers;
};

/* The defaults alone (cannot fail). */
void omni_thresholds_default(struct omni_thresholds *th);
/* flag > config (p may be NULL) > default. */
int omni_thresholds_resolve(struct omni_thresholds *th, const struct omni_threshold_flags *f,
                            const struct omni_profile *p, struct omni_err *err);

/* Age in seconds of the oldest queued item at now_us (0 when none). */
double omni_stats_oldest_age(const struct omni_stats *st, int64_t now_us);
/* Level of one environment's stats (NULL: UNKNOWN); why (may be NULL) gets
 * a short reason such as "depth 12, oldest 75s". */
enum omni_level omni_stats_level(const struct omni_thresholds *th, const struct omni_stats *st,
                                 int64_t now_us, char *why, size_t whylen);
/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *omni_level_name(enum omni_level l);

#endif
