/*
 * map — a string-keyed hash map of pointers (chained, grows at load 1), and
 * a growable pointer array. Allocation failure is fatal for the simulator.
 */
#include "sim.h"

#include "alloc.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

struct map_node {
    struct map_node *next;
    uint64_t hash;
    void *val;
    char key[];
};

struct sim_map {
    struct map_node **slots;
    size_t nslots, count;
};

struct sim_map *simmap_new(void)
{
    struct sim_map *m = omni_xcalloc(1, sizeof(*m));
    m->nslots = 64;
    m->slots = omni_xcalloc(m->nslots, sizeof(*m->slots));
    return m;
}

void simmap_free(struct sim_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nslots; i++) {
        struct map_node *n = m->slots[i];
        while (n) {
            struct map_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->slots);
    free(m);
}

void *simmap_get(const struct sim_map *m, const char *key)
{
    uint64_t h = omni_hash_str(key);
    for (struct map_node *n = m->slots[h % m->nslots]; n; n = n->next)
        if (n->hash == h && strcmp(n->key, key) == 0)
            return n->val;
    return NULL;
}

static void map_grow(struct sim_map *m)
{
    size_t ns = m->nslots * 2;
    struct map_node **slots = omni_xcalloc(ns, sizeof(*slots));
    for (size_t i = 0; i < m->nslots; i++) {
        struct map_node *n = m->slots[i];
        while (n) {
            struct map_node *next = n->next;
            n->next = slots[n->hash % ns];
            slots[n->hash % ns] = n;
            n = next;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = ns;
}

int simmap_put(struct sim_map *m, const char *key, void *val)
{
    uint64_t h = omni_hash_str(key);
    for (struct map_node *n = m->slots[h % m->nslots]; n; n = n->next) {
        if (n->hash == h && strcmp(n->key, key) == 0) {
            n->val = val;
            return 0;
        }
    }
    if (m->count >= m->nslots)
        map_grow(m);
    size_t kl = strlen(key);
    struct map_node *n = omni_xcalloc(1, sizeof(*n) + kl + 1);
    memcpy(n->key, key, kl + 1);
    n->hash = h;
    n->val = val;
    n->next = m->slots[h % m->nslots];
    m->slots[h % m->nslots] = n;
    m->count++;
    return 0;
}

void simvec_push(struct sim_vec *v, void *p)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        v->v = omni_xreallocarray(v->v, nc, sizeof(*v->v));
        v->cap = nc;
    }
    v->v[v->n++] = p;
}

void simvec_release(struct sim_vec *v)
{
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}
