/*
 * console — omni-console's application state, views and actions.
 *
 * The UI thread owns struct con_app (and the model inside it); the network
 * threads only ever see copies of jobs (net.h). Views are small classes
 * (struct con_view_class below); key handlers return a CON_R_* mask and only
 * the main loop (main.c) decides what to repaint or fetch. actions.c, app.c
 * and ui.c never test which view is shown: they call its hooks.
 *
 * Adding a view (checklist):
 *  1. Create console/view_<name>.c with everything static except ONE
 *     `const struct con_view_class con_view_<name>` in designated
 *     initializers: name, hints and actions (the bottom bar; actions, the
 *     keys that change something, are left out under --readonly), in_env /
 *     tail, and the hooks
 *     draw, count and enter (required), back, tab, refresh, target, table
 *     with sort_names / nsort, filter / set_filter (optional; NULL means
 *     "not here": Esc and w stay, actions answer "select a session or a
 *     work item first", < > r do nothing, / filters nothing).
 *  2. Add one line X(CON_VIEW_<NAME>, con_view_<name>) to CON_VIEWS() below.
 *     The enum id, the declaration, the con_views[] entry (app.c), its cursor
 *     a->pos[] and --bench-render (bench.c) follow from it; the Makefile
 *     builds every console/ source file.
 *  3. Give it a way in and out: another view's enter (or tab) hook returns
 *     con_app_show(a, CON_VIEW_<NAME>) (switch, and fetch for it at once);
 *     its back hook says where Esc goes.
 *  4. Data it needs that no refresh fetches yet: a job kind in net.h, its
 *     exec in net.c and its case in net_kind_is_refresh() (which puts it on
 *     the poll thread and counts it in the refresh), a con_model_apply_*() in
 *     model.c (no curses; unit test in tests/unit/test_console_model.c) and
 *     a case in actions_result() (actions.c). Submit it from the refresh hook
 *     with con_refresh_submit().
 *  5. Document it under "Views" in man/omni-console.1 and check it in
 *     tests/integration/t4001-console-views.t (tmux against omni-sim).
 *
 * Adding an action (a key):
 *  1. Write `static int act_<name>(struct con_app *a)` in actions.c returning
 *     CON_R_*, and bind it in bindings[] there. It never tests a->view: what
 *     differs between views is a hook in struct con_view_class (as Enter,
 *     Esc and w are), which views without it leave NULL.
 *  2. If it changes anything on the server: readonly_refuse() first, then
 *     pick_target() for the session / work item (the view's target hook
 *     answers), then submit a net_job. A new job kind goes in net.h, its
 *     exec in net.c (kinds that net_kind_is_refresh() does not list run on
 *     the action thread) and its result in actions_result() (apply_action():
 *     status line, quick refresh).
 *     Anything that approves, denies, stops or interrupts asks first
 *     (confirm_ask(): a->confirm_job / confirm_text, CON_PROMPT_CONFIRM),
 *     naming the session and the call or work item: never one key alone.
 *  3. Document the key in help_lines[] (ui.c), under "Keys" in
 *     man/omni-console.1 and, if the view shows it, in the view's hints; test
 *     it in tests/integration/t4002-console-actions.t.
 */
#ifndef CONSOLE_CONSOLE_H
#define CONSOLE_CONSOLE_H

#include "model.h"
#include "net.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CON_INPUT_MAX 256
#define CON_ID_W 29        /* an id column (ids are 29 bytes) */
#define CON_ID_W_NARROW 16 /* below CON_WIDE_COLS: ids cut in the middle, the end kept */
#define CON_WIDE_COLS 100
#define CON_FLAG_W 2               /* the sessions' first column: "!" waits on a person */
#define CON_CONFIRM_INPUT 32       /* bytes of a held call's input in its y/N question */
#define CON_STATUS_TTL_MS 15000    /* an outcome stays on the status line */
#define CON_EVENTS_MIN_AGE_MS 5000 /* a session's event list at most every 5 s */
#define CON_EVENTS_PER_TICK 8      /* event lists fetched per refresh */
#define CON_ONCE_EVENTS_MAX 50     /* event lists fetched by --once */
/*
 * Big listings are throttled: after a sessions or work refresh that cost C of
 * CPU (fetch, parse, apply, sort), the next one waits at least C times this
 * factor, so each table stays under 1/factor of a core (1.25 %) however many
 * rows it has. Small tables (a few ms) still follow the refresh interval.
 */
#define CON_CPU_BUDGET_FACTOR 80
#define CON_HEAP_KEEP (64L << 20) /* freed heap kept for the next refresh (main.c) */

/* What a key handler asks of the main loop. */
#define CON_R_NONE 0x0
#define CON_R_DRAW 0x1    /* repaint the frame */
#define CON_R_REFRESH 0x2 /* fetch now (do not wait for the next tick) */
#define CON_R_QUIT 0x4

/*
 * The views, one X(id, class) line each, in the order of enum con_view_id
 * (the first is where the console starts). The enum, the class declarations
 * and con_views[] (app.c) all come from this one list.
 */
#define CON_VIEWS(X)                                                                               \
    X(CON_VIEW_ENVS, con_view_envs)                                                                \
    X(CON_VIEW_SESSIONS, con_view_sessions)                                                        \
    X(CON_VIEW_WORK, con_view_work)                                                                \
    X(CON_VIEW_DETAIL, con_view_detail)                                                            \
    X(CON_VIEW_EVENT, con_view_event)

#define CON_VIEW_ENUM_(id, cls) id,
enum con_view_id { CON_VIEWS(CON_VIEW_ENUM_) CON_VIEW_COUNT };
#undef CON_VIEW_ENUM_

enum con_prompt {
    CON_PROMPT_NONE = 0,
    CON_PROMPT_FILTER,
    CON_PROMPT_CONFIRM,
    CON_PROMPT_AGENT,
    CON_PROMPT_MESSAGE
};

struct con_app;

/* What an action (stop, interrupt, approve, new session) applies to. */
struct con_target {
    char env_id[OMNI_ID_MAX]; /* a->env_id unless the view picks another */
    char session_id[OMNI_ID_MAX];
    char work_id[OMNI_ID_MAX];
    const struct con_held *held; /* the first held call, NULL if none (known) */
    const char *no_held_hint;    /* appended to "no held tool call in X"; NULL: none */
};

/*
 * A view. Every hook gets the app and runs on the UI thread; the ones marked
 * optional may be NULL. Hooks that return int return a CON_R_* mask.
 */
struct con_view_class {
    const char *name;    /* header, --bench-render */
    const char *hints;   /* bottom bar */
    const char *actions; /* bottom bar, after hints, unless --readonly (keys that act) */
    int in_env;          /* shows the environment a->env_id (the header names it) */
    int tail;            /* its cursor can follow the newest row (a->follow) */
    /* Draw the body between rows top and top+rows-1 (header row included). */
    void (*draw)(struct con_app *a, int top, int rows, int cols);
    size_t (*count)(struct con_app *a); /* selectable rows */
    int (*enter)(struct con_app *a);    /* Enter, Right */
    int (*back)(struct con_app *a);     /* Esc, Left, h, Backspace; optional */
    int (*tab)(struct con_app *a);      /* w, Tab: the other list; optional */
    /* Jobs of a refresh beyond the environment list (which every view gets):
     * submit them with con_refresh_submit(). force: the user asked (R, an
     * action's effect), ignore throttles. Optional. */
    void (*refresh)(struct con_app *a, int64_t now_ms, int force);
    /* Fill t (zeroed, env_id preset to a->env_id) from the selection;
     * -1: nothing selected. Optional (no target: actions refuse). */
    int (*target)(struct con_app *a, struct con_target *t);
    /* The table that / filters and < > r sort; optional (NULL: none). */
    struct con_table *(*table)(struct con_app *a);
    /* What / filters in a view whose list is not a con_table (a session's
     * events, the environments): filter returns the text, set_filter sets
     * it. Optional; / opens its prompt in every view all the same, so what
     * is typed after it is never taken for a command. */
    const char *(*filter)(struct con_app *a);
    void (*set_filter)(struct con_app *a, const char *text);
    /* p: show only what waits on a person (held calls), or all again. Optional. */
    int (*waiting)(struct con_app *a);
    const char *const *sort_names; /* nsort column names */
    int nsort;
};

#define CON_VIEW_DECLARE_(id, cls) extern const struct con_view_class cls;
CON_VIEWS(CON_VIEW_DECLARE_)
#undef CON_VIEW_DECLARE_
extern const struct con_view_class *const con_views[CON_VIEW_COUNT];

struct con_cursor {
    size_t cur, top;
};

struct con_app {
    struct con_model m;
    struct net *net; /* NULL in --once / bench mode */
    const struct net_opts *nopts;
    enum con_view_id view;
    enum con_view_id detail_from; /* where Esc returns from the detail view */
    struct con_cursor pos[CON_VIEW_COUNT];
    /* The id each table view's cursor is on, and the table generation it
     * was placed for: a refresh or a re-sort moves the cursor to the row,
     * not the row under the cursor (con_app_track). */
    char sel_id[CON_VIEW_COUNT][OMNI_ID_MAX];
    unsigned sel_gen[CON_VIEW_COUNT];
    char env_id[OMNI_ID_MAX]; /* environment of the sessions/work views */
    int readonly, utf8, color;
    int local_time; /* --local-time: clock times in the local zone (default UTC) */
    long refresh_ms;
    const char *base_url;
    /* status line */
    char status[CON_MSG_MAX];
    int status_err;
    int64_t status_ms; /* monotonic; 0 = none */
    int help;
    int follow;                       /* a tail view keeps its newest line in view */
    size_t detail_scroll;             /* first line shown when not following */
    char envs_filter[CON_FILTER_MAX]; /* / in the environments view */
    /* prompts */
    enum con_prompt prompt;
    char input[CON_INPUT_MAX];
    size_t inlen;
    char confirm_text[CON_MSG_MAX];
    struct net_job confirm_job; /* submitted on 'y' */
    struct omni_agent_list agents;
    size_t agent_cur;
    char new_env[OMNI_ID_MAX];
    char new_agent[OMNI_ID_MAX];
    /* refresh bookkeeping */
    unsigned refresh_gen;
    int inflight; /* jobs of the current refresh not back yet */
    int64_t refresh_started_ms;
    int64_t next_refresh_ms;
    int refresh_soon;         /* refresh again as soon as this one is done */
    int force_tables;         /* next refresh ignores the table throttle */
    int64_t table_next_ms[2]; /* sessions, work: not before (monotonic) */
    long refreshes_done;
    int64_t now_us;         /* wall clock of this frame */
    int64_t last_result_us; /* wall clock of the newest result */
};

/* ui.c */
void ui_init(struct con_app *a);
void ui_end(void);
int ui_active(void);
void ui_draw(struct con_app *a);
void ui_status(struct con_app *a, int is_err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Format into out (at most CON_MSG_MAX bytes), sanitised for the screen. */
void ui_vtext(char *out, size_t outlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Colour pairs / attributes by meaning. */
enum con_attr {
    CON_A_NORMAL = 0,
    CON_A_OK,
    CON_A_WARN,
    CON_A_CRIT,
    CON_A_DIM,
    CON_A_HEAD,
    CON_A_SEL,
    CON_A_TOOL,
    CON_A_USER,
    CON_A_ERR,
    CON_A_STATUS_BAR
};
unsigned ui_attr(const struct con_app *a, enum con_attr k);
unsigned ui_level_attr(const struct con_app *a, enum omni_level l);
/* Append a column heading to line: name, with the sort mark (down: the
 * column's natural order, up: reversed) when col is t's sort column, padded
 * to w cells (right-aligned when right), then a blank. */
void ui_head(char *line, size_t cap, const struct con_app *a, const struct con_table *t, int col,
             const char *name, int w, int right);
/* "▼" / "▲" ("v" / "^" in ASCII) for t's sort direction. */
const char *ui_sort_mark(const struct con_app *a, const struct con_table *t);
/* A clock time with its zone: "14:03:07Z" (UTC), or with --local-time
 * "15:03:07 CET"; "--:--:--" when us is 0. */
char *ui_clock(const struct con_app *a, int64_t us, char *out, size_t outlen);
/* Cells s takes on screen. */
int ui_width(const char *s);
/* Print s clipped to width cells at (y, x); pads with blanks when pad. */
void ui_put(int y, int x, int width, const char *s, int pad);
/* Keep cursor within count and visible in rows. */
void ui_clamp(struct con_cursor *c, size_t count, int rows);

/* actions.c */
int actions_key(struct con_app *a, int key);
/* Apply one finished job to the app (model, status line, prompts). */
void actions_result(struct con_app *a, struct net_result *r);

/* app.c */
void con_app_init(struct con_app *a);
void con_app_release(struct con_app *a);
/* Show view id; returns CON_R_DRAW | CON_R_REFRESH (fetch for it now). */
int con_app_show(struct con_app *a, enum con_view_id id);
/* The current view's selected row of table t (a->m.sessions, is_work 0, or
 * a->m.work, is_work 1): *k is its place in t's shown order (con_session_at,
 * con_work_at). -1: t shows no row of a->env_id. */
int con_app_selected(struct con_app *a, struct con_table *t, int is_work, size_t *k);
/* Keep the view's cursor on the row (by id) it selected when the table was
 * rebuilt (new rows, a sort, a filter); then remember the row it is on. */
void con_app_track(struct con_app *a);
/* Start a refresh: the environment list, then the view's refresh hook. */
void con_app_refresh(struct con_app *a, int64_t now_ms);
/* Submit one job of the current refresh (tagged, counted in a->inflight). */
void con_refresh_submit(struct con_app *a, struct net_job *j);
/* The sessions or the work table (kind NET_SESSIONS or NET_WORK) of
 * a->env_id, unless its CPU throttle holds it back (force: never). */
void con_refresh_table(struct con_app *a, enum net_kind kind, int64_t now_ms, int force);

/* view_envs.c: the back hook of the views inside an environment. */
int con_envs_back(struct con_app *a);
/* view_event.c: one event of the session view in full (Esc returns there). */
int con_event_show(struct con_app *a, const char *session_id, const char *event_id);
/* view_session.c: open the events of session_id (Esc returns to this view). */
int con_detail_show(struct con_app *a, const char *session_id);

/* Plain-text tables (--once). */
void con_print_envs(FILE *fp, struct con_app *a);
void con_print_sessions(FILE *fp, struct con_app *a);
void con_print_work(FILE *fp, struct con_app *a);

/* bench.c: render N full frames of each view over a 10,000-row model. */
int con_bench_render(long frames, int rows);

#endif
