#include "console.h"

#include "timeutil.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define KEY_ESC 27
#define KEY_CTRL(c) ((c)&0x1f)

/* ---- helpers ---------------------------------------------------------------- */

static const struct con_view_class *view(const struct con_app *a)
{
    return con_views[a->view];
}

/* The table / and < > r work on, NULL if the view has none. */
static struct con_table *view_table(struct con_app *a)
{
    return view(a)->table ? view(a)->table(a) : NULL;
}

static int page_rows(void)
{
    return LINES > 8 ? LINES - 6 : 1;
}

/* What the view's selection points at (the view's target hook); -1: nothing. */
static int view_target(struct con_app *a, struct con_target *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->env_id, sizeof t->env_id, "%s", a->env_id);
    return view(a)->target ? view(a)->target(a, t) : -1;
}

/* The session (and work item, when known) an action applies to. */
static int pick_target(struct con_app *a, struct con_target *t)
{
    if (view_target(a, t) == 0 && (t->session_id[0] || t->work_id[0]))
        return 0;
    ui_status(a, 1, "select a session or a work item first");
    return -1;
}

static int readonly_refuse(struct con_app *a, const char *what)
{
    if (!a->readonly)
        return 0;
    ui_status(a, 1, "read-only mode: %s is off", what);
    return 1;
}

static void submit(struct con_app *a, const struct net_job *j)
{
    if (a->net)
        net_submit(a->net, j);
}

/* ---- movement ------------------------------------------------------------------ */

static int move_by(struct con_app *a, long delta)
{
    struct con_cursor *c = &a->pos[a->view];
    size_t n = view(a)->count(a);

    if (view(a)->tail && a->follow) {
        a->follow = 0;
        c->cur = n ? n - 1 : 0;
    }
    if (!n)
        return CON_R_DRAW;
    if (delta < 0)
        c->cur = (size_t)-delta > c->cur ? 0 : c->cur - (size_t)-delta;
    else
        c->cur = c->cur + (size_t)delta >= n ? n - 1 : c->cur + (size_t)delta;
    return CON_R_DRAW;
}

static int act_up(struct con_app *a)
{
    return move_by(a, -1);
}

static int act_down(struct con_app *a)
{
    return move_by(a, 1);
}

static int act_pgup(struct con_app *a)
{
    return move_by(a, -page_rows());
}

static int act_pgdn(struct con_app *a)
{
    return move_by(a, page_rows());
}

static int act_home(struct con_app *a)
{
    a->pos[a->view] = (struct con_cursor){0, 0};
    if (view(a)->tail)
        a->follow = 0;
    return CON_R_DRAW;
}

static int act_end(struct con_app *a)
{
    size_t n = view(a)->count(a);
    a->pos[a->view].cur = n ? n - 1 : 0;
    if (view(a)->tail)
        a->follow = 1;
    return CON_R_DRAW;
}

/* ---- navigation ------------------------------------------------------------------ */

static int act_enter(struct con_app *a)
{
    return view(a)->enter(a);
}

static int act_back(struct con_app *a)
{
    return view(a)->back ? view(a)->back(a) : CON_R_NONE;
}

static int act_tab(struct con_app *a)
{
    return view(a)->tab ? view(a)->tab(a) : CON_R_NONE;
}

static int act_help(struct con_app *a)
{
    a->help = 1;
    return CON_R_DRAW;
}

static int act_quit(struct con_app *a)
{
    (void)a;
    return CON_R_QUIT;
}

static int act_refresh(struct con_app *a)
{
    a->force_tables = 1;
    return CON_R_REFRESH | CON_R_DRAW;
}

static int act_redraw(struct con_app *a)
{
    (void)a;
    clearok(curscr, TRUE);
    return CON_R_DRAW;
}

/* ---- filter and sort ----------------------------------------------------------- */

/* The text / filters with in this view ("" when none). */
static const char *filter_get(struct con_app *a)
{
    struct con_table *t = view_table(a);
    if (t)
        return t->filter;
    return view(a)->filter ? view(a)->filter(a) : "";
}

static void filter_set(struct con_app *a, const char *text)
{
    struct con_table *t = view_table(a);
    if (t)
        con_table_set_filter(t, text);
    else if (view(a)->set_filter)
        view(a)->set_filter(a, text);
}

/* / opens the filter line in every view: what follows is text, never keys. */
static int act_filter(struct con_app *a)
{
    a->prompt = CON_PROMPT_FILTER;
    snprintf(a->input, sizeof a->input, "%s", filter_get(a));
    a->inlen = strlen(a->input);
    return CON_R_DRAW;
}

static int sort_step(struct con_app *a, int step)
{
    struct con_table *t = view_table(a);
    const struct con_view_class *v = view(a);
    if (!t || !v->nsort)
        return CON_R_NONE;
    con_table_set_sort(t, (t->sort_col + step + v->nsort) % v->nsort, t->sort_desc);
    ui_status(a, 0, "sorted by %s", v->sort_names[t->sort_col]);
    return CON_R_DRAW;
}

static int act_sort_prev(struct con_app *a)
{
    return sort_step(a, -1);
}

static int act_sort_next(struct con_app *a)
{
    return sort_step(a, 1);
}

static int act_reverse(struct con_app *a)
{
    struct con_table *t = view_table(a);
    if (!t)
        return CON_R_NONE;
    con_table_set_sort(t, t->sort_col, !t->sort_desc);
    return CON_R_DRAW;
}

/* ---- actions on sessions and work -------------------------------------------------- */

/* Ask "<question>? [y/N]" before job j runs; nothing is sent before 'y'. */
static int confirm_ask(struct con_app *a, const struct net_job *j, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int confirm_ask(struct con_app *a, const struct net_job *j, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vtext(a->confirm_text, sizeof a->confirm_text, fmt, ap);
    va_end(ap);
    a->confirm_job = *j;
    a->prompt = CON_PROMPT_CONFIRM;
    return CON_R_DRAW;
}

static int stop_job(struct con_app *a, int force, struct net_job *j, struct con_target *t)
{
    if (pick_target(a, t) < 0)
        return -1;
    memset(j, 0, sizeof *j);
    j->kind = NET_STOP;
    j->force = force;
    snprintf(j->env_id, sizeof j->env_id, "%s", t->env_id);
    snprintf(j->session_id, sizeof j->session_id, "%s", t->session_id);
    if (!t->work_id[0] && strcmp(a->m.work.env_id, t->env_id) == 0) {
        const struct con_work *w = con_model_work_for_session(&a->m, t->session_id);
        if (w)
            snprintf(t->work_id, sizeof t->work_id, "%s", w->id);
    }
    snprintf(j->work_id, sizeof j->work_id, "%s", t->work_id);
    if (!j->work_id[0] && (!a->nopts || !net_env_key_file(a->nopts, t->env_id))) {
        ui_status(a, 1, "finding the work item needs env_key_file.%s in the config", t->env_id);
        return -1;
    }
    return 0;
}

static int stop_ask(struct con_app *a, int force)
{
    struct net_job j;
    struct con_target t;
    char work[OMNI_ID_MAX + 8] = "";

    if (readonly_refuse(a, force ? "force stop" : "stop") || stop_job(a, force, &j, &t) < 0)
        return CON_R_DRAW;
    if (t.session_id[0] && t.work_id[0])
        snprintf(work, sizeof work, " (work %s)", t.work_id);
    return confirm_ask(
        a, &j, "%s %s %s%s?%s", force ? "force stop" : "stop", t.session_id[0] ? "session" : "work",
        t.session_id[0] ? t.session_id : t.work_id, work, force ? " its run ends at once" : "");
}

static int act_stop(struct con_app *a)
{
    return stop_ask(a, 0);
}

static int act_force_stop(struct con_app *a)
{
    return stop_ask(a, 1);
}

static int act_interrupt(struct con_app *a)
{
    struct net_job j = {0};
    struct con_target t;

    if (readonly_refuse(a, "interrupt") || pick_target(a, &t) < 0)
        return CON_R_DRAW;
    if (!t.session_id[0]) {
        ui_status(a, 1, "work item %s has no session", t.work_id);
        return CON_R_DRAW;
    }
    j.kind = NET_INTERRUPT;
    snprintf(j.session_id, sizeof j.session_id, "%s", t.session_id);
    if (t.held)
        return confirm_ask(a, &j, "interrupt session %s (its held call %s %s is cancelled)?",
                           t.session_id, t.held->id, t.held->name);
    return confirm_ask(a, &j, "interrupt session %s?", t.session_id);
}

static int confirm_call(struct con_app *a, int allow)
{
    struct net_job j = {0};
    struct con_target t;

    if (readonly_refuse(a, allow ? "approve" : "deny") || pick_target(a, &t) < 0)
        return CON_R_DRAW;
    if (!t.held) {
        ui_status(a, 1, "no held tool call in %s%s", t.session_id[0] ? t.session_id : t.work_id,
                  t.no_held_hint ? t.no_held_hint : "");
        return CON_R_DRAW;
    }
    j.kind = NET_CONFIRM;
    j.allow = allow;
    snprintf(j.session_id, sizeof j.session_id, "%s", t.session_id);
    snprintf(j.tool_use_id, sizeof j.tool_use_id, "%s", t.held->id);
    return confirm_ask(a, &j, "%s %s (%s: %.*s%s) in %s?", allow ? "approve" : "deny", t.held->id,
                       t.held->name, CON_CONFIRM_INPUT, t.held->input,
                       strlen(t.held->input) > CON_CONFIRM_INPUT ? "..." : "", t.session_id);
}

static int act_approve(struct con_app *a)
{
    return confirm_call(a, 1);
}

static int act_deny(struct con_app *a)
{
    return confirm_call(a, 0);
}

static int act_waiting(struct con_app *a)
{
    if (!view(a)->waiting) {
        ui_status(a, 0, "p shows the sessions waiting on a person");
        return CON_R_DRAW;
    }
    return view(a)->waiting(a);
}

static int act_new(struct con_app *a)
{
    struct net_job j = {0};
    struct con_target t;

    if (readonly_refuse(a, "new session"))
        return CON_R_DRAW;
    view_target(a, &t); /* a session or none: its environment is enough */
    if (!t.env_id[0]) {
        ui_status(a, 1, "no environment to create a session in");
        return CON_R_DRAW;
    }
    snprintf(a->new_env, sizeof a->new_env, "%s", t.env_id);
    j.kind = NET_AGENTS;
    submit(a, &j);
    ui_status(a, 0, "loading agents...");
    return CON_R_DRAW;
}

/* ---- prompts ------------------------------------------------------------------ */

static int input_key(struct con_app *a, int key)
{
    if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        while (a->inlen > 0) {
            unsigned char c = (unsigned char)a->input[--a->inlen];
            if ((c & 0xc0) != 0x80)
                break;
        }
        a->input[a->inlen] = '\0';
        return 1;
    }
    if (key == KEY_CTRL('u')) {
        a->inlen = 0;
        a->input[0] = '\0';
        return 1;
    }
    /* printable bytes (UTF-8 arrives byte by byte through getch) */
    if (key >= 0x20 && key <= 0xff && key != 0x7f && a->inlen + 1 < sizeof a->input) {
        a->input[a->inlen++] = (char)key;
        a->input[a->inlen] = '\0';
        return 1;
    }
    return 0;
}

static int prompt_key(struct con_app *a, int key)
{
    switch (a->prompt) {
    case CON_PROMPT_FILTER:
        if (key == KEY_ESC) {
            filter_set(a, "");
            a->prompt = CON_PROMPT_NONE;
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            a->prompt = CON_PROMPT_NONE;
        } else if (input_key(a, key)) {
            filter_set(a, a->input);
            a->pos[a->view] = (struct con_cursor){0, 0};
            con_app_track(a); /* stays on its row while that row matches */
        }
        return CON_R_DRAW;
    case CON_PROMPT_CONFIRM:
        a->prompt = CON_PROMPT_NONE;
        if (key == 'y' || key == 'Y') {
            const struct net_job *j = &a->confirm_job;
            submit(a, j);
            ui_status(a, 0, "%s %s...",
                      j->kind == NET_CONFIRM     ? (j->allow ? "approving" : "denying")
                      : j->kind == NET_INTERRUPT ? "interrupting"
                      : j->force                 ? "force-stopping"
                                                 : "stopping",
                      j->kind == NET_CONFIRM ? j->tool_use_id
                      : j->work_id[0]        ? j->work_id
                                             : j->session_id);
        } else {
            ui_status(a, 0, "cancelled");
        }
        return CON_R_DRAW;
    case CON_PROMPT_AGENT:
        if (key == KEY_ESC || key == 'q') {
            a->prompt = CON_PROMPT_NONE;
            ui_status(a, 0, "cancelled");
        } else if (key == KEY_UP || key == 'k') {
            if (a->agent_cur > 0)
                a->agent_cur--;
        } else if (key == KEY_DOWN || key == 'j') {
            if (a->agent_cur + 1 < a->agents.n)
                a->agent_cur++;
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            snprintf(a->new_agent, sizeof a->new_agent, "%s", a->agents.items[a->agent_cur].id);
            a->prompt = CON_PROMPT_MESSAGE;
            a->input[0] = '\0';
            a->inlen = 0;
        }
        return CON_R_DRAW;
    case CON_PROMPT_MESSAGE:
        if (key == KEY_ESC) {
            a->prompt = CON_PROMPT_NONE;
            ui_status(a, 0, "cancelled");
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            struct net_job j = {0};
            j.kind = NET_CREATE;
            snprintf(j.env_id, sizeof j.env_id, "%s", a->new_env);
            snprintf(j.agent_id, sizeof j.agent_id, "%s", a->new_agent);
            snprintf(j.text, sizeof j.text, "%s", a->input);
            submit(a, &j);
            a->prompt = CON_PROMPT_NONE;
            ui_status(a, 0, "creating a session...");
        } else {
            input_key(a, key);
        }
        return CON_R_DRAW;
    default:
        return CON_R_NONE;
    }
}

/* ---- the key table ---------------------------------------------------------------- */

typedef int (*con_action_fn)(struct con_app *a);

/* Key bindings; what a key does in each view is up to the view's hooks. */
static const struct {
    int key;
    con_action_fn fn;
} bindings[] = {
    {KEY_UP, act_up},
    {'k', act_up},
    {KEY_DOWN, act_down},
    {'j', act_down},
    {KEY_PPAGE, act_pgup},
    {KEY_NPAGE, act_pgdn},
    {KEY_HOME, act_home},
    {'g', act_home},
    {KEY_END, act_end},
    {'G', act_end},
    {'\n', act_enter},
    {'\r', act_enter},
    {KEY_ENTER, act_enter},
    {KEY_RIGHT, act_enter},
    {KEY_ESC, act_back},
    {KEY_LEFT, act_back},
    {KEY_BACKSPACE, act_back},
    {'h', act_back},
    {'w', act_tab},
    {'\t', act_tab},
    {'?', act_help},
    {KEY_F(1), act_help},
    {'q', act_quit},
    {'Q', act_quit},
    {'R', act_refresh},
    {KEY_F(5), act_refresh},
    {KEY_CTRL('l'), act_redraw},
    {'/', act_filter},
    {'<', act_sort_prev},
    {'>', act_sort_next},
    {'r', act_reverse},
    {'s', act_stop},
    {'S', act_force_stop},
    {'i', act_interrupt},
    {'a', act_approve},
    {'d', act_deny},
    {'n', act_new},
    {'p', act_waiting},
};

int actions_key(struct con_app *a, int key)
{
    if (a->help) {
        a->help = 0;
        return CON_R_DRAW;
    }
    if (a->prompt != CON_PROMPT_NONE)
        return prompt_key(a, key);
    for (size_t i = 0; i < sizeof bindings / sizeof bindings[0]; i++) {
        if (bindings[i].key == key) {
            int r;
            con_app_track(a); /* the rows may have moved since the last frame */
            r = bindings[i].fn(a);
            con_app_track(a); /* the row the cursor is on now */
            return r;
        }
    }
    return CON_R_NONE;
}

/* ---- results ---------------------------------------------------------------------- */

static int has_key_cb(const char *env_id, void *ud)
{
    struct con_app *a = ud;
    return a->nopts && net_env_key_file(a->nopts, env_id) != NULL;
}

static void apply_action(struct con_app *a, struct net_result *r, const char *what)
{
    if (!r->ok) {
        ui_status(a, 1, "%s failed: %s", what, r->err.msg);
        return;
    }
    ui_status(a, 0, "%s", r->msg);
    if (r->job.session_id[0]) {
        struct con_session *s = con_model_session(&a->m, r->job.session_id);
        if (s)
            s->events_at_us = 0; /* fetch its events again at the next refresh */
    }
    /* show the effect soon */
    a->force_tables = 1;
    if (a->inflight == 0)
        a->next_refresh_ms = 0;
    else
        a->refresh_soon = 1;
}

static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The next refresh of table k waits for its CPU cost times the budget factor. */
static void throttle(struct con_app *a, int k, int64_t cpu_us)
{
    a->table_next_ms[k] = omni_mono_ms() + cpu_us * CON_CPU_BUDGET_FACTOR / 1000;
}

void actions_result(struct con_app *a, struct net_result *r)
{
    int ours = r->job.tag == a->refresh_gen;
    struct con_detail *d = &a->m.detail;

    if (r->at_us > a->last_result_us)
        a->last_result_us = r->at_us;
    switch (r->job.kind) {
    case NET_ENVS:
        if (r->ok) {
            con_model_apply_envs(&a->m, &r->envs, has_key_cb, a, r->at_us);
            for (size_t i = 0; i < r->envs.n; i++)
                con_model_apply_stats(&a->m, r->envs.items[i].id,
                                      r->stats[i].ok ? &r->stats[i].st : NULL, r->stats[i].err,
                                      &r->stats[i].ws, r->stats[i].work_err, r->at_us);
        } else {
            con_model_envs_error(&a->m, r->err.msg);
        }
        break;
    case NET_WORKERS:
        con_model_apply_workers(&a->m, r->job.env_id, r->workers, r->nworkers, r->at_us);
        break;
    case NET_SESSIONS:
        if (r->ok) {
            int64_t t0 = thread_cpu_us();
            con_model_apply_sessions(&a->m, r->job.env_id, &r->sessions, r->at_us);
            con_table_view(&a->m.sessions, 0, a->now_us);
            throttle(a, 0, r->cpu_us + thread_cpu_us() - t0);
        } else if (strcmp(a->m.sessions.env_id, r->job.env_id) == 0) {
            con_table_error(&a->m.sessions, r->err.msg);
        }
        break;
    case NET_WORK:
        if (r->ok) {
            int64_t t0 = thread_cpu_us();
            con_model_apply_work(&a->m, r->job.env_id, &r->work, r->at_us);
            con_table_view(&a->m.work, 1, a->now_us);
            throttle(a, 1, r->cpu_us + thread_cpu_us() - t0);
        } else {
            if (strcmp(a->m.work.env_id, r->job.env_id) != 0) {
                /* show the error for this environment, not old rows of another */
                struct omni_work_list none = {0};
                con_model_apply_work(&a->m, r->job.env_id, &none, 0);
            }
            con_table_error(&a->m.work, r->err.msg);
        }
        break;
    case NET_EVENTS:
        if (r->ok)
            con_model_apply_session_events(&a->m, r->job.session_id, &r->events, r->at_us);
        break;
    case NET_AGENTS:
        if (!r->ok) {
            ui_status(a, 1, "listing agents failed: %s", r->err.msg);
        } else if (!r->agents.n) {
            ui_status(a, 1, "no agents to start a session with");
        } else {
            omni_agent_list_release(&a->agents);
            a->agents = r->agents;
            memset(&r->agents, 0, sizeof r->agents);
            a->agent_cur = 0;
            a->prompt = CON_PROMPT_AGENT;
            a->status_ms = 0;
        }
        break;
    case NET_STOP:
        apply_action(a, r, r->job.force ? "force stop" : "stop");
        break;
    case NET_INTERRUPT:
        apply_action(a, r, "interrupt");
        break;
    case NET_CONFIRM:
        apply_action(a, r, r->job.allow ? "approve" : "deny");
        break;
    case NET_CREATE:
        apply_action(a, r, "create session");
        break;
    case NET_EVENT:
        if (strcmp(a->m.doc.event_id, r->job.event_id) == 0)
            con_doc_set(&a->m.doc, r->ok ? r->text : NULL, r->ok ? NULL : r->err.msg);
        break;
    case NET_STREAM_EVENT:
        if (strcmp(d->session_id, r->job.session_id) == 0 && r->event)
            con_detail_feed(d, r->event);
        break;
    case NET_STREAM_STATE:
        if (strcmp(d->session_id, r->job.session_id) != 0)
            break;
        d->streaming = r->ok;
        if (r->err.kind != OMNI_E_NONE)
            con_sanitize(d->err, sizeof d->err, r->err.msg);
        else
            d->err[0] = '\0';
        d->gen++;
        break;
    }
    if (ours && a->inflight > 0 && net_kind_is_refresh(r->job.kind))
        a->inflight--;
}
