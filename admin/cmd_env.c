/* env — list, show, create, archive environments (organisation key). */
#include "commands.h"
#include "ctx.h"

#include <string.h>

enum {
    OPT_DESCRIPTION = CTL_OPT_LONG,
    OPT_ARCHIVED,
    OPT_YES,
};

static cJSON *env_json(const struct omni_environment *e)
{
    cJSON *o = cJSON_CreateObject();
    char t[40];
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "name", e->name);
    if (e->description[0])
        cJSON_AddStringToObject(o, "description", e->description);
    else
        cJSON_AddNullToObject(o, "description");
    cJSON_AddStringToObject(o, "config_type", e->config_type);
    if (e->created_at)
        cJSON_AddStringToObject(o, "created_at", ctl_time(e->created_at, t, sizeof t));
    else
        cJSON_AddNullToObject(o, "created_at");
    if (e->archived_at)
        cJSON_AddStringToObject(o, "archived_at", ctl_time(e->archived_at, t, sizeof t));
    else
        cJSON_AddNullToObject(o, "archived_at");
    return o;
}

static void env_print_one(struct ctl_ctx *ctx, const struct omni_environment *e)
{
    char t1[40], t2[40];
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *o = env_json(e);
        ctx_json(ctx, o);
        cJSON_Delete(o);
        return;
    }
    ctx_out(ctx, "%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n%-12s %s\n", "id", e->id,
            "name", e->name, "description", e->description[0] ? e->description : "-", "type",
            e->config_type[0] ? e->config_type : "-", "created",
            ctl_time(e->created_at, t1, sizeof t1), "archived",
            ctl_time(e->archived_at, t2, sizeof t2));
    ctx_note_id(ctx, e->id);
}

static const struct option list_opts[] = {
    {"archived", no_argument, NULL, OPT_ARCHIVED},
    {0},
};

static int list_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    static const char *const hdr[] = {"ENVIRONMENT", "NAME", "TYPE", "CREATED", "ARCHIVED"};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_environment_list l = {0};
    struct omni_client *api = ctx_api(ctx, &err);

    if (!api || omni_env_list(api, args_has(a, OPT_ARCHIVED), &l, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "environments");
        for (size_t i = 0; i < l.n; i++)
            cJSON_AddItemToArray(arr, env_json(&l.items[i]));
        ctx_json(ctx, root);
        cJSON_Delete(root);
    } else {
        struct ctl_table t;
        ctl_table_init(&t, 5, hdr);
        for (size_t i = 0; i < l.n; i++) {
            char c[40], ar[40];
            const struct omni_environment *e = &l.items[i];
            const char *row[] = {e->id, e->name, e->config_type,
                                 ctl_time(e->created_at, c, sizeof c),
                                 ctl_time(e->archived_at, ar, sizeof ar)};
            ctl_table_row(&t, row, NULL);
        }
        ctl_table_print(ctx, &t);
        ctl_table_release(&t);
    }
    omni_environment_list_release(&l);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_list = {
    .name = "list",
    .alias = "ls",
    .usage = "env list [--archived]",
    .summary = "List environments (--archived includes archived ones).",
    .longopts = list_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API,
    .exec = list_exec,
};

static int show_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_environment e;
    struct omni_client *api;

    if (!omni_id_valid(a->argv[0]))
        return ctx_usage_error(ctx, "env show: invalid environment id \"%.80s\"", a->argv[0]);
    api = ctx_api(ctx, &err);
    if (!api || omni_env_get(api, a->argv[0], &e, &err) < 0)
        return ctx_fail(ctx, &err);
    env_print_one(ctx, &e);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_show = {
    .name = "show",
    .usage = "env show ENV",
    .summary = "Show one environment.",
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API,
    .exec = show_exec,
};

static const struct option create_opts[] = {
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {0},
};

static int create_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_environment e;
    struct omni_client *api;
    const char *name = a->argv[0], *desc = args_get(a, OPT_DESCRIPTION);

    if (!*name || strlen(name) >= OMNI_NAME_MAX)
        return ctx_usage_error(ctx, "env create: name must be 1..%d bytes", OMNI_NAME_MAX - 1);
    if (desc && strlen(desc) >= OMNI_NAME_MAX)
        return ctx_usage_error(ctx, "env create: description longer than %d bytes",
                               OMNI_NAME_MAX - 1);
    api = ctx_api(ctx, &err);
    if (!api || omni_env_create(api, name, desc, &e, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        env_print_one(ctx, &e);
    } else {
        ctx_out(ctx, "%s\n", e.id);
        ctx_note_id(ctx, e.id);
    }
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_create = {
    .name = "create",
    .usage = "env create [--description TEXT] NAME",
    .summary = "Create a self-hosted environment and print its id.",
    .longopts = create_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API | CTL_F_CHANGES,
    .exec = create_exec,
};

static const struct option archive_opts[] = {
    {"yes", no_argument, NULL, OPT_YES},
    {0},
};

static int archive_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_environment e;
    struct omni_client *api;

    if (!omni_id_valid(a->argv[0]))
        return ctx_usage_error(ctx, "env archive: invalid environment id \"%.80s\"", a->argv[0]);
    if (!args_has(a, OPT_YES) &&
        !ctx_confirm(ctx, "archive environment %s (no new sessions can use it)?", a->argv[0])) {
        ctx_error(ctx, "env archive: not confirmed, nothing done");
        return CTL_EXIT_FAIL;
    }
    api = ctx_api(ctx, &err);
    if (!api || omni_env_archive(api, a->argv[0], &e, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON)
        env_print_one(ctx, &e);
    else
        ctx_out(ctx, "archived %s\n", e.id);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_archive = {
    .name = "archive",
    .usage = "env archive [--yes] ENV",
    .summary = "Archive an environment.",
    .longopts = archive_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API | CTL_F_CHANGES | CTL_F_CONFIRM,
    .exec = archive_exec,
};

static const struct ctl_cmd *const env_table[] = {&cmd_list, &cmd_show, &cmd_create, &cmd_archive,
                                                  NULL};

const struct ctl_cmd ctl_cmd_env = {
    .name = "env",
    .alias = "environments",
    .usage = "env list|show|create|archive ...",
    .summary = "Manage environments.",
    .flags = CTL_F_API,
    .subcmds = env_table,
};
