/*
 * lease — the heartbeat loop of one work item, on its own thread
 * (protocol.md §9.4). A tool blocking the runner can never starve it.
 */
#include "worker.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lease {
    struct omni_client *client;
    char env_id[OMNI_ID_MAX];
    char work_id[OMNI_ID_MAX];
    volatile int *end_flag;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                 /* guarded by mu */
    enum wk_end end;          /* guarded by mu */
    long ttl_ms;              /* guarded by mu */
    long interval_ms;
    char last[64];
    int64_t last_success_ms;
};

static void lease_finish(struct lease *l, enum wk_end why)
{
    pthread_mutex_lock(&l->mu);
    if (l->end == WK_END_NONE)
        l->end = why;
    pthread_mutex_unlock(&l->mu);
    *l->end_flag = 1;
}

/* One heartbeat; returns 1 when the loop must end. */
static int lease_beat(struct lease *l)
{
    struct omni_heartbeat hb;
    struct omni_err err = OMNI_ERR_INIT;
    char ttl[32];
    int64_t now;

    if (omni_work_heartbeat(l->client, l->env_id, l->work_id, l->last, 0, l->interval_ms, &hb,
                            &err) == 0) {
        now = omni_mono_ms();
        l->last_success_ms = now;
        snprintf(l->last, sizeof l->last, "%s", hb.last_heartbeat[0] ? hb.last_heartbeat
                                                                      : "NO_HEARTBEAT");
        if (hb.ttl_seconds > 0) {
            long iv = hb.ttl_seconds * 1000 / 2;
            if (iv < WK_HB_MIN_INTERVAL_MS)
                iv = WK_HB_MIN_INTERVAL_MS;
            if (iv > WK_HB_INTERVAL_MS)
                iv = WK_HB_INTERVAL_MS;
            pthread_mutex_lock(&l->mu);
            l->ttl_ms = hb.ttl_seconds * 1000;
            pthread_mutex_unlock(&l->mu);
            l->interval_ms = iv;
        }
        if (strcmp(hb.state, "stopping") == 0 || strcmp(hb.state, "stopped") == 0 ||
            !hb.lease_extended) {
            log_kv(LOG_INFO, "heartbeat asks the session to end", "work", l->work_id, "state",
                   hb.state, "lease_extended", hb.lease_extended ? "true" : "false", NULL);
            lease_finish(l, WK_END_HB_STOP);
            return 1;
        }
        log_kv(LOG_DEBUG, "heartbeat", "work", l->work_id, "state", hb.state, NULL);
        return 0;
    }
    if (err.kind == OMNI_E_HTTP && err.status == 412) {
        snprintf(ttl, sizeof ttl, "%ld", hb.ttl_seconds);
        log_kv(LOG_WARN, "lease lost (heartbeat precondition failed); releasing the item",
               "work", l->work_id, "state", hb.state[0] ? hb.state : "unknown", "ttl_seconds",
               ttl, "last_heartbeat", hb.last_heartbeat[0] ? hb.last_heartbeat : "null", NULL);
        lease_finish(l, WK_END_LEASE_LOST);
        return 1;
    }
    if (omni_err_is_fatal(&err)) {
        log_kv(LOG_ERROR, "heartbeat rejected; ending the session", "work", l->work_id, "error",
               err.msg, NULL);
        lease_finish(l, WK_END_REJECTED);
        return 1;
    }
    now = omni_mono_ms();
    pthread_mutex_lock(&l->mu);
    long ttl_ms = l->ttl_ms;
    pthread_mutex_unlock(&l->mu);
    if (now - l->last_success_ms > ttl_ms) {
        log_kv(LOG_WARN, "no successful heartbeat for longer than the lease ttl; assuming the "
                         "lease lost",
               "work", l->work_id, "error", err.msg, NULL);
        lease_finish(l, WK_END_ASSUMED_LOST);
        return 1;
    }
    log_kv(LOG_WARN, "heartbeat failed; will retry", "work", l->work_id, "error", err.msg, NULL);
    return 0;
}

static void *lease_main(void *arg)
{
    struct lease *l = arg;

    for (;;) {
        if (lease_beat(l))
            break;
        pthread_mutex_lock(&l->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += l->interval_ms / 1000;
        ts.tv_nsec += (l->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!l->stop) {
            if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT)
                break;
        }
        int stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
    }
    return NULL;
}

struct lease *lease_start(struct omni_client *client, const char *env_id, const char *work_id,
                          volatile int *end_flag, struct omni_err *err)
{
    struct lease *l = calloc(1, sizeof *l);
    pthread_condattr_t ca;

    if (!l) {
        omni_client_free(client);
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    l->client = client;
    snprintf(l->env_id, sizeof l->env_id, "%s", env_id);
    snprintf(l->work_id, sizeof l->work_id, "%s", work_id);
    l->end_flag = end_flag;
    l->ttl_ms = WK_HB_TTL_MS;
    l->interval_ms = WK_HB_INTERVAL_MS;
    snprintf(l->last, sizeof l->last, "NO_HEARTBEAT");
    l->last_success_ms = omni_mono_ms();
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, lease_main, l) != 0) {
        omni_err_set(err, OMNI_E_IO, "cannot start the heartbeat thread");
        lease_free(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

void lease_stop(struct lease *l)
{
    if (!l || !l->started)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->started = 0;
}

enum wk_end lease_end(struct lease *l)
{
    enum wk_end e;
    pthread_mutex_lock(&l->mu);
    e = l->end;
    pthread_mutex_unlock(&l->mu);
    return e;
}

long lease_ttl_ms(struct lease *l)
{
    long t;
    pthread_mutex_lock(&l->mu);
    t = l->ttl_ms;
    pthread_mutex_unlock(&l->mu);
    return t;
}

void lease_free(struct lease *l)
{
    if (!l)
        return;
    lease_stop(l);
    omni_client_free(l->client);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
