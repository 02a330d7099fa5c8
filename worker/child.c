/*
 * child — fork/exec with pipes and a scrubbed environment (see child.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

#define CHILD_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define CHILD_ENV_MAX 256

int child_env_is_secret(const char *name)
{
    return strncasecmp(name, "ANTHROPIC_", 10) == 0;
}

static int env_valid_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (*p == '=')
            return 0;
    return 1;
}

static int env_has(char **env, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, nl) == 0 && env[i][nl] == '=')
            return 1;
    return 0;
}

static int env_push(char **env, size_t *n, const char *name, const char *value)
{
    if (*n >= CHILD_ENV_MAX - 1 || child_env_is_secret(name) || env_has(env, *n, name))
        return 0;
    size_t nl = strlen(name), vl = strlen(value);
    char *s = malloc(nl + vl + 2);
    if (!s)
        return -1;
    memcpy(s, name, nl);
    s[nl] = '=';
    memcpy(s + nl + 1, value, vl + 1);
    env[(*n)++] = s;
    return 0;
}

static int env_pass(char **env, size_t *n, const char *name)
{
    const char *v = getenv(name);
    return v ? env_push(env, n, name, v) : 0;
}

char **child_env_build(const char *home, const char *const *pass_env, const char *const *extra)
{
    char **env = calloc(CHILD_ENV_MAX, sizeof(*env));
    size_t n = 0;
    int rc = 0;
    if (!env)
        return NULL;
    /* extra first: its values win over the allowlist. */
    for (size_t i = 0; extra && extra[i] && rc == 0; i++) {
        const char *eq = strchr(extra[i], '=');
        if (!eq || eq == extra[i])
            continue;
        char name[256];
        size_t nl = (size_t)(eq - extra[i]);
        if (nl >= sizeof(name))
            continue;
        memcpy(name, extra[i], nl);
        name[nl] = '\0';
        rc = env_push(env, &n, name, eq + 1);
    }
    const char *path = getenv("PATH");
    if (rc == 0)
        rc = env_push(env, &n, "PATH", path && *path ? path : CHILD_DEFAULT_PATH);
    if (rc == 0 && home)
        rc = env_push(env, &n, "HOME", home);
    if (rc == 0)
        rc = env_pass(env, &n, "LANG");
    for (char **e = environ; e && *e && rc == 0; e++) {
        if (strncmp(*e, "LC_", 3) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        char name[128];
        size_t nl = eq ? (size_t)(eq - *e) : 0;
        if (!eq || nl >= sizeof(name))
            continue;
        memcpy(name, *e, nl);
        name[nl] = '\0';
        rc = env_push(env, &n, name, eq + 1);
    }
    if (rc == 0)
        rc = env_pass(env, &n, "TZ");
    if (rc == 0)
        rc = env_pass(env, &n, "USER");
    if (rc == 0)
        rc = env_pass(env, &n, "LOGNAME");
    if (rc == 0)
        rc = env_push(env, &n, "TERM", "dumb");
    if (rc == 0)
        rc = env_push(env, &n, "PS1", "");
    if (rc == 0)
        rc = env_push(env, &n, "PS2", "");
    for (size_t i = 0; pass_env && pass_env[i] && rc == 0; i++)
        if (env_valid_name(pass_env[i]))
            rc = env_pass(env, &n, pass_env[i]);
    if (rc != 0) {
        child_env_free(env);
        return NULL;
    }
    env[n] = NULL;
    return env;
}

void child_env_free(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

/* In the child after fork: only async-signal-safe calls. */
static void child_exec(const struct child *c, int in_fd, int out_fd, int err_fd, int errpipe)
{
    sigset_t none;
    int e;
    if (c->new_session && setsid() < 0)
        goto fail;
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        goto fail;
    if (c->dir && chdir(c->dir) < 0)
        goto fail;
    /* Reset signal state the worker may have changed. */
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (errpipe != 3) {
        if (dup2(errpipe, 3) < 0)
            goto fail;
    }
    fcntl(3, F_SETFD, FD_CLOEXEC);
    close_range(4, ~0U, 0);
    execve(c->path, (char *const *)c->argv, c->env);
fail:
    e = errno;
    (void)!write(3, &e, sizeof(e));
    _exit(127);
}

int child_start(struct child *c, struct omni_err *err)
{
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, ep[2] = {-1, -1};
    int nullfd = -1, saved;
    if (!c->path || !c->argv || !c->env)
        return omni_err_set(err, OMNI_E_USAGE, "child: path, argv and env are required");
    nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nullfd < 0)
        goto sys_fail;
    if (c->in == CHILD_IO_PIPE && pipe2(inp, O_CLOEXEC) < 0)
        goto sys_fail;
    if (c->out == CHILD_IO_PIPE && pipe2(outp, O_CLOEXEC) < 0)
        goto sys_fail;
    if (c->err_pipe && !c->merge_stderr && pipe2(errp, O_CLOEXEC) < 0)
        goto sys_fail;
    if (pipe2(ep, O_CLOEXEC) < 0)
        goto sys_fail;
    /* Keep the child's fds above 3 so the dup2 sequence cannot clobber them. */
    int cin = c->in == CHILD_IO_PIPE ? inp[0] : c->in == CHILD_IO_FD ? c->in_fd : nullfd;
    int cout = c->out == CHILD_IO_PIPE ? outp[1] : nullfd;
    int cerr = c->merge_stderr ? cout : errp[1] >= 0 ? errp[1] : nullfd;
    int hi[4] = {cin, cout, cerr, ep[1]};
    for (int i = 0; i < 4; i++) {
        if (hi[i] <= 3) {
            int d = fcntl(hi[i], F_DUPFD_CLOEXEC, 10);
            if (d < 0)
                goto sys_fail;
            hi[i] = d; /* small leak of the duplicate is closed below */
        }
    }
    pid_t pid = fork();
    if (pid < 0)
        goto sys_fail;
    if (pid == 0)
        child_exec(c, hi[0], hi[1], hi[2], hi[3]);
    for (int i = 0; i < 4; i++) {
        int orig = i == 0 ? cin : i == 1 ? cout : i == 2 ? cerr : ep[1];
        if (hi[i] != orig)
            close(hi[i]);
    }
    close(ep[1]);
    ep[1] = -1;
    int cerrno = 0;
    ssize_t r;
    do {
        r = read(ep[0], &cerrno, sizeof(cerrno));
    } while (r < 0 && errno == EINTR);
    close(ep[0]);
    ep[0] = -1;
    c->pid = pid;
    if (c->in == CHILD_IO_PIPE) {
        close(inp[0]);
        c->in_fd = inp[1];
    }
    if (c->out == CHILD_IO_PIPE) {
        close(outp[1]);
        c->out_fd = outp[0];
    }
    if (errp[0] >= 0) {
        close(errp[1]);
        c->err_fd = errp[0];
    }
    close(nullfd);
    if (r == (ssize_t)sizeof(cerrno)) {
        child_finish(c);
        errno = cerrno;
        return omni_err_set(err, OMNI_E_IO, "cannot start \"%s\": %s", c->path, strerror(cerrno));
    }
    return 0;

sys_fail:
    saved = errno;
    int fds[] = {inp[0], inp[1], outp[0], outp[1], errp[0], errp[1], ep[0], ep[1], nullfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    errno = saved;
    return omni_err_set(err, OMNI_E_IO, "cannot start \"%s\": %s", c->path, strerror(saved));
}

int child_poll(struct child *c, int *status)
{
    siginfo_t si;
    if (c->pid <= 0)
        return -1;
    memset(&si, 0, sizeof(si));
    /* WNOWAIT: the child stays a zombie (its pid cannot be reused) until child_finish. */
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -1;
    if (si.si_pid != c->pid)
        return 0;
    if (si.si_code == CLD_EXITED)
        *status = (si.si_status & 0xff) << 8;
    else
        *status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
    return 1;
}

int child_finish(struct child *c)
{
    int status = -1;
    if (c->in == CHILD_IO_PIPE && c->in_fd >= 0) {
        close(c->in_fd);
        c->in_fd = -1;
    }
    if (c->out_fd >= 0) {
        close(c->out_fd);
        c->out_fd = -1;
    }
    if (c->err_fd >= 0) {
        close(c->err_fd);
        c->err_fd = -1;
    }
    if (c->pid > 0) {
        pid_t r;
        do {
            r = waitpid(c->pid, &status, 0);
        } while (r < 0 && errno == EINTR);
        if (r != c->pid)
            status = -1;
        c->pid = -1;
    }
    return status;
}
