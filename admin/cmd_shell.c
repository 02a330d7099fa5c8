/* shell — `omnictl shell`: the one place that uses libedit. Lines go to the
 * same ctl_dispatch() as one-shot commands. */
#include "commands.h"
#include "ctx.h"
#include "shell.h"

#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHELL_HISTORY_SIZE 1000
#define SHELL_PROMPT "omnictl> "
#define SHELL_PATH_MAX 4096

static volatile int shell_interrupted;

#if defined(__SANITIZE_ADDRESS__)
/* libedit's el_end() never frees the name and help strings it wcsdup()s for
 * EL_ADDFN; nothing in omnictl calls wcsdup, so only that leak is hidden. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:wcsdup\n";
}
#endif

static void on_sigint(int sig)
{
    (void)sig;
    shell_interrupted = 1;
}

char *ctl_history_path(void)
{
    const char *h = getenv("OMNI_HISTFILE"), *base;
    char buf[SHELL_PATH_MAX];

    if (h && *h)
        return strdup(h);
    base = getenv("XDG_STATE_HOME");
    if (base && *base) {
        snprintf(buf, sizeof buf, "%s/omni/history", base);
    } else {
        base = getenv("HOME");
        if (!base || !*base)
            return NULL;
        snprintf(buf, sizeof buf, "%s/.local/state/omni/history", base);
    }
    return strdup(buf);
}

/* mkdir -p the history file's directory (0700). */
static void history_dir(const char *path)
{
    char d[SHELL_PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return;
    *slash = '\0';
    for (char *p = d + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(d, 0700);
            *p = '/';
        }
    }
    mkdir(d, 0700);
}

static int is_exit(const char *w)
{
    return strcmp(w, "exit") == 0 || strcmp(w, "quit") == 0;
}

/* Run one line; returns -1 to leave the shell, else the command's code. */
static int run_line(struct ctl_ctx *ctx, const char *line)
{
    char *argv[CTL_MAX_ARGS];
    const char *cause;
    int argc = ctl_split_line(line, argv, CTL_MAX_ARGS, &cause);
    int rc;

    if (argc < 0) {
        ctx_error(ctx, "%s", cause);
        return CTL_EXIT_USAGE;
    }
    if (argc == 0)
        return CTL_EXIT_OK;
    if (is_exit(argv[0])) {
        ctl_split_free(argv, argc);
        return -1;
    }
    shell_interrupted = 0;
    rc = ctl_dispatch(ctx, argc, argv);
    fflush(ctx->out);
    ctl_split_free(argv, argc);
    return rc;
}

static int run_plain(struct ctl_ctx *ctx)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int last_fail = CTL_EXIT_OK;

    while ((n = getline(&line, &cap, ctx->in)) >= 0) {
        int rc;
        if (n > CTL_LINE_MAX) {
            ctx_error(ctx, "line longer than %d bytes ignored", CTL_LINE_MAX);
            last_fail = CTL_EXIT_USAGE;
            continue;
        }
        rc = run_line(ctx, line);
        if (rc < 0)
            break;
        if (rc != CTL_EXIT_OK)
            last_fail = rc;
    }
    free(line);
    return last_fail;
}

/* ---- libedit ------------------------------------------------------------ */

static char *prompt_fn(EditLine *el)
{
    (void)el;
    return (char *)SHELL_PROMPT;
}

static unsigned char complete_fn(EditLine *el, int ch)
{
    const LineInfo *li = el_line(el);
    struct ctl_ctx *ctx = NULL;
    char text[CTL_LINE_MAX];
    char *words[CTL_MAX_ARGS];
    const char *cands[CTL_COMPLETE_MAX], *cur;
    int nwords = 0;
    size_t len, n, common, curlen;
    char *p, *save = NULL;

    (void)ch;
    el_get(el, EL_CLIENTDATA, &ctx);
    if (!ctx)
        return CC_ERROR;
    len = (size_t)(li->cursor - li->buffer);
    if (len >= sizeof text)
        return CC_ERROR;
    memcpy(text, li->buffer, len);
    text[len] = '\0';
    /* The word under the cursor starts after the last blank. */
    cur = text;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ' ' || text[i] == '\t')
            cur = text + i + 1;
    curlen = strlen(cur);
    {
        char head[CTL_LINE_MAX];
        snprintf(head, sizeof head, "%.*s", (int)(cur - text), text);
        for (p = strtok_r(head, " \t", &save); p && nwords < CTL_MAX_ARGS;
             p = strtok_r(NULL, " \t", &save))
            words[nwords++] = p;
        n = ctl_complete(ctx, words, nwords, cur, cands, CTL_COMPLETE_MAX);
    }
    if (n == 0)
        return CC_ERROR;
    common = strlen(cands[0]);
    for (size_t i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && cands[i][k] == cands[0][k])
            k++;
        common = k;
    }
    if (common > curlen) {
        char ins[CTL_LINE_MAX];
        snprintf(ins, sizeof ins, "%.*s%s", (int)(common - curlen), cands[0] + curlen,
                 n == 1 ? " " : "");
        el_insertstr(el, ins);
        return CC_REFRESH;
    }
    if (n == 1) {
        el_insertstr(el, " ");
        return CC_REFRESH;
    }
    fputc('\n', ctx->out);
    for (size_t i = 0; i < n; i++)
        fprintf(ctx->out, "%s%s", cands[i], i + 1 < n ? "  " : "\n");
    fflush(ctx->out);
    return CC_REDISPLAY;
}

static int run_edit(struct ctl_ctx *ctx)
{
    EditLine *el;
    History *hist;
    HistEvent ev;
    char *hpath = ctl_history_path();
    const char *line;
    int count, last_fail = CTL_EXIT_OK;
    struct sigaction sa, old;

    hist = history_init();
    history(hist, &ev, H_SETSIZE, SHELL_HISTORY_SIZE);
    history(hist, &ev, H_SETUNIQUE, 1);
    if (hpath)
        history(hist, &ev, H_LOAD, hpath);
    el = el_init(ctx->prog, ctx->in, ctx->out, ctx->err);
    el_set(el, EL_CLIENTDATA, ctx);
    el_set(el, EL_PROMPT, prompt_fn);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_SIGNAL, 1);
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_ADDFN, "omnictl-complete", "Complete a command, option or id", complete_fn);
    el_set(el, EL_BIND, "^I", "omnictl-complete", NULL);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    ctx->abort = &shell_interrupted;

    while ((line = el_gets(el, &count)) != NULL && count > 0) {
        char copy[CTL_LINE_MAX];
        int rc;
        snprintf(copy, sizeof copy, "%s", line);
        copy[strcspn(copy, "\r\n")] = '\0';
        if (!copy[strspn(copy, " \t")])
            continue;
        history(hist, &ev, H_ENTER, copy);
        if (hpath) {
            history_dir(hpath);
            if (history(hist, &ev, H_SAVE, hpath) >= 0)
                chmod(hpath, 0600);
        }
        rc = run_line(ctx, copy);
        if (rc < 0)
            break;
        if (rc != CTL_EXIT_OK)
            last_fail = rc;
    }
    if (!line)
        fputc('\n', ctx->out);
    ctx->abort = NULL;
    sigaction(SIGINT, &old, NULL);
    el_end(el);
    history_end(hist);
    free(hpath);
    return last_fail;
}

int ctl_shell_run(struct ctl_ctx *ctx)
{
    int rc;
    ctx->in_shell = 1;
    rc = isatty(fileno(ctx->in)) ? run_edit(ctx) : run_plain(ctx);
    ctx->in_shell = 0;
    return rc;
}

static int shell_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    (void)a;
    if (ctx->in_shell)
        return ctx_usage_error(ctx, "shell: already in the shell");
    return ctl_shell_run(ctx);
}

const struct ctl_cmd ctl_cmd_shell = {
    .name = "shell",
    .usage = "shell",
    .summary = "Read commands interactively (line editing, history, Tab completion) or from "
               "stdin.",
    .min_args = 0,
    .max_args = 0,
    .exec = shell_exec,
};
