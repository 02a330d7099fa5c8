/*
 * api — typed calls for the Managed Agents routes (protocol.md §5–§8).
 *
 * Every call takes a client (lib/http.h) already set up with the right
 * credential, fills a caller-owned result and returns 0, or -1 with err set
 * (HTTP errors keep their status, error.type, error_code and request id).
 * Responses are validated: a field of the wrong type or an over-long id is an
 * OMNI_E_PARSE error naming the field, never a crash.
 *
 * Ownership: fixed-size fields need no freeing; a struct with pointer members
 * has a matching _release(). Lists own their items (release the list).
 * cJSON appears only for event objects and free-form JSON (tool inputs,
 * metadata), which the callers need whole.
 */
#ifndef OMNI_API_H
#define OMNI_API_H

#include "err.h"
#include "http.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define OMNI_ID_MAX 128
#define OMNI_NAME_MAX 256
#define OMNI_LIST_MAX_ITEMS 100000 /* cap for *_all() listings */
#define OMNI_EVENTS_PAGE 1000
#define OMNI_POLL_BLOCK_MS 999

/* Validate an id given by a user: [A-Za-z0-9_-], 1..OMNI_ID_MAX-1 chars. */
int omni_id_valid(const char *id);

/* ---- environments ---------------------------------------------------- */

struct omni_environment {
    char id[OMNI_ID_MAX];
    char name[OMNI_NAME_MAX];
    char description[OMNI_NAME_MAX];
    char config_type[32]; /* "self_hosted", "cloud" */
    int64_t created_at;   /* us since epoch, 0 if absent */
    int64_t archived_at;  /* 0 if not archived */
};

struct omni_environment_list {
    struct omni_environment *items;
    size_t n;
    char next_page[OMNI_NAME_MAX];
};

int omni_env_list(struct omni_client *c, int include_archived, struct omni_environment_list *out,
                  struct omni_err *err);
int omni_env_get(struct omni_client *c, const char *env_id, struct omni_environment *out,
                 struct omni_err *err);
int omni_env_create(struct omni_client *c, const char *name, const char *description,
                    struct omni_environment *out, struct omni_err *err);
int omni_env_archive(struct omni_client *c, const char *env_id, struct omni_environment *out,
                     struct omni_err *err);
void omni_environment_list_release(struct omni_environment_list *l);

/* ---- work ------------------------------------------------------------- */

struct omni_work {
    char id[OMNI_ID_MAX];
    char environment_id[OMNI_ID_MAX];
    char data_type[32];        /* "session", "healthcheck", ... */
    char data_id[OMNI_ID_MAX]; /* session id for session work */
    char state[16];            /* queued starting active stopping stopped */
    int64_t created_at, acknowledged_at, started_at, latest_heartbeat_at, stop_requested_at,
        stopped_at; /* us; 0 when null */
    char *secret;   /* poll only; malloc'd; wiped by release */
    char *raw;      /* the object as received (JSON text); malloc'd */
};

struct omni_work_list {
    struct omni_work *items;
    size_t n;
    char next_page[OMNI_NAME_MAX];
};

struct omni_heartbeat {
    char last_heartbeat[64]; /* echo this exactly next time */
    int lease_extended;
    char state[16];
    long ttl_seconds;  /* 0 when absent */
    int current_state; /* 412 only: 1 when the error carried details.current_state (the
                        * fields above then describe the lease as the server holds it;
                        * each one that is missing or malformed is left empty/0) */
};

struct omni_stats {
    long depth;
    long pending;
    int64_t oldest_queued_at; /* us; 0 when null */
    long workers_polling;     /* -1 when null */
};

/*
 * Poll (environment key). block_ms 0 = non-blocking, else 1..999; reclaim_ms
 * 0 = server default. *got is 1 with *out filled, or 0 when the queue is empty
 * (200 null, empty 200, 204 or an object without id — protocol.md §6.3).
 */
int omni_work_poll(struct omni_client *c, const char *env_id, int block_ms, long reclaim_ms,
                   const char *worker_id, volatile int *abort, struct omni_work *out, int *got,
                   struct omni_err *err);
int omni_work_ack(struct omni_client *c, const char *env_id, const char *work_id,
                  struct omni_err *err);
/* One ack request: no retries (the caller owns the policy), bounded by
 * timeout_ms (0: the client's), and a 409 (the item is no longer queued) is
 * final at once. */
int omni_work_ack_once(struct omni_client *c, const char *env_id, const char *work_id,
                       long timeout_ms, struct omni_err *err);
/*
 * Heartbeat. expected is "NO_HEARTBEAT" or the previous last_heartbeat;
 * desired_ttl 0 = not sent; timeout_ms bounds the request (no retries: the
 * heartbeat loop has its own policy). On 412 returns -1 with err->status 412
 * and, when the body carries details.current_state, fills *out from it.
 */
int omni_work_heartbeat(struct omni_client *c, const char *env_id, const char *work_id,
                        const char *expected, long desired_ttl, long timeout_ms,
                        struct omni_heartbeat *out, struct omni_err *err);
/*
 * Stop (graceful or force). 204 or 200 both succeed. *already_stopped (may be
 * NULL) is set when the server answered 409, which is then also a success.
 */
int omni_work_stop(struct omni_client *c, const char *env_id, const char *work_id, int force,
                   int *already_stopped, struct omni_err *err);
/* List all pages (environment key only). */
int omni_work_list(struct omni_client *c, const char *env_id, struct omni_work_list *out,
                   struct omni_err *err);
/* Retrieve (org key only). */
int omni_work_get(struct omni_client *c, const char *env_id, const char *work_id,
                  struct omni_work *out, struct omni_err *err);
int omni_work_stats(struct omni_client *c, const char *env_id, struct omni_stats *out,
                    struct omni_err *err);

/* Metadata limits of the API (protocol.md §6.9; omni-sim enforces the same). */
#define OMNI_METADATA_PAIRS 16
#define OMNI_METADATA_KEY_MAX 64
#define OMNI_METADATA_VALUE_MAX 512
/*
 * A metadata merge patch from "KEY=VALUE" words: KEY=VALUE sets (upserts),
 * "KEY=" deletes (null); a key given twice: the last word wins. Keys are 1 to
 * OMNI_METADATA_KEY_MAX bytes without '=' or control characters, values at
 * most OMNI_METADATA_VALUE_MAX bytes without control characters, at most
 * OMNI_METADATA_PAIRS keys. NULL with an OMNI_E_USAGE error naming the word.
 */
cJSON *omni_metadata_patch_parse(char *const *words, size_t n, struct omni_err *err);
/*
 * Update (org key): POST .../work/{work_id} with {"metadata": patch}, a merge
 * patch (string values set, null deletes, other keys kept). Fills *out from
 * the work object returned and, when metadata is not NULL, *metadata with its
 * resulting metadata object (an empty object when absent; cJSON_Delete it).
 */
int omni_work_update(struct omni_client *c, const char *env_id, const char *work_id,
                     const cJSON *patch, struct omni_work *out, cJSON **metadata,
                     struct omni_err *err);
/* Parse a work object (as from poll, or the stdin of an --on-work script). */
int omni_work_parse(const char *json, size_t len, struct omni_work *out, struct omni_err *err);
void omni_work_release(struct omni_work *w);
void omni_work_list_release(struct omni_work_list *l);

/* ---- agents ------------------------------------------------------------ */

struct omni_agent {
    char id[OMNI_ID_MAX];
    char name[OMNI_NAME_MAX];
    char model[OMNI_NAME_MAX];
    long version;
    int64_t created_at;
};

struct omni_agent_list {
    struct omni_agent *items;
    size_t n;
};

int omni_agents_list(struct omni_client *c, struct omni_agent_list *out, struct omni_err *err);
void omni_agent_list_release(struct omni_agent_list *l);

/* ---- sessions ---------------------------------------------------------- */

struct omni_session {
    char id[OMNI_ID_MAX];
    char status[16]; /* idle running rescheduling terminated */
    char environment_id[OMNI_ID_MAX];
    char agent_id[OMNI_ID_MAX];
    char title[OMNI_NAME_MAX];
    int64_t created_at, updated_at, archived_at;
    cJSON *json; /* the whole object (agent.skills, resources, ...) */
};

struct omni_session_list {
    struct omni_session *items;
    size_t n;
    char next_page[OMNI_NAME_MAX];
};

struct omni_session_create {
    const char *agent_id;
    const char *environment_id;
    const char *title;           /* may be NULL */
    const char *const *metadata; /* "k=v" strings, NULL-terminated; may be NULL */
    const char *message;         /* first user.message (initial_events); may be NULL */
};

struct omni_session_filter {
    const char *environment_id; /* filtered client-side when the API has no filter */
    const char *status;         /* idle|running|rescheduling|terminated or NULL */
    const char *agent_id;
    int include_archived;
    long limit;      /* max items to return overall; 0 = 100 */
    int fields_only; /* leave each session's json NULL (cheaper lists) */
};

int omni_session_create(struct omni_client *c, const struct omni_session_create *rq,
                        struct omni_session *out, struct omni_err *err);
int omni_session_get(struct omni_client *c, const char *session_id, struct omni_session *out,
                     struct omni_err *err);
int omni_session_list(struct omni_client *c, const struct omni_session_filter *f,
                      struct omni_session_list *out, struct omni_err *err);
int omni_session_archive(struct omni_client *c, const char *session_id, struct omni_err *err);
void omni_session_release(struct omni_session *s);
void omni_session_list_release(struct omni_session_list *l);

/* ---- events ------------------------------------------------------------- */

/* An event: the parsed object plus its envelope fields (pointers into obj). */
struct omni_event {
    cJSON *obj;
    const char *type;     /* never NULL ("" if absent) */
    const char *id;       /* never NULL */
    int64_t processed_at; /* us; 0 when null */
};

struct omni_event_list {
    struct omni_event *items;
    size_t n;
};

/* Build an omni_event from a parsed object (takes ownership of obj). */
int omni_event_from_json(cJSON *obj, struct omni_event *ev, struct omni_err *err);
void omni_event_release(struct omni_event *ev);
/* List all history, ascending, following pages (limit 1000 per page). */
int omni_events_list(struct omni_client *c, const char *session_id, struct omni_event_list *out,
                     struct omni_err *err);
void omni_event_list_release(struct omni_event_list *l);
/* Send one or more events: `events` is a JSON array (ownership stays with caller). */
int omni_events_send(struct omni_client *c, const char *session_id, const cJSON *events,
                     struct omni_err *err);

/* Convenience senders. */
int omni_send_user_message(struct omni_client *c, const char *session_id, const char *text,
                           struct omni_err *err);
int omni_send_interrupt(struct omni_client *c, const char *session_id, struct omni_err *err);
int omni_send_confirmation(struct omni_client *c, const char *session_id, const char *tool_use_id,
                           int allow, const char *deny_message, struct omni_err *err);

/*
 * Open the event stream and deliver each event (ping frames and frames
 * without an event name skipped). on_event returns 0 to continue, non-zero
 * to stop (the call then returns 0). The event is released after the
 * callback unless the callback set ev->obj = NULL (taking ownership).
 * An `error` frame ends the stream with a transient OMNI_E_NET error carrying
 * the envelope's type and message. A clean end of stream returns 0 with
 * *ended set (may be NULL). idle_ms: no byte for that long → OMNI_E_TIMEOUT.
 * on_open (may be NULL) is called once the stream is established (2xx).
 */
struct omni_stream_handler {
    int (*on_event)(struct omni_event *ev, void *ud);
    void (*on_open)(void *ud);
    void *ud;
    volatile int *abort;
    long idle_ms;
    size_t max_frame; /* 0: SSE_DEFAULT_MAX_FRAME */
};

int omni_events_stream(struct omni_client *c, const char *session_id,
                       const struct omni_stream_handler *h, int *ended, struct omni_err *err);

/* ---- shared helpers ---------------------------------------------------- */

/* cJSON_ParseWithLength, except that an escaped NUL inside a string becomes
 * the byte 0xFF (invalid UTF-8) instead of silently ending the string. */
cJSON *omni_json_parse(const char *text, size_t len);

/* Kinds of response body, for omni_api_parse_body(). */
enum omni_body_kind {
    OMNI_BODY_ENVIRONMENT,
    OMNI_BODY_WORK,
    OMNI_BODY_HEARTBEAT,
    OMNI_BODY_STATS,
    OMNI_BODY_AGENT,
    OMNI_BODY_SESSION,
    OMNI_BODY_EVENT,
    OMNI_BODY_LIST_PAGE, /* {"data":[...],"next_page":...} of events */
    OMNI_BODY_KIND_COUNT,
};

/*
 * Parse and validate a response body of the given kind exactly as the typed
 * calls do, then discard the result. Returns 0 or -1 with err. Used by the
 * fuzz targets and by tools that check captured responses.
 */
int omni_api_parse_body(enum omni_body_kind kind, const char *json, size_t len,
                        struct omni_err *err);

/* Parse an RFC 3339 string field; absent or null → 0; malformed → -1. */
int omni_json_time(const cJSON *obj, const char *key, int64_t *us, struct omni_err *err);
/* Copy a string field into a fixed buffer; absent/null → "" (or error when required). */
int omni_json_str(const cJSON *obj, const char *key, char *out, size_t outlen, int required,
                  struct omni_err *err);

#endif
