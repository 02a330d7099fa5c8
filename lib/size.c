/*
 * size — byte sizes with binary suffixes (see size.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "size.h"

#define SIZE_MAX_BYTES (1LL << 62)

int omni_size_parse(const char *s, long long *bytes)
{
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {
        {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
        {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40},
    };
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        if (v > (SIZE_MAX_BYTES >> units[i].shift))
            return -1;
        *bytes = v << units[i].shift;
        return 0;
    }
    return -1;
}
