/* stop — stop a work item, given its id or its session's id. */
#include "commands.h"
#include "ctx.h"
#include "session_work.h"
#include "timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STOP_DEFAULT_WAIT_S 60
#define STOP_MAX_WAIT_S 86400
#define STOP_POLL_MS 500
#define STOP_ESCALATE_WAIT_MS 10000

enum {
    OPT_ENV = CTL_OPT_LONG,
    OPT_FORCE,
    OPT_WAIT,
    OPT_ESCALATE,
    OPT_INTERRUPT,
    OPT_YES,
};

static const struct option stop_opts[] = {
    {"env", required_argument, NULL, OPT_ENV},
    {"force", no_argument, NULL, OPT_FORCE},
    {"wait", optional_argument, NULL, OPT_WAIT},
    {"escalate", no_argument, NULL, OPT_ESCALATE},
    {"interrupt", no_argument, NULL, OPT_INTERRUPT},
    {"yes", no_argument, NULL, OPT_YES},
    {0},
};

struct target {
    char work_id[OMNI_ID_MAX];
    char session_id[OMNI_ID_MAX];
    char env_id[OMNI_ID_MAX];
    char state[16];
};

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Session id → its live work item, through the environment's work list. */
static int resolve_session(struct ctl_ctx *ctx, struct omni_client *api, const char *given_env,
                           struct target *t, struct omni_err *err)
{
    struct omni_work_list wl = {0};
    struct omni_client *ec;
    const struct omni_work *w;

    if (given_env) {
        snprintf(t->env_id, sizeof t->env_id, "%s", given_env);
    } else {
        struct omni_session s;
        if (omni_session_get(api, t->session_id, &s, err) < 0)
            return -1;
        snprintf(t->env_id, sizeof t->env_id, "%s", s.environment_id);
        omni_session_release(&s);
        if (!t->env_id[0])
            return omni_err_set(err, OMNI_E_PARSE, "session \"%s\" has no environment_id",
                                t->session_id);
    }
    ec = ctx_env_client(ctx, t->env_id, err);
    if (!ec) {
        size_t n = strlen(err->msg);
        if (err->kind == OMNI_E_CONFIG && ctx->prof_loaded &&
            !omni_profile_env_key_file(&ctx->prof, t->env_id))
            snprintf(err->msg + n, sizeof err->msg - n, "; or pass the work id instead");
        return -1;
    }
    if (omni_work_list(ec, t->env_id, &wl, err) < 0) {
        omni_client_free(ec);
        return -1;
    }
    omni_client_free(ec);
    w = omni_work_for_session(&wl, t->session_id);
    if (!w) {
        omni_work_list_release(&wl);
        omni_err_set(err, OMNI_E_HTTP, "no work item for session \"%s\" in \"%s\"", t->session_id,
                     t->env_id);
        err->status = 404;
        return -1;
    }
    snprintf(t->work_id, sizeof t->work_id, "%s", w->id);
    snprintf(t->state, sizeof t->state, "%s", w->state);
    omni_work_list_release(&wl);
    return 0;
}

/* Poll retrieve until stopped or the deadline; *state gets the last state. */
static int wait_stopped(struct ctl_ctx *ctx, struct omni_client *api, const struct target *t,
                        int64_t wait_ms, char *state, size_t statelen, struct omni_err *err)
{
    int64_t end = omni_mono_ms() + wait_ms;
    for (;;) {
        struct omni_work w;
        if (omni_work_get(api, t->env_id, t->work_id, &w, err) < 0)
            return -1;
        snprintf(state, statelen, "%s", w.state);
        omni_work_release(&w);
        if (strcmp(state, "stopped") == 0)
            return 1;
        if (omni_mono_ms() >= end || (ctx->abort && *ctx->abort))
            return 0;
        omni_sleep_ms(STOP_POLL_MS, ctx->abort);
    }
}

static void report(struct ctl_ctx *ctx, const struct target *t, const char *state, int already,
                   const char *what)
{
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "work_id", t->work_id);
        if (t->session_id[0])
            cJSON_AddStringToObject(o, "session_id", t->session_id);
        else
            cJSON_AddNullToObject(o, "session_id");
        cJSON_AddStringToObject(o, "environment_id", t->env_id);
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddBoolToObject(o, "already_stopped", already);
        ctx_json(ctx, o);
        cJSON_Delete(o);
        return;
    }
    ctx_note_id(ctx, t->work_id);
    if (t->session_id[0])
        ctx_out(ctx, "%s %s (session %s): %s\n", what, t->work_id, t->session_id, state);
    else
        ctx_out(ctx, "%s %s: %s\n", what, t->work_id, state);
}

static int stop_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct target t;
    struct omni_client *api;
    const char *id = a->argv[0], *given_env = args_get(a, OPT_ENV);
    int force = args_has(a, OPT_FORCE), already = 0, r;
    int64_t wait_ms = -1;
    char state[16] = "";

    memset(&t, 0, sizeof t);
    if (!omni_id_valid(id))
        return ctx_usage_error(ctx, "stop: invalid id \"%.80s\"", id);
    if (given_env && !omni_id_valid(given_env))
        return ctx_usage_error(ctx, "stop: invalid environment id \"%.80s\"", given_env);
    if (args_has(a, OPT_WAIT)) {
        const char *w = args_get(a, OPT_WAIT);
        int64_t ms = STOP_DEFAULT_WAIT_S * 1000;
        if (w && (omni_duration_parse(w, &ms) < 0 || ms <= 0 || ms > STOP_MAX_WAIT_S * 1000LL))
            return ctx_usage_error(ctx, "stop: --wait \"%.40s\" is not a duration", w);
        wait_ms = ms;
    }
    if (args_has(a, OPT_ESCALATE) && wait_ms < 0)
        return ctx_usage_error(ctx, "stop: --escalate needs --wait");
    api = ctx_api(ctx, &err);
    if (!api)
        return ctx_fail(ctx, &err);

    if (has_prefix(id, "sesn_")) {
        snprintf(t.session_id, sizeof t.session_id, "%s", id);
        if (resolve_session(ctx, api, given_env, &t, &err) < 0)
            return ctx_fail(ctx, &err);
    } else if (has_prefix(id, "work_")) {
        const char *env = ctx_env(ctx, given_env, &err);
        struct omni_work w;
        if (!env)
            return ctx_fail(ctx, &err);
        snprintf(t.env_id, sizeof t.env_id, "%s", env);
        snprintf(t.work_id, sizeof t.work_id, "%s", id);
        if (omni_work_get(api, t.env_id, t.work_id, &w, &err) < 0)
            return ctx_fail(ctx, &err);
        snprintf(t.state, sizeof t.state, "%s", w.state);
        if (strcmp(w.data_type, "session") == 0)
            snprintf(t.session_id, sizeof t.session_id, "%s", w.data_id);
        omni_work_release(&w);
    } else {
        return ctx_usage_error(ctx,
                               "stop: \"%.80s\" is neither a session id (sesn_...) nor a work "
                               "id (work_...)",
                               id);
    }

    if (strcmp(t.state, "stopped") == 0) {
        report(ctx, &t, "stopped", 1, "already stopped");
        return CTL_EXIT_OK;
    }
    if (!args_has(a, OPT_YES) &&
        !ctx_confirm(ctx, "%s work item %s%s%s in %s (state %s)?", force ? "force-stop" : "stop",
                     t.work_id, t.session_id[0] ? " of session " : "", t.session_id, t.env_id,
                     t.state)) {
        ctx_error(ctx, "stop: not confirmed, nothing done");
        return CTL_EXIT_FAIL;
    }
    if (args_has(a, OPT_INTERRUPT)) {
        if (!t.session_id[0])
            return ctx_usage_error(ctx, "stop: --interrupt needs a session work item");
        if (omni_send_interrupt(api, t.session_id, &err) < 0)
            return ctx_fail(ctx, &err);
    }
    if (omni_work_stop(api, t.env_id, t.work_id, force, &already, &err) < 0)
        return ctx_fail(ctx, &err);
    if (already) {
        report(ctx, &t, "stopped", 1, "already stopped");
        return CTL_EXIT_OK;
    }
    snprintf(state, sizeof state, "%s", force ? "stopped" : "stopping");
    if (wait_ms >= 0) {
        r = wait_stopped(ctx, api, &t, wait_ms, state, sizeof state, &err);
        if (r < 0)
            return ctx_fail(ctx, &err);
        if (r == 0 && args_has(a, OPT_ESCALATE)) {
            if (omni_work_stop(api, t.env_id, t.work_id, 1, &already, &err) < 0)
                return ctx_fail(ctx, &err);
            r = wait_stopped(ctx, api, &t, STOP_ESCALATE_WAIT_MS, state, sizeof state, &err);
            if (r < 0)
                return ctx_fail(ctx, &err);
        }
        if (r == 0) {
            ctx_error(ctx, "stop: work \"%s\" not stopped after %llds (state %s)", t.work_id,
                      (long long)(wait_ms / 1000), state);
            return CTL_EXIT_FAIL;
        }
        report(ctx, &t, state, 0, "stopped");
        return CTL_EXIT_OK;
    }
    {
        /* Report the state the server now holds (a queued item stops at once). */
        struct omni_work w;
        struct omni_err ignore = OMNI_ERR_INIT;
        if (omni_work_get(api, t.env_id, t.work_id, &w, &ignore) == 0) {
            snprintf(state, sizeof state, "%s", w.state);
            omni_work_release(&w);
        }
    }
    report(ctx, &t, state, 0, strcmp(state, "stopped") == 0 ? "stopped" : "stop requested for");
    return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_cmd_stop = {
    .name = "stop",
    .usage = "stop [--env ENV] [--force] [--wait[=SECS]] [--escalate] [--interrupt] [--yes] ID",
    .summary = "Stop a work item given its work id or its session id (graceful unless --force).",
    .longopts = stop_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API | CTL_F_CHANGES | CTL_F_CONFIRM,
    .exec = stop_exec,
};
