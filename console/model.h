/*
 * model — omni-console's data model: what the dashboard knows about the API.
 *
 * No curses and no network here: the network thread (net.c) fetches, the UI
 * thread hands each result to a con_model_apply_*() call, and the views read
 * the model. Every function that needs "now" takes it as an argument, so the
 * model is unit-testable with fixed clocks (tests/unit/test_console_model.c).
 *
 * Caller's contract:
 *  1. con_model_init() (thresholds defaulted), optionally set th and refresh_ms.
 *  2. Feed results: con_model_apply_envs(), _stats(), _sessions(), _work(),
 *     _session_events(); the detail view uses con_detail_*().
 *  3. Views read m->envs, and the filtered/sorted index of a table via
 *     con_table_view() (rebuilt lazily when data, filter or sort changed).
 *  4. con_model_release() frees everything.
 *
 * Times: wall clock in microseconds since the epoch (API timestamps), ages in
 * milliseconds. Strings copied from the API are sanitised (control characters
 * become spaces) so a hostile title cannot drive the terminal.
 */
#ifndef CONSOLE_MODEL_H
#define CONSOLE_MODEL_H

#include "api.h"
#include "health.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define CON_SPARK_SAMPLES 120 /* depth samples kept per environment */
#define CON_TITLE_MAX 128     /* session title kept (bytes) */
#define CON_MSG_MAX 256       /* error / outcome text */
#define CON_HELD_MAX 16       /* held tool calls remembered per session */
#define CON_HELD_INPUT 120    /* summarised input of a held call (bytes) */
#define CON_LINE_MAX 240      /* one summarised event line (bytes) */
#define CON_DETAIL_LINES 2000 /* event lines kept in the detail view */
#define CON_SEEN_IDS 4096     /* event ids remembered for de-duplication */
#define CON_FILTER_MAX 64
#define CON_ROWS_MAX 100000 /* rows kept per table */

/* ---- environments ------------------------------------------------------ */

#define CON_WORKERS_MAX 8 /* worker metrics URLs per environment */
#define CON_WORKER_URL_MAX 160

/* One worker's /metrics (the profile's worker_metrics.<env_id>). */
struct con_worker {
    char url[CON_WORKER_URL_MAX];
    int ok;                      /* the last fetch worked */
    long configured, busy, held; /* omni_worker_slots_*; -1 when absent */
    char err[96];                /* why the last fetch failed */
};

/* Parse a Prometheus text exposition into w's slot figures (unlabelled
 * omni_worker_slots_configured/busy/held). Returns how many were found. */
int con_worker_parse(const char *text, size_t len, struct con_worker *w);

struct con_env {
    char id[OMNI_ID_MAX];
    char name[OMNI_NAME_MAX];
    int have_stats;
    struct omni_stats stats;
    int64_t stats_at_us;   /* wall time of the last good stats */
    char err[CON_MSG_MAX]; /* last stats error, "" when fine */
    long spark[CON_SPARK_SAMPLES];
    int nspark;                  /* samples stored (<= CON_SPARK_SAMPLES) */
    int64_t spark_at_us;         /* when the newest sample slot began */
    int has_key_file;            /* env_key_file.<id> configured */
    struct omni_work_summary ws; /* its work list (known = 0: none) */
    char work_err[CON_MSG_MAX];  /* why the work list failed, "" when fine */
    enum omni_level level;
    char why[96];
    struct con_worker workers[CON_WORKERS_MAX]; /* nworkers 0: none configured */
    int nworkers;
    int64_t workers_at_us; /* when they were last fetched */
};

/* ---- sessions ---------------------------------------------------------- */

struct con_held {
    char id[OMNI_ID_MAX];       /* the agent.tool_use event id */
    char name[64];              /* tool name */
    char input[CON_HELD_INPUT]; /* summarised input */
};

/* Ask-gated tool calls with neither a confirmation nor a result yet, and
 * custom tool calls nobody has answered (left for their owner: a session
 * can wait on them for ever). */
struct con_approvals {
    struct con_held held[CON_HELD_MAX];
    int n;
    char custom[CON_HELD_MAX][OMNI_ID_MAX];
    int ncustom;
};

void con_approvals_clear(struct con_approvals *a);
/* Feed one event (any type) in stream/list order. */
void con_approvals_feed(struct con_approvals *a, const cJSON *ev);

struct con_session {
    char id[OMNI_ID_MAX];
    char status[16];
    char title[CON_TITLE_MAX];
    char agent_id[OMNI_ID_MAX];
    int64_t created_at, updated_at;
    /* From its event list (events_at_us == 0 until fetched). */
    int64_t events_at_us;      /* wall time of the fetch */
    int64_t events_updated_at; /* the session's updated_at when fetched */
    char last_event[48];
    int64_t last_event_at;
    int nheld;            /* held (ask-gated, unanswered) tool calls */
    struct con_held held; /* the first of them */
    int ncustom;          /* unanswered custom tool calls */
};

struct con_work {
    char id[OMNI_ID_MAX];
    char state[16];
    char session_id[OMNI_ID_MAX];
    char data_type[32];
    int64_t created_at, acknowledged_at, latest_heartbeat_at, stop_requested_at;
};

/* Stuck by lib's rule (omni_work_stuck) after stuck_ms, for a table row. */
int con_work_stuck(const struct con_work *w, int64_t now_us, int64_t stuck_ms);

/* ---- tables: rows plus a filtered, sorted index ------------------------- */

/* In the order of the columns on screen (< > step through them so). */
enum con_sess_col {
    CON_SC_STATUS,
    CON_SC_ID,
    CON_SC_AGE,
    CON_SC_WAIT,
    CON_SC_EVENT,
    CON_SC_TITLE,
    CON_SC_NCOLS
};
/* In the order of the columns on screen. */
enum con_work_col {
    CON_WC_STATE,
    CON_WC_ID,
    CON_WC_SESSION,
    CON_WC_AGE,
    CON_WC_HEARTBEAT,
    CON_WC_STUCK,
    CON_WC_NCOLS
};

struct con_table {
    void *rows; /* struct con_session[] or struct con_work[] */
    size_t n, cap;
    size_t *idx; /* rows shown, in order */
    size_t nidx;
    int sort_col;
    int sort_desc;
    char filter[CON_FILTER_MAX];
    int only_waiting;         /* sessions: only those waiting on a person (held calls) */
    int dirty;                /* idx must be rebuilt */
    int64_t stuck_ms;         /* work rows: stuck after (thresholds); 0 default */
    int is_work;              /* rows are struct con_work (else con_session) */
    unsigned gen;             /* bumped each time idx is rebuilt */
    char env_id[OMNI_ID_MAX]; /* whose rows these are */
    int64_t fetched_at_us;    /* 0: never */
    char err[CON_MSG_MAX];
};

/* ---- the session detail view -------------------------------------------- */

enum con_line_kind {
    CON_LK_INFO = 0,
    CON_LK_USER,
    CON_LK_AGENT,
    CON_LK_TOOL,
    CON_LK_RESULT,
    CON_LK_ERROR,
    CON_LK_STATUS
};

struct con_line {
    char id[OMNI_ID_MAX]; /* the event's id ("" if none): Enter opens it */
    int64_t at;           /* processed_at, 0 if unknown */
    enum con_line_kind kind;
    char text[CON_LINE_MAX];
};

struct con_detail {
    char session_id[OMNI_ID_MAX];
    struct con_line *lines;    /* ring of CON_DETAIL_LINES */
    size_t head, n;            /* oldest at head */
    char (*seen)[OMNI_ID_MAX]; /* ring of CON_SEEN_IDS event ids */
    size_t seen_head, seen_n;
    struct con_approvals ap;
    int streaming; /* 1 while the stream is open */
    char err[CON_MSG_MAX];
    unsigned gen;                /* bumped on every change (for redraw) */
    char filter[CON_FILTER_MAX]; /* lines shown: those containing it ("" all) */
    size_t *shown;               /* CON_DETAIL_LINES places of the lines shown */
    size_t nshown;
    unsigned shown_gen; /* gen the shown index was built for */
};

/* ---- one event, in full (the event view) ------------------------------------ */

#define CON_DOC_MAX (256 * 1024) /* bytes of an event's text kept */
#define CON_DOC_LINES 20000      /* lines of it shown */

struct con_doc {
    char session_id[OMNI_ID_MAX];
    char event_id[OMNI_ID_MAX];
    char *text;     /* NUL-terminated, at most CON_DOC_MAX bytes; NULL while loading */
    size_t *starts; /* offsets of its lines */
    size_t nlines;
    char err[CON_MSG_MAX];
};

/* Ask for an event: clears the text until con_doc_set(). */
void con_doc_open(struct con_doc *d, const char *session_id, const char *event_id);
/* Keep text (copied, capped) as the event's; NULL and err: it failed. */
void con_doc_set(struct con_doc *d, const char *text, const char *err);
/* Line i, sanitised (tabs and control characters become blanks). */
void con_doc_line(const struct con_doc *d, size_t i, char *out, size_t outlen);
void con_doc_release(struct con_doc *d);

/* ---- the model ------------------------------------------------------------ */

struct con_model {
    struct con_env *envs;
    size_t nenvs, capenvs;
    int64_t envs_at_us; /* last good environments refresh */
    char envs_err[CON_MSG_MAX];
    struct con_table sessions;
    struct con_table work;
    struct con_detail detail;
    struct con_doc doc; /* the event view */
    struct omni_thresholds th;
    int64_t spark_step_us; /* one sparkline sample per step */
};

void con_model_init(struct con_model *m);
void con_model_release(struct con_model *m);

/* Replace the environment list (archived ones dropped); keeps stats and
 * sparklines of environments that stay. has_key(env_id) may be NULL. */
void con_model_apply_envs(struct con_model *m, const struct omni_environment_list *l,
                          int (*has_key)(const char *env_id, void *ud), void *ud, int64_t now_us);
void con_model_envs_error(struct con_model *m, const char *msg);
/* The workers of one environment, as last fetched (n <= CON_WORKERS_MAX). */
void con_model_apply_workers(struct con_model *m, const char *env_id, const struct con_worker *w,
                             int n, int64_t now_us);
/* Stats (or an error when st is NULL) for one environment, with what its
 * work list says (ws NULL or not known: nothing; work_err: why not). */
void con_model_apply_stats(struct con_model *m, const char *env_id, const struct omni_stats *st,
                           const char *errmsg, const struct omni_work_summary *ws,
                           const char *work_err, int64_t now_us);
struct con_env *con_model_env(struct con_model *m, const char *env_id);
/* Recompute every environment's level (after thresholds or time changed). */
void con_model_levels(struct con_model *m, int64_t now_us);

/* Sessions of one environment (rows of other environments are dropped).
 * Event-derived fields of sessions that stay are kept. */
void con_model_apply_sessions(struct con_model *m, const char *env_id,
                              const struct omni_session_list *l, int64_t now_us);
/* A session's full event list → last event, approvals. */
void con_model_apply_session_events(struct con_model *m, const char *session_id,
                                    const struct omni_event_list *l, int64_t now_us);
void con_model_apply_work(struct con_model *m, const char *env_id, const struct omni_work_list *l,
                          int64_t now_us);
void con_table_error(struct con_table *t, const char *msg);

/* Do a session's events need fetching? (never fetched, the session changed
 * since, or older than min_age_ms while not terminated) */
int con_session_events_due(const struct con_session *s, int64_t now_us, int64_t min_age_ms);

struct con_session *con_model_session(struct con_model *m, const char *session_id);
/* The newest live work item of a session in the work table, or NULL. */
struct con_work *con_model_work_for_session(struct con_model *m, const char *session_id);

/* Rebuild (if dirty) and return the visible index. */
void con_table_view(struct con_table *t, int is_work, int64_t now_us);
void con_table_set_filter(struct con_table *t, const char *filter);
void con_table_set_sort(struct con_table *t, int col, int desc);
/* Show only the sessions waiting on a person (a held call to approve). */
void con_table_set_only_waiting(struct con_table *t, int on);
/* A session waits on a person: a tool call is held for their approval. */
#define con_session_waits_on_person(s) ((s)->nheld > 0)
/* The id of the i-th row shown; the place of row id in the shown order, -1
 * when it is not shown (call con_table_view() first). */
const char *con_table_id(const struct con_table *t, size_t i);
long con_table_find(const struct con_table *t, const char *id);
#define con_session_at(t, i) (&((struct con_session *)(t)->rows)[(t)->idx[(i)]])
#define con_work_at(t, i) (&((struct con_work *)(t)->rows)[(t)->idx[(i)]])

/* ---- detail ------------------------------------------------------------ */

/* Switch the detail view to a session (clears it when the id differs). */
void con_detail_open(struct con_detail *d, const char *session_id);
void con_detail_close(struct con_detail *d);
/* Add one event; duplicates (by id) are ignored. Returns 1 when added. */
int con_detail_feed(struct con_detail *d, const cJSON *ev);
const struct con_line *con_detail_line(const struct con_detail *d, size_t i);
/* Lines that match the filter (case-insensitive substring of the text). */
void con_detail_set_filter(struct con_detail *d, const char *filter);
size_t con_detail_count(struct con_detail *d);
/* The i-th line shown, NULL past the end. */
const struct con_line *con_detail_shown(struct con_detail *d, size_t i);

/* ---- formatting helpers (shared by the curses views and --once) -------- */

/* One-line summary of an event; returns its kind. */
enum con_line_kind con_event_summary(const cJSON *ev, char *out, size_t outlen);
/* Short input summary of a tool call ("ls -la", "path/to/file", or JSON). */
void con_tool_input_summary(const char *name, const cJSON *input, char *out, size_t outlen);
/* Age as "5s", "3m12s", "-" when t_us is 0. */
char *con_age(int64_t now_us, int64_t t_us, char *out, size_t outlen);
/*
 * Sparkline of the newest `width` samples (oldest first), scaled to scale
 * (the screen's maximum, so that rows compare) or, when scale <= 0, to the
 * window's own maximum. UTF-8 block characters when utf8, else " .:-=+*#".
 * Returns the number of cells written.
 */
int con_sparkline(const long *samples, int n, int width, long scale, int utf8, char *out,
                  size_t outlen);
/* The largest of the newest `width` samples (0 when none). */
long con_spark_max(const long *samples, int n, int width);
/* An id fitted to width cells: whole when it fits, else cut in the middle
 * keeping its prefix ("sesn_") and its distinguishing end: "sesn_…a1b2c3"
 * ("sesn_..a1b2c3" when not utf8). */
void con_id_fit(const char *id, int width, int utf8, char *out, size_t outlen);
/* Samples of an environment in chronological order (copies into out). */
int con_env_spark(const struct con_env *e, long *out, int max);
/* Copy s into out (at most outlen-1 bytes, whole UTF-8 sequences only),
 * control characters replaced by spaces. */
void con_sanitize(char *out, size_t outlen, const char *s);

#endif
