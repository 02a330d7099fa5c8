/*
 * hash — one string hash for the tables of every program (FNV-1a, 64 bits):
 * fast on short ids, not for anything an adversary must not collide.
 */
#ifndef OMNI_HASH_H
#define OMNI_HASH_H

#include <stdint.h>

uint64_t omni_hash_str(const char *s);

#endif
