/*
 * health — how healthy an environment's work queue is: the one rule behind
 * `omnictl stats -o nagios` and omni-console's colours.
 *
 * Rule, first match wins:
 *   CRITICAL  work waits (queued or pending) while fewer than min_workers
 *             workers poll (a count the API does not report is not judged),
 *             and nothing shows a worker alive: "no worker";
 *   WARNING   the same, but items of the environment carry a fresh heartbeat
 *             (younger than a lease, OMNI_HEARTBEAT_FRESH_MS): the workers
 *             are alive and every slot is taken: "saturated". A full worker
 *             does not poll, so the poll count alone cannot tell busy from
 *             dead; the work list (environment key) can. Without it the
 *             rule cannot tell, and says so;
 *   CRITICAL  depth alerts on crit_depth, or the oldest queued item's age
 *             alerts on crit_age;
 *   WARNING   the same on warn_depth / warn_age;
 *   OK        otherwise.
 * An empty queue has no oldest item, so the age ranges judge only a queue
 * that holds something (a range such as "10:" must not fire on an idle queue).
 *
 * Thresholds come from the flag, else the profile's config key, else the
 * default (range.h): warn_depth, crit_depth, warn_age, crit_age (durations),
 * min_workers (a count; 0 turns the worker rule off), stuck_after (a duration).
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

#define OMNI_STUCK_MS 60000 /* starting, no heartbeat for longer: stuck */
#define OMNI_HEARTBEAT_FRESH_MS                                                                    \
    120000 /* a lease's TTL: a younger heartbeat shows a live worker                               \
            */

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
    int64_t stuck_ms; /* stuck after (config stuck_after); default OMNI_STUCK_MS */
};

/* Flags as given on the command line (NULL: not given). */
struct omni_threshold_flags {
    const char *warn_depth, *crit_depth, *warn_age, *crit_age, *min_workers, *stuck_after;
};

/* The defaults alone (cannot fail). */
void omni_thresholds_default(struct omni_thresholds *th);
/* flag > config (p may be NULL) > default. */
int omni_thresholds_resolve(struct omni_thresholds *th, const struct omni_threshold_flags *f,
                            const struct omni_profile *p, struct omni_err *err);

/* What an environment's work list says (known = 0: no list, e.g. no key file). */
struct omni_work_summary {
    int known;
    long live;   /* starting/active/stopping items with a fresh heartbeat */
    long stuck;  /* starting and never heartbeating for longer than the stuck time */
    long active; /* in state active */
};

/* Starting, never heartbeating, acknowledged (or created) more than older_ms ago. */
int omni_work_stuck(const struct omni_work *w, int64_t now_us, int64_t older_ms);
/* stuck_ms <= 0: OMNI_STUCK_MS. */
void omni_work_summarize(const struct omni_work_list *wl, int64_t now_us, int64_t stuck_ms,
                         struct omni_work_summary *out);

/* Age in seconds of the oldest queued item at now_us (0 when none). */
double omni_stats_oldest_age(const struct omni_stats *st, int64_t now_us);
/* Level of one environment's stats (NULL: UNKNOWN), with what its work list
 * says (ws NULL or not known: nothing); why (may be NULL) gets a short
 * reason such as "depth 12, oldest 1m15s". */
enum omni_level omni_stats_level(const struct omni_thresholds *th, const struct omni_stats *st,
                                 const struct omni_work_summary *ws, int64_t now_us, char *why,
                                 size_t whylen);
/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *omni_level_name(enum omni_level l);

#endif
