/*
 * sim — internal interfaces of omni-sim, the local control plane.
 *
 * One struct sim holds everything. All state (environments, agents, sessions,
 * events, work items, credentials, counters) is guarded by sim->mu; every
 * function named simstore_*, simwork_*, simagent_*, simreport_* that touches
 * state expects the caller to hold sim->mu unless its comment says otherwise.
 * Objects are never freed before shutdown (deleted ones are only flagged), so
 * a pointer taken under the lock stays valid after it is released.
 *
 * Request flow (server.c): MHD thread per connection -> body collected (capped)
 * -> route matched -> faults drawn (/v1 only) -> credential resolved -> route
 * handler fills a struct sim_resp (reply.h) -> request logged/counted ->
 * response queued (reply.c). Calls go one way: server.c -> handlers ->
 * reply.c; the handlers never call the router.
 * Long-polls wait on env->work_cv; SSE readers wait on session->cv.
 */
#ifndef OMNI_SIM_H
#define OMNI_SIM_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SIM_ID_MAX 48
#define SIM_KEY_LEN 96
#define SIM_BODY_MAX (1024u * 1024) /* request body cap */
#define SIM_METADATA_PAIRS 16
#define SIM_METADATA_KEY_MAX 64
#define SIM_METADATA_VALUE_MAX 512
#define SIM_INITIAL_EVENTS_MAX 50
#define SIM_SEND_EVENTS_MAX 50
#define SIM_PAGE_MAX 1000
#define SIM_PAGE_DEFAULT 20
#define SIM_WORKERS_WINDOW_MS 30000
#define SIM_RECLAIM_DEFAULT_MS 5000
#define SIM_LEASE_TTL_DEFAULT 300 /* the real API's lease (protocol.md) */
#define SIM_TTL_MIN 10
#define SIM_TTL_MAX 600
#define SIM_PING_DEFAULT 15
#define SIM_WORKER_ID_MAX 256
#define SIM_NAME_MAX 256
#define SIM_BURST_MAX 200
#define SIM_SECONDS_MAX 86400
#define SIM_ROUTES_MAX 48
#define SIM_SKILL_DIRS_MAX 64                     /* --skill flags */
#define SIM_SKILL_ARCHIVE_MAX (64u * 1024 * 1024) /* packed --skill DIR */
#define SIM_SKILL_VERSIONS_MAX 64                 /* versions kept per skill */
#define SIM_THREADS_MAX 8                         /* session threads, the primary included */

struct sim_map;      /* string -> pointer hash map (map.c) */
struct sim_webhooks; /* webhook endpoint and sender (webhook.c) */

struct sim_map *simmap_new(void);
void simmap_free(struct sim_map *m);
void *simmap_get(const struct sim_map *m, const char *key);
/* Insert or replace; the key is copied. Returns 0 (running out of memory is fatal). */
int simmap_put(struct sim_map *m, const char *key, void *val);

/* A growable array of pointers. */
struct sim_vec {
    void **v;
    size_t n, cap;
};
void simvec_push(struct sim_vec *v, void *p);
void simvec_release(struct sim_vec *v);

/* Fault settings (flags and POST /_sim/faults share these names). */
struct sim_faults {
    double p5xx;           /* --fault-5xx */
    double p429;           /* --fault-429 */
    int latency_ms;        /* --latency-ms */
    int jitter_ms;         /* --jitter-ms */
    int cut_stream_after;  /* --cut-stream-after: end each stream after K events */
    int sse_error_every;   /* --sse-error-every: error frame + end after K events */
    int steal_lease_every; /* --steal-lease-every: every K-th heartbeat gets 412 */
    int retry_after_ms;    /* delay advertised on injected 429s */
    /* one-shot counts, POST /_sim/faults only (simfaults_route): */
    int fail_ack;              /* "fail-ack": the next N acks get 503 */
    int heartbeat_412_stopped; /* "heartbeat-412-stopped": the next N heartbeats of a live
                                * item stop it and get 412, current_state "stopped" */
};

struct sim_config {
    const char *listen;
    int port;
    const char *env_file;
    const char *org_key_file;
    const char *env_key_file;
    const char *request_log;
    int lease_ttl;
    int ping_interval;
    int stop_reply; /* 204 or 200 */
    int seed_given;
    uint64_t seed;
    struct sim_faults faults;
    const char *skill_dirs[SIM_SKILL_DIRS_MAX]; /* --skill DIR (skills.c) */
    int nskill_dirs;
    int skill_zip;        /* --skill-format zip */
    const char *tls_cert; /* --tls-cert FILE (PEM); with tls_key: serve HTTPS */
    const char *tls_key;  /* --tls-key FILE (PEM) */
    char *tls_cert_pem;   /* their contents, read at start */
    char *tls_key_pem;
};

enum sim_cred_kind { CRED_NONE = 0, CRED_ORG, CRED_ENV, CRED_TOKEN };

struct sim_env;
struct sim_work;
struct sim_session;
struct sim_thread;

struct sim_cred {
    enum sim_cred_kind kind;
    struct sim_env *env;   /* CRED_ENV */
    struct sim_work *work; /* CRED_TOKEN */
};

struct sim_worker_seen {
    char id[SIM_WORKER_ID_MAX + 1];
    int64_t last_ms;
};

struct sim_env {
    char id[SIM_ID_MAX];
    char key[SIM_KEY_LEN];
    char *name;
    char *description; /* NULL = null */
    char *scope;
    cJSON *config;
    cJSON *metadata;
    int self_hosted;
    int deleted;
    int64_t created_us, updated_us, archived_us;
    struct sim_vec works;   /* every work item of this env, creation order */
    struct sim_vec workers; /* struct sim_worker_seen */
    pthread_cond_t work_cv;
};

struct sim_agent {
    char id[SIM_ID_MAX];
    cJSON *obj; /* full agent object */
};

struct sim_event {
    char id[SIM_ID_MAX];
    char type[64];
    int64_t processed_us;
    char *json;
    size_t len;
};

enum sim_work_state { WS_QUEUED = 0, WS_STARTING, WS_ACTIVE, WS_STOPPING, WS_STOPPED };

struct sim_work {
    char id[SIM_ID_MAX];
    struct sim_env *env;
    struct sim_session *session; /* NULL for health checks */
    char data_type[24];
    char data_id[SIM_ID_MAX];
    enum sim_work_state state;
    cJSON *metadata;
    int64_t created_us, queued_us, acked_us, started_us, heartbeat_us, stop_req_us, stopped_us;
    char last_hb[40]; /* "" = no heartbeat held */
    int delivered;    /* polled but not yet acked (pending) */
    int64_t delivered_ms;
    int64_t lease_exp_ms; /* monotonic; 0 = no lease */
    int ttl;
    int deliveries;
};

struct sim_call {
    char id[SIM_ID_MAX];
    char name[32];
    int custom;
    int turn;
    int ask;       /* evaluated_permission "ask" */
    int deny;      /* evaluated_permission "deny" */
    int confirmed; /* user.tool_confirmation allow seen */
    int denied;    /* denied (by evaluation or confirmation) */
    int answered;  /* resolved (result or denial) */
    int cancelled; /* turn interrupted */
    int results;   /* results posted for it */
    char *expect;  /* substring the result text must contain (NULL: none) */
    int expect_exact;
    int allow_error;           /* an is_error result may still match (a tool's refusal) */
    struct sim_thread *thread; /* the session thread that made it */
    int64_t emitted_us, result_us;
    double ran_from, ran_to; /* threads:N: the run's own clock (seconds), 0 = unknown */
};

enum sim_scenario {
    SCEN_BASH_ONCE = 0,
    SCEN_SIX_TOOLS,
    SCEN_ASK,
    SCEN_CUSTOM,
    SCEN_BURST,
    SCEN_LONG_BASH,
    SCEN_BUSY,
    SCEN_IDLE,
    SCEN_DENY,
    SCEN_NOOP_READ,
    SCEN_CMD,
    SCEN_THREADS,     /* threads:N: N threads (the primary and N-1 children) call at once */
    SCEN_THREADS_ASK, /* a child thread's call held for a confirmation */
    SCEN_BIG_BASH,    /* bash output above 30,000 characters, then a read of the saved file */
    SCEN_BIG_READ,    /* read of a file above 110,000 bytes, without then with view_range */
    SCEN_BUDGET,      /* budget:N: the session's budget is N tool calls */
};

/*
 * A session thread (GET /v1/sessions/{id}/threads). Every session has its
 * primary thread, whose stream is the session's own; a child thread keeps its
 * own event list, and its calls and status events are cross-posted to the
 * session's stream with session_thread_id (events.ts of SDK 1.16).
 */
struct sim_thread {
    char id[SIM_ID_MAX];
    struct sim_session *s;
    int primary;
    char agent_name[64];
    char status[16]; /* a child's; the primary's own is the session's (this: last event) */
    int64_t created_us, updated_us, archived_us;
    struct sim_event **events; /* a child's own stream */
    size_t nevents, evcap;
};

struct sim_session {
    char id[SIM_ID_MAX];
    size_t index;
    struct sim_env *env;
    cJSON *agent;
    char *title;
    cJSON *metadata;
    cJSON *resources;
    char status[16];
    int deleted;
    int64_t created_us, updated_us, archived_us;
    struct sim_event **events;
    size_t nevents, evcap;
    pthread_cond_t cv;
    struct sim_work *live_work;
    int nstreams;

    /* scripted agent */
    enum sim_scenario scen;
    char scen_text[48];
    long scen_n;
    int turn_active;
    int turn;
    int batch;
    size_t batch_start, batch_len;
    int pending_msgs;
    int turns_completed;
    struct sim_call **calls;
    size_t ncalls, callcap;
    long calls_emitted, results_received, duplicate_results, result_mismatches, protocol_errors;

    struct sim_thread *threads[SIM_THREADS_MAX]; /* [0] the primary */
    int nthreads;
    char saved_output[512]; /* big-bash: the file the bash result names ("" = none) */
    int overlap_known;      /* threads:N: every call ran and told its clock */
    int overlapped;         /* ... and all of them overlapped */
    double overlap_ms;      /* min(end) - max(start); negative when they did not */
    long budget_used;       /* budget:N: tool calls counted against the budget */
    int budget_reached;
};

struct sim_route_stat {
    int status;
    long count;
};

struct sim_counters {
    long requests;
    long tool_calls_emitted, results_received, duplicate_results, unknown_results;
    long result_mismatches, protocol_errors;
    long leases_lost, leases_stolen, heartbeats, hb_matched, polls, polls_empty, deliveries;
    long faults_5xx, faults_429, streams_cut, sse_errors;
    struct sim_route_stat route[SIM_ROUTES_MAX][16];
    const char *route_name[SIM_ROUTES_MAX]; /* static strings of the router */
    struct sim_vec mismatch_log;            /* char*, capped */
};

struct sim {
    pthread_mutex_t mu;
    struct sim_config cfg;
    struct sim_faults faults; /* live settings */
    uint64_t rng;             /* fault PRNG state (seeded) */
    char base_url[128];
    char org_key[SIM_KEY_LEN];
    struct sim_env *first_env;
    struct sim_agent *first_agent;
    struct sim_map *envs, *agents, *sessions, *works, *creds;
    struct sim_vec env_list, agent_list, session_list, work_list, tokens;
    struct sim_vec skill_list; /* struct sim_skill (skills.c) */
    uint64_t id_counter;
    int shutting_down;
    struct sim_counters ctr;
    int request_log_fd;
    pthread_mutex_t log_mu;
    struct sim_webhooks *webhooks; /* NULL until POST /_sim/webhooks */
};

/* ---- store.c ---- */
void simstore_cond_init(pthread_cond_t *cv); /* CLOCK_MONOTONIC */
int simstore_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_mono_ms);
int simstore_init(struct sim *sim, const struct sim_config *cfg);
void simstore_release(struct sim *sim);
void simstore_new_id(struct sim *sim, const char *prefix, char *out, size_t outlen);
void simstore_new_key(const char *prefix, char *out, size_t outlen);
char *simstore_ts(int64_t us, char *out, size_t outlen); /* RFC 3339, 6 digits */
/* o[name] = the RFC 3339 time of us, or null when us is 0. */
void simstore_add_ts(cJSON *o, const char *name, int64_t us);
struct sim_env *simstore_env_create(struct sim *sim, const char *name, cJSON *config);
void simstore_env_set_key(struct sim *sim, struct sim_env *e, const char *key);
/* Key rotation: a new key for e (the old ones stay valid until revoked);
 * revoking returns -1 when key is not one of e's live keys. */
void simstore_env_add_key(struct sim *sim, struct sim_env *e);
int simstore_env_revoke_key(struct sim *sim, struct sim_env *e, const char *key);
struct sim_env *simstore_env_get(struct sim *sim, const char *id);
struct sim_session *simstore_session_get(struct sim *sim, const char *id);
struct sim_work *simstore_work_get(struct sim *sim, const char *id);
struct sim_agent *simstore_agent_get(struct sim *sim, const char *id);
struct sim_agent *simstore_agent_create(struct sim *sim, cJSON *body);
void simstore_cred_lookup(struct sim *sim, const char *key, struct sim_cred *out);
char *simstore_token_new(struct sim *sim, struct sim_work *w); /* returns static-lifetime key */
cJSON *simstore_env_json(const struct sim_env *e);
cJSON *simstore_session_json(const struct sim_session *s);
cJSON *simstore_work_json(const struct sim_work *w);
/* Append an event (takes ownership of ev; adds id and processed_at). */
struct sim_event *simstore_event_append(struct sim *sim, struct sim_session *s, cJSON *ev,
                                        const char *id_prefix);
struct sim_work *simstore_work_enqueue(struct sim *sim, struct sim_env *e, struct sim_session *s,
                                       const char *data_type);
const char *simstore_work_state_name(enum sim_work_state st);
/* Validate a metadata object; returns NULL when fine, else a static message. */
const char *simstore_metadata_check(const cJSON *md, int patch);
/* Apply a metadata patch (string upserts; null or "" deletes). */
void simstore_metadata_patch(cJSON *dst, const cJSON *patch, int empty_deletes);
void simstore_wake_all(struct sim *sim);

/* Append ev to the child thread th's own list (th NULL: the session's list),
 * with the given id (NULL: a new one with id_prefix) and processing time
 * (0: now). Takes ownership of ev. */
struct sim_event *simstore_event_append_ex(struct sim *sim, struct sim_session *s,
                                           struct sim_thread *th, cJSON *ev, const char *id_prefix,
                                           const char *id, int64_t processed_us);

/* ---- threads.c ---- */
struct sim_thread *simthread_new(struct sim *sim, struct sim_session *s, int primary,
                                 const char *agent_name);
struct sim_thread *simthread_get(struct sim_session *s, const char *id);
/* An event of thread th: the primary's go to the session's list; a child's
 * to its own list and, when crosspost, to the session's with
 * session_thread_id. Takes ownership of ev; returns the session's copy when
 * there is one, else the thread's. */
struct sim_event *simthread_event(struct sim *sim, struct sim_thread *th, cJSON *ev,
                                  const char *id_prefix, int crosspost);
/* session.thread_status_running/_idle/_terminated of th (stop_reason for idle:
 * "end_turn" or "requires_action" with the open calls of th). */
void simthread_status(struct sim *sim, struct sim_thread *th, const char *status,
                      const char *stop_reason);
cJSON *simthread_json(const struct sim_thread *th);
const char *simthread_status_name(const struct sim_thread *th);

/* ---- agent.c ---- */
int simagent_scenario_parse(const char *text, enum sim_scenario *scen, long *n);
void simagent_on_event(struct sim *sim, struct sim_session *s, const cJSON *ev);
void simagent_on_terminated(struct sim *sim, struct sim_session *s);
/* A child thread archived: its open calls are cancelled. */
void simagent_on_thread_archived(struct sim *sim, struct sim_session *s, struct sim_thread *th);

/* ---- skills.c ---- */
/* Pack DIR (tar.gz, or zip when zip) into a new skill named after its
 * basename. Start-up only. Returns 0, or -1 with a message in err. */
int simskills_add_dir(struct sim *sim, const char *dir, int zip, char *err, size_t errlen);
/* Validate agent.skills of a create body and fill in version "latest" where
 * absent. Returns NULL when fine, else a static message. */
const char *simskills_agent_check(cJSON *body);
void simskills_release(struct sim *sim);

/* ---- webhook.c ---- */
/* Queue the webhook event type (e.g. "session.requires_action") for session s
 * when a webhook endpoint is set (POST /_sim/webhooks); never blocks. */
void simwebhook_session(struct sim *sim, struct sim_session *s, const char *type);
cJSON *simwebhook_report(struct sim *sim);
/* The bytes of a "whsec_BASE64" key: their count, or -1 when it is not one
 * or has more than max. */
long simwebhook_key_decode(const char *whsec, unsigned char *out, size_t max);
/* "v1,BASE64" of HMAC-SHA256(key, "ID.TS.BODY") (Standard Webhooks), into
 * out; -1 when out is too small. */
int simwebhook_sign(const unsigned char *key, size_t keylen, const char *id, const char *ts,
                    const char *body, char *out, size_t outlen);
/* Stop the sender (after the server stopped; without sim->mu). */
void simwebhook_stop(struct sim *sim);

/* ---- faults.c ---- */
uint64_t simfaults_next(struct sim *sim);
double simfaults_unit(struct sim *sim);
int simfaults_parse_json(struct sim_faults *f, const cJSON *j, const char **bad);
cJSON *simfaults_json(const struct sim_faults *f, uint64_t seed);
struct sim_req;
struct sim_resp;
/* Route-specific one-shot faults of a /v1 request (fail-ack,
 * heartbeat-412-stopped); takes sim->mu. 1 when it made the response. */
int simfaults_route(struct sim_req *rq, struct sim_resp *rs);

/* ---- server.c ---- */
struct sim_server;
struct sim_server *simserver_start(struct sim *sim, int *port_out, char *err, size_t errlen);
void simserver_stop(struct sim_server *srv);

/* ---- report.c ---- */
cJSON *simreport_json(struct sim *sim);
/* Count a request on route index route (name: "METHOD /pattern", or "other"). */
void simreport_count(struct sim *sim, int route, const char *name, int status);
/* One request-log line; " workspace=<id>" ends it when the request carried
 * an anthropic-workspace-id header (NULL: none). */
void simreport_log_request(struct sim *sim, const char *method, const char *path, int status,
                           const char *cred_kind, int64_t dur_us, const char *workspace);
void simreport_mismatch(struct sim *sim, struct sim_session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- events.c ---- */
/* The session of a /v1/sessions/{id}/... route (param 0) that the caller's
 * credential may see; NULL after a 404 (or the credential's refusal). */
struct sim_session *simevents_session(struct sim_req *rq, struct sim_resp *rs);

/* ---- work.c ---- */
void simwork_tick(struct sim *sim); /* lease expiry */
void simwork_session_ended(struct sim *sim, struct sim_session *s);
/* A heartbeat's 412 for w (sim->mu held): the error envelope with msg and
 * details.current_state as the item is now. */
void simwork_reply_412(struct sim_req *rq, struct sim_resp *rs, const struct sim_work *w,
                       const char *msg);

/* ---- route handlers ----
 * Called by the router (server.c) only, with sim->mu held; they answer
 * through the helpers of reply.h (struct sim_req and struct sim_resp). */
struct sim_req;
struct sim_resp;
struct sim_stream; /* an SSE reader (events.c) */

typedef void sim_handler_fn(struct sim_req *rq, struct sim_resp *rs);

sim_handler_fn simh_env_create, simh_env_list, simh_env_get, simh_env_update, simh_env_archive,
    simh_env_delete;
sim_handler_fn simh_agent_create, simh_agent_list, simh_agent_get;
sim_handler_fn simh_session_create, simh_session_list, simh_session_get, simh_session_update;
sim_handler_fn simh_session_archive, simh_session_delete;
sim_handler_fn simh_events_list, simh_events_send, simh_events_stream;
/* events.c: the list and stream of an event list (a child thread's, or th NULL: the session's) */
void simevents_list_of(struct sim_req *rq, struct sim_resp *rs, struct sim_event *const *evs,
                       size_t nevents);
void simevents_stream_of(struct sim_req *rq, struct sim_resp *rs, struct sim_session *s,
                         struct sim_thread *th);
sim_handler_fn simh_thread_list, simh_thread_get, simh_thread_archive, simh_thread_events_list,
    simh_thread_events_stream;
sim_handler_fn simh_work_poll, simh_work_stats, simh_work_list, simh_work_get, simh_work_update;
sim_handler_fn simh_work_ack, simh_work_heartbeat, simh_work_stop;
sim_handler_fn simh_skill_version_get, simh_skill_versions_list, simh_skill_content;
sim_handler_fn simh_sim_skills_add, simh_sim_skills_list;
sim_handler_fn simh_sim_report, simh_sim_report_session, simh_sim_faults_get, simh_sim_faults_set,
    simh_sim_env_key, simh_sim_healthcheck, simh_sim_env_key_add, simh_sim_env_key_revoke,
    simh_sim_webhooks_set;

#endif
