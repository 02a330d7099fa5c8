/* work — list (environment key), show and annotate (org key), stuck (for cron). */
#include "commands.h"
#include "alloc.h"
#include "ctx.h"
#include "health.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

#define WORK_STUCK_MAX_MS (86400000LL * 30)

enum {
    OPT_ENV = CTL_OPT_LONG,
    OPT_OLDER_THAN,
    OPT_ALL,
};

static const struct option env_opts[] = {
    {"env", required_argument, NULL, OPT_ENV},
    {0},
};

static const struct option stuck_opts[] = {
    {"env", required_argument, NULL, OPT_ENV},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"all", no_argument, NULL, OPT_ALL},
    {0},
};

/* The work object as JSON (fields of protocol.md §6.1; never the secret). */
static cJSON *work_json(const struct omni_work *w)
{
    cJSON *o = cJSON_CreateObject(), *d;
    cJSON_AddStringToObject(o, "id", w->id);
    cJSON_AddStringToObject(o, "type", "work");
    cJSON_AddStringToObject(o, "environment_id", w->environment_id);
    d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "type", w->data_type);
    cJSON_AddStringToObject(d, "id", w->data_id);
    cJSON_AddStringToObject(o, "state", w->state);
    ctx_json_time(o, "created_at", w->created_at);
    ctx_json_time(o, "acknowledged_at", w->acknowledged_at);
    ctx_json_time(o, "started_at", w->started_at);
    ctx_json_time(o, "latest_heartbeat_at", w->latest_heartbeat_at);
    ctx_json_time(o, "stop_requested_at", w->stop_requested_at);
    ctx_json_time(o, "stopped_at", w->stopped_at);
    return o;
}

static int work_list_env(struct ctl_ctx *ctx, const struct ctl_args *a, struct omni_work_list *l,
                         const char **env_out, struct omni_err *err)
{
    struct omni_client *ec;
    const char *env = ctx_env(ctx, args_get(a, OPT_ENV), err);
    int r;

    if (!env)
        return -1;
    *env_out = env;
    ec = ctx_env_client(ctx, env, err);
    if (!ec)
        return -1;
    r = omni_work_list(ec, env, l, err);
    omni_client_free(ec);
    return r;
}

static void print_works(struct ctl_ctx *ctx, const struct omni_work *items, const size_t *idx,
                        size_t n)
{
    static const char *const hdr[] = {"WORK",           "STATE",     "TYPE",         "DATA",
                                      "CREATED",        "HEARTBEAT", "ACKNOWLEDGED", "STARTED",
                                      "STOP-REQUESTED", "STOPPED",   "ENVIRONMENT"};
    int wide = ctx->output == CTL_OUT_WIDE;
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "work");
        for (size_t i = 0; i < n; i++) {
            cJSON_AddItemToArray(arr, work_json(&items[idx ? idx[i] : i]));
        }
        ctx_json(ctx, root);
        cJSON_Delete(root);
        return;
    }
    struct ctl_table t;
    ctl_table_init(&t, wide ? 11 : 6, hdr);
    for (size_t i = 0; i < n; i++) {
        const struct omni_work *w = &items[idx ? idx[i] : i];
        char created[40], hb[40], ack[40], started[40], sreq[40], stopped[40];
        const char *row[] = {w->id,
                             w->state,
                             w->data_type,
                             w->data_id,
                             ctl_time(w->created_at, created, sizeof created),
                             ctl_time(w->latest_heartbeat_at, hb, sizeof hb),
                             ctl_time(w->acknowledged_at, ack, sizeof ack),
                             ctl_time(w->started_at, started, sizeof started),
                             ctl_time(w->stop_requested_at, sreq, sizeof sreq),
                             ctl_time(w->stopped_at, stopped, sizeof stopped),
                             w->environment_id};
        ctl_table_row(&t, row, NULL);
    }
    ctl_table_print(ctx, &t);
    ctl_table_release(&t);
}

static int list_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_work_list l = {0};
    const char *env;

    if (work_list_env(ctx, a, &l, &env, &err) < 0)
        return ctx_fail(ctx, &err);
    print_works(ctx, l.items, NULL, l.n);
    omni_work_list_release(&l);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_list = {
    .name = "list",
    .alias = "ls",
    .usage = "work list [--env ENV] [-o table|wide|json] [--watch SECS]",
    .summary = "List an environment's work items (needs its env_key_file in the config).",
    .longopts = env_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API | CTL_F_WATCH,
    .exec = list_exec,
};

static int show_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *api;
    struct omni_work w;
    const char *env;
    char t[6][40];

    if (!omni_id_valid(a->argv[0]))
        return ctx_usage_error(ctx, "work show: invalid work id \"%.80s\"", a->argv[0]);
    env = ctx_env(ctx, args_get(a, OPT_ENV), &err);
    if (!env)
        return ctx_fail(ctx, &err);
    api = ctx_api(ctx, &err);
    if (!api || omni_work_get(api, env, a->argv[0], &w, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *o = work_json(&w);
        ctx_json(ctx, o);
        cJSON_Delete(o);
    } else {
        ctx_out(ctx, "%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n", "id", w.id,
                "environment", w.environment_id, "state", w.state, "type", w.data_type, "data",
                w.data_id[0] ? w.data_id : "-");
        ctx_out(ctx, "%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n%-16s %s\n", "created",
                ctl_time(w.created_at, t[0], 40), "acknowledged",
                ctl_time(w.acknowledged_at, t[1], 40), "started", ctl_time(w.started_at, t[2], 40),
                "heartbeat", ctl_time(w.latest_heartbeat_at, t[3], 40), "stop requested",
                ctl_time(w.stop_requested_at, t[4], 40), "stopped",
                ctl_time(w.stopped_at, t[5], 40));
        ctx_note_id(ctx, w.id);
        ctx_note_id(ctx, w.data_id);
    }
    omni_work_release(&w);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_show = {
    .name = "show",
    .usage = "work show [--env ENV] WORK-ID",
    .summary = "Show one work item (organisation key).",
    .longopts = env_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API,
    .exec = show_exec,
};

/*
 * annotate: a metadata merge patch (KEY=VALUE sets, KEY= deletes), checked
 * against the API's limits before any request; prints the metadata the item
 * has afterwards.
 */
static int annotate_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *api;
    struct omni_work w;
    cJSON *patch, *md = NULL;
    const char *env;

    if (!omni_id_valid(a->argv[0]))
        return ctx_usage_error(ctx, "work annotate: invalid work id \"%.80s\"", a->argv[0]);
    patch = omni_metadata_patch_parse(a->argv + 1, (size_t)(a->argc - 1), &err);
    if (!patch)
        return ctx_usage_error(ctx, "work annotate: %s", err.msg);
    env = ctx_env(ctx, args_get(a, OPT_ENV), &err);
    api = env ? ctx_api(ctx, &err) : NULL;
    if (!api || omni_work_update(api, env, a->argv[0], patch, &w, &md, &err) < 0) {
        cJSON_Delete(patch);
        return ctx_fail(ctx, &err);
    }
    cJSON_Delete(patch);
    if (ctx->output == CTL_OUT_JSON) {
        ctx_json(ctx, md);
    } else {
        static const char *const hdr[] = {"KEY", "VALUE"};
        struct ctl_table t;
        ctl_table_init(&t, 2, hdr);
        for (const cJSON *c = md->child; c; c = c->next) {
            const char *row[] = {c->string ? c->string : "",
                                 cJSON_IsString(c) ? c->valuestring : "?"};
            ctl_table_row(&t, row, NULL);
        }
        ctl_table_print(ctx, &t);
        ctl_table_release(&t);
        ctx_note_id(ctx, w.id);
    }
    cJSON_Delete(md);
    omni_work_release(&w);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_annotate = {
    .name = "annotate",
    .usage = "work annotate [--env ENV] WORK-ID KEY=VALUE|KEY= ...",
    .summary = "Set (KEY=VALUE) or delete (KEY=) metadata of a work item (organisation key); "
               "prints the resulting metadata.",
    .longopts = env_opts,
    .min_args = 2,
    .max_args = -1,
    .flags = CTL_F_API | CTL_F_CHANGES,
    .exec = annotate_exec,
};

/* Append env's stuck items to *out (grown as needed). Returns 0, or -1 with err. */
static int stuck_env(struct ctl_ctx *ctx, const char *env, int64_t now, int64_t older,
                     struct omni_work_list *out, struct omni_err *err)
{
    struct omni_work_list l = {0};
    struct omni_client *ec = ctx_env_client(ctx, env, err);
    int r;

    if (!ec)
        return -1;
    r = omni_work_list(ec, env, &l, err);
    omni_client_free(ec);
    if (r < 0)
        return -1;
    for (size_t i = 0; i < l.n; i++) {
        if (!omni_work_stuck(&l.items[i], now, older))
            continue;
        out->items = omni_xreallocarray(out->items, out->n + 1, sizeof *out->items);
        out->items[out->n++] = l.items[i];
        memset(&l.items[i], 0, sizeof l.items[i]); /* moved */
    }
    omni_work_list_release(&l);
    return 0;
}

/*
 * Exit 1 when any item is stuck (or a listing failed); with --all every
 * environment the org key lists is checked, and one the profile has no
 * env_key_file for is named on stderr and makes the exit 3 (not checked)
 * unless something was found stuck.
 */
static int stuck_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_work_list found = {0};
    const char *ot = args_get(a, OPT_OLDER_THAN);
    int64_t older = OMNI_STUCK_MS, now;
    int rc = CTL_EXIT_OK;

    if (ot && (omni_duration_parse(ot, &older) < 0 || older > WORK_STUCK_MAX_MS))
        return ctx_usage_error(ctx, "work stuck: --older-than \"%.40s\" is not a duration", ot);
    if (args_has(a, OPT_ALL) && args_get(a, OPT_ENV))
        return ctx_usage_error(ctx, "work stuck: give --env or --all, not both");
    now = omni_wall_us();
    if (args_has(a, OPT_ALL)) {
        struct omni_environment_list el = {0};
        struct omni_client *api = ctx_api(ctx, &err);
        if (!api || omni_env_list(api, 0, &el, &err) < 0)
            return ctx_fail(ctx, &err);
        for (size_t i = 0; i < el.n; i++) {
            const char *env = el.items[i].id;
            struct omni_err e2 = OMNI_ERR_INIT;
            if (!omni_profile_env_key_file(&ctx->prof, env)) {
                ctx_error(ctx, "work stuck: %s not checked: no env_key_file.%s in the profile", env,
                          env);
                if (rc == CTL_EXIT_OK)
                    rc = CTL_EXIT_CONFIG;
                continue;
            }
            if (stuck_env(ctx, env, now, older, &found, &e2) < 0) {
                ctx_error(ctx, "work stuck: %s: %s", env, e2.msg);
                rc = CTL_EXIT_FAIL;
            }
        }
        omni_environment_list_release(&el);
    } else {
        const char *env = ctx_env(ctx, args_get(a, OPT_ENV), &err);
        if (!env || stuck_env(ctx, env, now, older, &found, &err) < 0) {
            omni_work_list_release(&found);
            return ctx_fail(ctx, &err);
        }
    }
    if (found.n > 0 || ctx->output == CTL_OUT_JSON)
        print_works(ctx, found.items, NULL, found.n);
    if (found.n > 0)
        rc = CTL_EXIT_FAIL;
    omni_work_list_release(&found);
    return rc;
}

static const struct ctl_cmd cmd_stuck = {
    .name = "stuck",
    .usage = "work stuck [--older-than DURATION] [--env ENV | --all]",
    .summary = "List items acknowledged but never heartbeating for longer than DURATION "
               "(default 60s); exit 1 when any.",
    .longopts = stuck_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API,
    .exec = stuck_exec,
};

static const struct ctl_cmd *const work_table[] = {&cmd_list, &cmd_show, &cmd_annotate, &cmd_stuck,
                                                   NULL};

const struct ctl_cmd ctl_cmd_work = {
    .name = "work",
    .usage = "work list|show|annotate|stuck ...",
    .summary = "Inspect and annotate work items.",
    .flags = CTL_F_API,
    .subcmds = work_table,
};
