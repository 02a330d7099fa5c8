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
/* A worker learns of a force stop at its next heartbeat (protocol.md): the
 * run it started goes on until then. */
#define STOP_NOTICE_TEXT "15-60 s"

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

/* What stop did, with times (us since epoch, 0: did not happen). */
struct stop_story {
    int64_t requested_at;  /* the first stop (graceful or force) */
    int64_t wait_ended_at; /* --wait ran out without `stopped` */
    int64_t escalated_at;  /* --escalate sent the force stop */
    int64_t stopped_seen;  /* the server first reported `stopped` */
    int64_t heartbeat_at;  /* the item's latest heartbeat (the worker's run) */
    int64_t waited_ms;     /* the --wait given */
    int forced;            /* a force stop was sent (--force or --escalate) */
    int ran;               /* the item had a worker (acknowledged, heartbeating) */
    char wait_state[16];   /* the state when the wait ran out */
};

/* Poll retrieve until stopped or the deadline; *state gets the last state. */
static int wait_stopped(struct ctl_ctx *ctx, struct omni_client *api, const struct target *t,
                        int64_t wait_ms, char *state, size_t statelen, struct stop_story *st,
                        struct omni_err *err)
{
    int64_t end = omni_mono_ms() + wait_ms;
    for (;;) {
        struct omni_work w;
        if (omni_work_get(api, t->env_id, t->work_id, &w, err) < 0)
            return -1;
        snprintf(state, statelen, "%s", w.state);
        if (w.latest_heartbeat_at)
            st->heartbeat_at = w.latest_heartbeat_at;
        st->ran |= w.acknowledged_at != 0 || w.latest_heartbeat_at != 0;
        omni_work_release(&w);
        if (strcmp(state, "stopped") == 0) {
            st->stopped_seen = omni_wall_us();
            return 1;
        }
        if (omni_mono_ms() >= end || (ctx->abort && *ctx->abort))
            return 0;
        omni_sleep_ms(STOP_POLL_MS, ctx->abort);
    }
}

/* The run may go on: a force stop of an item a worker had taken. */
static int still_running(const struct stop_story *st)
{
    return st->forced && st->ran;
}

static void report(struct ctl_ctx *ctx, const struct target *t, const char *state, int already,
                   const char *what, const struct stop_story *st)
{
    char a[40], b[40], c[40];

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
        if (st) {
            ctx_json_time(o, "requested_at", st->requested_at);
            ctx_json_time(o, "wait_ended_at", st->wait_ended_at);
            if (st->wait_ended_at)
                cJSON_AddStringToObject(o, "wait_ended_state", st->wait_state);
            else
                cJSON_AddNullToObject(o, "wait_ended_state");
            cJSON_AddBoolToObject(o, "escalated", st->escalated_at != 0);
            ctx_json_time(o, "escalated_at", st->escalated_at);
            ctx_json_time(o, "stopped_at", st->stopped_seen);
            ctx_json_time(o, "latest_heartbeat_at", st->heartbeat_at);
            cJSON_AddBoolToObject(o, "may_still_run", still_running(st));
        }
        ctx_json(ctx, o);
        cJSON_Delete(o);
        return;
    }
    ctx_note_id(ctx, t->work_id);
    if (t->session_id[0])
        ctx_out(ctx, "%s %s (session %s): %s\n", what, t->work_id, t->session_id, state);
    else
        ctx_out(ctx, "%s %s: %s\n", what, t->work_id, state);
    if (!st)
        return;
    if (st->requested_at)
        ctx_out(ctx, "  %s stop requested at %s\n",
                st->forced && !st->escalated_at ? "force" : "graceful",
                ctl_time(st->requested_at, a, sizeof a));
    if (st->wait_ended_at)
        ctx_out(ctx, "  wait of %llds ended at %s: state %s, not stopped\n",
                (long long)(st->waited_ms / 1000), ctl_time(st->wait_ended_at, b, sizeof b),
                st->wait_state);
    if (st->escalated_at)
        ctx_out(ctx, "  escalated: force stop sent at %s\n",
                ctl_time(st->escalated_at, c, sizeof c));
    if (st->stopped_seen)
        ctx_out(ctx, "  server reported stopped at %s\n", ctl_time(st->stopped_seen, a, sizeof a));
    if (still_running(st))
        ctx_out(ctx,
                "  still running: the worker's run%s%s (last heartbeat %s) until the worker "
                "notices the force stop at its next heartbeat, within %s\n",
                t->session_id[0] ? " of session " : "", t->session_id,
                ctl_time(st->heartbeat_at, b, sizeof b), STOP_NOTICE_TEXT);
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
    struct stop_story story;

    memset(&t, 0, sizeof t);
    memset(&story, 0, sizeof story);
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
        report(ctx, &t, "stopped", 1, "already stopped", NULL);
        return CTL_EXIT_OK;
    }
    /* The server marks a force-stopped item stopped at once; the worker
     * running it learns so only at its next heartbeat. */
    if (!args_has(a, OPT_YES) &&
        !ctx_confirm(ctx, "%s work item %s%s%s in %s (state %s)?%s", force ? "force-stop" : "stop",
                     t.work_id, t.session_id[0] ? " of session " : "", t.session_id, t.env_id,
                     t.state,
                     force ? " The server marks it stopped now; its worker ends the run when "
                             "it notices, at its next heartbeat (" STOP_NOTICE_TEXT ")."
                           : "")) {
        ctx_error(ctx, "stop: not confirmed, nothing done");
        return CTL_EXIT_FAIL;
    }
    if (args_has(a, OPT_INTERRUPT)) {
        if (!t.session_id[0])
            return ctx_usage_error(ctx, "stop: --interrupt needs a session work item");
        if (omni_send_interrupt(api, t.session_id, &err) < 0)
            return ctx_fail(ctx, &err);
    }
    story.ran = strcmp(t.state, "queued") != 0;
    story.forced = force;
    story.waited_ms = wait_ms;
    story.requested_at = omni_wall_us();
    if (omni_work_stop(api, t.env_id, t.work_id, force, &already, &err) < 0)
        return ctx_fail(ctx, &err);
    if (already) {
        report(ctx, &t, "stopped", 1, "already stopped", NULL);
        return CTL_EXIT_OK;
    }
    snprintf(state, sizeof state, "%s", force ? "stopped" : "stopping");
    if (wait_ms >= 0) {
        r = wait_stopped(ctx, api, &t, wait_ms, state, sizeof state, &story, &err);
        if (r < 0)
            return ctx_fail(ctx, &err);
        if (r == 0) {
            story.wait_ended_at = omni_wall_us();
            snprintf(story.wait_state, sizeof story.wait_state, "%s", state);
        }
        if (r == 0 && args_has(a, OPT_ESCALATE)) {
            story.escalated_at = omni_wall_us();
            story.forced = 1;
            if (omni_work_stop(api, t.env_id, t.work_id, 1, &already, &err) < 0)
                return ctx_fail(ctx, &err);
            r = wait_stopped(ctx, api, &t, STOP_ESCALATE_WAIT_MS, state, sizeof state, &story,
                             &err);
            if (r < 0)
                return ctx_fail(ctx, &err);
        }
        if (r == 0) {
            report(ctx, &t, state, 0, "not stopped", &story);
            ctx_error(ctx, "stop: work \"%s\" not stopped after %llds (state %s)", t.work_id,
                      (long long)(wait_ms / 1000), state);
            return CTL_EXIT_FAIL;
        }
        if (story.escalated_at) {
            /* The graceful stop did not end the run in time: say so, exit 1. */
            report(ctx, &t, state, 0, "force-stopped (escalated)", &story);
            ctx_error(ctx,
                      "stop: work \"%s\" did not stop within --wait=%llds; escalated to a force "
                      "stop",
                      t.work_id, (long long)(wait_ms / 1000));
            return CTL_EXIT_FAIL;
        }
        report(ctx, &t, state, 0, "stopped", &story);
        return CTL_EXIT_OK;
    }
    {
        /* Report the state the server now holds (a queued item stops at once). */
        struct omni_work w;
        struct omni_err ignore = OMNI_ERR_INIT;
        if (omni_work_get(api, t.env_id, t.work_id, &w, &ignore) == 0) {
            snprintf(state, sizeof state, "%s", w.state);
            story.heartbeat_at = w.latest_heartbeat_at;
            if (strcmp(state, "stopped") == 0)
                story.stopped_seen = omni_wall_us();
            omni_work_release(&w);
        }
    }
    report(ctx, &t, state, 0, strcmp(state, "stopped") == 0 ? "stopped" : "stop requested for",
           &story);
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
