/*
 * Fuzz omnictl's command-line handling (admin/commands.h): the shell-line
 * splitter (ctl_split_line) and the dispatcher (lookup by name, alias and
 * prefix, option parsing, -o, argument counts, per-command validation) on
 * the words it produces, as `omnictl shell` would run them.
 *
 * Never touches the network or writes files: there is no organisation key
 * (ANTHROPIC_API_KEY unset, an empty config), so every command that would
 * call the API fails at credential intake; the base URL points at a closed
 * loopback port anyway; stdin is /dev/null; the working directory is a
 * scratch directory; `shell` and any word starting with "--t" (stats
 * --textfile and its abbreviations) are skipped.
 *
 * Checks: the splitter returns -1 with a cause or a count with a NULL-ended
 * argv of non-NULL words; dispatch returns a documented exit code (0-4).
 */
#include "../../admin/commands.h"
#include "../../admin/ctx.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull_out, *devnull_in;
static char dir[] = "/tmp/omni-fuzz-ctl.XXXXXX";
static char cfg[256];

/* The scratch directory holds only the empty config (nothing is written). */
static void cleanup(void)
{
    unlink(cfg);
    if (chdir("/") == 0)
        rmdir(dir);
}

static void setup(void)
{
    int fd;

    if (!mkdtemp(dir) || chdir(dir) < 0)
        abort();
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    close(fd);
    setenv("OMNI_CONFIG", cfg, 1);
    setenv("HOME", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9", 1);
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("OMNI_PROFILE");
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, 0) < 0)
        abort();
    close(fd);
    devnull_out = fopen("/dev/null", "w");
    devnull_in = fopen("/dev/null", "r");
    if (!devnull_out || !devnull_in)
        abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[CTL_MAX_ARGS];
    const char *cause = NULL;
    struct ctl_ctx ctx;
    char *line;
    int n, amb = 0;

    if (!devnull_out)
        setup();
    line = strndup((const char *)data, size);
    if (!line)
        return 0;
    n = ctl_split_line(line, argv, CTL_MAX_ARGS, &cause);
    free(line);
    if (n < 0) {
        if (!cause || !*cause)
            abort();
        return 0;
    }
    if (n >= CTL_MAX_ARGS || argv[n] != NULL)
        abort();
    for (int i = 0; i < n; i++)
        if (!argv[i])
            abort();
    if (n == 0)
        return 0;

    int skip = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(argv[i], "--t", 3) == 0)
            skip = 1;
    const struct ctl_cmd *c = ctl_lookup(ctl_commands, argv[0], &amb);
    if (c == &ctl_cmd_shell)
        skip = 1;
    if (!skip) {
        /* dispatch may permute argv: give it a copy of the pointers */
        char *av[CTL_MAX_ARGS];
        memcpy(av, argv, sizeof(char *) * (size_t)(n + 1));
        ctx_init(&ctx);
        ctx.out = devnull_out;
        ctx.err = devnull_out;
        ctx.in = devnull_in;
        ctx.in_shell = 1;
        ctx.timeout_ms = 200;
        int rc = ctl_dispatch(&ctx, n, av);
        ctx_release(&ctx);
        if (rc < 0 || rc > CTL_EXIT_NOTFOUND)
            abort();
    }
    ctl_split_free(argv, n);
    return 0;
}
