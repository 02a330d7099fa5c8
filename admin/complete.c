/* complete — Tab completion candidates from the command table. */
#include "commands.h"
#include "ctx.h"
#include "shell.h"

#include <string.h>

static const char *const output_names[] = {"table", "wide", "json", "prom", "nagios", NULL};
static const char *const shell_words[] = {"exit", "quit", NULL};
static const char *const long_common[] = {"--output", "--help", NULL};

struct cand {
    const char **out;
    size_t n, max;
    const char *cur;
    size_t curlen;
};

static void cand_add(struct cand *c, const char *s)
{
    if (!s || strncmp(s, c->cur, c->curlen) != 0 || c->n >= c->max)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->out[i], s) == 0)
            return;
    c->out[c->n++] = s;
}

static void add_table(struct cand *c, const struct ctl_cmd *const *t)
{
    for (; *t; t++)
        if (!((*t)->flags & CTL_F_HIDDEN))
            cand_add(c, (*t)->name);
}

/* Long option names are returned with their dashes from a static pool. */
#define OPT_POOL 128
#define OPT_NAME_MAX 40
static char opt_pool[OPT_POOL][OPT_NAME_MAX];

static void add_options(struct cand *c, const struct ctl_cmd *cmd)
{
    size_t k = 0;
    for (const char *const *o = long_common; *o; o++)
        cand_add(c, *o);
    if (!cmd->longopts)
        return;
    for (const struct option *o = cmd->longopts; o->name && k < OPT_POOL; o++, k++) {
        snprintf(opt_pool[k], OPT_NAME_MAX, "--%s", o->name);
        cand_add(c, opt_pool[k]);
    }
}

size_t ctl_complete(const struct ctl_ctx *ctx, char *const *words, int nwords, const char *cur,
                    const char **out, size_t max)
{
    struct cand c = {out, 0, max, cur, strlen(cur)};
    const struct ctl_cmd *cmd = NULL, *group = NULL;
    int first_arg = 1;

    if (nwords == 0) {
        add_table(&c, ctl_commands);
        for (const char *const *w = shell_words; *w; w++)
            cand_add(&c, *w);
        return c.n;
    }
    cmd = ctl_lookup(ctl_commands, words[0], NULL);
    if (!cmd)
        return 0;
    if (cmd->subcmds) {
        group = cmd;
        if (nwords == 1) {
            add_table(&c, cmd->subcmds);
            return c.n;
        }
        cmd = ctl_lookup(cmd->subcmds, words[1], NULL);
        if (!cmd)
            return 0;
        first_arg = 2;
    }
    if (strcmp(words[nwords - 1], "-o") == 0 || strcmp(words[nwords - 1], "--output") == 0) {
        for (const char *const *w = output_names; *w; w++)
            cand_add(&c, *w);
        return c.n;
    }
    if (cur[0] == '-') {
        add_options(&c, cmd);
        return c.n;
    }
    if (cmd == &ctl_cmd_help) {
        if (nwords == first_arg)
            add_table(&c, ctl_commands);
        else if (nwords == first_arg + 1) {
            const struct ctl_cmd *g = ctl_lookup(ctl_commands, words[first_arg], NULL);
            if (g && g->subcmds)
                add_table(&c, g->subcmds);
        }
        return c.n;
    }
    if (cmd == &ctl_cmd_completion) {
        cand_add(&c, "bash");
        cand_add(&c, "zsh");
        return c.n;
    }
    (void)group;
    for (size_t i = 0; i < ctx->nids; i++)
        cand_add(&c, ctx->ids[i]);
    return c.n;
}
