/*
 * bash — a persistent shell per toolset (toolset.md §4; our framing in
 * toolset.h).
 *
 * Framing: the command text never goes into the shell's input. It is written
 * to <scratch>/cmd, checked with `bash -n` (a syntax error is reported and
 * nothing runs), and the shell is sent one fixed line:
 *
 *   builtin . '<scratch>/cmd' </dev/null 2>&1; builtin printf '\n%s%s:%d\n' '<s1>' '<s2>' "$?"
 *
 * Sourcing keeps line numbers relative to the command; the scratch path in
 * bash's messages ("<scratch>/cmd: line N: ...") is rewritten to "bash: line
 * N: ..." in the output, so the model never sees the host path.
 * where <s1><s2> is __ANT_CMD_<32 random hex>_DONE__ split in two, so the
 * marker never appears whole in anything the shell reads. The output is
 * everything before the marker; the number after it is the status. If the
 * shell ends instead (exit, exec, set -e), the output so far is kept and a
 * note says a new shell starts on the next call.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "timeutil.h"
#include "tool_int.h"

#define BASH_PATH "/bin/bash"
#define BASH_RAW_CAP (4 * TOOL_OUTPUT_CAP) /* raw bytes kept before sanitising */
#define BASH_POLL_MS 50
#define BASH_CHECK_TIMEOUT_MS 10000 /* bash -n */
#define BASH_CHECK_OUTPUT_CAP 8192
#define BASH_KILL_ROUNDS 5
#define BASH_TAG_VAR "OMNI_TOOLSET_TAG"
#define BASH_ENVIRON_READ 65536 /* bytes of /proc/PID/environ searched */

struct bash_state {
    struct child ch;
    pid_t sid; /* session id = process group id = the shell's pid */
    int dead;  /* the shell exited on its own; status in wstatus */
    int wstatus;
};

/* ---- process cleanup ---- */

/* Session id of pid from /proc/PID/stat (field 6), or -1 (also for zombies). */
static pid_t proc_sid(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp)
        return -1;
    /* After ")": state ppid pgrp session */
    char state;
    int ppid, pgrp, session;
    if (sscanf(rp + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4 || state == 'Z' ||
        state == 'X')
        return -1;
    return (pid_t)session;
}

static int proc_has_tag(pid_t pid, const char *needle, size_t nlen, char *env, size_t envlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, env, envlen);
    close(fd);
    return n > 0 && memmem(env, (size_t)n, needle, nlen) != NULL;
}

/* SIGKILL every process in session sid or carrying the tag. Returns how many. */
static int bash_kill_stragglers(pid_t sid, const char *tag)
{
    char needle[96];
    size_t nlen = (size_t)snprintf(needle, sizeof(needle), BASH_TAG_VAR "=%s", tag);
    int killed = 0;
    pid_t self = getpid();
    char *env = malloc(BASH_ENVIRON_READ);
    DIR *d = opendir("/proc");
    if (!d || !env) {
        if (d)
            closedir(d);
        free(env);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        if (*end || v <= 1 || (pid_t)v == self)
            continue;
        pid_t pid = (pid_t)v;
        if ((sid > 0 && proc_sid(pid) == sid) ||
            proc_has_tag(pid, needle, nlen + 1, env, BASH_ENVIRON_READ)) {
            if (kill(pid, SIGKILL) == 0)
                killed++;
        }
    }
    closedir(d);
    free(env);
    return killed;
}

void bash_close(struct toolset *ts)
{
    struct bash_state *b = ts->bash;
    if (!b)
        return;
    if (b->sid > 0)
        kill(-b->sid, SIGKILL);
    if (b->ch.pid > 0)
        kill(b->ch.pid, SIGKILL);
    /*
     * Processes that left the group: same session, or our tag in their
     * environment. The shell is reaped only afterwards, so while we scan its
     * pid (= the session id) cannot be reused by an unrelated process.
     */
    for (int round = 0; round < BASH_KILL_ROUNDS; round++) {
        if (b->sid > 0)
            kill(-b->sid, SIGKILL);
        if (bash_kill_stragglers(b->sid, ts->tag) == 0)
            break;
        struct timespec ts10 = {0, 10 * 1000 * 1000};
        nanosleep(&ts10, NULL);
    }
    child_finish(&b->ch);
    free(b);
    ts->bash = NULL;
}

/* ---- scratch directory and start ---- */

static int bash_scratch(struct toolset *ts)
{
    if (ts->scratch)
        return 0;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/' || strchr(tmp, '\'') || strlen(tmp) > 200)
        tmp = "/tmp";
    char templ[256];
    snprintf(templ, sizeof(templ), "%s/omni-bash-XXXXXX", tmp);
    if (!mkdtemp(templ))
        return -1;
    ts->scratch = strdup(templ);
    if (!ts->scratch) {
        rmdir(templ);
        return -1;
    }
    return 0;
}

static char **bash_env(struct toolset *ts)
{
    char tagvar[64];
    snprintf(tagvar, sizeof(tagvar), BASH_TAG_VAR "=%s", ts->tag);
    const char *extra[] = {tagvar, NULL};
    return child_env_build(ts->o.workdir, (const char *const *)ts->pass_env, extra);
}

static int bash_start(struct toolset *ts, struct omni_err *err)
{
    static const char *const argv[] = {"bash", "--noprofile", "--norc", NULL};
    struct bash_state *b = calloc(1, sizeof(*b));
    char **env = bash_env(ts);
    if (!b || !env) {
        free(b);
        child_env_free(env);
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    }
    struct child ch = CHILD_INIT;
    ch.path = BASH_PATH;
    ch.argv = argv;
    ch.env = env;
    ch.dir = ts->o.workdir;
    ch.in = CHILD_IO_PIPE;
    ch.out = CHILD_IO_PIPE;
    ch.merge_stderr = 1;
    ch.new_session = 1;
    int rc = child_start(&ch, err);
    child_env_free(env);
    if (rc < 0) {
        free(b);
        return -1;
    }
    fcntl(ch.out_fd, F_SETFL, fcntl(ch.out_fd, F_GETFL) | O_NONBLOCK);
    b->ch = ch;
    b->sid = ch.pid;
    ts->bash = b;
    return 0;
}

/* Write all of s to fd without dying of SIGPIPE. Returns 0 or errno. */
static int write_nosigpipe(int fd, const char *s, size_t len)
{
    sigset_t block, old, pending;
    int e = 0;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        s += n;
        len -= (size_t)n;
    }
    if (e == EPIPE) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&block, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

/* Discard output that background jobs wrote between calls. */
static void bash_drain(struct bash_state *b)
{
    char tmp[4096];
    while (read(b->ch.out_fd, tmp, sizeof(tmp)) > 0)
        ;
}

/* ---- syntax check ---- */

/* 0 when cmdfile parses; 1 with *msg (malloc'd) on a syntax error; -1 when the check failed. */
static int bash_check(struct toolset *ts, int cmdfd, char **msg)
{
    static const char *const argv[] = {"bash", "-n", "-O", "extglob", NULL};
    struct omni_err err = OMNI_ERR_INIT;
    struct buf out = BUF_INIT_MAX(BASH_CHECK_OUTPUT_CAP);
    char **env = bash_env(ts);
    *msg = NULL;
    if (!env)
        return -1;
    struct child ch = CHILD_INIT;
    ch.path = BASH_PATH;
    ch.argv = argv;
    ch.env = env;
    ch.dir = ts->o.workdir;
    ch.in = CHILD_IO_FD;
    ch.in_fd = cmdfd;
    ch.out = CHILD_IO_PIPE;
    ch.merge_stderr = 1;
    int rc = child_start(&ch, &err);
    child_env_free(env);
    if (rc < 0) {
        log_warn("bash: syntax check: %s", err.msg);
        return -1;
    }
    int64_t deadline = omni_mono_ms() + BASH_CHECK_TIMEOUT_MS;
    for (;;) {
        struct pollfd pfd = {ch.out_fd, POLLIN, 0};
        int64_t left = deadline - omni_mono_ms();
        if (left <= 0) {
            kill(ch.pid, SIGKILL);
            break;
        }
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char tmp[4096];
        ssize_t n = read(ch.out_fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out.len < BASH_CHECK_OUTPUT_CAP - 1)
            buf_add(&out, tmp,
                    (size_t)n < BASH_CHECK_OUTPUT_CAP - 1 - out.len
                        ? (size_t)n
                        : BASH_CHECK_OUTPUT_CAP - 1 - out.len);
    }
    ch.in_fd = -1; /* not ours */
    int status = child_finish(&ch);
    if (status == -1 || !WIFEXITED(status)) {
        buf_release(&out);
        return -1;
    }
    if (WEXITSTATUS(status) == 0) {
        buf_release(&out);
        return 0;
    }
    *msg = buf_detach(&out, NULL);
    return 1;
}

/* ---- one call ---- */

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[32];
    if (nbytes > sizeof(r))
        nbytes = sizeof(r);
    if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        for (size_t i = 0; i < nbytes; i++)
            r[i] = (unsigned char)((t.tv_nsec >> (i % 8)) ^ (unsigned)getpid() ^ (i * 131));
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Strip trailing newlines (and a \r before one). */
static void strip_trailing_newlines(char *s, size_t *len)
{
    while (*len > 0 && s[*len - 1] == '\n') {
        (*len)--;
        if (*len > 0 && s[*len - 1] == '\r')
            (*len)--;
    }
    s[*len] = '\0';
}

enum bash_end { BASH_DONE, BASH_TIMEOUT, BASH_ABORT, BASH_EXITED, BASH_TOOL_TIMEOUT };

/* Replace every "<from>" in b with "<to>" (to is not longer than from). */
static void buf_replace_all(struct buf *b, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), r = 0, w = 0;
    if (fl == 0 || tl > fl)
        return;
    while (r < b->len) {
        if (r + fl <= b->len && memcmp(b->data + r, from, fl) == 0) {
            memmove(b->data + w, to, tl);
            w += tl;
            r += fl;
        } else {
            b->data[w++] = b->data[r++];
        }
    }
    buf_truncate(b, w);
}

/* Build the result text from raw output. note may be NULL. */
static void bash_finish_result(struct tool_call *c, const char *raw, size_t rawlen, int raw_cut,
                               int status, const char *note, int force_error)
{
    size_t len = 0;
    char *clean = utf8_clean_terminal(raw, rawlen, &len);
    struct buf out = BUF_INIT;
    if (!clean) {
        tool_err(c, "Error: out of memory");
        return;
    }
    strip_trailing_newlines(clean, &len);
    size_t start = utf8_tail_start(clean, len, TOOL_OUTPUT_CAP);
    if (raw_cut || start > 0)
        buf_adds(&out, "[output truncated]\n");
    buf_add(&out, clean + start, len - start);
    free(clean);
    if (status != 0)
        buf_addf(&out, "%sexit %d", out.len ? "\n" : "", status);
    if (note)
        buf_addf(&out, "%s%s", out.len ? "\n" : "", note);
    tool_set(c, status != 0 || force_error, buf_detach(&out, NULL));
}

void tool_bash(struct tool_call *c)
{
    struct toolset *ts = c->ts;
    const char *command;
    int restart = 0, cmdfd = -1;
    long long timeout_ms = 0;
    struct omni_err err = OMNI_ERR_INIT;
    struct buf raw = BUF_INIT_MAX(BASH_RAW_CAP + 8192);
    int raw_cut = 0;
    char path[512];

    if (tool_str(c, "command", 0, &command) < 0 || tool_bool(c, "restart", &restart) < 0)
        return;
    if (tool_int(c, "timeout_ms", &timeout_ms) < 0)
        return;
    if (restart)
        bash_close(ts);
    if (!command || !*command) {
        if (restart)
            tool_ok(c, "bash session restarted");
        else
            tool_err(c, "bash: command is required");
        return;
    }
    if (timeout_ms <= 0)
        timeout_ms = ts->o.bash_default_timeout_ms;
    if (timeout_ms > ts->o.bash_max_timeout_ms)
        timeout_ms = ts->o.bash_max_timeout_ms;

    if (bash_scratch(ts) < 0) {
        log_error("bash: cannot create a scratch directory: %s", strerror(errno));
        tool_err(c, "Error: cannot create the shell's scratch directory");
        return;
    }
    snprintf(path, sizeof(path), "%s/cmd", ts->scratch);
    unlink(path);
    cmdfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (cmdfd < 0 || write_nosigpipe(cmdfd, command, strlen(command)) != 0 ||
        lseek(cmdfd, 0, SEEK_SET) < 0) {
        log_error("bash: cannot write the command file: %s", strerror(errno));
        tool_err(c, "Error: cannot write the command file");
        goto out;
    }
    char *msg = NULL;
    int chk = bash_check(ts, cmdfd, &msg);
    if (chk == 1) {
        size_t ml = strlen(msg);
        char *clean = utf8_clean_terminal(msg, ml, &ml);
        free(msg);
        if (clean) {
            strip_trailing_newlines(clean, &ml);
            tool_set(c, 1, clean);
        } else {
            tool_err(c, "Error: out of memory");
        }
        goto out;
    }
    /* chk < 0: the check itself could not run; let the shell report problems. */

    if (ts->bash && ts->bash->ch.pid <= 0)
        bash_close(ts);
    if (!ts->bash && bash_start(ts, &err) < 0) {
        log_error("bash: %s", err.msg);
        tool_err(c, "Error: cannot start the shell");
        goto out;
    }
    struct bash_state *b = ts->bash;
    bash_drain(b);

    char hex[33], s1[32], s2[64], marker[96], line[1024];
    random_hex(hex, 16);
    snprintf(s1, sizeof(s1), "__ANT_CMD_%.8s", hex);
    snprintf(s2, sizeof(s2), "%s_DONE__", hex + 8);
    int mlen = snprintf(marker, sizeof(marker), "%s%s:", s1, s2);
    snprintf(line, sizeof(line),
             "builtin . '%s' </dev/null 2>&1; builtin printf '\\n%%s%%s:%%d\\n' '%s' '%s' "
             "\"$?\"\n",
             path, s1, s2);
    int64_t now = omni_mono_ms();
    int64_t deadline = now + timeout_ms;
    enum bash_end end = BASH_DONE;
    int status = -1, found = 0;
    if (write_nosigpipe(b->ch.in_fd, line, strlen(line)) != 0)
        end = BASH_EXITED;

    size_t search_from = 0;
    while (end == BASH_DONE && !found) {
        if (tool_cancelled(c)) {
            end = BASH_ABORT;
            break;
        }
        now = omni_mono_ms();
        if (now >= c->deadline_ms) {
            end = BASH_TOOL_TIMEOUT;
            break;
        }
        if (now >= deadline) {
            end = BASH_TIMEOUT;
            break;
        }
        struct pollfd pfd = {b->ch.out_fd, POLLIN, 0};
        int wait = (int)(deadline - now < BASH_POLL_MS ? deadline - now : BASH_POLL_MS);
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno != EINTR) {
            end = BASH_EXITED;
            break;
        }
        int got_eof = 0;
        for (;;) {
            char tmp[16384];
            ssize_t n = read(b->ch.out_fd, tmp, sizeof(tmp));
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                got_eof = 1;
            if (n <= 0)
                break;
            if (raw.len + (size_t)n > BASH_RAW_CAP) {
                /* Keep the tail (at least half the raw cap, so moves stay rare). */
                size_t drop = raw.len + (size_t)n - BASH_RAW_CAP / 2;
                if (drop > raw.len)
                    drop = raw.len;
                buf_consume(&raw, drop);
                search_from = search_from > drop ? search_from - drop : 0;
                raw_cut = 1;
            }
            buf_add(&raw, tmp, (size_t)n);
            char *m = memmem(raw.data + search_from, raw.len - search_from, marker, (size_t)mlen);
            if (m) {
                char *nl = memchr(m + mlen, '\n', (size_t)(raw.data + raw.len - (m + mlen)));
                if (nl) {
                    status = atoi(m + mlen);
                    buf_truncate(&raw, (size_t)(m - raw.data));
                    found = 1;
                    break;
                }
                search_from = (size_t)(m - raw.data);
            } else {
                search_from = raw.len > (size_t)mlen ? raw.len - (size_t)mlen : 0;
            }
        }
        if (found)
            break;
        int ws;
        if (child_poll(&b->ch, &ws) == 1) {
            b->dead = 1;
            b->wstatus = ws;
            /* Collect what is already in the pipe. */
            char tmp[16384];
            ssize_t n;
            while ((n = read(b->ch.out_fd, tmp, sizeof(tmp))) > 0) {
                if (raw.len + (size_t)n > BASH_RAW_CAP) {
                    size_t drop = raw.len + (size_t)n - BASH_RAW_CAP / 2;
                    buf_consume(&raw, drop > raw.len ? raw.len : drop);
                    raw_cut = 1;
                }
                buf_add(&raw, tmp, (size_t)n);
            }
            end = BASH_EXITED;
        } else if (got_eof) {
            /* Output closed but not reaped yet: wait for the exit briefly. */
            struct timespec t = {0, 10 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }

    /* "<scratch>/cmd: line 3: ..." → "bash: line 3: ..." */
    char from[560];
    snprintf(from, sizeof(from), "%s: ", path);
    buf_replace_all(&raw, from, "bash: ");
    switch (end) {
    case BASH_DONE:
        bash_finish_result(c, raw.data, raw.len, raw_cut, status, NULL, 0);
        break;
    case BASH_TIMEOUT:
        bash_close(ts);
        tool_err(c, "bash: bash command timed out after %lldms", timeout_ms);
        break;
    case BASH_TOOL_TIMEOUT:
        bash_close(ts);
        tool_expired(c);
        break;
    case BASH_ABORT:
        bash_close(ts);
        tool_err(c, "bash: This operation was aborted");
        break;
    case BASH_EXITED: {
        char note[160];
        int st = 0;
        if (b->dead && WIFEXITED(b->wstatus)) {
            st = WEXITSTATUS(b->wstatus);
            snprintf(note, sizeof(note),
                     "bash: shell exited with status %d; a new shell will start on the next call",
                     st);
        } else if (b->dead && WIFSIGNALED(b->wstatus)) {
            snprintf(note, sizeof(note),
                     "bash: shell was killed by signal %d; a new shell will start on the next call",
                     WTERMSIG(b->wstatus));
        } else {
            snprintf(note, sizeof(note), "bash: bash session terminated");
        }
        int force_error = st != 0 || !b->dead || WIFSIGNALED(b->wstatus);
        bash_close(ts);
        bash_finish_result(c, raw.data, raw.len, raw_cut, 0, note, force_error);
        break;
    }
    }
out:
    if (cmdfd >= 0)
        close(cmdfd);
    if (ts->scratch) {
        snprintf(path, sizeof(path), "%s/cmd", ts->scratch);
        unlink(path);
    }
    buf_release(&raw);
}
