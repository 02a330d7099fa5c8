/*
 * http — the API client over libcurl.
 *
 * Caller's contract:
 *  1. Fill struct omni_client_opts (zeroes mean defaults) and call
 *     omni_client_new(). The credential string is copied and wiped on free.
 *  2. Issue requests with omni_client_do() (JSON) or omni_client_stream()
 *     (SSE and other streamed bodies). A client is NOT thread-safe: give each
 *     thread its own (omni_client_dup() copies the options).
 *  3. omni_response_release() every response passed to omni_client_do(),
 *     whatever it returned. omni_client_free() at the end.
 *
 * Headers (protocol.md §2.2): anthropic-version 2023-06-01; anthropic-beta
 * managed-agents-2026-04-01 unless the request names another (or "" for none);
 * content-type only with a body; the credential as x-api-key (OMNI_AUTH_API_KEY)
 * or Authorization: Bearer (OMNI_AUTH_BEARER), never both; anthropic-workspace-id
 * on every request when the options name a workspace.
 *
 * Retries (protocol.md §4.4): connection errors and timeouts, 408, 409, 429 and
 * >= 500 are retried up to max_retries times (default 2) unless the response
 * says x-should-retry: false; x-should-retry: true forces a retry. The delay is
 * retry-after-ms / retry-after when 0 < delay <= 60 s, else
 * min(0.5 s * 2^n, 8 s) times a random factor in (0.75, 1].
 *
 * Every request has a total timeout (default 600 s) and a connect timeout
 * (default 10 s); streams have an idle timeout instead of a total one.
 * Response bodies are capped (default 16 MiB): a larger one fails with
 * OMNI_E_TOOBIG. TLS peers are always verified; ca_file adds a private CA.
 */
#ifndef OMNI_HTTP_H
#define OMNI_HTTP_H

#include "buf.h"
#include "err.h"

#include <stddef.h>

#define OMNI_DEFAULT_BASE_URL "https://api.anthropic.com"
#define OMNI_API_VERSION "2023-06-01"
#define OMNI_BETA_MANAGED_AGENTS "managed-agents-2026-04-01"
#define OMNI_DEFAULT_TIMEOUT_MS 600000L
#define OMNI_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define OMNI_DEFAULT_STREAM_IDLE_MS 90000L
#define OMNI_DEFAULT_MAX_RETRIES 2
#define OMNI_DEFAULT_MAX_RESPONSE (16u * 1024 * 1024)
#define OMNI_MAX_SERVER_RETRY_DELAY_MS 60000L
#define OMNI_WORKSPACE_ENV "ANTHROPIC_WORKSPACE_ID"
#define OMNI_WORKSPACE_ID_MAX 127

enum omni_auth {
    OMNI_AUTH_NONE = 0,
    OMNI_AUTH_API_KEY, /* organisation key: x-api-key */
    OMNI_AUTH_BEARER,  /* environment key or sessions token: Authorization: Bearer */
};

struct omni_client_opts {
    const char *base_url; /* NULL: OMNI_DEFAULT_BASE_URL */
    enum omni_auth auth;
    const char *credential;   /* copied; never logged */
    long timeout_ms;          /* 0: OMNI_DEFAULT_TIMEOUT_MS */
    long connect_timeout_ms;  /* 0: OMNI_DEFAULT_CONNECT_TIMEOUT_MS */
    int max_retries;          /* -1: none; 0: OMNI_DEFAULT_MAX_RETRIES */
    const char *ca_file;      /* extra CA bundle for private CAs */
    const char *user_agent;   /* NULL: "omnirun/<version>" */
    size_t max_response;      /* 0: OMNI_DEFAULT_MAX_RESPONSE */
    int debug;                /* trace requests to stderr, credentials redacted */
    volatile int *abort;      /* default for requests without rq->abort (may be NULL) */
    const char *unix_socket;  /* connect through this AF_UNIX socket (e.g. a relay out of
                               * a sandbox); the URL's scheme and host still drive HTTP,
                               * TLS SNI and certificate checks. NULL: plain TCP */
    const char *workspace_id; /* anthropic-workspace-id on every request (copied; must
                               * pass omni_workspace_id_valid); NULL or "": none */
};

/* Per-request flags. */
#define OMNI_RQ_NO_RETRY_409 0x1 /* a 409 is final (stop of a stopped item) */

struct omni_request {
    const char *method;         /* "GET", "POST", "DELETE" */
    const char *path;           /* "/v1/...", query included, already escaped */
    const char *body;           /* JSON text or NULL (then no content-type) */
    const char *beta;           /* NULL: managed-agents beta; "": none */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; an
                                 * Accept line replaces the default Accept */
    long timeout_ms;            /* 0: client default; streams: idle timeout */
    int max_retries;            /* 0: client default; -1: no retries */
    unsigned flags;
    volatile int *abort; /* non-zero aborts the transfer and retry waits */
};

struct omni_response {
    long status;
    struct buf body;
    char request_id[80];
    char content_type[80];
    int attempts;
};

#define OMNI_RESPONSE_INIT                                                                         \
    {                                                                                              \
        0, BUF_INIT, "", "", 0                                                                     \
    }

struct omni_client;

struct omni_client *omni_client_new(const struct omni_client_opts *o, struct omni_err *err);
struct omni_client *omni_client_dup(const struct omni_client *c, struct omni_err *err);
void omni_client_free(struct omni_client *c);
const char *omni_client_base_url(const struct omni_client *c);
/* Replace the credential (e.g. switch to a sessions token). */
int omni_client_set_credential(struct omni_client *c, enum omni_auth auth, const char *cred);

/*
 * Perform a request with retries. Returns 0 on a 2xx status. On a non-2xx
 * status returns -1 with err->kind OMNI_E_HTTP, err->status and the parsed
 * error envelope; rs still holds the last response. Network failures give
 * OMNI_E_NET / OMNI_E_TIMEOUT, an abort OMNI_E_ABORTED.
 */
int omni_client_do(struct omni_client *c, const struct omni_request *rq, struct omni_response *rs,
                   struct omni_err *err);
void omni_response_release(struct omni_response *rs);

/*
 * Stream a response body. `cb` receives each chunk of a 2xx body and returns
 * non-zero to stop (the call then returns 0). A non-2xx answer is read whole
 * (capped) and reported as with omni_client_do(). No retries: the caller owns
 * the reconnect policy. rq->timeout_ms is the idle timeout (no byte for that
 * long ends the stream with OMNI_E_TIMEOUT); 0 means OMNI_DEFAULT_STREAM_IDLE_MS.
 * `on_open`, when set, is called once with the status after headers arrive.
 */
typedef int (*omni_stream_cb)(const char *data, size_t len, void *ud);
int omni_client_stream(struct omni_client *c, const struct omni_request *rq, omni_stream_cb cb,
                       void *ud, struct omni_err *err);

/* Parse an API error envelope into err (status and request id already set). */
void omni_parse_error_body(const char *body, size_t len, struct omni_err *err);

/* Query-string building: appends "?k=v" or "&k=v" with v percent-encoded. */
int omni_query_add(struct buf *url, const char *key, const char *value);
/* Append a percent-encoded path segment (ids are validated by callers). */
int omni_path_add(struct buf *url, const char *segment);

/* A workspace id as the header may carry it: 1..OMNI_WORKSPACE_ID_MAX bytes of
 * [A-Za-z0-9_-]. */
/* 1 when s is 1..max_len characters of [A-Za-z0-9_-] (ids, workspace ids). */
int omni_name_valid(const char *s, size_t max_len);
int omni_workspace_id_valid(const char *id);
/*
 * The workspace for a program: flag, else $ANTHROPIC_WORKSPACE_ID (if set and
 * not empty), else cfg_value (a config's workspace_id, already checked), else
 * none (*out NULL). A malformed flag or variable is an OMNI_E_USAGE error
 * naming where it came from (never more than 40 bytes of the value).
 */
int omni_workspace_pick(const char *flag, const char *cfg_value, const char **out,
                        struct omni_err *err);

/* The retry delay for attempt n (0-based), used by other loops too. */
long omni_backoff_ms(int n, long base_ms, long cap_ms);
/* Uniform random double in [0, 1). Thread-safe. */
double omni_random(void);

#endif
