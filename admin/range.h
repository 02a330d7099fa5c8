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
#ifndef OMNICTL_RANGE_H
#define OMNICTL_RANGE_H

#define CTL_RANGE_TEXT_MAX 64

struct ctl_range {
    int set;
    int inside;           /* '@': alert inside */
    int has_lo, has_hi;   /* has_lo 0 = -infinity ("~") */
    double lo, hi;
    char text[CTL_RANGE_TEXT_MAX]; /* normalised, for perfdata */
};

/* Parse; returns 0 or -1 with *cause set to a static message. */
int ctl_range_parse(const char *s, int durations, struct ctl_range *r, const char **cause);
/* 1 when x raises the alert. An unset range never alerts. */
int ctl_range_alert(const struct ctl_range *r, double x);

#endif
