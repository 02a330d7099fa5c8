/*
 * Fuzz duration parsing and formatting. Checks: parsed durations are
 * non-negative; formatting any int64 is safe and bounded; a formatted
 * duration parses back to a value no larger than the original.
 */
#include "timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[64];
    int64_t ms, back, raw = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (omni_duration_parse(s, &ms) == 0) {
        if (ms < 0)
            abort();
        omni_duration_format(ms, out, sizeof out);
        /* "1h2m" drops the seconds: it parses back to at most ms */
        if (omni_duration_parse(out, &back) != 0 || back > ms)
            abort();
    }
    memcpy(&raw, data, size < 8 ? size : 8);
    omni_duration_format(raw, out, sizeof out);
    if (strlen(out) >= sizeof out)
        abort();
    free(s);
    return 0;
}
