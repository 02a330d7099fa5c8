/*
 * hash — FNV-1a over a NUL-terminated string (see hash.h).
 */
#include "hash.h"

uint64_t omni_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}
