/*
 * err — error values returned by library calls.
 *
 * Library functions return 0 / -1 (or a pointer / NULL) and fill a caller-owned
 * struct omni_err. The message is one line, lower case, no trailing period,
 * saying what failed first ("GET /v1/sessions/x: 404 not_found_error: ...").
 * It never contains a credential.
 */
#ifndef OMNI_ERR_H
#define OMNI_ERR_H

enum omni_err_kind {
    OMNI_E_NONE = 0,
    OMNI_E_USAGE,   /* bad argument or input given by the caller/user */
    OMNI_E_CONFIG,  /* config or key file problem */
    OMNI_E_IO,      /* local file system / OS error */
    OMNI_E_NET,     /* connection failed, reset, DNS, TLS */
    OMNI_E_TIMEOUT, /* a request or wait timed out */
    OMNI_E_HTTP,    /* the API answered with a non-2xx status */
    OMNI_E_PARSE,   /* an API response or frame was malformed */
    OMNI_E_TOOBIG,  /* a response or frame exceeded its cap */
    OMNI_E_ABORTED, /* the caller asked to stop */
};

struct omni_err {
    enum omni_err_kind kind;
    int status;          /* HTTP status for OMNI_E_HTTP, else 0 */
    char type[48];       /* error.type from the envelope ("" if none) */
    char code[64];       /* error.details.error_code ("" if none) */
    char request_id[80]; /* request-id header or body field ("" if none) */
    int should_retry;    /* x-should-retry: 1 true, 0 false, -1 absent */
    long retry_after_ms; /* server-requested delay, -1 if none */
    char msg[512];
};

#define OMNI_ERR_INIT                                                                              \
    {                                                                                              \
        OMNI_E_NONE, 0, "", "", "", -1, -1, ""                                                     \
    }

void omni_err_clear(struct omni_err *e);
/* Set kind and message (printf-style). Returns -1 so callers can `return omni_err_set(...)`. */
int omni_err_set(struct omni_err *e, enum omni_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with "<prefix>: ". Returns -1. */
int omni_err_prefix(struct omni_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Helper-level classification (protocol.md §4.5): a fatal error is an HTTP 4xx
 * other than 408, 409 and 429. Network errors, timeouts, 5xx, parse errors of
 * a response and in-stream SSE errors are transient.
 */
int omni_err_is_fatal(const struct omni_err *e);
/* Transient: worth retrying later (the complement of fatal for API errors). */
int omni_err_is_transient(const struct omni_err *e);
const char *omni_err_kind_name(enum omni_err_kind kind);

#endif
