/*
 * timeutil — clocks, RFC 3339 timestamps and human durations.
 *
 * Times are int64 microseconds since the Unix epoch (wall) or since an
 * arbitrary point (monotonic). Durations are int64 milliseconds.
 */
#ifndef OMNI_TIMEUTIL_H
#define OMNI_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t omni_wall_us(void);
int64_t omni_mono_ms(void);
/* Monotonic clock in microseconds. */
int64_t omni_mono_us(void);
/* Sleep ms milliseconds (restarts on EINTR unless *stop becomes non-zero). */
void omni_sleep_ms(int64_t ms, volatile int *stop);

/*
 * Parse an RFC 3339 timestamp ("2026-11-21T10:00:00Z", fractional seconds of
 * any precision, "+hh:mm"/"-hh:mm" offsets, 't'/'z' and a space separator
 * accepted). Returns 0 and *us on success, -1 on anything malformed.
 */
int omni_rfc3339_parse(const char *s, int64_t *us);
/* Format UTC with `frac` fractional digits (0, 3 or 6). Returns out. */
char *omni_rfc3339_format(int64_t us, char *out, size_t outlen, int frac);

/* "3m12s", "1h2m", "45s", "850ms", "2d3h" (two most significant units). */
char *omni_duration_format(int64_t ms, char *out, size_t outlen);
/*
 * Parse "250ms", "30s", "5m", "1h30m", "2d" or a bare number of seconds
 * ("30", "0.5"). Returns 0 and *ms, -1 when malformed or negative.
 */
int omni_duration_parse(const char *s, int64_t *ms);

#endif
