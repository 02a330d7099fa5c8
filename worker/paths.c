/*
 * paths — confined resolution of file-tool paths (see paths.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "paths.h"

#define PATHS_MAX_ROOTS 64

struct paths_root {
    char *conf; /* as configured */
};

struct paths {
    char *work_conf;
    char *work_canon;
    int work_fd;
    struct paths_root allowed[PATHS_MAX_ROOTS];
    size_t nallowed;
    struct paths_root ro[PATHS_MAX_ROOTS];
    size_t nro;
    int openat2_on; /* this instance's copy: ENOSYS turns it off here only */
};

/*
 * The default for instances made from now on (a test hook). Instances never
 * write it, so toolsets used at once from several threads share no mutable
 * state here.
 */
static _Atomic int paths_openat2_default = 1;

void paths_set_openat2(int enabled)
{
    paths_openat2_default = enabled;
}

void paths_use_openat2(struct paths *ps, int enabled)
{
    ps->openat2_on = enabled;
}

const char *paths_reason(int errnum, char *tmp, size_t tmplen)
{
    switch (errnum) {
    case ENOENT:
        return "no such file or directory";
    case EACCES:
    case EPERM:
        return "permission denied";
    case ENOTDIR:
        return "not a directory";
    case EISDIR:
        return "is a directory";
    case ELOOP:
        return "too many levels of symbolic links";
    case ENAMETOOLONG:
        return "file name too long";
    case ENOSPC:
        return "no space left on device";
    case EMFILE:
    case ENFILE:
        return "too many open files";
    case 0:
        return "i/o error";
    default: {
        const char *name = strerrorname_np(errnum);
        if (!name)
            return "i/o error";
        snprintf(tmp, tmplen, "i/o error (%s)", name);
        return tmp;
    }
    }
}

void path_res_release(struct path_res *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->dirfd >= 0)
        close(r->dirfd);
    free(r->abs);
    r->fd = -1;
    r->dirfd = -1;
    r->leaf[0] = '\0';
    r->leaf_exists = 0;
    r->abs = NULL;
    r->err = 0;
}

static void roots_free(struct paths_root *roots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(roots[i].conf);
}

void paths_free(struct paths *ps)
{
    if (!ps)
        return;
    if (ps->work_fd >= 0)
        close(ps->work_fd);
    free(ps->work_conf);
    free(ps->work_canon);
    roots_free(ps->allowed, ps->nallowed);
    roots_free(ps->ro, ps->nro);
    free(ps);
}

static int roots_copy(struct paths_root *dst, size_t *n, const char *const *src, const char *what,
                      struct omni_err *err)
{
    for (size_t i = 0; src && src[i]; i++) {
        if (src[i][0] != '/')
            return omni_err_set(err, OMNI_E_USAGE, "%s root \"%s\" is not absolute", what, src[i]);
        if (*n >= PATHS_MAX_ROOTS)
            return omni_err_set(err, OMNI_E_USAGE, "too many %s roots", what);
        dst[*n].conf = strdup(src[i]);
        if (!dst[*n].conf)
            return omni_err_set(err, OMNI_E_IO, "out of memory");
        (*n)++;
    }
    return 0;
}

struct paths *paths_new(const char *workdir, const char *const *allowed_roots,
                        const char *const *readonly_roots, struct omni_err *err)
{
    struct paths *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    ps->work_fd = -1;
    if (!workdir || !*workdir) {
        omni_err_set(err, OMNI_E_USAGE, "workdir is required");
        goto fail;
    }
    ps->work_conf = strdup(workdir);
    ps->work_canon = realpath(workdir, NULL);
    if (!ps->work_conf || !ps->work_canon) {
        omni_err_set(err, OMNI_E_IO, "workdir \"%s\": %s", workdir, strerror(errno));
        goto fail;
    }
    ps->work_fd = open(ps->work_canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ps->work_fd < 0) {
        omni_err_set(err, OMNI_E_IO, "workdir \"%s\": %s", workdir, strerror(errno));
        goto fail;
    }
    if (roots_copy(ps->allowed, &ps->nallowed, allowed_roots, "allowed", err) < 0 ||
        roots_copy(ps->ro, &ps->nro, readonly_roots, "read-only", err) < 0)
        goto fail;
    ps->openat2_on = paths_openat2_default && !getenv("OMNI_NO_OPENAT2");
    return ps;
fail:
    paths_free(ps);
    return NULL;
}

const char *paths_workdir(const struct paths *ps)
{
    return ps->work_canon;
}

int paths_workdir_fd(const struct paths *ps)
{
    return ps->work_fd;
}

int paths_has_allowed_roots(const struct paths *ps)
{
    return ps->nallowed > 0;
}

/* If s equals root or lies beneath it (component boundary), return the rest (no leading '/'). */
static const char *under(const char *s, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/')
        return s + 1;
    if (strncmp(s, root, n) != 0)
        return NULL;
    if (s[n] == '\0')
        return s + n;
    if (s[n] != '/')
        return NULL;
    while (s[n] == '/')
        n++;
    return s + n;
}

const char *paths_readonly_root(const struct paths *ps, const char *abs)
{
    for (size_t i = 0; i < ps->nro; i++) {
        char *canon = realpath(ps->ro[i].conf, NULL);
        const char *hit = under(abs, canon ? canon : ps->ro[i].conf);
        free(canon);
        if (!hit)
            hit = under(abs, ps->ro[i].conf);
        if (hit)
            return ps->ro[i].conf;
    }
    return NULL;
}

/* ---- the component walker ---- */

enum walk_mode { WALK_OPEN, WALK_PARENT, WALK_WOULD_BE };

struct walk {
    int rootfd;
    const char *root_canon;
    int fds[PATHS_MAX_DEPTH];
    char *names[PATHS_MAX_DEPTH];
    int depth;
    char *rest; /* pending components, '/'-separated */
    int hops;
};

static int walk_top(const struct walk *w)
{
    return w->depth ? w->fds[w->depth - 1] : w->rootfd;
}

static void walk_pop(struct walk *w)
{
    w->depth--;
    close(w->fds[w->depth]);
    free(w->names[w->depth]);
}

static void walk_reset(struct walk *w)
{
    while (w->depth > 0)
        walk_pop(w);
}

/* Take the next component out of w->rest into c; returns 0 when none is left. */
static int walk_next(struct walk *w, char *c, size_t clen, int *too_long)
{
    char *s = w->rest;
    while (*s == '/')
        s++;
    if (!*s)
        return 0;
    size_t n = strcspn(s, "/");
    *too_long = n >= clen;
    size_t cp = *too_long ? clen - 1 : n;
    memcpy(c, s, cp);
    c[cp] = '\0';
    s += n;
    while (*s == '/')
        s++;
    memmove(w->rest, s, strlen(s) + 1);
    return 1;
}

static int walk_rest_empty(const struct walk *w)
{
    const char *s = w->rest;
    while (*s == '/')
        s++;
    return *s == '\0';
}

/* Put link target t in front of the pending components. Returns a fail kind. */
static int walk_splice(struct walk *w, const char *t, int *err)
{
    if (++w->hops > PATHS_MAX_HOPS) {
        *err = ELOOP;
        return PATHS_RESOLVE;
    }
    if (t[0] == '/') {
        const char *in = under(t, w->root_canon);
        if (!in)
            return PATHS_OUTSIDE;
        walk_reset(w);
        t = in;
    }
    size_t tl = strlen(t), rl = strlen(w->rest);
    char *n = malloc(tl + rl + 2);
    if (!n) {
        *err = ENOMEM;
        return PATHS_ERRNO;
    }
    memcpy(n, t, tl);
    n[tl] = '/';
    memcpy(n + tl + 1, w->rest, rl + 1);
    free(w->rest);
    w->rest = n;
    return PATHS_OK;
}

static int walk_readlink(int dirfd, const char *name, char *buf, size_t len, int *err)
{
    ssize_t n = readlinkat(dirfd, name, buf, len - 1);
    if (n < 0) {
        *err = errno;
        return -1;
    }
    if ((size_t)n >= len - 1) {
        *err = ENAMETOOLONG;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static char *walk_abs(const struct walk *w, const char *leaf, const char *tail)
{
    size_t len = strlen(w->root_canon) + 2;
    for (int i = 0; i < w->depth; i++)
        len += strlen(w->names[i]) + 1;
    len += (leaf ? strlen(leaf) : 0) + (tail ? strlen(tail) : 0) + 2;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "%s", w->root_canon);
    if (p > s + 1 && p[-1] == '/')
        p--;
    for (int i = 0; i < w->depth; i++)
        p += sprintf(p, "/%s", w->names[i]);
    if (leaf && *leaf)
        p += sprintf(p, "/%s", leaf);
    if (tail && *tail)
        p += sprintf(p, "/%s", tail);
    if (p == s)
        sprintf(p, "/");
    return s;
}

static int walk_push(struct walk *w, int fd, const char *c, int *err)
{
    if (w->depth >= PATHS_MAX_DEPTH) {
        close(fd);
        *err = ENAMETOOLONG;
        return PATHS_RESOLVE;
    }
    w->names[w->depth] = strdup(c);
    if (!w->names[w->depth]) {
        close(fd);
        *err = ENOMEM;
        return PATHS_ERRNO;
    }
    w->fds[w->depth++] = fd;
    return PATHS_OK;
}

static int walk_run(struct walk *w, enum walk_mode mode, int oflags, int create, struct path_res *r)
{
    char c[NAME_MAX + 2], link[PATH_MAX];
    int too_long, err = 0, kind;
    struct stat st;

    for (;;) {
        if (!walk_next(w, c, sizeof(c), &too_long)) {
            /* The target is the current directory itself. */
            if (mode == WALK_PARENT) {
                r->err = EISDIR;
                return PATHS_ERRNO;
            }
            if (mode == WALK_WOULD_BE) {
                r->abs = walk_abs(w, NULL, NULL);
                return PATHS_OK;
            }
            int fd = openat(walk_top(w), ".", oflags | O_CLOEXEC | O_NOCTTY);
            if (fd < 0) {
                r->err = errno;
                return PATHS_ERRNO;
            }
            r->fd = fd;
            r->abs = walk_abs(w, NULL, NULL);
            return PATHS_OK;
        }
        if (too_long) {
            r->err = ENAMETOOLONG;
            return PATHS_RESOLVE;
        }
        int last = walk_rest_empty(w);
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (w->depth == 0)
                return PATHS_OUTSIDE;
            walk_pop(w);
            continue;
        }
        int top = walk_top(w);
        if (last) {
            if (fstatat(top, c, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                err = errno;
                if (err == ENOENT && mode != WALK_OPEN) {
                    snprintf(r->leaf, sizeof(r->leaf), "%s", c);
                    r->abs = walk_abs(w, c, NULL);
                    if (mode == WALK_PARENT) {
                        r->dirfd = fcntl(top, F_DUPFD_CLOEXEC, 0);
                        if (r->dirfd < 0) {
                            r->err = errno;
                            return PATHS_ERRNO;
                        }
                    }
                    return PATHS_OK;
                }
                r->err = err;
                return PATHS_ERRNO;
            }
            if (S_ISLNK(st.st_mode)) {
                if (walk_readlink(top, c, link, sizeof(link), &err) < 0) {
                    r->err = err;
                    return PATHS_RESOLVE;
                }
                kind = walk_splice(w, link, &r->err);
                if (kind != PATHS_OK)
                    return kind;
                continue;
            }
            if (mode != WALK_OPEN) {
                snprintf(r->leaf, sizeof(r->leaf), "%s", c);
                r->leaf_exists = 1;
                r->abs = walk_abs(w, c, NULL);
                if (mode == WALK_PARENT) {
                    r->dirfd = fcntl(top, F_DUPFD_CLOEXEC, 0);
                    if (r->dirfd < 0) {
                        r->err = errno;
                        return PATHS_ERRNO;
                    }
                }
                return PATHS_OK;
            }
            int fd = openat(top, c, oflags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
            if (fd < 0) {
                err = errno;
                if (err == ELOOP) {
                    /* Became a symlink since the fstatat: go round again. */
                    if (++w->hops > PATHS_MAX_HOPS) {
                        r->err = ELOOP;
                        return PATHS_RESOLVE;
                    }
                    if (walk_splice(w, c, &r->err) != PATHS_OK)
                        return PATHS_RESOLVE;
                    w->hops--;
                    continue;
                }
                r->err = err;
                return PATHS_ERRNO;
            }
            if ((oflags & O_PATH) && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                close(fd);
                if (walk_readlink(top, c, link, sizeof(link), &err) < 0) {
                    r->err = err;
                    return PATHS_RESOLVE;
                }
                kind = walk_splice(w, link, &r->err);
                if (kind != PATHS_OK)
                    return kind;
                continue;
            }
            r->fd = fd;
            r->abs = walk_abs(w, c, NULL);
            return PATHS_OK;
        }
        /* An intermediate component: must be a directory (or a link to one). */
        int fd = openat(top, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            if (err == ENOENT && mode == WALK_WOULD_BE) {
                size_t tl = strlen(c) + strlen(w->rest) + 2;
                char *tail = malloc(tl);
                if (!tail) {
                    r->err = ENOMEM;
                    return PATHS_ERRNO;
                }
                snprintf(tail, tl, "%s/%s", c, w->rest);
                r->abs = walk_abs(w, NULL, tail);
                free(tail);
                return PATHS_OK;
            }
            if (err == ENOENT && create) {
                if (mkdirat(top, c, 0700) < 0 && errno != EEXIST) {
                    r->err = errno;
                    return PATHS_ERRNO;
                }
                fd = openat(top, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                    r->err = errno;
                    return PATHS_ERRNO;
                }
            } else {
                r->err = err;
                return (err == ENOENT || err == ENOTDIR) ? PATHS_ERRNO : PATHS_RESOLVE;
            }
        }
        if (fstat(fd, &st) < 0) {
            r->err = errno;
            close(fd);
            return PATHS_RESOLVE;
        }
        if (S_ISLNK(st.st_mode)) {
            int rl = walk_readlink(fd, "", link, sizeof(link), &err);
            close(fd);
            if (rl < 0) {
                r->err = err;
                return PATHS_RESOLVE;
            }
            kind = walk_splice(w, link, &r->err);
            if (kind != PATHS_OK)
                return kind;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(fd);
            r->err = ENOTDIR;
            return PATHS_ERRNO;
        }
        kind = walk_push(w, fd, c, &r->err);
        if (kind != PATHS_OK)
            return kind;
    }
}

/*
 * Pick the root for p and the path relative to it. Returns a fail kind; on
 * success *rootfd (borrowed or owned, see *own_fd), *canon (malloc'd) and *rel
 * (malloc'd) are set.
 */
static int paths_pick_root(struct paths *ps, const char *p, int *rootfd, int *own_fd, char **canon,
                           char **rel, int *err)
{
    *own_fd = 0;
    if (p[0] != '/') {
        *rootfd = ps->work_fd;
        *canon = strdup(ps->work_canon);
        *rel = strdup(p);
        if (!*canon || !*rel) {
            *err = ENOMEM;
            return PATHS_ERRNO;
        }
        return PATHS_OK;
    }
    /* Candidate roots: workdir first, then allowed roots (canonicalised now). */
    size_t n = 1 + ps->nallowed;
    for (int pass = 0; pass < 2; pass++) {
        char *resolved = NULL;
        const char *subject = p;
        if (pass == 1) {
            /* Canonicalise the longest existing prefix of p. */
            char *tmp = strdup(p);
            if (!tmp) {
                *err = ENOMEM;
                return PATHS_ERRNO;
            }
            size_t cut = strlen(tmp);
            for (;;) {
                char saved = tmp[cut];
                tmp[cut] = '\0';
                resolved = realpath(cut ? tmp : "/", NULL);
                int e = errno;
                tmp[cut] = saved;
                if (resolved)
                    break;
                if (e != ENOENT && e != ENOTDIR) {
                    free(tmp);
                    *err = e;
                    return PATHS_RESOLVE;
                }
                while (cut > 0 && tmp[cut - 1] == '/')
                    cut--;
                while (cut > 0 && tmp[cut - 1] != '/')
                    cut--;
                if (cut == 0) {
                    free(tmp);
                    return PATHS_OUTSIDE;
                }
            }
            size_t rl = strlen(resolved), tl = strlen(tmp + cut);
            char *full = malloc(rl + tl + 2);
            if (!full) {
                free(tmp);
                free(resolved);
                *err = ENOMEM;
                return PATHS_ERRNO;
            }
            snprintf(full, rl + tl + 2, "%s%s%s", resolved, tl ? "/" : "", tmp + cut);
            free(tmp);
            free(resolved);
            resolved = full;
            subject = resolved;
        }
        for (size_t i = 0; i < n; i++) {
            char *rcanon =
                i == 0 ? strdup(ps->work_canon) : realpath(ps->allowed[i - 1].conf, NULL);
            const char *rconf = i == 0 ? ps->work_conf : ps->allowed[i - 1].conf;
            if (!rcanon)
                continue;
            const char *in = under(subject, rcanon);
            if (!in && pass == 0 && rconf[0] == '/')
                in = under(subject, rconf);
            if (!in) {
                free(rcanon);
                continue;
            }
            int fd = i == 0 ? ps->work_fd : open(rcanon, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                free(rcanon);
                continue;
            }
            *rootfd = fd;
            *own_fd = i != 0;
            *canon = rcanon;
            *rel = strdup(in);
            free(resolved);
            if (!*rel) {
                *err = ENOMEM;
                return PATHS_ERRNO;
            }
            return PATHS_OK;
        }
        free(resolved);
    }
    return PATHS_OUTSIDE;
}

static int paths_walk(struct paths *ps, const char *p, enum walk_mode mode, int oflags, int create,
                      struct path_res *r)
{
    struct walk w;
    int own = 0, kind;
    char *canon = NULL;
    memset(&w, 0, sizeof(w));
    kind = paths_pick_root(ps, p, &w.rootfd, &own, &canon, &w.rest, &r->err);
    if (kind != PATHS_OK)
        return kind;
    w.root_canon = canon;
    kind = walk_run(&w, mode, oflags, create, r);
    walk_reset(&w);
    if (own)
        close(w.rootfd);
    free(w.rest);
    free(canon);
    if (kind == PATHS_OK && !r->abs) {
        r->err = ENOMEM;
        kind = PATHS_ERRNO;
    }
    if (kind != PATHS_OK) {
        int e = r->err;
        path_res_release(r);
        r->err = e;
    }
    return kind;
}

static int try_openat2(struct paths *ps, const char *p, int oflags, struct path_res *r)
{
    int rootfd, own = 0, e = 0;
    char *canon = NULL, *rel = NULL;
    if (paths_pick_root(ps, p, &rootfd, &own, &canon, &rel, &e) != PATHS_OK)
        return -1;
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)(oflags | O_CLOEXEC | O_NOCTTY);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
    int saved = errno;
    if (own)
        close(rootfd);
    free(rel);
    if (fd < 0) {
        free(canon);
        if (saved == ENOSYS)
            ps->openat2_on = 0;
        return -1;
    }
    /* The canonical path of what was opened, as the kernel sees it. */
    char proc[64], buf[PATH_MAX];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%ld", fd);
    ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
    if (n <= 0 || (size_t)n >= sizeof(buf) - 1) {
        close((int)fd);
        free(canon);
        return -1;
    }
    buf[n] = '\0';
    if (!under(buf, canon)) {
        close((int)fd);
        free(canon);
        return -1;
    }
    free(canon);
    r->abs = strdup(buf);
    if (!r->abs) {
        close((int)fd);
        return -1;
    }
    r->fd = (int)fd;
    return 0;
}

int paths_open(struct paths *ps, const char *p, int oflags, struct path_res *r)
{
    if (ps->openat2_on && try_openat2(ps, p, oflags, r) == 0)
        return PATHS_OK;
    /* openat2 unavailable or refused: the walker decides (and words the error). */
    return paths_walk(ps, p, WALK_OPEN, oflags, 0, r);
}

int paths_parent(struct paths *ps, const char *p, int create, struct path_res *r)
{
    return paths_walk(ps, p, WALK_PARENT, 0, create, r);
}

int paths_would_be(struct paths *ps, const char *p, struct path_res *r)
{
    return paths_walk(ps, p, WALK_WOULD_BE, 0, 0, r);
}
