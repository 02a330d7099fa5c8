/*
 * faults — seeded fault decisions (splitmix64) and the fault settings codec
 * shared by the command line and POST /_sim/faults. Callers hold sim->mu.
 */
#include "sim.h"

#include <string.h>

uint64_t simfaults_next(struct sim *sim)
{
    uint64_t z = (sim->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double simfaults_unit(struct sim *sim)
{
    return (double)(simfaults_next(sim) >> 11) * (1.0 / 9007199254740992.0);
}

static int faults_int(const cJSON *j, const char *name, int *out, const char **bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
        v->valuedouble != (double)(int)v->valuedouble) {
        *bad = name;
        return -1;
    }
    *out = v->valueint;
    return 0;
}

static int faults_frac(const cJSON *j, const char *name, double *out, const char **bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1) {
        *bad = name;
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

int simfaults_parse_json(struct sim_faults *f, const cJSON *j, const char **bad)
{
    static const char *const known[] = {"fault-5xx",         "fault-429",        "latency-ms",
                                        "jitter-ms",         "cut-stream-after", "sse-error-every",
                                        "steal-lease-every", "retry-after-ms"};
    for (const cJSON *c = j->child; c; c = c->next) {
        size_t i;
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (c->string && strcmp(c->string, known[i]) == 0)
                break;
        if (i == sizeof(known) / sizeof(known[0])) {
            *bad = c->string ? c->string : "?";
            return -1;
        }
    }
    struct sim_faults n = *f;
    if (faults_frac(j, "fault-5xx", &n.p5xx, bad) || faults_frac(j, "fault-429", &n.p429, bad) ||
        faults_int(j, "latency-ms", &n.latency_ms, bad) ||
        faults_int(j, "jitter-ms", &n.jitter_ms, bad) ||
        faults_int(j, "cut-stream-after", &n.cut_stream_after, bad) ||
        faults_int(j, "sse-error-every", &n.sse_error_every, bad) ||
        faults_int(j, "steal-lease-every", &n.steal_lease_every, bad) ||
        faults_int(j, "retry-after-ms", &n.retry_after_ms, bad))
        return -1;
    *f = n;
    return 0;
}

cJSON *simfaults_json(const struct sim_faults *f, uint64_t seed)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "fault-5xx", f->p5xx);
    cJSON_AddNumberToObject(o, "fault-429", f->p429);
    cJSON_AddNumberToObject(o, "latency-ms", f->latency_ms);
    cJSON_AddNumberToObject(o, "jitter-ms", f->jitter_ms);
    cJSON_AddNumberToObject(o, "cut-stream-after", f->cut_stream_after);
    cJSON_AddNumberToObject(o, "sse-error-every", f->sse_error_every);
    cJSON_AddNumberToObject(o, "steal-lease-every", f->steal_lease_every);
    cJSON_AddNumberToObject(o, "retry-after-ms", f->retry_after_ms);
    return o;
}
