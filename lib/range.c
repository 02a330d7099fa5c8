#include "range.h"

#include "timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANGE_BOUND_MAX 32

static int bound_parse(const char *s, size_t len, int durations, double *out, const char **cause)
{
    char b[RANGE_BOUND_MAX];
    char *end;
    int64_t ms;

    if (len == 0 || len >= sizeof b) {
        *cause = "empty or over-long bound";
        return -1;
    }
    memcpy(b, s, len);
    b[len] = '\0';
    errno = 0;
    *out = strtod(b, &end);
    if (errno == 0 && *end == '\0' && isfinite(*out))
        return 0;
    if (durations && b[0] != '-' && omni_duration_parse(b, &ms) == 0) {
        *out = (double)ms / 1000.0;
        return 0;
    }
    *cause = durations ? "bound is not a number or duration" : "bound is not a number";
    return -1;
}

static void fmt_bound(char *out, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, n, "%.0f", v);
    else
        snprintf(out, n, "%g", v);
}

int omni_range_parse(const char *s, int durations, struct omni_range *r, const char **cause)
{
    const char *colon;
    char lo[RANGE_BOUND_MAX] = "", hi[RANGE_BOUND_MAX] = "";

    memset(r, 0, sizeof *r);
    *cause = NULL;
    if (!s || !*s) {
        *cause = "empty range";
        return -1;
    }
    if (strlen(s) >= OMNI_RANGE_TEXT_MAX) {
        *cause = "range too long";
        return -1;
    }
    if (*s == '@') {
        r->inside = 1;
        s++;
    }
    colon = strchr(s, ':');
    if (!colon) {
        /* "N": 0..N */
        r->has_lo = 1;
        r->lo = 0;
        if (bound_parse(s, strlen(s), durations, &r->hi, cause) < 0)
            return -1;
        r->has_hi = 1;
    } else {
        if (strchr(colon + 1, ':')) {
            *cause = "more than one ':'";
            return -1;
        }
        if (colon - s == 1 && *s == '~') {
            r->has_lo = 0;
        } else if (colon == s) {
            r->has_lo = 1; /* ":10" = 0:10 */
            r->lo = 0;
        } else {
            if (bound_parse(s, (size_t)(colon - s), durations, &r->lo, cause) < 0)
                return -1;
            r->has_lo = 1;
        }
        if (colon[1]) {
            if (bound_parse(colon + 1, strlen(colon + 1), durations, &r->hi, cause) < 0)
                return -1;
            r->has_hi = 1;
        }
    }
    if (r->has_lo && r->has_hi && r->lo > r->hi) {
        *cause = "start of range is greater than its end";
        return -1;
    }
    if (r->has_lo)
        fmt_bound(lo, sizeof lo, r->lo);
    else
        snprintf(lo, sizeof lo, "~");
    if (r->has_hi)
        fmt_bound(hi, sizeof hi, r->hi);
    if (!r->inside && r->has_lo && r->lo == 0 && r->has_hi)
        snprintf(r->text, sizeof r->text, "%s", hi);
    else
        snprintf(r->text, sizeof r->text, "%s%s:%s", r->inside ? "@" : "", lo, hi);
    r->set = 1;
    return 0;
}

int omni_range_alert(const struct omni_range *r, double x)
{
    int in;
    if (!r->set)
        return 0;
    in = (!r->has_lo || x >= r->lo) && (!r->has_hi || x <= r->hi);
    return r->inside ? in : !in;
}
