/*
 * net — omni-console's network side: the UI thread never calls the API.
 *
 * Three threads, each with its own HTTP client (a client is not thread-safe):
 *  - poll:   refreshes (environments + stats, sessions, work, event lists),
 *  - action: what the operator asked for (stop, interrupt, confirm, create,
 *            agent list), so an action never waits behind a slow refresh,
 *  - stream: the detail view's live event stream (history first, then live,
 *            reconnecting with backoff 500 ms .. 10 s).
 * Finished jobs come back as struct net_result on one queue; a byte is
 * written to net_wake_fd() each time, so the UI can poll() on it with stdin.
 *
 * Caller's contract:
 *  1. net_start() with filled net_opts (the key is copied and wiped on
 *     net_stop()); the profile is shared read-only by the threads and must
 *     stay valid until net_stop().
 *  2. net_submit() jobs (copied); net_stream_follow() picks the session whose
 *     stream is followed (NULL: none).
 *  3. Drain with net_take() until NULL whenever the wake fd is readable;
 *     net_result_free() each result.
 *  4. net_stop() aborts transfers, joins the threads and frees everything.
 *
 * net_exec_*() run one job synchronously on the calling thread (--once mode
 * and the threads themselves use them).
 *
 * The environment key is read from the profile's env_key_file.<env_id> only
 * for work listings (GET .../work needs it), never for anything else.
 */
#ifndef CONSOLE_NET_H
#define CONSOLE_NET_H

#include "api.h"
#include "profile.h"
#include "model.h"

#include <stdint.h>

#define NET_TEXT_MAX 2048         /* first message of a new session */
#define NET_STREAM_IDLE_MS 60000L /* no byte (not even a ping) for that long: reconnect */
#define NET_STREAM_BACKOFF_MIN_MS 500
#define NET_STREAM_BACKOFF_MAX_MS 10000
#define NET_SESSIONS_MAX 10000 /* sessions fetched per refresh */
#define NET_RESULTS_MAX 20000  /* queued results before stream events are dropped */

enum net_kind {
    NET_ENVS,         /* environments + stats (+ work summary, with a key file) of each */
    NET_SESSIONS,     /* sessions of env_id */
    NET_WORK,         /* work items of env_id (environment key) */
    NET_EVENTS,       /* event list of session_id (approval flags, last event) */
    NET_AGENTS,       /* agents (for the new-session picker) */
    NET_STOP,         /* work_id, or the live work item of session_id; force */
    NET_INTERRUPT,    /* session_id */
    NET_CONFIRM,      /* session_id, tool_use_id, allow */
    NET_CREATE,       /* env_id, agent_id, text */
    NET_EVENT,        /* session_id, event_id: that event in full (text) */
    NET_STREAM_EVENT, /* result only: one event of the followed stream */
    NET_STREAM_STATE, /* result only: stream opened (ok=1) or ended (ok=0, err) */
    NET_WORKERS,      /* env_id: its workers' /metrics (worker_metrics.<env_id>) */
};

#define NET_WORKER_TIMEOUT_MS 1500 /* a worker's /metrics, whole transfer */
#define NET_WORKER_CONNECT_MS 1000
#define NET_WORKER_BODY_MAX (1u << 20)

struct net_job {
    enum net_kind kind;
    char env_id[OMNI_ID_MAX];
    char session_id[OMNI_ID_MAX];
    char work_id[OMNI_ID_MAX];
    char tool_use_id[OMNI_ID_MAX];
    char agent_id[OMNI_ID_MAX];
    char event_id[OMNI_ID_MAX];
    int force, allow;
    char text[NET_TEXT_MAX];
    unsigned tag; /* the caller's (refresh generation) */
};

struct net_env_stats {
    int ok;
    struct omni_stats st;
    char err[CON_MSG_MAX];
    /* With env_key_file.<env>: its work list, summarised (ws.known = 0
     * without the key file or when the list failed: work_err says why). */
    struct omni_work_summary ws;
    char work_err[CON_MSG_MAX];
};

struct net_result {
    struct net_job job;
    int ok;
    struct omni_err err;
    int64_t at_us;         /* wall clock when the job finished */
    int64_t cpu_us;        /* CPU the job took on its thread (fetch + parse) */
    char msg[CON_MSG_MAX]; /* outcome of an action */
    struct omni_environment_list envs;
    struct net_env_stats *stats; /* envs.n entries */
    struct omni_session_list sessions;
    struct omni_work_list work;
    struct omni_event_list events;
    struct omni_agent_list agents;
    cJSON *event;               /* NET_STREAM_EVENT */
    char *text;                 /* NET_EVENT: input, output and raw JSON (malloc'd, capped) */
    struct con_worker *workers; /* NET_WORKERS: nworkers (malloc'd) */
    int nworkers;
    struct net_result *next;
};

struct net_opts {
    const struct omni_profile *prof; /* base URL, timeouts, CA and key files (lib/profile.h) */
    const char *org_key;             /* copied, wiped on stop */
    int64_t stuck_ms;                /* work items stuck after (thresholds) */
    int debug;
};

/* One synchronous executor (an org-key client plus the options). */
struct net_exec;
struct net_exec *net_exec_new(const struct net_opts *o, struct omni_err *err);
void net_exec_free(struct net_exec *x);
/* Run a job; res is zeroed first and owned by the caller (net_result_release). */
void net_exec_run(struct net_exec *x, const struct net_job *job, struct net_result *res);
void net_result_release(struct net_result *r);

/* The configured environment key file for env_id, or NULL. */
const char *net_env_key_file(const struct net_opts *o, const char *env_id);
/* The profile's worker_metrics.<env_id> (comma-separated URLs), or NULL. */
const char *net_worker_metrics(const struct net_opts *o, const char *env_id);

/* Whether jobs of this kind are part of a refresh (the poll thread runs
 * them; the rest run on the action thread). */
int net_kind_is_refresh(enum net_kind kind);

struct net;
struct net *net_start(const struct net_opts *o, struct omni_err *err);
int net_wake_fd(const struct net *n);
void net_submit(struct net *n, const struct net_job *job);
void net_stream_follow(struct net *n, const char *session_id);
struct net_result *net_take(struct net *n);
void net_result_free(struct net_result *r);
/* Drain the wake pipe (call before net_take loops). */
void net_wake_drain(struct net *n);
void net_stop(struct net *n);

#endif
