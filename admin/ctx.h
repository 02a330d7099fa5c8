/*
 * ctx — the context every omnictl command runs in.
 *
 * Commands print through it (ctx_out/ctx_error/ctl_table), never to stdout
 * directly, so one-shot mode, the shell and tests behave the same. The
 * configuration and the API client are made on first use:
 *
 *  1. main() fills the global options (profile, base_url, timeout, verbose,
 *     output) and calls ctx_init(); the shell reuses the same context.
 *  2. Commands call ctx_api() for the org-key client (cached), or
 *     ctx_env_client() for a one-off environment-key client that the caller
 *     frees at once (used for work listings only).
 *  3. ctx_release() frees the client and config; keys are wiped by the
 *     HTTP client on free and never kept here.
 */
#ifndef OMNICTL_CTX_H
#define OMNICTL_CTX_H

#include "api.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "profile.h"

#include <stdio.h>

#define CTL_DEFAULT_TIMEOUT_MS 30000L
#define CTL_IDS_MAX 512 /* ids remembered for shell completion */

/* wide: the table with more columns (a command without them prints its table). */
enum ctl_output { CTL_OUT_TABLE = 0, CTL_OUT_JSON, CTL_OUT_PROM, CTL_OUT_NAGIOS, CTL_OUT_WIDE };

struct ctl_ctx {
    FILE *out, *err, *in;
    const char *prog;       /* "omnictl" */
    enum ctl_output output; /* for the running command */
    enum ctl_output default_output;
    int output_given; /* -o was given globally */
    int color;        /* ANSI colour on out */
    int in_shell;
    int exec_started;    /* dispatch reached the command's exec */
    volatile int *abort; /* set by SIGINT during long waits; may be NULL */
    volatile int cancel; /* every client's abort flag: a command's deadline sets it */
    int nagios_usage;    /* -o nagios: usage errors are one UNKNOWN line on out */
    int save_ids;        /* ctx_release keeps the ids seen in the cache (main sets it) */

    /* global options (NULL/0: not given) */
    const char *profile;
    const char *base_url;
    const char *workspace; /* --workspace */
    long timeout_ms;
    int verbose;

    /* made on first use */
    struct omni_profile prof; /* valid when prof_loaded */
    int prof_loaded;
    struct omni_client *api;

    /* ids seen in output, for completion (ring) */
    char *ids[CTL_IDS_MAX];
    size_t nids, ids_next;
};

void ctx_init(struct ctl_ctx *ctx);
void ctx_release(struct ctl_ctx *ctx);

void ctx_out(struct ctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line on the error stream: "omnictl: <msg>". */
void ctx_error(struct ctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print err as one line and return the exit code for it. */
int ctx_fail(struct ctl_ctx *ctx, const struct omni_err *err);
/* Print a usage error line and return CTL_EXIT_USAGE. */
int ctx_usage_error(struct ctl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The profile (lib/profile.h: loaded once; missing config file = empty). NULL with err. */
const struct omni_profile *ctx_profile(struct ctl_ctx *ctx, struct omni_err *err);
/* A profile value or NULL (config errors count as unset; ctx_api reports them). */
const char *ctx_config_get(struct ctl_ctx *ctx, const char *key);
/* The org-key client (made once). NULL with err (OMNI_E_CONFIG for key problems). */
struct omni_client *ctx_api(struct ctl_ctx *ctx, struct omni_err *err);
/* A new client using env_id's key file from the config. Free it with
 * omni_client_free() right after use. */
struct omni_client *ctx_env_client(struct ctl_ctx *ctx, const char *env_id, struct omni_err *err);
/*
 * Resolve the environment for a command: `given` (--env) if set, else the
 * profile's `environment`. Returns NULL with a usage error when neither is
 * set or the id is malformed.
 */
const char *ctx_env(struct ctl_ctx *ctx, const char *given, struct omni_err *err);

/* Ask "prompt [y/N] " when ctx->in is a terminal; 1 yes, 0 no. Non-terminal: 1. */
int ctx_confirm(struct ctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remember an id for completion (ignored unless it looks like one); the ids
 * a run printed are kept in the cache file at ctx_release (bash completion). */
void ctx_note_id(struct ctl_ctx *ctx, const char *s);
/* The id cache: $XDG_CACHE_HOME/omni/ids, else ~/.cache/omni/ids. -1: none. */
int ctx_ids_path(char *out, size_t n);

/* Add key: an RFC 3339 UTC time with microseconds, or null for 0. */
void ctx_json_time(cJSON *o, const char *key, int64_t us);

/* Print a cJSON value as one line (frees nothing). */
void ctx_json(struct ctl_ctx *ctx, const cJSON *j);

/* ANSI colours (empty strings when ctx->color is off). */
const char *ctx_col(const struct ctl_ctx *ctx, const char *code);
#define CTL_RED "31"
#define CTL_YELLOW "33"
#define CTL_GREEN "32"
#define CTL_BOLD "1"

/* Aligned text tables. ---------------------------------------------------- */
#define CTL_TABLE_MAX_COLS 16

struct ctl_table {
    size_t ncols;
    char **cells; /* row-major, header first */
    const char **row_color;
    size_t nrows, alloc;
};

void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *headers);
/* Add a row of ncols strings (copied; NULL prints "-"); color may be NULL. */
void ctl_table_row(struct ctl_table *t, const char *const *cells, const char *color);
void ctl_table_print(struct ctl_ctx *ctx, const struct ctl_table *t);
void ctl_table_release(struct ctl_table *t);

/* Formatting helpers. */
/* RFC 3339 seconds with the zone: UTC ("Z", as the console and worker logs)
 * unless ctl_time_local(1) (--local-time): local time with its offset. "-" for 0. */
char *ctl_time(int64_t us, char *out, size_t n);
void ctl_time_local(int on);
char *ctl_age(int64_t us, char *out, size_t n); /* "3m12s" since us, "-" for 0 */

#endif
