/*
 * faults — seeded fault decisions (splitmix64) and the fault settings codec
 * shared by the command line and POST /_sim/faults, and the route-specific
 * one-shot faults. Callers hold sim->mu (but simfaults_route takes it).
 */
#include "sim.h"

#include "reply.h"

#include "timeutil.h"

#include <stdio.h>
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
    static const char *const known[] = {"fault-5xx",         "fault-429",
                                        "latency-ms",        "jitter-ms",
                                        "cut-stream-after",  "sse-error-every",
                                        "steal-lease-every", "retry-after-ms",
                                        "fail-ack",          "heartbeat-412-stopped"};
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
        faults_int(j, "retry-after-ms", &n.retry_after_ms, bad) ||
        faults_int(j, "fail-ack", &n.fail_ack, bad) ||
        faults_int(j, "heartbeat-412-stopped", &n.heartbeat_412_stopped, bad))
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
    cJSON_AddNumberToObject(o, "fail-ack", f->fail_ack);
    cJSON_AddNumberToObject(o, "heartbeat-412-stopped", f->heartbeat_412_stopped);
    return o;
}

/* The work id of POST /v1/environments/{env}/work/{id}/<tail>, or 0. */
static int faults_work_id(const char *path, const char *tail, char *id, size_t idlen)
{
    static const char pre[] = "/v1/environments/";
    const char *w, *end;
    size_t tl = strlen(tail), pl = strlen(path);

    if (strncmp(path, pre, sizeof pre - 1) != 0 || pl <= tl || strcmp(path + pl - tl, tail) != 0)
        return 0;
    w = strstr(path + sizeof pre - 1, "/work/");
    if (!w)
        return 0;
    w += 6;
    end = path + pl - tl;
    if (end <= w || (size_t)(end - w) >= idlen || memchr(w, '/', (size_t)(end - w)))
        return 0;
    snprintf(id, idlen, "%.*s", (int)(end - w), w);
    return 1;
}

int simfaults_route(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    char id[SIM_ID_MAX];

    if (strcmp(rq->method, "POST") != 0)
        return 0;
    pthread_mutex_lock(&sim->mu);
    if (sim->faults.fail_ack > 0 && faults_work_id(rq->path, "/ack", id, sizeof id)) {
        sim->faults.fail_ack--;
        sim->ctr.faults_5xx++;
        pthread_mutex_unlock(&sim->mu);
        sim_err(rq, rs, 503, "api_error", NULL, "injected fault: ack failed");
        return 1;
    }
    if (sim->faults.heartbeat_412_stopped > 0 &&
        faults_work_id(rq->path, "/heartbeat", id, sizeof id)) {
        struct sim_work *w = simstore_work_get(sim, id);
        if (w && (w->state == WS_STARTING || w->state == WS_ACTIVE)) {
            /* stopped elsewhere (an operator's force-stop) as the heartbeat arrives */
            sim->faults.heartbeat_412_stopped--;
            w->state = WS_STOPPED;
            w->stopped_us = omni_wall_us();
            w->lease_exp_ms = 0;
            w->delivered = 0;
            simwork_reply_412(rq, rs, w, "Heartbeat precondition failed: the work item is stopped");
            pthread_mutex_unlock(&sim->mu);
            return 1;
        }
    }
    pthread_mutex_unlock(&sim->mu);
    return 0;
}
