/*
 * grep — regex search in file contents with a built-in walker and PCRE2
 * (toolset.md §9.4; dialect and walk rules in toolset.h). No external rg is
 * ever run.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"
#include "tool_int.h"

#define GREP_CHUNK 65536
#define GREP_MAX_LINE 2000
#define GREP_MAX_ENTRIES 50000
#define GREP_MAX_DEPTH 40
#define GREP_MATCH_LIMIT 1000000u
#define GREP_DEPTH_LIMIT 10000u
#define GREP_HEAP_LIMIT_KIB 65536u
#define GREP_CLOCK_EVERY 256 /* lines between clock checks */

struct grep_run {
    struct tool_call *c;
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct buf out;
    size_t hits;
    size_t entries;
    int64_t grep_deadline;
    int truncated, timed_out, aborted, stop;
    unsigned tick;
    char *chunk;
    struct buf carry;
};

static int grep_check(struct grep_run *g)
{
    if (g->stop)
        return 1;
    if (tool_cancelled(g->c)) {
        g->aborted = g->stop = 1;
    } else if (omni_mono_ms() >= g->grep_deadline || omni_mono_ms() >= g->c->deadline_ms) {
        g->timed_out = g->stop = 1;
    }
    return g->stop;
}

static void grep_line(struct grep_run *g, const char *abs, unsigned long lineno, const char *s,
                      size_t len)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (len > GREP_MAX_LINE)
        return;
    if ((++g->tick % GREP_CLOCK_EVERY) == 0 && grep_check(g))
        return;
    int rc = pcre2_match(g->re, (PCRE2_SPTR)s, len, 0, 0, g->md, g->mctx);
    if (rc < 0)
        return; /* no match, or a match/depth limit: the line does not count */
    char num[32];
    int nl = snprintf(num, sizeof(num), ":%lu:", lineno);
    size_t need = strlen(abs) + (size_t)nl + len + 1;
    if (g->out.len + need > TOOL_OUTPUT_CAP) {
        g->truncated = g->stop = 1;
        return;
    }
    if (g->hits)
        buf_addc(&g->out, '\n');
    buf_adds(&g->out, abs);
    buf_add(&g->out, num, (size_t)nl);
    buf_add(&g->out, s, len);
    g->hits++;
}

static void grep_file(struct grep_run *g, int fd, const char *abs)
{
    unsigned long lineno = 1;
    int skipping = 0;
    buf_reset(&g->carry);
    for (;;) {
        if (grep_check(g))
            return;
        ssize_t n = read(fd, g->chunk, GREP_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (memchr(g->chunk, '\0', (size_t)n))
            return; /* binary from here on: earlier hits stay */
        size_t i = 0;
        while (i < (size_t)n && !g->stop) {
            char *nlp = memchr(g->chunk + i, '\n', (size_t)n - i);
            size_t end = nlp ? (size_t)(nlp - g->chunk) : (size_t)n;
            size_t seg = end - i;
            if (!nlp) {
                /* Partial line: keep it for the next chunk unless already too long. */
                if (!skipping && g->carry.len + seg <= GREP_MAX_LINE + 1)
                    buf_add(&g->carry, g->chunk + i, seg);
                else
                    skipping = 1;
                break;
            }
            if (skipping) {
                skipping = 0;
            } else if (g->carry.len) {
                if (g->carry.len + seg <= GREP_MAX_LINE + 1) {
                    buf_add(&g->carry, g->chunk + i, seg);
                    grep_line(g, abs, lineno, g->carry.data, g->carry.len);
                }
            } else {
                grep_line(g, abs, lineno, g->chunk + i, seg);
            }
            buf_reset(&g->carry);
            lineno++;
            i = end + 1;
        }
    }
    if (!g->stop && !skipping && g->carry.len)
        grep_line(g, abs, lineno, g->carry.data, g->carry.len);
}

static int grep_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void grep_dir(struct grep_run *g, int dfd, const char *abs, int depth)
{
    DIR *d = fdopendir(dfd);
    char **names = NULL;
    size_t n = 0, an = 0;
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (strcmp(de->d_name, ".git") == 0 || strcmp(de->d_name, "node_modules") == 0 ||
            strncmp(de->d_name, TOOL_SAVE_DIR_PREFIX, strlen(TOOL_SAVE_DIR_PREFIX)) == 0)
            continue; /* saved bash output: the SDK keeps it outside the workdir */
        if (++g->entries > GREP_MAX_ENTRIES)
            break;
        if (n == an) {
            size_t na = an ? an * 2 : 32;
            char **t = realloc(names, na * sizeof(*t));
            if (!t)
                break;
            names = t;
            an = na;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), grep_name_cmp);
    for (size_t i = 0; i < n && !grep_check(g); i++) {
        struct stat sb;
        if (fstatat(dirfd(d), names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        size_t pl = strlen(abs) + strlen(names[i]) + 2;
        char *child = malloc(pl);
        if (!child)
            break;
        snprintf(child, pl, "%s%s%s", abs, strcmp(abs, "/") ? "/" : "", names[i]);
        if (S_ISDIR(sb.st_mode) && depth < GREP_MAX_DEPTH) {
            int cfd = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd >= 0)
                grep_dir(g, cfd, child, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            int ffd = openat(dirfd(d), names[i],
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            struct stat fs;
            if (ffd >= 0 && fstat(ffd, &fs) == 0 && S_ISREG(fs.st_mode)) {
                fcntl(ffd, F_SETFL, fcntl(ffd, F_GETFL) & ~O_NONBLOCK);
                grep_file(g, ffd, child);
            }
            if (ffd >= 0)
                close(ffd);
        }
        free(child);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
}

void tool_grep(struct tool_call *c)
{
    const char *pattern, *path;
    struct grep_run g;
    struct path_res r = PATH_RES_INIT;
    int errcode, fd = -1;
    PCRE2_SIZE erroff;

    memset(&g, 0, sizeof(g));
    buf_init(&g.out, TOOL_OUTPUT_CAP + 1024);
    buf_init(&g.carry, GREP_MAX_LINE + 64);
    if (tool_str(c, "pattern", 1, &pattern) < 0 || tool_str(c, "path", 0, &path) < 0)
        goto out;
    g.c = c;
    g.re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    if (!g.re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        tool_err(c, "grep: invalid regex: %s at offset %zu", (char *)msg, (size_t)erroff);
        goto out;
    }
    /* JIT is an optional speed-up; OMNI_PCRE2_NO_JIT turns it off (valgrind cannot see into JIT
     * code). */
    if (!getenv("OMNI_PCRE2_NO_JIT"))
        (void)pcre2_jit_compile(g.re, PCRE2_JIT_COMPLETE);
    g.md = pcre2_match_data_create_from_pattern(g.re, NULL);
    g.mctx = pcre2_match_context_create(NULL);
    g.chunk = malloc(GREP_CHUNK);
    if (!g.md || !g.mctx || !g.chunk) {
        tool_err(c, "Error: out of memory");
        goto out;
    }
    pcre2_set_match_limit(g.mctx, GREP_MATCH_LIMIT);
    pcre2_set_depth_limit(g.mctx, GREP_DEPTH_LIMIT);
    pcre2_set_heap_limit(g.mctx, GREP_HEAP_LIMIT_KIB);
    g.grep_deadline = omni_mono_ms() + c->ts->o.grep_timeout_ms;

    const char *root;
    fd = tool_search_root(c, path, O_RDONLY | O_NONBLOCK, &r, &root);
    if (fd < 0)
        goto out;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        tool_errno(c, path ? path : ".", errno);
        close(fd);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        grep_dir(&g, fd, root, 0); /* takes fd */
    } else if (S_ISREG(st.st_mode)) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        grep_file(&g, fd, root);
        close(fd);
    } else {
        tool_err(c, "grep: %s is not a regular file or directory", path);
        close(fd);
        goto out;
    }
    if (g.aborted) {
        tool_err(c, "grep: aborted");
    } else if (g.timed_out && omni_mono_ms() >= c->deadline_ms) {
        tool_expired(c);
    } else if (g.timed_out && g.hits == 0) {
        tool_err(c, "grep: timed out after %llds",
                 (long long)(c->ts->o.grep_timeout_ms + 999) / 1000);
    } else if (g.hits == 0) {
        tool_ok(c, "no matches");
    } else {
        if (g.truncated)
            buf_addf(&g.out, "\n[output truncated at %u bytes]", TOOL_OUTPUT_CAP);
        else if (g.timed_out)
            buf_addf(&g.out, "\n[the search was cut short after %ld ms]", c->ts->o.grep_timeout_ms);
        char *t = utf8_clean(g.out.data, g.out.len, NULL);
        if (t)
            tool_set(c, 0, t);
        else
            tool_err(c, "Error: out of memory");
    }
out:
    pcre2_match_context_free(g.mctx);
    pcre2_match_data_free(g.md);
    pcre2_code_free(g.re);
    free(g.chunk);
    buf_release(&g.out);
    buf_release(&g.carry);
    path_res_release(&r);
}
