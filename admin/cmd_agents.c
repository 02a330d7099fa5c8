/* agents — list agents (to pick an --agent for sessions create). */
#include "commands.h"
#include "ctx.h"

static int list_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    static const char *const hdr[] = {"AGENT", "NAME", "MODEL", "VERSION", "CREATED"};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_agent_list l = {0};
    struct omni_client *api = ctx_api(ctx, &err);

    (void)a;
    if (!api || omni_agents_list(api, &l, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "agents");
        for (size_t i = 0; i < l.n; i++) {
            cJSON *o = cJSON_CreateObject();
            char t[40];
            cJSON_AddStringToObject(o, "id", l.items[i].id);
            cJSON_AddStringToObject(o, "name", l.items[i].name);
            cJSON_AddStringToObject(o, "model", l.items[i].model);
            cJSON_AddNumberToObject(o, "version", (double)l.items[i].version);
            if (l.items[i].created_at)
                cJSON_AddStringToObject(o, "created_at",
                                        ctl_time(l.items[i].created_at, t, sizeof t));
            else
                cJSON_AddNullToObject(o, "created_at");
            cJSON_AddItemToArray(arr, o);
        }
        ctx_json(ctx, root);
        cJSON_Delete(root);
    } else {
        struct ctl_table t;
        ctl_table_init(&t, 5, hdr);
        for (size_t i = 0; i < l.n; i++) {
            char v[32], c[40];
            snprintf(v, sizeof v, "%ld", l.items[i].version);
            const char *row[] = {l.items[i].id, l.items[i].name, l.items[i].model, v,
                                 ctl_time(l.items[i].created_at, c, sizeof c)};
            ctl_table_row(&t, row, NULL);
        }
        ctl_table_print(ctx, &t);
        ctl_table_release(&t);
    }
    omni_agent_list_release(&l);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_list = {
    .name = "list",
    .alias = "ls",
    .usage = "agents list",
    .summary = "List agents.",
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API,
    .exec = list_exec,
};

static const struct ctl_cmd *const agents_table[] = {&cmd_list, NULL};

const struct ctl_cmd ctl_cmd_agents = {
    .name = "agents",
    .alias = "agent",
    .usage = "agents list",
    .summary = "Inspect agents.",
    .flags = CTL_F_API,
    .subcmds = agents_table,
};
