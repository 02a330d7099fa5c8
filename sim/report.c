/*
 * report — what the simulator saw: /_sim/report, request counters per route
 * and status, the request log (--request-log), and the other loopback-only
 * introspection routes (/_sim/faults, /_sim/environments/{id}/key,
 * /_sim/environments/{id}/healthcheck). Called with sim->mu held unless noted.
 */
#include "reply.h"

#include "alloc.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPORT_MISMATCH_MAX 200

void simreport_count(struct sim *sim, int route, const char *name, int status)
{
    sim->ctr.requests++;
    if (route < 0 || route >= SIM_ROUTES_MAX) {
        route = SIM_ROUTES_MAX - 1;
        name = "other";
    }
    sim->ctr.route_name[route] = name;
    struct sim_route_stat *rs = sim->ctr.route[route];
    for (int i = 0; i < 16; i++) {
        if (rs[i].status == status || rs[i].status == 0) {
            rs[i].status = status;
            rs[i].count++;
            return;
        }
    }
}

/* Thread-safe without sim->mu (uses log_mu). */
void simreport_log_request(struct sim *sim, const char *method, const char *path, int status,
                           const char *cred_kind, int64_t dur_us, const char *workspace)
{
    if (sim->request_log_fd < 0)
        return;
    char ts[40], line[1400], ws[160] = "";
    /* the workspace header, when sent (a malformed one shown as "invalid") */
    if (workspace)
        snprintf(ws, sizeof ws, " workspace=%s",
                 omni_workspace_id_valid(workspace) ? workspace : "invalid");
    int n = snprintf(line, sizeof(line), "%s %s %.1200s %d %s %lldus%s\n",
                     omni_rfc3339_format(omni_wall_us(), ts, sizeof(ts), 3), method, path, status,
                     cred_kind, (long long)dur_us, ws);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    pthread_mutex_lock(&sim->log_mu);
    ssize_t w = write(sim->request_log_fd, line, (size_t)n);
    (void)w;
    pthread_mutex_unlock(&sim->log_mu);
}

void simreport_mismatch(struct sim *sim, struct sim_session *s, const char *fmt, ...)
{
    char msg[512], line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "%s: %s", s->id, msg);
    log_kv(LOG_WARN, "scripted agent", "session", s->id, "problem", msg, (char *)NULL);
    if (sim->ctr.mismatch_log.n < REPORT_MISMATCH_MAX) {
        char *c = strdup(line);
        if (c)
            simvec_push(&sim->ctr.mismatch_log, c);
    }
}

static long report_unanswered(const struct sim_session *s)
{
    long n = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        if (!s->calls[i]->answered && !s->calls[i]->cancelled)
            n++;
    return n;
}

/* One session's counters, as in the "sessions" array of /_sim/report. */
static cJSON *report_session_json(const struct sim_session *s, long un, int done)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", s->id);
    cJSON_AddStringToObject(j, "scenario", s->scen_text);
    cJSON_AddStringToObject(j, "status", s->deleted ? "deleted" : s->status);
    cJSON_AddNumberToObject(j, "tool_calls_emitted", (double)s->calls_emitted);
    cJSON_AddNumberToObject(j, "results_received", (double)s->results_received);
    cJSON_AddNumberToObject(j, "duplicate_results", (double)s->duplicate_results);
    cJSON_AddNumberToObject(j, "unanswered_calls", (double)un);
    cJSON_AddNumberToObject(j, "result_mismatches", (double)s->result_mismatches);
    cJSON_AddNumberToObject(j, "protocol_errors", (double)s->protocol_errors);
    cJSON_AddNumberToObject(j, "turns_completed", s->turns_completed);
    cJSON_AddBoolToObject(j, "completed", done);
    cJSON_AddNumberToObject(j, "streams_open", s->nstreams);
    cJSON_AddNumberToObject(j, "threads", s->nthreads);
    if (s->scen == SCEN_THREADS) {
        /* from the start/end times the calls printed: did they run at once */
        if (s->overlap_known) {
            cJSON_AddBoolToObject(j, "calls_overlapped", s->overlapped);
            cJSON_AddNumberToObject(j, "overlap_ms", (double)(long)s->overlap_ms);
        } else {
            cJSON_AddNullToObject(j, "calls_overlapped");
            cJSON_AddNullToObject(j, "overlap_ms");
        }
        int64_t first = 0, last = 0;
        for (size_t i = 0; i < s->ncalls; i++) {
            int64_t r = s->calls[i]->result_us;
            if (r && (!first || r < first))
                first = r;
            if (r > last)
                last = r;
        }
        cJSON_AddNumberToObject(j, "result_spread_ms", (double)((last - first) / 1000));
    }
    if (s->scen == SCEN_BIG_BASH) {
        if (s->saved_output[0])
            cJSON_AddStringToObject(j, "saved_output", s->saved_output);
        else
            cJSON_AddNullToObject(j, "saved_output");
    }
    if (s->scen == SCEN_BUDGET) {
        cJSON_AddNumberToObject(j, "budget_used", (double)s->budget_used);
        cJSON_AddBoolToObject(j, "budget_reached", s->budget_reached);
    }
    return j;
}

static int report_session_done(const struct sim_session *s)
{
    return s->turns_completed > 0 && !s->turn_active;
}

cJSON *simreport_json(struct sim *sim)
{
    const struct sim_counters *c = &sim->ctr;
    cJSON *o = cJSON_CreateObject();
    long unanswered = 0, completed = 0, not_stopped = 0;
    long states[5] = {0, 0, 0, 0, 0};
    cJSON *sessions = cJSON_CreateArray();
    for (size_t i = 0; i < sim->session_list.n; i++) {
        const struct sim_session *s = sim->session_list.v[i];
        long un = report_unanswered(s);
        int done = report_session_done(s);
        unanswered += un;
        completed += done;
        cJSON_AddItemToArray(sessions, report_session_json(s, un, done));
    }
    for (size_t i = 0; i < sim->work_list.n; i++) {
        const struct sim_work *w = sim->work_list.v[i];
        states[w->state]++;
        if (w->state != WS_STOPPED)
            not_stopped++;
    }
    cJSON_AddNumberToObject(o, "tool_calls_emitted", (double)c->tool_calls_emitted);
    cJSON_AddNumberToObject(o, "results_received", (double)c->results_received);
    cJSON_AddNumberToObject(o, "duplicate_results", (double)c->duplicate_results);
    cJSON_AddNumberToObject(o, "unanswered_calls", (double)unanswered);
    cJSON_AddNumberToObject(o, "unknown_results", (double)c->unknown_results);
    cJSON_AddNumberToObject(o, "result_mismatches", (double)c->result_mismatches);
    cJSON_AddNumberToObject(o, "protocol_errors", (double)c->protocol_errors);
    cJSON_AddNumberToObject(o, "leases_lost", (double)c->leases_lost);
    cJSON_AddNumberToObject(o, "leases_stolen", (double)c->leases_stolen);
    cJSON_AddNumberToObject(o, "items_not_stopped", (double)not_stopped);
    cJSON_AddNumberToObject(o, "sessions_completed", (double)completed);
    cJSON_AddNumberToObject(o, "sessions_total", (double)sim->session_list.n);
    cJSON_AddNumberToObject(o, "polls", (double)c->polls);
    cJSON_AddNumberToObject(o, "polls_empty", (double)c->polls_empty);
    cJSON_AddNumberToObject(o, "deliveries", (double)c->deliveries);
    cJSON_AddNumberToObject(o, "heartbeats", (double)c->heartbeats);
    cJSON_AddNumberToObject(o, "faults_5xx", (double)c->faults_5xx);
    cJSON_AddNumberToObject(o, "faults_429", (double)c->faults_429);
    cJSON_AddNumberToObject(o, "streams_cut", (double)c->streams_cut);
    cJSON_AddNumberToObject(o, "sse_errors", (double)c->sse_errors);
    cJSON_AddNumberToObject(o, "seed", (double)sim->cfg.seed);
    cJSON *ws = cJSON_AddObjectToObject(o, "work_items");
    for (int i = 0; i < 5; i++)
        cJSON_AddNumberToObject(ws, simstore_work_state_name((enum sim_work_state)i),
                                (double)states[i]);
    cJSON *req = cJSON_AddObjectToObject(o, "requests");
    cJSON_AddNumberToObject(req, "total", (double)c->requests);
    cJSON *by = cJSON_AddObjectToObject(req, "by_route");
    for (int r = 0; r < SIM_ROUTES_MAX; r++) {
        if (!c->route[r][0].status)
            continue;
        cJSON *rj = cJSON_AddObjectToObject(by, c->route_name[r]);
        for (int i = 0; i < 16 && c->route[r][i].status; i++) {
            char k[16];
            snprintf(k, sizeof(k), "%d", c->route[r][i].status);
            cJSON_AddNumberToObject(rj, k, (double)c->route[r][i].count);
        }
    }
    cJSON *mm = cJSON_AddArrayToObject(o, "problems");
    for (size_t i = 0; i < c->mismatch_log.n; i++)
        cJSON_AddItemToArray(mm, cJSON_CreateString(c->mismatch_log.v[i]));
    cJSON_AddItemToObject(o, "webhooks", simwebhook_report(sim));
    cJSON_AddItemToObject(o, "sessions", sessions);
    return o;
}

void simh_sim_report(struct sim_req *rq, struct sim_resp *rs)
{
    sim_json(rs, 200, simreport_json(rq->sim));
}

/* GET /_sim/report/sessions/{id}: one session's counters, cheap enough to
 * poll while a benchmark or test waits for that session. */
void simh_sim_report_session(struct sim_req *rq, struct sim_resp *rs)
{
    const struct sim_session *s = simstore_session_get(rq->sim, rq->param[0]);
    if (!s) {
        sim_err(rq, rs, 404, NULL, NULL, "session '%.64s' not found", rq->param[0]);
        return;
    }
    sim_json(rs, 200, report_session_json(s, report_unanswered(s), report_session_done(s)));
}

void simh_sim_faults_get(struct sim_req *rq, struct sim_resp *rs)
{
    sim_json(rs, 200, simfaults_json(&rq->sim->faults, rq->sim->cfg.seed));
}

void simh_sim_faults_set(struct sim_req *rq, struct sim_resp *rs)
{
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const char *bad = NULL;
    if (simfaults_parse_json(&rq->sim->faults, b, &bad) < 0) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid fault setting '%.64s'", bad ? bad : "?");
        cJSON_Delete(b);
        return;
    }
    cJSON_Delete(b);
    log_kv(LOG_INFO, "fault settings changed", (char *)NULL);
    sim_json(rs, 200, simfaults_json(&rq->sim->faults, rq->sim->cfg.seed));
}

void simh_sim_env_key(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e) {
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "environment_id", e->id);
    cJSON_AddStringToObject(o, "key", e->key);
    sim_json(rs, 200, o);
}

/* POST /_sim/environments/{id}/keys (org key): mint a new environment key;
 * the old ones stay valid until revoked. Answers {"environment_id","key"}. */
void simh_sim_env_key_add(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e) {
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
        return;
    }
    simstore_env_add_key(rq->sim, e);
    simh_sim_env_key(rq, rs);
    log_kv(LOG_INFO, "environment key added", "environment", e->id, (char *)NULL);
}

/* POST /_sim/environments/{id}/keys/revoke {"key":"..."} (org key): the key
 * is refused (401) from now on; sessions tokens already issued keep working. */
void simh_sim_env_key_revoke(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e) {
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
        return;
    }
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(b, "key");
    if (!cJSON_IsString(k) || simstore_env_revoke_key(rq->sim, e, k->valuestring) < 0) {
        cJSON_Delete(b);
        sim_err(rq, rs, 404, NULL, NULL, "'key' is not a live key of environment '%s'", e->id);
        return;
    }
    cJSON_Delete(b);
    log_kv(LOG_INFO, "environment key revoked", "environment", e->id, (char *)NULL);
    sim_json_raw(rs, 200, omni_xstrdup("{\"revoked\":true}"));
}

void simh_sim_healthcheck(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_env *e = simstore_env_get(rq->sim, rq->param[0]);
    if (!e) {
        sim_err(rq, rs, 404, NULL, NULL, "environment '%.64s' not found", rq->param[0]);
        return;
    }
    struct sim_work *w = simstore_work_enqueue(rq->sim, e, NULL, "healthcheck");
    sim_json(rs, 200, simstore_work_json(w));
}
