/*
 * glob — list regular files matching a pattern, newest first (toolset.md §8,
 * dialect in toolset.h).
 *
 * The pattern is brace-expanded into at most GLOB_MAX_ALTS alternatives, each
 * split on '/'. Matching runs as a set of positions (alternative, segment)
 * advanced one path component at a time, so "**" costs no backtracking and a
 * directory is entered only while some position is still alive.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_int.h"

#define GLOB_MAX_ALTS 64
#define GLOB_MAX_SEGS 64
#define GLOB_RESULT_LIMIT 200
#define GLOB_MAX_MATCHES 50000
#define GLOB_MAX_ENTRIES 50000
#define GLOB_MAX_DEPTH 40
#define GLOB_MAX_PATTERN 4096

struct glob_pat {
    char *alts[GLOB_MAX_ALTS];
    size_t nalts;
    /* pointers into alts[]; each alternative also has its accepting position */
    char *segs[GLOB_MAX_ALTS * (GLOB_MAX_SEGS + 1)];
    size_t base[GLOB_MAX_ALTS]; /* first position of each alternative */
    size_t nseg[GLOB_MAX_ALTS];
    size_t npos; /* total positions (segments + 1 each) */
};

struct glob_hit {
    char *path;
    long long mtime_ns;
    size_t seq;
};

struct glob_run {
    struct tool_call *c;
    struct glob_pat *pat;
    struct glob_hit *hits;
    size_t nhits, ahits;
    size_t entries;
    int stop;   /* a cap was reached: keep what we have */
    int failed; /* the result is already set (timeout, abort, memory) */
};

/* ---- brace expansion ---- */

static int brace_expand(struct glob_pat *g, const char *s)
{
    size_t n = strlen(s);
    /* Find the first '{' with a matching '}' that holds a top-level ','. */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] != '{')
            continue;
        int depth = 0, comma = 0;
        size_t j;
        for (j = i; j < n; j++) {
            if (s[j] == '\\') {
                j++;
                continue;
            }
            if (s[j] == '{')
                depth++;
            else if (s[j] == '}' && --depth == 0)
                break;
            else if (s[j] == ',' && depth == 1)
                comma = 1;
        }
        if (j >= n || !comma)
            continue;
        /* Expand each alternative between i and j. */
        size_t start = i + 1;
        depth = 0;
        for (size_t k = i + 1; k <= j; k++) {
            if (k < j && s[k] == '\\') {
                k++;
                continue;
            }
            if (k < j && s[k] == '{')
                depth++;
            else if (k < j && s[k] == '}')
                depth--;
            else if (k == j || (s[k] == ',' && depth == 0)) {
                size_t len = i + (k - start) + (n - j - 1);
                char *t = malloc(len + 1);
                if (!t)
                    return -1;
                memcpy(t, s, i);
                memcpy(t + i, s + start, k - start);
                memcpy(t + i + (k - start), s + j + 1, n - j - 1);
                t[len] = '\0';
                int rc = brace_expand(g, t);
                free(t);
                if (rc < 0)
                    return rc;
                start = k + 1;
            }
        }
        return 0;
    }
    if (g->nalts >= GLOB_MAX_ALTS)
        return -2;
    g->alts[g->nalts] = strdup(s);
    if (!g->alts[g->nalts])
        return -1;
    g->nalts++;
    return 0;
}

static void glob_pat_free(struct glob_pat *g)
{
    for (size_t i = 0; i < g->nalts; i++)
        free(g->alts[i]);
}

/* Split every alternative into segments. -2: too many segments. */
static int glob_pat_split(struct glob_pat *g)
{
    size_t pos = 0;
    for (size_t a = 0; a < g->nalts; a++) {
        g->base[a] = pos;
        g->nseg[a] = 0;
        char *save = NULL;
        for (char *t = strtok_r(g->alts[a], "/", &save); t; t = strtok_r(NULL, "/", &save)) {
            if (strcmp(t, ".") == 0)
                continue;
            if (g->nseg[a] >= GLOB_MAX_SEGS)
                return -2;
            /* Collapse runs of "**": they mean the same thing. */
            if (strcmp(t, "**") == 0 && g->nseg[a] > 0 && strcmp(g->segs[pos - 1], "**") == 0)
                continue;
            g->segs[pos++] = t;
            g->nseg[a]++;
        }
        pos++; /* the accepting position */
    }
    g->npos = pos;
    return 0;
}

/* ---- the position-set matcher ---- */

static void glob_closure(const struct glob_pat *g, unsigned char *st)
{
    for (size_t a = 0; a < g->nalts; a++)
        for (size_t i = 0; i < g->nseg[a]; i++)
            if (st[g->base[a] + i] && strcmp(g->segs[g->base[a] + i], "**") == 0)
                st[g->base[a] + i + 1] = 1;
}

/* Advance st over one path component; returns 1 if any position is alive. */
static int glob_step(const struct glob_pat *g, const unsigned char *st, const char *name,
                     unsigned char *next)
{
    int alive = 0;
    memset(next, 0, g->npos);
    for (size_t a = 0; a < g->nalts; a++) {
        for (size_t i = 0; i < g->nseg[a]; i++) {
            size_t p = g->base[a] + i;
            if (!st[p])
                continue;
            const char *seg = g->segs[p];
            if (strcmp(seg, "**") == 0) {
                if (name[0] != '.')
                    next[p] = 1;
            } else if (fnmatch(seg, name, FNM_PERIOD) == 0) {
                next[p + 1] = 1;
            }
        }
    }
    glob_closure(g, next);
    for (size_t p = 0; p < g->npos; p++)
        alive |= next[p];
    return alive;
}

static int glob_accepts(const struct glob_pat *g, const unsigned char *st)
{
    for (size_t a = 0; a < g->nalts; a++)
        if (st[g->base[a] + g->nseg[a]])
            return 1;
    return 0;
}

/* ---- the walk ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int glob_add(struct glob_run *gr, const char *rel, const struct stat *st)
{
    if (gr->nhits == gr->ahits) {
        size_t na = gr->ahits ? gr->ahits * 2 : 64;
        struct glob_hit *h = realloc(gr->hits, na * sizeof(*h));
        if (!h)
            return -1;
        gr->hits = h;
        gr->ahits = na;
    }
    struct glob_hit *h = &gr->hits[gr->nhits];
    h->path = strdup(rel);
    if (!h->path)
        return -1;
    h->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    h->seq = gr->nhits;
    gr->nhits++;
    if (gr->nhits >= GLOB_MAX_MATCHES)
        gr->stop = 1;
    return 0;
}

static void glob_walk(struct glob_run *gr, int dfd, const char *rel, const unsigned char *st,
                      int depth)
{
    DIR *d = fdopendir(dfd);
    char **names = NULL;
    size_t n = 0, an = 0;
    unsigned char *next = NULL;
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (++gr->entries > GLOB_MAX_ENTRIES) {
            gr->stop = 1;
            break;
        }
        if (n == an) {
            size_t na = an ? an * 2 : 32;
            char **t = realloc(names, na * sizeof(*t));
            if (!t)
                goto oom;
            names = t;
            an = na;
        }
        names[n] = strdup(de->d_name);
        if (!names[n])
            goto oom;
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), name_cmp);
    next = malloc(gr->pat->npos);
    if (!next)
        goto oom;
    for (size_t i = 0; i < n && !gr->stop && !gr->failed; i++) {
        const char *name = names[i];
        if (tool_cancelled(gr->c)) {
            tool_err(gr->c, "glob: aborted");
            gr->failed = 1;
            break;
        }
        if (tool_expired(gr->c)) {
            gr->failed = 1;
            break;
        }
        if (strcmp(name, ".git") == 0 || strcmp(name, "node_modules") == 0 ||
            strncmp(name, TOOL_SAVE_DIR_PREFIX, strlen(TOOL_SAVE_DIR_PREFIX)) == 0)
            continue; /* saved bash output: the SDK keeps it outside the workdir */
        struct stat sb;
        if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
            continue; /* symlinks are neither listed nor followed */
        if (!glob_step(gr->pat, st, name, next))
            continue;
        size_t rl = strlen(rel) + strlen(name) + 2;
        char *child = malloc(rl);
        if (!child)
            goto oom;
        snprintf(child, rl, "%s%s%s", rel, *rel ? "/" : "", name);
        if (S_ISREG(sb.st_mode)) {
            if (glob_accepts(gr->pat, next) && glob_add(gr, child, &sb) < 0) {
                free(child);
                goto oom;
            }
        } else if (depth < GLOB_MAX_DEPTH) {
            int cfd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd >= 0) {
                unsigned char *copy = malloc(gr->pat->npos);
                if (!copy) {
                    close(cfd);
                    free(child);
                    goto oom;
                }
                memcpy(copy, next, gr->pat->npos);
                glob_walk(gr, cfd, child, copy, depth + 1);
                free(copy);
            }
        }
        free(child);
    }
    goto out;
oom:
    if (!gr->failed)
        tool_err(gr->c, "Error: out of memory");
    gr->failed = 1;
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(next);
    closedir(d);
}

static int hit_cmp(const void *a, const void *b)
{
    const struct glob_hit *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns > y->mtime_ns ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int glob_pattern_has_dotdot(const char *pat)
{
    const char *s = pat;
    while (*s) {
        size_t n = strcspn(s, "/\\{},");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        s += n;
        if (*s)
            s++;
    }
    return 0;
}

void tool_glob(struct tool_call *c)
{
    const char *pattern, *path;
    struct glob_pat *g = NULL;
    struct glob_run gr;
    struct path_res r = PATH_RES_INIT;
    struct buf out = BUF_INIT;
    int dfd = -1;
    const char *root;

    memset(&gr, 0, sizeof(gr));
    if (tool_str(c, "pattern", 1, &pattern) < 0 || tool_str(c, "path", 0, &path) < 0)
        return;
    if (pattern[0] == '/') {
        tool_err(c, "glob: absolute pattern not permitted; pass a relative pattern (and optionally "
                    "path)");
        return;
    }
    if (glob_pattern_has_dotdot(pattern)) {
        tool_err(c, "glob: \"..\" is not permitted in the pattern");
        return;
    }
    if (strlen(pattern) > GLOB_MAX_PATTERN) {
        tool_err(c, "glob: pattern is longer than %d bytes", GLOB_MAX_PATTERN);
        return;
    }
    dfd = tool_search_root(c, path, O_RDONLY | O_DIRECTORY, &r, &root);
    if (dfd < 0)
        goto out;
    g = calloc(1, sizeof(*g));
    if (!g) {
        close(dfd);
        tool_err(c, "Error: out of memory");
        goto out;
    }
    int rc = brace_expand(g, pattern);
    if (rc == 0)
        rc = glob_pat_split(g);
    if (rc < 0) {
        close(dfd);
        if (rc == -2)
            tool_err(c, "glob: pattern has too many alternatives or segments (limits %d and %d)",
                     GLOB_MAX_ALTS, GLOB_MAX_SEGS);
        else
            tool_err(c, "Error: out of memory");
        goto out;
    }
    unsigned char *start = calloc(1, g->npos);
    if (!start) {
        close(dfd);
        tool_err(c, "Error: out of memory");
        goto out;
    }
    for (size_t a = 0; a < g->nalts; a++)
        start[g->base[a]] = 1;
    glob_closure(g, start);
    gr.c = c;
    gr.pat = g;
    glob_walk(&gr, dfd, "", start, 0);
    free(start);
    if (gr.failed)
        goto out;
    if (gr.nhits == 0) {
        tool_ok(c, "no matches");
        goto out;
    }
    qsort(gr.hits, gr.nhits, sizeof(*gr.hits), hit_cmp);
    for (size_t i = 0; i < gr.nhits && i < GLOB_RESULT_LIMIT; i++)
        buf_addf(&out, "%s%s%s%s", i ? "\n" : "", root, strcmp(root, "/") ? "/" : "",
                 gr.hits[i].path);
    tool_set(c, 0, buf_detach(&out, NULL));
out:
    for (size_t i = 0; i < gr.nhits; i++)
        free(gr.hits[i].path);
    free(gr.hits);
    if (g)
        glob_pat_free(g);
    free(g);
    buf_release(&out);
    path_res_release(&r);
}
