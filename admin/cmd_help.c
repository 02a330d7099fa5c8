/* help — command list and per-command help; hidden __usage/__options dumps
 * used by the man page test and completion. */
#include "commands.h"
#include "ctx.h"

#include <string.h>

static void help_list(struct ctl_ctx *ctx)
{
    ctx_out(
        ctx,
        "usage: %s [--profile NAME] [--base-url URL] [--timeout DURATION] [--workspace ID] [-v] "
        "[--local-time] "
        "[-o FORMAT] COMMAND [ARGS]\n\ncommands:\n",
        ctx->prog);
    for (const struct ctl_cmd *const *c = ctl_commands; *c; c++) {
        if ((*c)->flags & CTL_F_HIDDEN)
            continue;
        if ((*c)->subcmds) {
            for (const struct ctl_cmd *const *s = (*c)->subcmds; *s; s++)
                ctx_out(ctx, "  %s\n      %s\n", (*s)->usage, (*s)->summary);
        } else {
            ctx_out(ctx, "  %s\n      %s\n", (*c)->usage, (*c)->summary);
        }
    }
    ctx_out(ctx,
            "\nexit codes: 0 ok, 1 failure, 2 usage, 3 config/credentials, 4 not found "
            "(stats -o nagios: 0-3)\nsee %s(1) for details\n",
            ctx->prog);
}

static int help_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    const struct ctl_cmd *c, *s;
    int amb;

    if (a->argc == 0) {
        help_list(ctx);
        return CTL_EXIT_OK;
    }
    c = ctl_lookup(ctl_commands, a->argv[0], &amb);
    if (!c)
        return ctx_usage_error(ctx, "help: %s command \"%.80s\"", amb ? "ambiguous" : "unknown",
                               a->argv[0]);
    if (c->subcmds && a->argc > 1) {
        s = ctl_lookup(c->subcmds, a->argv[1], &amb);
        if (!s)
            return ctx_usage_error(ctx, "help: %s subcommand \"%.80s\"",
                                   amb ? "ambiguous" : "unknown", a->argv[1]);
        c = s;
    }
    if (c->subcmds) {
        for (const struct ctl_cmd *const *t = c->subcmds; *t; t++)
            ctx_out(ctx, "usage: %s %s\n    %s\n", ctx->prog, (*t)->usage, (*t)->summary);
        return CTL_EXIT_OK;
    }
    ctx_out(ctx, "usage: %s %s\n    %s\n", ctx->prog, c->usage, c->summary);
    if (c->longopts && c->longopts[0].name) {
        ctx_out(ctx, "options:");
        for (const struct option *o = c->longopts; o->name; o++)
            ctx_out(ctx, " --%s", o->name);
        ctx_out(ctx, "\n");
    }
    return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_cmd_help = {
    .name = "help",
    .usage = "help [COMMAND [SUBCOMMAND]]",
    .summary = "List the commands, or show the usage of one.",
    .min_args = 0,
    .max_args = 2,
    .exec = help_exec,
};

/* One usage line per (sub)command, hidden ones excluded. */
static int usage_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    for (const struct ctl_cmd *const *c = ctl_commands; *c; c++) {
        if ((*c)->flags & CTL_F_HIDDEN)
            continue;
        if ((*c)->subcmds)
            for (const struct ctl_cmd *const *s = (*c)->subcmds; *s; s++)
                ctx_out(ctx, "%s %s\n", ctx->prog, (*s)->usage);
        else
            ctx_out(ctx, "%s %s\n", ctx->prog, (*c)->usage);
    }
    return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_cmd_usage_dump = {
    .name = "__usage",
    .usage = "__usage",
    .summary = "Print every usage line (for tests).",
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_HIDDEN,
    .exec = usage_exec,
};

static void options_of(struct ctl_ctx *ctx, const char *path, const struct ctl_cmd *c)
{
    if (!c->longopts)
        return;
    for (const struct option *o = c->longopts; o->name; o++)
        ctx_out(ctx, "%s\t--%s\n", path, o->name);
}

/* "command<TAB>--option" for every option of every visible command. */
static int options_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    char path[128];
    for (const struct ctl_cmd *const *c = ctl_commands; *c; c++) {
        if ((*c)->flags & CTL_F_HIDDEN)
            continue;
        if ((*c)->subcmds) {
            for (const struct ctl_cmd *const *s = (*c)->subcmds; *s; s++) {
                snprintf(path, sizeof path, "%s %s", (*c)->name, (*s)->name);
                options_of(ctx, path, *s);
            }
        } else {
            options_of(ctx, (*c)->name, *c);
        }
    }
    return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_cmd_options_dump = {
    .name = "__options",
    .usage = "__options",
    .summary = "Print every option of every command (for tests).",
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_HIDDEN,
    .exec = options_exec,
};
