/*
 * lease — the heartbeat loop of one work item, on its own thread
 * (protocol.md §9.4). A tool blocking the runner can never starve it.
 *
 * Beyond §9.4: the lease is taken to run from the moment a successful
 * heartbeat was SENT (the server stored its time after that, so it cannot
 * expire earlier than sent + ttl), a failed heartbeat is retried after
 * WK_HB_RETRY_MS rather than a whole interval, and the lease is given up
 * (ASSUMED_LOST, end_flag set) a safety margin BEFORE sent + ttl. So a worker
 * stops posting results before the control plane can hand the item to
 * another worker, and two workers never serve one session at once.
 *
 * Timing (as the 1.16 SDK): until a heartbeat reports the lease's ttl, the
 * API's default of WK_HB_TTL_MS (300 s) is assumed; the next heartbeat is due
 * min(ttl/2, WK_HB_INTERVAL_MS) after the last successful one was sent, with a
 * floor of WK_HB_MIN_INTERVAL_MS (500 ms: ttl/2 of the shortest ttl the API
 * can report, 1 s, so the floor never delays a beat past ttl/2).
 *
 * A 412 ends the run without a stop; its details.current_state says why: an
 * item already stopping or stopped was stopped elsewhere (WK_END_LEASE_STOPPED),
 * anything else means another holder has it (WK_END_LEASE_LOST).
 */
#include "worker.h"

#include "metrics.h"

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
    int stop;        /* guarded by mu */
    enum wk_end end; /* guarded by mu */
    long ttl_ms;     /* guarded by mu */
    long interval_ms;
    char last[64];
    int64_t last_success_ms; /* when the last successful heartbeat was sent */
};

/* The interval for a lease of ttl_ms: min(ttl/2, 30 s), at least 500 ms. */
static long lease_interval(long ttl_ms)
{
    long iv = ttl_ms / 2;
    if (iv > WK_HB_INTERVAL_MS)
        iv = WK_HB_INTERVAL_MS;
    if (iv < WK_HB_MIN_INTERVAL_MS)
        iv = WK_HB_MIN_INTERVAL_MS;
    return iv;
}

/* A work state in which the item's serving has ended (stopping or stopped). */
static int state_is_stopped(const char *state)
{
    return strcmp(state, "stopping") == 0 || strcmp(state, "stopped") == 0;
}

static void lease_finish(struct lease *l, enum wk_end why)
{
    pthread_mutex_lock(&l->mu);
    if (l->end == WK_END_NONE)
        l->end = why;
    pthread_mutex_unlock(&l->mu);
    *l->end_flag = 1;
}

/* When the lease must be given up: a margin before the earliest server expiry. */
static int64_t lease_deadline(struct lease *l)
{
    pthread_mutex_lock(&l->mu);
    long ttl_ms = l->ttl_ms;
    pthread_mutex_unlock(&l->mu);
    long safety = ttl_ms / 5 < WK_HB_SAFETY_MAX_MS ? ttl_ms / 5 : WK_HB_SAFETY_MAX_MS;
    return l->last_success_ms + ttl_ms - safety;
}

/* One heartbeat; returns 1 when the loop must end, 2 after a transient failure, else 0. */
static int lease_beat(struct lease *l)
{
    struct omni_heartbeat hb;
    struct omni_err err = OMNI_ERR_INIT;
    char ttl[32];
    int64_t now;

    int64_t sent = omni_mono_ms();
    long timeout = l->interval_ms;
    int64_t left = lease_deadline(l) - sent;

    /* never wait on a request past the moment the lease must be given up */
    if (left < timeout)
        timeout = left > WK_HB_MIN_TIMEOUT_MS ? (long)left : WK_HB_MIN_TIMEOUT_MS;
    if (omni_work_heartbeat(l->client, l->env_id, l->work_id, l->last, 0, timeout, &hb, &err) ==
        0) {
        wm_inc(WM_HB_OK);
        l->last_success_ms = sent;
        snprintf(l->last, sizeof l->last, "%s",
                 hb.last_heartbeat[0] ? hb.last_heartbeat : "NO_HEARTBEAT");
        if (hb.ttl_seconds > 0) {
            pthread_mutex_lock(&l->mu);
            l->ttl_ms = hb.ttl_seconds * 1000;
            pthread_mutex_unlock(&l->mu);
            l->interval_ms = lease_interval(hb.ttl_seconds * 1000);
        }
        if (state_is_stopped(hb.state) || !hb.lease_extended) {
            log_kv(LOG_INFO, "heartbeat asks the session to end", "work", l->work_id, "state",
                   hb.state, "lease_extended", hb.lease_extended ? "true" : "false", NULL);
            lease_finish(l, WK_END_HB_STOP);
            return 1;
        }
        log_kv(LOG_DEBUG, "heartbeat", "work", l->work_id, "state", hb.state, NULL);
        return 0;
    }
    wm_http_error(&err);
    wm_inc(err.kind == OMNI_E_HTTP && err.status == 412 ? WM_HB_CONFLICT : WM_HB_ERROR);
    if (err.kind == OMNI_E_HTTP && err.status == 412) {
        /* current_state: stopping/stopped = stopped elsewhere; else another holder */
        int stopped = state_is_stopped(hb.state);
        snprintf(ttl, sizeof ttl, "%ld", hb.ttl_seconds);
        log_kv(LOG_WARN,
               stopped ? "lease ended (heartbeat precondition failed): the item was stopped, not "
                         "taken; releasing it without a stop"
                       : "lease lost (heartbeat precondition failed): another holder has the "
                         "item; releasing the item without a stop",
               "work", l->work_id, "state", hb.state[0] ? hb.state : "unknown", "ttl_seconds",
               hb.current_state ? ttl : "unknown", "last_heartbeat",
               hb.last_heartbeat[0] ? hb.last_heartbeat : "null", "holder",
               stopped ? "none (stopped)" : "another", NULL);
        lease_finish(l, stopped ? WK_END_LEASE_STOPPED : WK_END_LEASE_LOST);
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
        log_kv(LOG_WARN,
               "no successful heartbeat for longer than the lease ttl; assuming the "
               "lease lost",
               "work", l->work_id, "error", err.msg, NULL);
        lease_finish(l, WK_END_ASSUMED_LOST);
        return 1;
    }
    log_kv(LOG_WARN, "heartbeat failed; will retry", "work", l->work_id, "error", err.msg, NULL);
    return 2;
}

static void *lease_main(void *arg)
{
    struct lease *l = arg;

    for (;;) {
        int rc = lease_beat(l);
        if (rc == 1)
            break;
        int64_t now = omni_mono_ms(), deadline = lease_deadline(l);
        /* after a success the next beat is due an interval after it was sent */
        long retry = l->interval_ms < WK_HB_RETRY_MS ? l->interval_ms : WK_HB_RETRY_MS;
        int64_t wake = rc == 2 ? now + retry : l->last_success_ms + l->interval_ms;
        if (wake > deadline)
            wake = deadline;
        if (wake < now)
            wake = now;
        /* CLOCK_MONOTONIC in ms (omni_mono_ms) converted to a timespec */
        struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
        pthread_mutex_lock(&l->mu);
        while (!l->stop) {
            if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT)
                break;
        }
        int stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        if (omni_mono_ms() >= lease_deadline(l)) {
            log_kv(LOG_WARN,
                   "no successful heartbeat in time to keep the lease; releasing the "
                   "item before it can expire",
                   "work", l->work_id, NULL);
            lease_finish(l, WK_END_ASSUMED_LOST);
            break;
        }
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
    l->interval_ms = lease_interval(WK_HB_TTL_MS);
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
