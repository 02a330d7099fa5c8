/*
 * commands — the omnictl command table.
 *
 * Adding a subcommand (checklist):
 *  1. Create admin/cmd_<name>.c with everything static except ONE
 *     `const struct ctl_cmd ctl_cmd_<name>` entry: name, alias (or NULL),
 *     usage line (exactly as in man/omnictl.1, without the program name),
 *     one-line summary, getopt short options, getopt_long options (long-only
 *     options use values >= CTL_OPT_LONG), min/max positional arguments
 *     (max -1 = unlimited), flags and the exec function. A group (sessions,
 *     work, env) instead sets `subcmds` to its own NULL-terminated table.
 *  2. Declare the entry below and add it to ctl_commands[] in commands.c.
 *  3. Print through the context (ctx_out/ctx_error/ctl_table, admin/ctx.h),
 *     never to stdout; return a CTL_EXIT_* code; fail with ctx_fail().
 *  4. Add a `.It Xo Ic` item with the same usage to man/omnictl.1 (the test
 *     t2990-omnictl-manpage.t fails otherwise) and an integration test
 *     tests/integration/t20NN-omnictl-<name>.t against omni-sim.
 * The dispatcher (dispatch.c) handles lookup (name, alias, unique prefix),
 * option parsing, -h/--help, -o/--output, argument counts and usage errors,
 * for one-shot mode and the shell alike; completion and help come from the
 * same table.
 */
#ifndef OMNICTL_COMMANDS_H
#define OMNICTL_COMMANDS_H

#include "exitcode.h"

#include <getopt.h>
#include <stddef.h>

struct ctl_ctx;

/* Exit statuses (man/omnictl.1): lib/exitcode.h, one table for every program. */
#define CTL_EXIT_OK OMNI_EXIT_OK
#define CTL_EXIT_FAIL OMNI_EXIT_FAIL /* API or runtime failure; `work stuck` found items */
#define CTL_EXIT_USAGE OMNI_EXIT_USAGE
#define CTL_EXIT_CONFIG OMNI_EXIT_CONFIG
#define CTL_EXIT_NOTFOUND OMNI_EXIT_NOTFOUND

/* Monitoring-plugin codes (stats -o nagios). */
#define CTL_NAGIOS_OK 0
#define CTL_NAGIOS_WARNING 1
#define CTL_NAGIOS_CRITICAL 2
#define CTL_NAGIOS_UNKNOWN 3

/* Command flags. */
#define CTL_F_API 0x1     /* talks to the API (needs the org key) */
#define CTL_F_CHANGES 0x2 /* changes state on the server */
#define CTL_F_CONFIRM 0x4 /* asks for confirmation on a terminal (--yes skips) */
#define CTL_F_HIDDEN 0x8  /* not listed by help or completion */
#define CTL_F_WATCH 0x10  /* --watch SECS redraws it (dispatch.c) */

/* Output modes a command accepts (bit per enum ctl_output). */
#define CTL_O_TABLE 0x1
#define CTL_O_JSON 0x2
#define CTL_O_PROM 0x4
#define CTL_O_NAGIOS 0x8
#define CTL_O_WIDE 0x10 /* accepted by every command with a table; these add columns */
#define CTL_O_DEFAULT (CTL_O_TABLE | CTL_O_JSON)

/* Values of long-only options start here (below are short option chars). */
#define CTL_OPT_LONG 256
#define CTL_OPT_WATCH (CTL_OPT_LONG + 1000) /* --watch (dispatch.c), for CTL_F_WATCH */
#define CTL_WATCH_MAX_S 86400
#define CTL_MAX_OPTS 64  /* options given on one command line */
#define CTL_MAX_ARGS 256 /* words on one command line */

struct ctl_optval {
    int val;
    const char *arg; /* NULL for flags */
};

/* A parsed command line, handed to exec. */
struct ctl_args {
    const struct ctl_cmd *cmd;
    char path[64]; /* "stats", "sessions create" */
    struct ctl_optval opts[CTL_MAX_OPTS];
    size_t nopts;
    int argc; /* positional arguments */
    char **argv;
};

struct ctl_cmd {
    const char *name;
    const char *alias;
    const char *usage; /* "stats [-o FORMAT] [ENV ...]" */
    const char *summary;
    const char *shortopts;         /* getopt string, without -o/-h */
    const struct option *longopts; /* may be NULL; {0} terminated */
    int min_args, max_args;        /* max -1: unlimited */
    unsigned flags;
    unsigned outputs; /* CTL_O_*; 0 = CTL_O_DEFAULT */
    int (*exec)(struct ctl_ctx *ctx, const struct ctl_args *a);
    const struct ctl_cmd *const *subcmds; /* group: its sub-table */
};

/* Option lookups for exec functions. */
int args_has(const struct ctl_args *a, int val);
const char *args_get(const struct ctl_args *a, int val); /* last one given, or NULL */
/* Every value given for a repeatable option, in order; returns the count. */
size_t args_all(const struct ctl_args *a, int val, const char **out, size_t max);

/* The table (commands.c). */
extern const struct ctl_cmd *const ctl_commands[];

extern const struct ctl_cmd ctl_cmd_stats;
extern const struct ctl_cmd ctl_cmd_stop;
extern const struct ctl_cmd ctl_cmd_exporter;
extern const struct ctl_cmd ctl_cmd_sessions;
extern const struct ctl_cmd ctl_cmd_work;
extern const struct ctl_cmd ctl_cmd_env;
extern const struct ctl_cmd ctl_cmd_agents;
extern const struct ctl_cmd ctl_cmd_shell;
extern const struct ctl_cmd ctl_cmd_completion;
extern const struct ctl_cmd ctl_cmd_help;
extern const struct ctl_cmd ctl_cmd_usage_dump;
extern const struct ctl_cmd ctl_cmd_options_dump;
extern const struct ctl_cmd ctl_cmd_ids_dump;

/* dispatch.c: lookup and run ---------------------------------------------- */

/* Find a command in a table by exact name, alias or unique prefix. *ambiguous
 * is set when a prefix matched several. */
const struct ctl_cmd *ctl_lookup(const struct ctl_cmd *const *table, const char *name,
                                 int *ambiguous);
/*
 * Run one command line: argv[0] is the command name (argv may be permuted by
 * option parsing). Returns a CTL_EXIT_* code (nagios codes for stats -o nagios).
 */
int ctl_dispatch(struct ctl_ctx *ctx, int argc, char **argv);
/* Print "usage: omnictl <usage>" (and the sub-table of a group) to ctx->err. */
void ctl_usage(struct ctl_ctx *ctx, const struct ctl_cmd *cmd, const char *prefix);

/*
 * Split a shell line into words: blanks separate; '...' is literal; "..."
 * allows \" \\ \$ escapes; a backslash outside quotes escapes the next
 * character; '#' at the start of a word begins a comment. Returns the word
 * count (words are malloc'd into argv[], NULL-terminated, at most max-1) or
 * -1 with *cause set to a static message (unterminated quote, too many words).
 */
int ctl_split_line(const char *line, char **argv, int max, const char **cause);
void ctl_split_free(char **argv, int argc);

#endif
