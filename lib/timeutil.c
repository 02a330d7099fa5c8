#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t omni_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t omni_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t omni_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void omni_sleep_ms(int64_t ms, volatile int *stop)
{
    int64_t end = omni_mono_ms() + ms;

    while (ms > 0 && !(stop && *stop)) {
        /* Sleep in slices so a stop flag set by a signal handler is seen soon. */
        int64_t slice = ms > 100 ? 100 : ms;
        struct timespec ts = {(time_t)(slice / 1000), (long)(slice % 1000) * 1000000};
        nanosleep(&ts, NULL);
        ms = end - omni_mono_ms();
    }
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int omni_rfc3339_parse(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;
    const char *p = s;

    if (!s)
        return -1;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (D > mdays[M - 1] + (M == 2 && is_leap(Y)))
        return -1;
    if (*p == '.') {
        int n = 0;
        int64_t scale = 100000;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 6) {
                frac += (*p - '0') * scale;
                scale /= 10;
            }
            n++;
            p++;
        }
        if (n == 0)
            return -1;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    if (sec == 60)
        sec = 59; /* leap second: clamp */
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec;
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *us = t * 1000000 + frac;
    return 0;
}

char *omni_rfc3339_format(int64_t us, char *out, size_t outlen, int frac)
{
    /* Floor division that cannot overflow (INT64_MIN included). */
    int64_t secs = us / 1000000, sub = us % 1000000;
    int64_t days, rem, y;
    unsigned m, d;

    if (sub < 0) {
        sub += 1000000;
        secs--;
    }
    days = secs / 86400;
    rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, outlen, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (n > 0 && (size_t)n < outlen) {
        if (frac == 3)
            snprintf(out + n, outlen - (size_t)n, ".%03dZ", (int)(sub / 1000));
        else if (frac == 6)
            snprintf(out + n, outlen - (size_t)n, ".%06dZ", (int)sub);
        else
            snprintf(out + n, outlen - (size_t)n, "Z");
    }
    return out;
}

char *omni_duration_format(int64_t ms, char *out, size_t outlen)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    const char *neg = "";

    if (ms < 0) {
        neg = "-";
        ms = ms == INT64_MIN ? INT64_MAX : -ms;
    }
    if (ms < 1000) {
        snprintf(out, outlen, "%s%lldms", neg, (long long)ms);
        return out;
    }
    for (size_t i = 0; i < 4; i++) {
        if (ms >= units[i].ms) {
            int64_t a = ms / units[i].ms;
            int64_t r = ms % units[i].ms;
            if (i < 3 && r / units[i + 1].ms > 0)
                snprintf(out, outlen, "%s%lld%s%lld%s", neg, (long long)a, units[i].unit,
                         (long long)(r / units[i + 1].ms), units[i + 1].unit);
            else
                snprintf(out, outlen, "%s%lld%s", neg, (long long)a, units[i].unit);
            return out;
        }
    }
    snprintf(out, outlen, "0s");
    return out;
}

int omni_duration_parse(const char *s, int64_t *ms)
{
    const char *p = s;
    double total = 0;
    int any = 0;

    if (!s || !*s)
        return -1;
    while (*p) {
        double v = 0, scale = 1;
        int ndig = 0;
        /* digits [. digits]: no sign, exponent, hex, "inf"/"nan" or blanks */
        for (; *p >= '0' && *p <= '9'; p++, ndig++)
            v = v * 10 + (*p - '0');
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++, ndig++)
                v += (*p - '0') * (scale /= 10);
        if (ndig == 0 || v > 9.0e15)
            return -1;
        if (*p == '\0') {
            if (any)
                return -1; /* "1m30" is ambiguous */
            total += v * 1000;
            any = 1;
            break;
        }
        if (strncmp(p, "ms", 2) == 0) {
            total += v;
            p += 2;
        } else if (*p == 's') {
            total += v * 1000;
            p++;
        } else if (*p == 'm') {
            total += v * 60000;
            p++;
        } else if (*p == 'h') {
            total += v * 3600000;
            p++;
        } else if (*p == 'd') {
            total += v * 86400000;
            p++;
        } else {
            return -1;
        }
        any = 1;
    }
    if (!any || total > 9.0e15)
        return -1;
    *ms = (int64_t)(total + 0.5);
    return 0;
}
