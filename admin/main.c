/* omnictl — admin CLI for self-hosted Managed Agents environments.
 * main: global options, the context, then one command or the shell. */
#include "alloc.h"
#include "commands.h"
#include "ctx.h"
#include "shell.h"
#include "timeutil.h"
#include "version.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    G_PROFILE = CTL_OPT_LONG,
    G_BASE_URL,
    G_TIMEOUT,
    G_VERSION,
    G_LOCAL_TIME,
    G_WORKSPACE,
};

static const struct option global_opts[] = {
    {"profile", required_argument, NULL, G_PROFILE},
    {"base-url", required_argument, NULL, G_BASE_URL},
    {"timeout", required_argument, NULL, G_TIMEOUT},
    {"workspace", required_argument, NULL, G_WORKSPACE},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, G_VERSION},
    {"local-time", no_argument, NULL, G_LOCAL_TIME},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

static int output_name(const char *s, enum ctl_output *o)
{
    if (strcmp(s, "table") == 0)
        *o = CTL_OUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *o = CTL_OUT_JSON;
    else if (strcmp(s, "prom") == 0)
        *o = CTL_OUT_PROM;
    else if (strcmp(s, "nagios") == 0)
        *o = CTL_OUT_NAGIOS;
    else if (strcmp(s, "wide") == 0)
        *o = CTL_OUT_WIDE;
    else
        return -1;
    return 0;
}

/* "-o nagios" anywhere on the line: usage errors then exit UNKNOWN (3). */
static int wants_nagios(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc &&
            strcmp(argv[i + 1], "nagios") == 0)
            return 1;
        if (strcmp(argv[i], "-onagios") == 0 || strcmp(argv[i], "--output=nagios") == 0)
            return 1;
    }
    return 0;
}

static void out_of_memory(void)
{
    fputs("omnictl: out of memory\n", stderr);
    _exit(CTL_EXIT_FAIL);
}

int main(int argc, char **argv)
{
    struct ctl_ctx ctx;
    int c, rc, nagios = wants_nagios(argc, argv);
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    int64_t ms;

    omni_set_oom_hook(out_of_memory);
    ctx_init(&ctx);
    ctx.nagios_usage = nagios;
    ctx.save_ids = 1;
    ctx.color = isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:vho:", global_opts, NULL)) != -1) {
        switch (c) {
        case G_PROFILE:
            ctx.profile = optarg;
            break;
        case G_BASE_URL:
            ctx.base_url = optarg;
            break;
        case G_WORKSPACE:
            if (!omni_workspace_id_valid(optarg))
                return ctx_usage_error(&ctx,
                                       "--workspace \"%.40s\" is not a workspace id (letters, "
                                       "digits, '_' and '-', 1 to %d bytes)",
                                       optarg, OMNI_WORKSPACE_ID_MAX);
            ctx.workspace = optarg;
            break;
        case G_TIMEOUT:
            if (omni_duration_parse(optarg, &ms) < 0 || ms <= 0 || ms > 86400000) {
                return ctx_usage_error(
                    &ctx, "--timeout \"%.40s\" is not a duration (e.g. 30s, 500ms)", optarg);
            }
            ctx.timeout_ms = (long)ms;
            break;
        case 'v':
            ctx.verbose = 1;
            break;
        case G_LOCAL_TIME:
            ctl_time_local(1);
            break;
        case G_VERSION:
            printf("omnictl %s\n", OMNI_VERSION);
            return CTL_EXIT_OK;
        case 'o':
            if (output_name(optarg, &ctx.default_output) < 0) {
                ctx_error(&ctx, "unknown output format \"%.40s\" (table, wide, json, prom, nagios)",
                          optarg);
                return CTL_EXIT_USAGE;
            }
            ctx.output_given = 1;
            break;
        case 'h': {
            char *hv[] = {(char *)"help", NULL};
            return ctl_dispatch(&ctx, 1, hv);
        }
        case ':':
            return ctx_usage_error(&ctx, "option \"%s\" needs a value", argv[optind - 1]);
        default:
            return ctx_usage_error(&ctx, "unknown option \"%s\" (see omnictl help)",
                                   argv[optind - 1]);
        }
    }
    if (!ctx.output_given) {
        const char *o = ctx_config_get(&ctx, "output");
        if (o && output_name(o, &ctx.default_output) < 0)
            ctx.default_output = CTL_OUT_TABLE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (optind >= argc) {
        if (isatty(STDIN_FILENO)) {
            rc = ctl_shell_run(&ctx);
        } else {
            ctx_error(&ctx, "no command (see omnictl help; omnictl shell reads commands from "
                            "stdin)");
            rc = CTL_EXIT_USAGE;
        }
    } else {
        rc = ctl_dispatch(&ctx, argc - optind, argv + optind);
        if (nagios && rc == CTL_EXIT_USAGE && !ctx.exec_started)
            rc = CTL_NAGIOS_UNKNOWN;
    }
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK)
        rc = CTL_EXIT_FAIL;
    ctx_release(&ctx);
    curl_global_cleanup();
    return rc;
}
