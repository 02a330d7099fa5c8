/*
 * bash — a persistent shell per toolset (toolset.md §4 as updated by SDK
 * 1.16; our framing in toolset.h).
 *
 * The shell is /bin/bash --noprofile --norc with three pipes (stdin, stdout,
 * stderr). Its first input line moves the two output pipes to descriptors 30
 * and 31 and sends the shell's own output to /dev/null; a NUL on 31 ends the
 * set-up (anything bash printed on stderr before it, such as a locale
 * warning, is dropped). Each call then writes a fixed framing whose lines are
 * those of the SDK, so bash's "bash: line N: ..." numbers are the ones the
 * model knows: the command, single-quoted, is run by `eval` (bash parses the
 * whole command first, so a syntax error runs nothing and is reported with
 * status 2) with stdin from /dev/null, stdout on 30 and stderr on 31, then
 *
 *   \n __ANT_CMD_<random>_DONE__ <status> \n
 *
 * is printed on 31 (the status) and on 30 (0), split in two printf
 * arguments so the marker never appears whole in what the shell reads.
 *
 * Each stream keeps its first bytes in memory (enough for 30,000 UTF-16
 * units) and sends the rest to an unnamed temporary file (O_TMPFILE in
 * $TMPDIR or /tmp, at most 32 MiB); line breaks are counted throughout. A long
 * result is cut at 30,000 UTF-16 units and the whole output (first 32 MiB) is
 * saved under the workdir, see bash_save below.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
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
#define BASH_POLL_MS 50
#define BASH_EXIT_DRAIN_MS 200 /* output still arriving after the shell ended */
#define BASH_KILL_ROUNDS 5
#define BASH_TAG_VAR "OMNI_TOOLSET_TAG"
#define BASH_ENVIRON_READ 65536 /* bytes of /proc/PID/environ searched */
#define BASH_CHUNK 16384
/* A UTF-8 character is at most 3 bytes per UTF-16 unit, so this many bytes
 * always hold more than BASH_OUTPUT_LIMIT units. */
#define BASH_START_BYTES (3u * BASH_OUTPUT_LIMIT + 4u)
#define BASH_SENTINEL_PREFIX "__ANT_CMD_"
#define BASH_SAVE_TRIES 8

#define BASH_HOW_TO_RESTART                                                                        \
    "Call bash with restart set to true to start a new one. It starts in the original working "    \
    "directory, without the old shell's variables, activated environments and background jobs."
#define BASH_SHELL_GONE "[The shell is gone. " BASH_HOW_TO_RESTART "]"
#define BASH_COMMAND_NOT_RUN                                                                       \
    "[This command did not run, because the shell is gone. " BASH_HOW_TO_RESTART "]"

/* The set-up line; see the header comment. */
static const char bash_setup[] = "exec 10>&- 11>&-; { exec 30>&10 31>&11; } >/dev/null 2>&1; exec "
                                 ">/dev/null 2>&1; command printf '\\0' >&31\n";

struct bash_state {
    struct child ch;
    pid_t sid;      /* session id = process group id = the shell's pid */
    int gone;       /* the shell ended or was killed: refuse calls until restart */
    int setup_done; /* the set-up NUL arrived on stderr */
};

/* One output stream of one call. */
struct bstream {
    struct buf start;    /* all of it, or more than BASH_START_BYTES */
    int rest_fd;         /* unnamed file with the rest, or -1 */
    uint64_t rest_bytes; /* bytes written to rest_fd (stops near the cap) */
    uint64_t lines;      /* '\n' in everything, kept or not */
    int status;          /* from the sentinel, -1 until it arrived */
    int eof;
    char held[128]; /* the end so far, which may begin the sentinel */
    size_t nheld;
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

/* Kill the shell, its group, session and tagged processes; reap it. The state
 * stays, marked gone, so later calls are refused until a restart. */
static void bash_kill(struct toolset *ts)
{
    struct bash_state *b = ts->bash;
    if (!b || b->ch.pid <= 0) {
        if (b)
            b->gone = 1;
        return;
    }
    if (b->sid > 0)
        kill(-b->sid, SIGKILL);
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
    b->sid = -1;
    b->gone = 1;
}

void bash_close(struct toolset *ts)
{
    if (!ts->bash)
        return;
    bash_kill(ts);
    free(ts->bash);
    ts->bash = NULL;
}

/* ---- saved output ---- */

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

void bash_saved_remove(struct toolset *ts)
{
    if (ts->save_dirfd >= 0) {
        if (ts->save_file[0])
            unlinkat(ts->save_dirfd, ts->save_file, 0);
        close(ts->save_dirfd);
        ts->save_dirfd = -1;
    }
    /* Only an empty directory goes: if the agent put another one in its place,
     * that one is emptied by no one. */
    if (ts->save_dir[0] && ts->paths)
        unlinkat(paths_workdir_fd(ts->paths), ts->save_dir, AT_REMOVEDIR);
    ts->save_dir[0] = '\0';
    ts->save_file[0] = '\0';
}

int bash_save_create(int workfd, const char *dname, const char *fname, int *dirfd)
{
    struct stat st;
    *dirfd = -1;
    /* mkdirat fails on anything already there, a planted symlink included. */
    if (mkdirat(workfd, dname, 0700) < 0)
        return -1;
    int dfd = openat(workfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    if (fstat(dfd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        int e = errno ? errno : EPERM;
        close(dfd);
        errno = e;
        return -1;
    }
    /* O_EXCL: never opens a FIFO, device or symlink that is already there. */
    int fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        unlinkat(workfd, dname, AT_REMOVEDIR);
        close(dfd);
        errno = e;
        return -1;
    }
    *dirfd = dfd;
    return fd;
}

/* Write all of len bytes to fd. 0 or -1. */
static int write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

struct save_writer {
    int fd;
    uint64_t left;
    int over; /* more than the cap was offered */
    int failed;
};

/* Append s[0..len) within the cap; a character that does not fit whole is left out. */
static void save_put(struct save_writer *w, const char *s, size_t len)
{
    if (w->failed || w->over)
        return;
    if (len > w->left) {
        size_t n = (size_t)w->left;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)s[n - 1] >= 0xC0)
            n--; /* a lead byte whose continuation did not fit */
        len = n;
        w->over = 1;
    }
    if (len > 0 && write_all(w->fd, s, len) < 0)
        w->failed = 1;
    w->left -= len;
}

static void save_stream(struct save_writer *w, struct bstream *s)
{
    save_put(w, s->start.data ? s->start.data : "", s->start.len);
    if (s->rest_fd < 0)
        return;
    char tmp[65536];
    off_t off = 0;
    while (!w->failed && !w->over) {
        ssize_t n = pread(s->rest_fd, tmp, sizeof(tmp), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            w->failed = 1;
            break;
        }
        if (n == 0)
            break;
        save_put(w, tmp, (size_t)n);
        off += n;
    }
}

/*
 * Replace the shell's saved output with first + sep + second (at most 32 MiB)
 * and return the sentence naming it (malloc'd), or "" when it could not be
 * written. The file is <workdir>/.omni-bash-output-<16 hex>/<32 hex>.txt:
 * the directory is made with mkdirat (0700, fails on anything already there)
 * and opened with O_NOFOLLOW, the file with O_CREAT|O_EXCL|O_NOFOLLOW (0600),
 * both relative to the workdir's descriptor, so nothing the agent plants
 * there can redirect or block the write.
 */
static char *bash_save(struct toolset *ts, struct bstream *first, const char *sep,
                       struct bstream *second)
{
    int workfd = paths_workdir_fd(ts->paths);
    int fd = -1, dfd = -1;
    char dname[64], fname[64], hex[33];
    bash_saved_remove(ts);
    for (int i = 0; i < BASH_SAVE_TRIES && fd < 0; i++) {
        random_hex(hex, 8);
        snprintf(dname, sizeof(dname), TOOL_SAVE_DIR_PREFIX "%s", hex);
        random_hex(hex, 16);
        snprintf(fname, sizeof(fname), "%s.txt", hex);
        fd = bash_save_create(workfd, dname, fname, &dfd);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        log_warn("bash: cannot save the long output in the workdir: %s", strerror(errno));
        return strdup("");
    }
    snprintf(ts->save_dir, sizeof(ts->save_dir), "%s", dname);
    snprintf(ts->save_file, sizeof(ts->save_file), "%s", fname);
    ts->save_dirfd = dfd;
    struct save_writer w = {fd, BASH_SAVED_OUTPUT_BYTES, 0, 0};
    save_stream(&w, first);
    save_put(&w, sep, strlen(sep));
    save_stream(&w, second);
    if (close(fd) < 0)
        w.failed = 1;
    if (w.failed) {
        bash_saved_remove(ts);
        return strdup("");
    }
    char *s = NULL;
    if (asprintf(&s,
                 "%s saved to: %s/%s/%s \xe2\x80\x94 use read with view_range to read specific "
                 "portions. ",
                 w.over ? "First 32 MiB of output" : "Full output", paths_workdir(ts->paths), dname,
                 fname) < 0)
        return NULL;
    return s;
}

/* ---- streams ---- */

static void bstream_init(struct bstream *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->start, BASH_START_BYTES + 2 * BASH_CHUNK + sizeof(s->held) + 64);
    s->rest_fd = -1;
    s->status = -1;
}

static void bstream_release(struct bstream *s)
{
    buf_release(&s->start);
    if (s->rest_fd >= 0)
        close(s->rest_fd);
    s->rest_fd = -1;
}

static int open_unnamed(void)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    int fd = open(tmp, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char templ[512];
    snprintf(templ, sizeof(templ), "%s/omni-bash-rest-XXXXXX", tmp);
    fd = mkostemp(templ, O_CLOEXEC);
    if (fd >= 0)
        unlink(templ);
    return fd;
}

/* Keep text: in memory while the start is short, then in the unnamed file. */
static void bstream_keep(struct bstream *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n')
            s->lines++;
    if (n == 0)
        return;
    if (s->start.len <= BASH_START_BYTES) {
        buf_add(&s->start, p, n);
        return;
    }
    if (s->rest_bytes >= BASH_SAVED_OUTPUT_BYTES)
        return;
    if (s->rest_fd < 0) {
        s->rest_fd = open_unnamed();
        if (s->rest_fd < 0) {
            log_warn("bash: cannot open a temporary file: %s", strerror(errno));
            s->rest_bytes = BASH_SAVED_OUTPUT_BYTES; /* stop trying */
            return;
        }
    }
    if (write_all(s->rest_fd, p, n) < 0)
        s->rest_bytes = BASH_SAVED_OUTPUT_BYTES;
    else
        s->rest_bytes += n;
}

/* Feed a chunk; detects "\n?<sentinel><digits>\n". */
static void bstream_append(struct bstream *s, const char *sentinel, const char *chunk, size_t n)
{
    size_t slen = strlen(sentinel);
    size_t hold = 1 + slen + 3;
    while (n > 0 && s->status < 0) {
        char text[sizeof(s->held) + 4096];
        size_t take = n < 4096 ? n : 4096;
        memcpy(text, s->held, s->nheld);
        memcpy(text + s->nheld, chunk, take);
        size_t len = s->nheld + take;
        chunk += take;
        n -= take;
        size_t from = 0, keep = len > hold ? len - hold : 0;
        int matched = 0;
        for (;;) {
            char *m = memmem(text + from, len - from, sentinel, slen);
            if (!m)
                break;
            size_t at = (size_t)(m - text), j = at + slen;
            while (j < len && text[j] >= '0' && text[j] <= '9')
                j++;
            if (j > at + slen && j < len && text[j] == '\n') {
                size_t end = at > 0 && text[at - 1] == '\n' ? at - 1 : at;
                bstream_keep(s, text, end);
                long v = strtol(text + at + slen, NULL, 10);
                s->status = v > 255 || v < 0 ? 255 : (int)v;
                s->nheld = 0;
                matched = 1;
                break;
            }
            if (j >= len) { /* may still complete: hold from here */
                size_t start = at > 0 && text[at - 1] == '\n' ? at - 1 : at;
                if (start < keep && len - start <= sizeof(s->held))
                    keep = start;
                break;
            }
            from = at + 1;
        }
        if (matched)
            break;
        bstream_keep(s, text, keep);
        s->nheld = len - keep;
        memmove(s->held, text + keep, s->nheld);
    }
}

/* The end of the call: what is held, then last (may be NULL). */
static void bstream_end(struct bstream *s, const char *last)
{
    bstream_keep(s, s->held, s->nheld);
    s->nheld = 0;
    if (last)
        bstream_keep(s, last, strlen(last));
}

/* ---- UTF-16 measure ---- */

/* Bytes of s[0..len) that hold at most limit UTF-16 units without splitting a
 * character (an invalid byte counts as one unit, U+FFFD). *units: the units
 * in the whole of s when it fits, else limit + 1. */
static size_t utf16_prefix(const char *s, size_t len, size_t limit, size_t *units)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned char c = u[i];
        size_t k = 1, w = 1;
        if (c >= 0xC2 && c <= 0xDF)
            k = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 4, w = 2;
        if (k > 1) {
            size_t j;
            for (j = 1; j < k && i + j < len && (u[i + j] & 0xC0) == 0x80; j++)
                ;
            if (j < k)
                k = 1, w = 1; /* invalid: one U+FFFD per byte, as utf8_clean */
        }
        if (n + w > limit) {
            *units = limit + 1;
            return i;
        }
        n += w;
        i += k;
    }
    *units = n;
    return i;
}

/* ---- one call ---- */

/* JavaScript's rendering of ms / 1000 for a whole number of ms. */
static void seconds_text(char *out, size_t outlen, long long ms)
{
    if (ms % 1000 == 0) {
        snprintf(out, outlen, "%lld", ms / 1000);
        return;
    }
    int n = snprintf(out, outlen, "%lld.%03lld", ms / 1000, ms % 1000);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
}

static void strip_trailing_newlines(char *s, size_t *len)
{
    while (*len > 0 && s[*len - 1] == '\n')
        (*len)--;
    s[*len] = '\0';
}

/* Build the result of a call as the SDK does (see toolset.h). */
static void bash_result(struct tool_call *c, struct bstream *out, struct bstream *err, int status,
                        const char *stderr_end, int gone)
{
    bstream_end(out, NULL);
    bstream_end(err, stderr_end);
    struct bstream *first = status == 0 ? out : err, *second = status == 0 ? err : out;
    const char *sep = err->start.len > 0 ? "\n" : "";
    struct buf all = BUF_INIT_MAX(first->start.len + second->start.len + 16);
    struct buf res = BUF_INIT;
    buf_add(&all, first->start.data ? first->start.data : "", first->start.len);
    buf_adds(&all, sep);
    buf_add(&all, second->start.data ? second->start.data : "", second->start.len);
    size_t units = 0,
           cut = utf16_prefix(all.data ? all.data : "", all.len, BASH_OUTPUT_LIMIT, &units);
    size_t clen = 0;
    char *clean = utf8_clean_terminal(all.data ? all.data : "", cut, &clen);
    if (!clean || all.overflow) {
        free(clean);
        buf_release(&all);
        tool_err(c, "Error: out of memory");
        return;
    }
    if (units <= BASH_OUTPUT_LIMIT) {
        strip_trailing_newlines(clean, &clen);
        buf_add(&res, clean, clen);
    } else {
        uint64_t kept_lines = 0;
        for (size_t i = 0; i < cut; i++)
            if (all.data[i] == '\n')
                kept_lines++;
        uint64_t cut_lines = 1 + first->lines + strlen(sep) + second->lines - kept_lines;
        char *saved = bash_save(c->ts, first, sep, second);
        buf_add(&res, clean, clen);
        buf_addf(&res, "\n\n... [%llu lines truncated] %s...", (unsigned long long)cut_lines,
                 saved ? saved : "");
        free(saved);
    }
    free(clean);
    buf_release(&all);
    if (gone) {
        if (res.len == 0)
            buf_adds(&res, TOOL_NO_OUTPUT);
        buf_adds(&res, "\n" BASH_SHELL_GONE);
    }
    tool_set(c, status != 0, buf_detach(&res, NULL));
}

static char **bash_env(struct toolset *ts)
{
    char tagvar[64];
    snprintf(tagvar, sizeof(tagvar), BASH_TAG_VAR "=%s", ts->tag);
    const char *extra[] = {tagvar, "HISTFILE=", NULL};
    return child_env_build(ts->o.workdir, (const char *const *)ts->pass_env, extra);
}

static int bash_start(struct toolset *ts, struct omni_err *err)
{
    static const char *const argv[] = {BASH_PATH, "--noprofile", "--norc", NULL};
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
    ch.err_pipe = 1;
    ch.new_session = 1;
    int rc = child_start(&ch, err);
    child_env_free(env);
    if (rc < 0) {
        free(b);
        return -1;
    }
    fcntl(ch.out_fd, F_SETFL, fcntl(ch.out_fd, F_GETFL) | O_NONBLOCK);
    fcntl(ch.err_fd, F_SETFL, fcntl(ch.err_fd, F_GETFL) | O_NONBLOCK);
    fcntl(ch.in_fd, F_SETFL, fcntl(ch.in_fd, F_GETFL) | O_NONBLOCK);
    b->ch = ch;
    b->sid = ch.pid;
    ts->bash = b;
    return 0;
}

/* Write what fits of s to the non-blocking fd without dying of SIGPIPE.
 * Returns bytes written (0 when full), or -1. */
static ssize_t write_some(int fd, const char *s, size_t len)
{
    sigset_t block, old, pending;
    ssize_t n;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    do {
        n = write(fd, s, len);
    } while (n < 0 && errno == EINTR);
    int e = errno;
    if (n < 0 && e == EPIPE) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&block, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK))
        return 0;
    errno = e;
    return n;
}

/* Read what is there on a shell output; stderr bytes before the set-up NUL
 * are dropped. Returns 1 at EOF, else 0. into may be NULL (discard). */
static int bash_read(struct bash_state *b, int is_err, struct bstream *into, const char *sentinel)
{
    int fd = is_err ? b->ch.err_fd : b->ch.out_fd;
    char tmp[BASH_CHUNK];
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
        const char *p = tmp;
        size_t len = (size_t)n;
        if (is_err && !b->setup_done) {
            const char *z = memchr(p, '\0', len);
            if (!z)
                continue;
            b->setup_done = 1;
            len -= (size_t)(z + 1 - p);
            p = z + 1;
        }
        if (into)
            bstream_append(into, sentinel, p, len);
    }
    return 0;
}

/* The framing of one command (see the header comment); malloc'd. */
static char *bash_script(const char *command, const char *sentinel)
{
    struct buf q = BUF_INIT_MAX(strlen(command) * 4 + 1024);
    buf_adds(&q, "\\builtin unset __ant_status; { \\builtin eval '{ :\n");
    for (const char *p = command; *p; p++) {
        if (*p == '\'')
            buf_adds(&q, "'\\''");
        else
            buf_addc(&q, *p);
    }
    buf_addf(&q,
             "\n\n}\n__ant_status=$?'; } </dev/null >&30 2>&31; ! \\builtin : "
             "\"${__ant_status=$?}\"\n"
             "__ant_status=${__ant_status-$?} && \\builtin printf '\\n%%s%%s%%d\\n' %.8s %s "
             "\"$__ant_status\" >&31 && \\builtin printf '\\n%%s%%s%%d\\n' %.8s %s 0 >&30 || "
             "\\builtin exit\n",
             sentinel, sentinel + 8, sentinel, sentinel + 8);
    if (q.overflow) {
        buf_release(&q);
        return NULL;
    }
    return buf_detach(&q, NULL);
}

enum bash_end { BASH_RUNNING, BASH_DONE, BASH_TIMEOUT, BASH_ABORT, BASH_EXITED, BASH_TOOL_TIMEOUT };

/* After the shell ended or was killed: collect what is still in the pipes for
 * up to BASH_EXIT_DRAIN_MS (a background job can hold them open). */
static void bash_drain_after(struct bash_state *b, struct bstream *out, struct bstream *err,
                             const char *sentinel)
{
    int64_t until = omni_mono_ms() + BASH_EXIT_DRAIN_MS;
    while (!(out->eof || out->status >= 0) || !(err->eof || err->status >= 0)) {
        int64_t left = until - omni_mono_ms();
        if (left <= 0)
            break;
        struct pollfd pfd[2] = {{out->eof || out->status >= 0 ? -1 : b->ch.out_fd, POLLIN, 0},
                                {err->eof || err->status >= 0 ? -1 : b->ch.err_fd, POLLIN, 0}};
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
            break;
        if (!out->eof && out->status < 0 && bash_read(b, 0, out, sentinel))
            out->eof = 1;
        if (!err->eof && err->status < 0 && bash_read(b, 1, err, sentinel))
            err->eof = 1;
    }
}

void tool_bash(struct tool_call *c)
{
    struct toolset *ts = c->ts;
    const char *command;
    int restart = 0;
    long long timeout_ms = 0;
    struct omni_err err = OMNI_ERR_INIT;

    if (tool_str(c, "command", 0, &command) < 0 || tool_bool(c, "restart", &restart) < 0)
        return;
    if (tool_int(c, "timeout_ms", &timeout_ms) < 0)
        return;
    if (tool_cancelled(c)) {
        tool_err(c, "bash: This operation was aborted");
        return;
    }
    if (restart) {
        bash_close(ts);
        bash_saved_remove(ts);
    }
    if (!command || !*command) {
        if (restart)
            tool_ok(c, "bash session restarted");
        else
            tool_err(c, "bash: command is required");
        return;
    }
    if (timeout_ms <= 0 || timeout_ms > ts->o.bash_max_timeout_ms)
        timeout_ms = timeout_ms <= 0 ? ts->o.bash_default_timeout_ms : ts->o.bash_max_timeout_ms;
    if (ts->bash && ts->bash->gone) {
        tool_err(c, BASH_COMMAND_NOT_RUN);
        return;
    }
    if (!ts->bash) {
        if (bash_start(ts, &err) < 0) {
            log_error("bash: %s", err.msg);
            tool_err(c, "bash: could not start /bin/bash in %s", ts->o.workdir);
            return;
        }
        if (write_some(ts->bash->ch.in_fd, bash_setup, sizeof(bash_setup) - 1) !=
            (ssize_t)(sizeof(bash_setup) - 1))
            bash_kill(ts); /* reported below as a shell that ended */
    }
    struct bash_state *b = ts->bash;

    char hex[33], sentinel[64];
    random_hex(hex, 16);
    snprintf(sentinel, sizeof(sentinel), BASH_SENTINEL_PREFIX "%s_DONE__", hex);
    char *script = bash_script(command, sentinel);
    if (!script) {
        tool_err(c, "Error: out of memory");
        return;
    }
    struct bstream out, errs;
    bstream_init(&out);
    bstream_init(&errs);
    size_t script_len = strlen(script), written = 0;
    enum bash_end end = b->gone ? BASH_EXITED : BASH_RUNNING;
    int64_t deadline = omni_mono_ms() + timeout_ms;
    int wstatus = 0, exited = 0;

    if (!b->gone) {
        /* Output that background jobs wrote between calls is not this call's. */
        bash_read(b, 0, NULL, sentinel);
        bash_read(b, 1, NULL, sentinel);
    }
    while (end == BASH_RUNNING) {
        if (tool_cancelled(c)) {
            end = BASH_ABORT;
            break;
        }
        int64_t now = omni_mono_ms();
        if (now >= c->deadline_ms) {
            end = BASH_TOOL_TIMEOUT;
            break;
        }
        if (now >= deadline) {
            end = BASH_TIMEOUT;
            break;
        }
        /* A stream at its end or past its sentinel is not polled (no busy loop). */
        struct pollfd pfd[3] = {{out.eof || out.status >= 0 ? -1 : b->ch.out_fd, POLLIN, 0},
                                {errs.eof || errs.status >= 0 ? -1 : b->ch.err_fd, POLLIN, 0},
                                {written < script_len ? b->ch.in_fd : -1, POLLOUT, 0}};
        int wait = (int)(deadline - now < BASH_POLL_MS ? deadline - now : BASH_POLL_MS);
        if (poll(pfd, 3, wait) < 0 && errno != EINTR) {
            end = BASH_EXITED;
            break;
        }
        if (written < script_len) {
            ssize_t n = write_some(b->ch.in_fd, script + written, script_len - written);
            if (n > 0)
                written += (size_t)n;
            /* n < 0: the shell stopped reading; its exit is seen below. */
        }
        if (!out.eof && out.status < 0 && bash_read(b, 0, &out, sentinel))
            out.eof = 1;
        if (!errs.eof && errs.status < 0 && bash_read(b, 1, &errs, sentinel))
            errs.eof = 1;
        if (out.status >= 0 && errs.status >= 0) {
            end = BASH_DONE;
            break;
        }
        if (child_poll(&b->ch, &wstatus) == 1) {
            exited = 1;
            end = BASH_EXITED;
        }
    }
    free(script);

    char stderr_end[96];
    switch (end) {
    case BASH_RUNNING:
    case BASH_DONE:
        bash_result(c, &out, &errs, errs.status, NULL, 0);
        break;
    case BASH_EXITED: {
        if (!b->gone)
            bash_drain_after(b, &out, &errs, sentinel);
        int st = -1;
        if (out.status >= 0 && errs.status >= 0)
            st = errs.status;
        else if (exited && WIFEXITED(wstatus))
            st = WEXITSTATUS(wstatus);
        bash_kill(ts);
        bash_result(c, &out, &errs, st, NULL, 1);
        break;
    }
    case BASH_TIMEOUT: {
        char secs[48];
        if (b->sid > 0)
            kill(-b->sid, SIGKILL);
        bash_drain_after(b, &out, &errs, sentinel);
        bash_kill(ts);
        seconds_text(secs, sizeof(secs), timeout_ms);
        snprintf(stderr_end, sizeof(stderr_end), "\ncommand timed out after %ss\n", secs);
        bash_result(c, &out, &errs, -1, stderr_end, 1);
        break;
    }
    case BASH_TOOL_TIMEOUT:
        bash_kill(ts);
        tool_expired(c);
        break;
    case BASH_ABORT:
        bash_kill(ts);
        tool_err(c, "bash: This operation was aborted");
        break;
    }
    bstream_release(&out);
    bstream_release(&errs);
}
