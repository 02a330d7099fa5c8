/*
 * Fuzz RFC 3339 parsing and formatting. Checks: whatever parses formats back
 * to a string that parses to the same instant; any int64 formats safely.
 */
#include "timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in microseconds. */
#define YEAR0_US (-62167219200LL * 1000000)
#define YEAR10000_US (253402300800LL * 1000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[64], small[8];
    int64_t us, back, raw = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (omni_rfc3339_parse(s, &us) == 0) {
        omni_rfc3339_format(us, out, sizeof out, 6);
        /* An offset can push the instant out of years 0000-9999, which
         * RFC 3339 cannot write; only check those that stay inside. */
        if (us < YEAR0_US || us > YEAR10000_US - 1) {
            free(s);
            return 0;
        }
        if (omni_rfc3339_parse(out, &back) != 0 || back != us)
            abort();
        omni_rfc3339_format(us, out, sizeof out, 0);
        omni_rfc3339_format(us, out, sizeof out, 3);
        if (omni_rfc3339_parse(out, &back) != 0 || back / 1000 != us / 1000 - (us % 1000 < 0))
            abort();
    }
    /* the first 8 bytes as an arbitrary instant */
    memcpy(&raw, data, size < 8 ? size : 8);
    omni_rfc3339_format(raw, out, sizeof out, 6);
    if (strlen(out) >= sizeof out)
        abort();
    omni_rfc3339_format(raw, small, sizeof small, 3);
    if (strlen(small) >= sizeof small)
        abort();
    free(s);
    return 0;
}
