/*
 * range — monitoring-plugin threshold ranges (the Nagios plugin guidelines).
 *
 *   "10"      alert when x < 0 or x > 10
 *   "10:"     alert when x < 10
 *   "~:10"    alert when x > 10
 *   "10:20"   alert when x < 10 or x > 20
 *   "@10:20"  alert when 10 <= x <= 20 (inside)
 *
 * Bounds are numbers, or durations ("90s", "5m", "1h") when `durations` is
 * set, stored in seconds.
 */
#ifndef OMNI_RANGE_H
#define OMNI_RANGE_H

#define OMNI_RANGE_TEXT_MAX 64

/*
 * Default thresholds, shared by `omnictl stats -o nagios` and omni-console's
 * colours so both judge a queue alike: warn above 10 waiting items or an
 * oldest item older than 60 s, critical above 50 or 300 s, and critical when
 * work waits while fewer than OMNI_DEFAULT_MIN_WORKERS workers poll.
 */
#define OMNI_DEFAULT_WARN_DEPTH "10"
#define OMNI_DEFAULT_CRIT_DEPTH "50"
#define OMNI_DEFAULT_WARN_AGE "60s"
#define OMNI_DEFAULT_CRIT_AGE "300s"
#define OMNI_DEFAULT_MIN_WORKERS 1

struct omni_range {
    int set;
    int inside;         /* '@': alert inside */
    int has_lo, has_hi; /* has_lo 0 = -infinity ("~") */
    double lo, hi;
    char text[OMNI_RANGE_TEXT_MAX]; /* normalised, for perfdata */
};

/* Parse; returns 0 or -1 with *cause set to a static message. */
int omni_range_parse(const char *s, int durations, struct omni_range *r, const char **cause);
/* 1 when x raises the alert. An unset range never alerts. */
int omni_range_alert(const struct omni_range *r, double x);

#endif
