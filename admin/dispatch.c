/* dispatch — command lookup, option parsing and line splitting, shared by
 * one-shot mode and the shell. */
#include "commands.h"
#include "ctx.h"

#include "timeutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_MAX_LONGOPTS 48
#define CTL_SHORTOPTS_MAX 64
#define CTL_WORD_MAX 8192

int args_has(const struct ctl_args *a, int val)
{
    for (size_t i = 0; i < a->nopts; i++)
        if (a->opts[i].val == val)
            return 1;
    return 0;
}

const char *args_get(const struct ctl_args *a, int val)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->nopts; i++)
        if (a->opts[i].val == val)
            v = a->opts[i].arg;
    return v;
}

size_t args_all(const struct ctl_args *a, int val, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nopts; i++)
        if (a->opts[i].val == val && n < max)
            out[n++] = a->opts[i].arg;
    return n;
}

const struct ctl_cmd *ctl_lookup(const struct ctl_cmd *const *table, const char *name,
                                 int *ambiguous)
{
    const struct ctl_cmd *found = NULL;
    size_t len = strlen(name);
    int n = 0;

    if (ambiguous)
        *ambiguous = 0;
    if (!len)
        return NULL;
    for (const struct ctl_cmd *const *c = table; *c; c++) {
        if (strcmp((*c)->name, name) == 0 || ((*c)->alias && strcmp((*c)->alias, name) == 0))
            return *c;
    }
    for (const struct ctl_cmd *const *c = table; *c; c++) {
        if ((*c)->flags & CTL_F_HIDDEN)
            continue;
        if (strncmp((*c)->name, name, len) == 0) {
            found = *c;
            n++;
        }
    }
    if (n > 1) {
        if (ambiguous)
            *ambiguous = 1;
        return NULL;
    }
    return found;
}

void ctl_usage(struct ctl_ctx *ctx, const struct ctl_cmd *cmd, const char *prefix)
{
    if (cmd->subcmds) {
        fprintf(ctx->err, "usage:");
        for (const struct ctl_cmd *const *s = cmd->subcmds; *s; s++)
            fprintf(ctx->err, "%s %s %s\n", s == cmd->subcmds ? "" : "      ", ctx->prog,
                    (*s)->usage);
        return;
    }
    (void)prefix;
    fprintf(ctx->err, "usage: %s %s\n", ctx->prog, cmd->usage);
}

static const struct option common_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {"watch", required_argument, NULL, CTL_OPT_WATCH},
};

static int output_parse(const char *s, enum ctl_output *o)
{
    static const char *const names[] = {"table", "json", "prom", "nagios", "wide"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *o = (enum ctl_output)i;
            return 0;
        }
    return -1;
}

static void help_command(struct ctl_ctx *ctx, const struct ctl_cmd *cmd)
{
    fprintf(ctx->out, "usage: %s %s\n\n%s\n", ctx->prog, cmd->usage, cmd->summary);
    if (cmd->longopts && cmd->longopts[0].name) {
        fprintf(ctx->out, "\noptions:");
        for (const struct option *o = cmd->longopts; o->name; o++)
            fprintf(ctx->out, " --%s%s", o->name,
                    o->has_arg == required_argument   ? "=ARG"
                    : o->has_arg == optional_argument ? "[=ARG]"
                                                      : "");
        fputc('\n', ctx->out);
    }
}

/* Parse options of cmd from argv (argv[0] = command word). */
static int parse_opts(struct ctl_ctx *ctx, const struct ctl_cmd *cmd, int argc, char **argv,
                      struct ctl_args *a)
{
    struct option lo[CTL_MAX_LONGOPTS + 4];
    char so[CTL_SHORTOPTS_MAX];
    size_t n = 0;
    int c;

    if (cmd->longopts)
        for (const struct option *o = cmd->longopts; o->name && n < CTL_MAX_LONGOPTS; o++)
            lo[n++] = *o;
    lo[n++] = common_opts[0];
    lo[n++] = common_opts[1];
    if (cmd->flags & CTL_F_WATCH)
        lo[n++] = common_opts[2];
    memset(&lo[n], 0, sizeof lo[n]);
    snprintf(so, sizeof so, ":%so:h", cmd->shortopts ? cmd->shortopts : "");

    optind = 0; /* full re-initialisation (GNU), so the shell can parse again */
    opterr = 0;
    while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        if (c == '?') {
            if (optopt && optopt < CTL_OPT_LONG && optopt > ' ')
                return ctx_usage_error(ctx, "%s: unknown option \"-%c\" (see %s help %s)", a->path,
                                       optopt, ctx->prog, a->path);
            return ctx_usage_error(ctx, "%s: unknown option \"%.80s\" (see %s help %s)", a->path,
                                   argv[optind - 1], ctx->prog, a->path);
        }
        if (c == ':')
            return ctx_usage_error(ctx, "%s: option \"%.80s\" needs a value", a->path,
                                   argv[optind - 1]);
        if (a->nopts >= CTL_MAX_OPTS)
            return ctx_usage_error(ctx, "%s: too many options", a->path);
        a->opts[a->nopts].val = c;
        a->opts[a->nopts].arg = optarg;
        a->nopts++;
    }
    a->argc = argc - optind;
    a->argv = argv + optind;
    return 0;
}

/* ---- --watch ------------------------------------------------------------ */

static volatile int watch_interrupted;

static void watch_sigint(int sig)
{
    (void)sig;
    watch_interrupted = 1;
}

/*
 * Run the command every SECS seconds until interrupted (SIGINT, or the
 * shell's ^C): on a terminal the screen is cleared first; every frame starts
 * with "Every Ns: omnictl PATH  TIME". Ends 0 on interrupt, else with the
 * first usage or config error (a runtime failure is shown and retried).
 */
static int watch_run(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    const char *v = args_get(a, CTL_OPT_WATCH);
    struct sigaction sa, old;
    volatile int *stop = ctx->abort ? ctx->abort : &watch_interrupted;
    int64_t ms;
    int r = CTL_EXIT_OK, tty = isatty(fileno(ctx->out));
    char now[48];

    if (omni_duration_parse(v, &ms) < 0 || ms < 100 || ms > CTL_WATCH_MAX_S * 1000LL)
        return ctx_usage_error(ctx, "%s: --watch \"%.40s\" is not 0.1..%d seconds", a->path, v,
                               CTL_WATCH_MAX_S);
    if (ctx->output == CTL_OUT_PROM || ctx->output == CTL_OUT_NAGIOS)
        return ctx_usage_error(ctx, "%s: --watch goes with table, wide or json output", a->path);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watch_sigint;
    sigemptyset(&sa.sa_mask);
    watch_interrupted = 0;
    if (stop == &watch_interrupted)
        sigaction(SIGINT, &sa, &old);
    while (!*stop) {
        char d[32];
        if (tty)
            fputs("\033[H\033[2J", ctx->out);
        omni_duration_format(ms, d, sizeof d);
        ctx_out(ctx, "Every %s: %s %s  %s\n", d, ctx->prog, a->path,
                ctl_time(omni_wall_us(), now, sizeof now));
        r = a->cmd->exec(ctx, a);
        fflush(ctx->out);
        if (r == CTL_EXIT_USAGE || r == CTL_EXIT_CONFIG)
            break;
        omni_sleep_ms(ms, stop);
    }
    if (stop == &watch_interrupted) {
        /* Once interrupted, the handler stays: a second ^C (or a signal sent to
         * the whole process group as well) must not kill the clean exit. */
        if (!watch_interrupted)
            sigaction(SIGINT, &old, NULL);
        r = r == CTL_EXIT_USAGE || r == CTL_EXIT_CONFIG ? r : CTL_EXIT_OK;
    } else if (*stop) {
        r = CTL_EXIT_OK;
    }
    return r;
}

int ctl_dispatch(struct ctl_ctx *ctx, int argc, char **argv)
{
    const struct ctl_cmd *cmd, *group = NULL;
    struct ctl_args a;
    int amb, r;
    const char *o;
    unsigned outs;

    if (argc < 1)
        return ctx_usage_error(ctx, "no command (see %s help)", ctx->prog);
    memset(&a, 0, sizeof a);
    cmd = ctl_lookup(ctl_commands, argv[0], &amb);
    if (!cmd)
        return ctx_usage_error(ctx, "%s command \"%.80s\" (see %s help)",
                               amb ? "ambiguous" : "unknown", argv[0], ctx->prog);
    snprintf(a.path, sizeof a.path, "%s", cmd->name);
    if (cmd->subcmds) {
        group = cmd;
        if (argc < 2 || argv[1][0] == '-') {
            if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
                for (const struct ctl_cmd *const *s = cmd->subcmds; *s; s++)
                    fprintf(ctx->out, "%s %s\n    %s\n", ctx->prog, (*s)->usage, (*s)->summary);
                return CTL_EXIT_OK;
            }
            ctx_error(ctx, "%s: missing subcommand", cmd->name);
            ctl_usage(ctx, cmd, NULL);
            return CTL_EXIT_USAGE;
        }
        cmd = ctl_lookup(group->subcmds, argv[1], &amb);
        if (!cmd) {
            ctx_error(ctx, "%s: %s subcommand \"%.80s\"", group->name,
                      amb ? "ambiguous" : "unknown", argv[1]);
            ctl_usage(ctx, group, NULL);
            return CTL_EXIT_USAGE;
        }
        snprintf(a.path, sizeof a.path, "%s %s", group->name, cmd->name);
        argc--;
        argv++;
    }
    a.cmd = cmd;
    r = parse_opts(ctx, cmd, argc, argv, &a);
    if (r)
        return r;
    if (args_has(&a, 'h')) {
        help_command(ctx, cmd);
        return CTL_EXIT_OK;
    }
    ctx->output = ctx->default_output;
    o = args_get(&a, 'o');
    if (o && output_parse(o, &ctx->output) < 0)
        return ctx_usage_error(ctx,
                               "%s: unknown output format \"%.40s\" (table, wide, json, prom, "
                               "nagios)",
                               a.path, o);
    outs = cmd->outputs ? cmd->outputs : CTL_O_DEFAULT;
    if (outs & CTL_O_TABLE)
        outs |= CTL_O_WIDE; /* a command without wide columns prints its table */
    if (!(outs & (1u << ctx->output))) {
        /* A global default such as -o prom falls back for other commands. */
        if (!o && !(outs & (1u << ctx->default_output)))
            ctx->output = CTL_OUT_TABLE;
        else
            return ctx_usage_error(ctx, "%s: output format not supported here", a.path);
    }
    if (a.argc < cmd->min_args || (cmd->max_args >= 0 && a.argc > cmd->max_args)) {
        r = ctx_usage_error(ctx, "%s: %s arguments", a.path,
                            a.argc < cmd->min_args ? "missing" : "too many");
        fprintf(ctx->err, "usage: %s %s\n", ctx->prog, cmd->usage);
        return r;
    }
    ctx->exec_started = 1;
    if (args_has(&a, CTL_OPT_WATCH))
        return watch_run(ctx, &a);
    r = cmd->exec(ctx, &a);
    fflush(ctx->out);
    return r;
}

/* ---- line splitting (shell) ------------------------------------------ */

void ctl_split_free(char **argv, int argc)
{
    for (int i = 0; i < argc; i++) {
        free(argv[i]);
        argv[i] = NULL;
    }
}

int ctl_split_line(const char *line, char **argv, int max, const char **cause)
{
    const char *p = line;
    int argc = 0;
    char word[CTL_WORD_MAX];

    *cause = NULL;
    for (;;) {
        size_t n = 0;
        int quoted = 0;

        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p || *p == '#')
            break;
        while (*p && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
            char ch = *p;
            if (n + 2 >= sizeof word) {
                *cause = "word too long";
                goto fail;
            }
            if (ch == '\'') {
                const char *e = strchr(p + 1, '\'');
                if (!e) {
                    *cause = "unterminated single quote";
                    goto fail;
                }
                if (n + (size_t)(e - p) + 1 >= sizeof word) {
                    *cause = "word too long";
                    goto fail;
                }
                memcpy(word + n, p + 1, (size_t)(e - p - 1));
                n += (size_t)(e - p - 1);
                p = e + 1;
                quoted = 1;
            } else if (ch == '"') {
                p++;
                quoted = 1;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
                        p++;
                    if (n + 2 >= sizeof word) {
                        *cause = "word too long";
                        goto fail;
                    }
                    word[n++] = *p++;
                }
                if (*p != '"') {
                    *cause = "unterminated double quote";
                    goto fail;
                }
                p++;
            } else if (ch == '\\') {
                if (!p[1]) {
                    *cause = "trailing backslash";
                    goto fail;
                }
                word[n++] = p[1];
                p += 2;
            } else {
                word[n++] = ch;
                p++;
            }
        }
        (void)quoted;
        if (argc + 1 >= max) {
            *cause = "too many words";
            goto fail;
        }
        word[n] = '\0';
        argv[argc] = strdup(word);
        if (!argv[argc]) {
            *cause = "out of memory";
            goto fail;
        }
        argc++;
    }
    argv[argc] = NULL;
    return argc;
fail:
    ctl_split_free(argv, argc);
    return -1;
}
