/*
 * cgroup — per-session cgroups on v1 and v2 hierarchies (see cgroup.h).
 */
#include "cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_SUPERVISOR "supervisor"      /* v2: the worker's own leaf */
#define CG_WORKER_PREFIX "omni-worker-" /* v1: the worker's directory */
#define CG_SESSION_PREFIX "sess-"
#define CG_SMALL_MAX 4096 /* events, state and controller files */
#define CG_SWEEP_MAX 64   /* v1 leftovers removed at open, per pass */
#define CG_FREEZE_POLL_MS 2
#define CG_NOTE_MAX 512

enum cg_ctrl { CG_PIDS, CG_MEMORY, CG_CPU, CG_FREEZER, CG_NCTRL };
#define CG_BIT(c) (1u << (c))
#define CG_LIMIT_CTRLS (CG_BIT(CG_PIDS) | CG_BIT(CG_MEMORY) | CG_BIT(CG_CPU))

static const char *const cg_ctrl_name[CG_NCTRL] = {"pids", "memory", "cpu", "freezer"};

static struct {
    int on;
    cg_write_hook *hook;
    void *ctx;
} cg_fake;

struct cg_root {
    int v2;
    int fake;
    cg_write_hook *hook;
    void *hook_ctx;
    unsigned have;                 /* CG_BIT()s of controllers that work */
    char own[CG_NCTRL][PATH_MAX];  /* v1: own position per controller; v2: own[0] */
    char base[CG_NCTRL][PATH_MAX]; /* v1: own/omni-worker-<pid>; v2: base[0] = own */
};

struct cg_dir {
    char path[PATH_MAX];
    unsigned ctrls; /* controllers of this hierarchy that work */
};

struct cg {
    struct cg_root *r;
    struct cg_limits lim;
    int ndirs;
    struct cg_dir dir[CG_NCTRL];
    int nfds;
    int fds[CG_JOIN_MAX];
};

void cg_test_fake_fs(int on, cg_write_hook *hook, void *ctx)
{
    cg_fake.on = on;
    cg_fake.hook = on ? hook : NULL;
    cg_fake.ctx = on ? ctx : NULL;
}

/* ---- small helpers ---------------------------------------------------- */

static void cg_note(char *note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cg_note(char *note, const char *fmt, ...)
{
    size_t n = strlen(note);
    va_list ap;
    if (n && n + 2 < CG_NOTE_MAX) {
        memcpy(note + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= CG_NOTE_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(note + n, CG_NOTE_MAX - n, fmt, ap);
    va_end(ap);
}

/* dir + "/" + name into out (PATH_MAX); -1 (ENAMETOOLONG) when it does not fit. */
static int cg_join(char *out, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int cg_exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    return cg_join(p, dir, name) == 0 && access(p, F_OK) == 0;
}

static int cg_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cg_fs_is(const char *path, long magic, int fake)
{
    struct statfs sf;
    if (statfs(path, &sf) == 0 && (long)sf.f_type == magic)
        return 1;
    if (!fake)
        return 0;
    if (magic == CGROUP2_SUPER_MAGIC)
        return cg_exists(path, "cgroup.controllers");
    return cg_is_dir(path);
}

static int cg_open_w(const struct cg_root *r, const char *path)
{
    int fl = O_WRONLY | O_CLOEXEC | (r->fake ? O_CREAT | O_TRUNC : 0);
    return open(path, fl, 0644);
}

/* Write value to dir/file. -1 with errno and err (may be NULL) set. */
static int cg_write(const struct cg_root *r, const char *dir, const char *file, const char *value,
                    struct omni_err *err)
{
    char p[PATH_MAX];
    size_t len = strlen(value);
    int fd, e;
    if (cg_join(p, dir, file) < 0)
        return omni_err_set(err, OMNI_E_IO, "cgroup path \"%s/%s\" is too long", dir, file);
    if (r->hook)
        r->hook(p, value, r->hook_ctx);
    fd = cg_open_w(r, p);
    if (fd >= 0) {
        ssize_t n = write(fd, value, len);
        e = n == (ssize_t)len ? 0 : n < 0 ? errno : EIO;
        if (close(fd) < 0 && !e)
            e = errno;
    } else {
        e = errno;
    }
    if (!e)
        return 0;
    omni_err_set(err, OMNI_E_IO, "cannot write \"%s\" to \"%s\": %s", value, p, strerror(e));
    errno = e;
    return -1;
}

static int cg_write_ll(const struct cg_root *r, const char *dir, const char *file, long long v,
                       struct omni_err *err)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", v);
    return cg_write(r, dir, file, s, err);
}

/* Read a whole file (at most max bytes) into a NUL-terminated malloc'd
 * buffer. NULL with errno on failure. */
static char *cg_read(const char *path, size_t max)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !buf) {
        int e = fd < 0 ? errno : ENOMEM;
        if (fd >= 0)
            close(fd);
        free(buf);
        errno = e;
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = cap < max ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                close(fd);
                free(buf);
                errno = cap < max ? ENOMEM : EFBIG;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

static char *cg_read_at(const char *dir, const char *file)
{
    char p[PATH_MAX];
    if (cg_join(p, dir, file) < 0)
        return NULL;
    return cg_read(p, CG_SMALL_MAX);
}

/* The number after "key " on a line of a "key value" file; -1 when absent. */
static long long cg_kv(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ')
            return strtoll(l + kl + 1, NULL, 10);
    return -1;
}

/* Whether the space-separated word list holds word. */
static int cg_has_word(const char *list, const char *word, char sep)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        const char *e = p;
        while (*e && *e != sep && *e != '\n' && *e != ' ')
            e++;
        if ((size_t)(e - p) == wl && strncmp(p, word, wl) == 0)
            return 1;
        if (!*e)
            break;
        p = e + 1;
    }
    return 0;
}

/*
 * Find the /proc/self/cgroup line "N:list:path" whose list holds ctrl (NULL:
 * the cgroup2 line "0::path"). Copies list and path. 0 or -1.
 */
static int cg_self_line(const char *text, const char *ctrl, char *list, size_t listlen, char *path,
                        size_t pathlen)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        const char *c1 = strchr(l, ':'), *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        if (!c1 || c1 > end)
            continue;
        const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
        if (!c2)
            continue;
        size_t ll = (size_t)(c2 - c1 - 1), pl = (size_t)(end - c2 - 1);
        if (ll >= listlen || pl >= pathlen || pl == 0 || c2[1] != '/')
            continue;
        memcpy(list, c1 + 1, ll);
        list[ll] = '\0';
        if (ctrl ? !cg_has_word(list, ctrl, ',') : ll != 0)
            continue;
        memcpy(path, c2 + 1, pl);
        path[pl] = '\0';
        /* "/" adds nothing; a path outside our namespace cannot be used */
        if (strstr(path, "/..") || strstr(path, "(deleted)"))
            continue;
        if (strcmp(path, "/") == 0)
            path[0] = '\0';
        return 0;
    }
    return -1;
}

static int cg_sleep_until(int64_t end, int64_t ms)
{
    int64_t now = omni_mono_ms();
    if (now >= end)
        return -1;
    omni_sleep_ms(now + ms > end ? end - now : ms, NULL);
    return 0;
}

static int cg_valid_name(const char *name)
{
    size_t n = 0;
    for (; name[n]; n++)
        if (!isalnum((unsigned char)name[n]) && name[n] != '_' && name[n] != '-')
            return 0;
    return n > 0 && n <= CG_NAME_MAX;
}

/* rmdir, waiting a little while exiting tasks leave; a fake directory is
 * emptied of plain files first. */
static int cg_rmdir(const struct cg_root *r, const char *path)
{
    int64_t end = omni_mono_ms() + CG_RMDIR_WAIT_MS;
    if (r->fake) {
        DIR *d = opendir(path);
        struct dirent *de;
        char p[PATH_MAX];
        while (d && (de = readdir(d)))
            if (de->d_type == DT_REG && cg_join(p, path, de->d_name) == 0)
                unlink(p);
        if (d)
            closedir(d);
    }
    for (;;) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || cg_sleep_until(end, CG_KILL_POLL_MS) < 0)
            return -1;
    }
}

/* ---- members ---------------------------------------------------------- */

static int cg_pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The distinct pids in every directory of g, sorted, into *out (malloc'd).
 * Count, or -1 when a member list cannot be read. */
static int cg_pids(const struct cg *g, pid_t **out)
{
    pid_t *v = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    for (int i = 0; i < g->ndirs; i++) {
        char p[PATH_MAX];
        char *text = NULL;
        if (cg_join(p, g->dir[i].path, "cgroup.procs") == 0)
            text = cg_read(p, CG_FILE_MAX);
        if (!text && errno == ENOENT && cg_join(p, g->dir[i].path, "tasks") == 0)
            text = cg_read(p, CG_FILE_MAX);
        if (!text && errno == ENOENT && (g->r->fake || !cg_is_dir(g->dir[i].path)))
            continue; /* the directory is gone: nobody in it */
        if (!text) {
            free(v);
            return -1;
        }
        for (char *s = text, *e; *s; s = e) {
            long pid = strtol(s, &e, 10);
            if (e == s) {
                e = s + 1;
                continue;
            }
            if (pid <= 0)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                pid_t *nv = realloc(v, nc * sizeof(*nv));
                if (!nv) {
                    free(text);
                    free(v);
                    return -1;
                }
                v = nv;
                cap = nc;
            }
            v[n++] = (pid_t)pid;
        }
        free(text);
    }
    if (n > 1) {
        size_t k = 1;
        qsort(v, n, sizeof(*v), cg_pid_cmp);
        for (size_t i = 1; i < n; i++)
            if (v[i] != v[k - 1])
                v[k++] = v[i];
        n = k;
    }
    *out = v;
    return (int)n;
}

static int cg_kill_pids(const pid_t *v, int n)
{
    pid_t self = getpid();
    for (int i = 0; i < n; i++)
        if (v[i] > 1 && v[i] != self)
            kill(v[i], SIGKILL);
    return n;
}

static const struct cg_dir *cg_dir_of(const struct cg *g, enum cg_ctrl c)
{
    for (int i = 0; i < g->ndirs; i++)
        if (g->dir[i].ctrls & CG_BIT(c))
            return &g->dir[i];
    return NULL;
}

int cg_count(const struct cg *g)
{
    pid_t *v;
    int n = cg_pids(g, &v);
    free(v);
    return n;
}

/* v1: freeze and wait (bounded) until the state reads FROZEN. */
static void cg_v1_freeze(const struct cg *g, const char *dir, int64_t end)
{
    int64_t until = omni_mono_ms() + CG_FREEZE_WAIT_MS;
    if (until > end)
        until = end;
    if (cg_write(g->r, dir, "freezer.state", "FROZEN", NULL) < 0)
        return;
    for (;;) {
        char *s = cg_read_at(dir, "freezer.state");
        int frozen = s && strncmp(s, "FROZEN", 6) == 0;
        free(s);
        if (frozen || g->r->fake || cg_sleep_until(until, CG_FREEZE_POLL_MS) < 0)
            return;
    }
}

static int cg_kill_v1(struct cg *g, int64_t end)
{
    const struct cg_dir *fz = cg_dir_of(g, CG_FREEZER), *pd = cg_dir_of(g, CG_PIDS);
    pid_t *v;
    int n = cg_pids(g, &v);
    free(v);
    if (n <= 0)
        return n;
    if (!fz && pd)
        cg_write(g->r, pd->path, "pids.max", "0", NULL); /* nothing forks any more */
    for (int round = 0; round < CG_KILL_ROUNDS; round++) {
        if (fz)
            cg_v1_freeze(g, fz->path, end);
        n = cg_pids(g, &v);
        if (n > 0)
            cg_kill_pids(v, n);
        free(v);
        if (fz)
            cg_write(g->r, fz->path, "freezer.state", "THAWED", NULL);
        if (n <= 0 || cg_sleep_until(end, CG_KILL_POLL_MS) < 0)
            break;
    }
    if (fz)
        cg_write(g->r, fz->path, "freezer.state", "THAWED", NULL);
    if (!fz && pd) {
        if (g->lim.pids_max > 0)
            cg_write_ll(g->r, pd->path, "pids.max", g->lim.pids_max, NULL);
        else
            cg_write(g->r, pd->path, "pids.max", "max", NULL);
    }
    return cg_count(g);
}

static int cg_kill_v2(struct cg *g, int64_t end)
{
    const char *dir = g->dir[0].path;
    int has_kill = cg_exists(dir, "cgroup.kill");
    int freeze = !has_kill && cg_exists(dir, "cgroup.freeze");
    pid_t *v;
    int n = cg_pids(g, &v);
    free(v);
    if (n <= 0)
        return n;
    if (freeze)
        cg_write(g->r, dir, "cgroup.freeze", "1", NULL);
    for (int round = 0; round < CG_KILL_ROUNDS; round++) {
        n = cg_pids(g, &v);
        if (n > 0 && !(has_kill && cg_write(g->r, dir, "cgroup.kill", "1", NULL) == 0))
            cg_kill_pids(v, n);
        free(v);
        if (n <= 0 || cg_sleep_until(end, CG_KILL_POLL_MS) < 0)
            break;
    }
    if (freeze)
        cg_write(g->r, dir, "cgroup.freeze", "0", NULL);
    return cg_count(g);
}

int cg_kill(struct cg *g)
{
    int64_t end = omni_mono_ms() + CG_KILL_MS;
    return g->r->v2 ? cg_kill_v2(g, end) : cg_kill_v1(g, end);
}

/* ---- root ------------------------------------------------------------- */

/* v1: which of the four controllers can be used, and where (no writes). */
static unsigned cg_v1_probe(struct cg_root *r, const char *fs, const char *self, char *note)
{
    unsigned have = 0;
    for (int c = 0; c < CG_NCTRL; c++) {
        char list[256], path[PATH_MAX], mnt[PATH_MAX];
        const char *name = cg_ctrl_name[c];
        if (cg_self_line(self, name, list, sizeof(list), path, sizeof(path)) < 0) {
            cg_note(note, "%s controller not available (no v1 hierarchy has it)", name);
            continue;
        }
        if (!((cg_join(mnt, fs, name) == 0 && cg_fs_is(mnt, CGROUP_SUPER_MAGIC, r->fake)) ||
              (cg_join(mnt, fs, list) == 0 && cg_fs_is(mnt, CGROUP_SUPER_MAGIC, r->fake)))) {
            cg_note(note, "%s controller not available (its hierarchy is not mounted at \"%s/%s\")",
                    name, fs, name);
            continue;
        }
        if ((size_t)snprintf(r->own[c], PATH_MAX, "%s%s", mnt, path) >= PATH_MAX ||
            (size_t)snprintf(r->base[c], PATH_MAX, "%s/" CG_WORKER_PREFIX "%ld", r->own[c],
                             (long)getpid()) >= PATH_MAX) {
            cg_note(note, "%s controller not available (path too long)", name);
            continue;
        }
        if (!cg_is_dir(r->own[c]) || access(r->own[c], W_OK) < 0) {
            cg_note(note, "cannot use \"%s\": %s (%s controller not used)", r->own[c],
                    strerror(errno), name);
            continue;
        }
        have |= CG_BIT(c);
    }
    return have;
}

/* v2: whether the own cgroup under mnt can be used, and which limit
 * controllers it offers (no writes). -1 when it cannot be used. */
static int cg_v2_probe(struct cg_root *r, const char *mnt, const char *self, unsigned *avail,
                       char *note)
{
    char list[16], path[PATH_MAX], p[PATH_MAX];
    char *ctl;
    *avail = 0;
    if (cg_self_line(self, NULL, list, sizeof(list), path, sizeof(path)) < 0) {
        cg_note(note, "no cgroup2 entry (\"0::/...\") in %s", CG_PROC_SELF);
        return -1;
    }
    /* opened again after a move into our own leaf: the parent is ours */
    size_t pl = strlen(path), sl = strlen("/" CG_SUPERVISOR);
    if (pl >= sl && strcmp(path + pl - sl, "/" CG_SUPERVISOR) == 0)
        path[pl - sl] = '\0';
    if ((size_t)snprintf(r->own[0], PATH_MAX, "%s%s", mnt, path) >= PATH_MAX) {
        cg_note(note, "cgroup2 path too long");
        return -1;
    }
    snprintf(r->base[0], PATH_MAX, "%s", r->own[0]);
    if (!cg_is_dir(r->own[0]) || access(r->own[0], W_OK) < 0 ||
        cg_join(p, r->own[0], "cgroup.procs") < 0 || access(p, W_OK) < 0 ||
        cg_join(p, r->own[0], "cgroup.subtree_control") < 0 || access(p, W_OK) < 0) {
        cg_note(note,
                "no write access to \"%s\" (delegate the unit's cgroup: systemd Delegate=yes)",
                r->own[0]);
        return -1;
    }
    ctl = cg_read_at(r->own[0], "cgroup.controllers");
    for (int c = 0; ctl && c < CG_NCTRL; c++)
        if ((CG_BIT(c) & CG_LIMIT_CTRLS) && cg_has_word(ctl, cg_ctrl_name[c], ' '))
            *avail |= CG_BIT(c);
    free(ctl);
    return 0;
}

/* Missing limit controllers of want, as "pids, cpu" (empty: none). */
static void cg_names(unsigned mask, char *out, size_t outlen)
{
    out[0] = '\0';
    for (int c = 0; c < CG_NCTRL; c++)
        if (mask & CG_BIT(c)) {
            size_t n = strlen(out);
            snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", cg_ctrl_name[c]);
        }
}

/* v2: move every process of own into own/supervisor, then enable avail in
 * own/cgroup.subtree_control. */
static int cg_v2_prepare(struct cg_root *r, unsigned avail, char *note, struct omni_err *err)
{
    char sup[PATH_MAX], p[PATH_MAX], want[64] = "", names[64];
    char *procs;
    if (cg_join(sup, r->own[0], CG_SUPERVISOR) < 0)
        return omni_err_set(err, OMNI_E_IO, "cgroup path \"%s\" is too long", r->own[0]);
    if (mkdir(sup, 0755) < 0 && errno != EEXIST)
        return omni_err_set(err, OMNI_E_IO,
                            "cannot create \"%s\": %s (delegate the unit's cgroup: systemd "
                            "Delegate=yes)",
                            sup, strerror(errno));
    if (cg_write(r, sup, "cgroup.procs", "0", err) < 0)
        return omni_err_prefix(err, "cannot move the worker out of its cgroup");
    /* anything else of the unit's (a wrapper, a helper) goes with it */
    procs = cg_join(p, r->own[0], "cgroup.procs") == 0 ? cg_read(p, CG_FILE_MAX) : NULL;
    for (char *s = procs, *e; s && *s; s = e) {
        long pid = strtol(s, &e, 10);
        if (e == s) {
            e = s + 1;
            continue;
        }
        char v[24];
        snprintf(v, sizeof(v), "%ld", pid);
        if (pid > 0 && pid != (long)getpid() && cg_write(r, sup, "cgroup.procs", v, NULL) < 0 &&
            errno != ESRCH)
            log_warn("cannot move process %ld into \"%s\": %s", pid, sup, strerror(errno));
    }
    free(procs);
    for (int c = 0; c < CG_NCTRL; c++)
        if (avail & CG_BIT(c)) {
            size_t n = strlen(want);
            snprintf(want + n, sizeof(want) - n, "%s+%s", n ? " " : "", cg_ctrl_name[c]);
        }
    r->have = avail;
    if (want[0] && cg_write(r, r->own[0], "cgroup.subtree_control", want, NULL) < 0) {
        /* one at a time: keep what can be enabled */
        int e = errno;
        for (int c = 0; c < CG_NCTRL; c++) {
            char one[16];
            snprintf(one, sizeof(one), "+%s", cg_ctrl_name[c]);
            if ((avail & CG_BIT(c)) &&
                cg_write(r, r->own[0], "cgroup.subtree_control", one, NULL) < 0)
                r->have &= ~CG_BIT(c);
        }
        if (avail & ~r->have) {
            cg_names(avail & ~r->have, names, sizeof(names));
            cg_note(note, "cannot enable %s in \"%s/cgroup.subtree_control\": %s", names, r->own[0],
                    strerror(e));
        }
    }
    return 0;
}

static struct cg *cg_build(struct cg_root *r, const char *parent, const char *name);
static void cg_free(struct cg *g, int remove);

/* v1: kill and remove what dead workers left: own/omni-worker-<pid> where
 * no process <pid> exists. */
static void cg_v1_sweep(struct cg_root *r)
{
    char stale[CG_SWEEP_MAX][32];
    int nstale = 0;
    for (int c = 0; c < CG_NCTRL && nstale < CG_SWEEP_MAX; c++) {
        DIR *d = (r->have & CG_BIT(c)) ? opendir(r->own[c]) : NULL;
        struct dirent *de;
        while (d && nstale < CG_SWEEP_MAX && (de = readdir(d))) {
            size_t pl = strlen(CG_WORKER_PREFIX);
            char *e;
            long pid;
            int dup = 0;
            if (strncmp(de->d_name, CG_WORKER_PREFIX, pl) != 0 || strlen(de->d_name) >= 32)
                continue;
            pid = strtol(de->d_name + pl, &e, 10);
            if (*e || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
                errno != ESRCH)
                continue;
            for (int i = 0; i < nstale; i++)
                dup |= strcmp(stale[i], de->d_name) == 0;
            if (!dup)
                snprintf(stale[nstale++], sizeof(stale[0]), "%s", de->d_name);
        }
        if (d)
            closedir(d);
    }
    for (int i = 0; i < nstale; i++) {
        char sess[CG_SWEEP_MAX][CG_NAME_MAX + 8];
        int nsess = 0;
        for (int c = 0; c < CG_NCTRL; c++) {
            char p[PATH_MAX];
            DIR *d =
                (r->have & CG_BIT(c)) && cg_join(p, r->own[c], stale[i]) == 0 ? opendir(p) : NULL;
            struct dirent *de;
            while (d && nsess < CG_SWEEP_MAX && (de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
                    strlen(de->d_name) < sizeof(sess[0]))
                    snprintf(sess[nsess++], sizeof(sess[0]), "%s", de->d_name);
            if (d)
                closedir(d);
        }
        for (int k = 0; k < nsess; k++) {
            struct cg *g = cg_build(r, stale[i], sess[k]);
            if (!g)
                continue;
            int left = cg_kill(g);
            if (left)
                log_warn("leftover cgroup \"%s/%s\": %d processes remain after SIGKILL", stale[i],
                         sess[k], left);
            cg_free(g, 1);
        }
        for (int c = 0; c < CG_NCTRL; c++) {
            char p[PATH_MAX];
            if ((r->have & CG_BIT(c)) && cg_join(p, r->own[c], stale[i]) == 0 && cg_rmdir(r, p) < 0)
                log_warn("cannot remove the leftover cgroup \"%s\": %s", p, strerror(errno));
        }
    }
}

static int cg_v1_prepare(struct cg_root *r, char *note)
{
    cg_v1_sweep(r);
    for (int c = 0; c < CG_NCTRL; c++) {
        if (!(r->have & CG_BIT(c)))
            continue;
        if (mkdir(r->base[c], 0755) < 0 && errno != EEXIST) {
            cg_note(note, "cannot create \"%s\": %s (%s controller not used)", r->base[c],
                    strerror(errno), cg_ctrl_name[c]);
            r->have &= ~CG_BIT(c);
        }
    }
    return r->have ? 0 : -1;
}

static unsigned cg_popcount(unsigned m)
{
    unsigned n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

struct cg_root *cg_root_open(const char *fs_root, const char *proc_self_cgroup, char *missing,
                             size_t missinglen, struct omni_err *err)
{
    char note[CG_NOTE_MAX] = "", note1[CG_NOTE_MAX] = "", note2[CG_NOTE_MAX] = "";
    char uni[PATH_MAX], names[64];
    char *owned = NULL;
    const char *self = proc_self_cgroup;
    const char *fs = fs_root ? fs_root : CG_FS_ROOT;
    struct cg_root *r = calloc(1, sizeof(*r)), *r2 = NULL;
    unsigned avail = 0;
    int ok = 0, err_set = 0;

    if (missing && missinglen)
        missing[0] = '\0';
    if (!r) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    r->fake = cg_fake.on;
    r->hook = cg_fake.hook;
    r->hook_ctx = cg_fake.ctx;
    if (!self) {
        owned = cg_read(CG_PROC_SELF, CG_FILE_MAX);
        if (!owned) {
            omni_err_set(err, OMNI_E_IO, "cannot read \"%s\": %s", CG_PROC_SELF, strerror(errno));
            snprintf(note, sizeof(note), "cannot read %s", CG_PROC_SELF);
            goto out;
        }
        self = owned;
    }
    if (cg_fs_is(fs, CGROUP2_SUPER_MAGIC, r->fake)) {
        r->v2 = 1;
        if (cg_v2_probe(r, fs, self, &avail, note) == 0) {
            ok = cg_v2_prepare(r, avail, note, err) == 0;
            err_set = !ok;
            if (!ok)
                snprintf(note, sizeof(note), "%s", err ? err->msg : "cgroup2 set-up failed");
        }
    } else {
        unsigned have1 = cg_v1_probe(r, fs, self, note1), n2 = 0;
        int v2ok = 0;
        r2 = calloc(1, sizeof(*r2));
        if (r2 && cg_join(uni, fs, "unified") == 0 && cg_fs_is(uni, CGROUP2_SUPER_MAGIC, r->fake)) {
            *r2 = *r;
            r2->v2 = 1;
            v2ok = cg_v2_probe(r2, uni, self, &avail, note2) == 0;
            n2 = cg_popcount(avail);
        }
        if (v2ok && (!have1 || n2 > cg_popcount(have1 & CG_LIMIT_CTRLS))) {
            struct cg_root *t = r;
            r = r2;
            r2 = t;
            snprintf(note, sizeof(note), "%s", note2);
            ok = cg_v2_prepare(r, avail, note, err) == 0;
            err_set = !ok;
            if (!ok)
                snprintf(note, sizeof(note), "%s", err ? err->msg : "cgroup2 set-up failed");
        } else if (have1) {
            r->have = have1;
            snprintf(note, sizeof(note), "%s", note1);
            ok = cg_v1_prepare(r, note) == 0;
        } else {
            snprintf(note, sizeof(note), "%s", note1);
            if (note2[0])
                cg_note(note, "%s", note2);
        }
    }
    if (ok && r->v2 && (CG_LIMIT_CTRLS & ~r->have)) {
        /* keep earlier notes (a failed subtree_control write) and name the rest */
        unsigned gone = CG_LIMIT_CTRLS & ~r->have & ~avail;
        if (gone) {
            cg_names(gone, names, sizeof(names));
            cg_note(note, "%s controller%s not available in \"%s\" (not in cgroup.controllers)",
                    names, strchr(names, ',') ? "s" : "", r->own[0]);
        }
    }
    if (!ok && !err_set)
        omni_err_set(err, OMNI_E_IO, "no usable cgroup hierarchy under \"%s\": %s", fs,
                     note[0] ? note : "none found");
out:
    if (missing && missinglen)
        snprintf(missing, missinglen, "%s", note);
    free(owned);
    free(r2);
    if (!ok) {
        free(r);
        return NULL;
    }
    return r;
}

const char *cg_root_mode(const struct cg_root *r)
{
    return r->v2 ? "v2" : "v1";
}

void cg_root_close(struct cg_root *r)
{
    if (!r)
        return;
    for (int c = 0; !r->v2 && c < CG_NCTRL; c++)
        if ((r->have & CG_BIT(c)) && rmdir(r->base[c]) < 0 && errno != ENOENT &&
            errno != ENOTEMPTY && errno != EBUSY)
            log_warn("cannot remove \"%s\": %s", r->base[c], strerror(errno));
    free(r);
}

/* ---- one session ------------------------------------------------------ */

/* The struct for parent/name (parent NULL: directly under base), no files
 * touched. NULL when out of memory or a path is too long. */
static struct cg *cg_build(struct cg_root *r, const char *parent, const char *name)
{
    struct cg *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->r = r;
    for (int i = 0; i < CG_JOIN_MAX; i++)
        g->fds[i] = -1;
    for (int c = 0; c < CG_NCTRL; c++) {
        char p[PATH_MAX];
        int i, n;
        if (r->v2 ? c > 0 : !(r->have & CG_BIT(c)))
            continue;
        if (parent)
            n = snprintf(p, sizeof(p), "%s/%s/%s", r->own[c], parent, name);
        else
            n = snprintf(p, sizeof(p), "%s/%s", r->base[c], name);
        if ((size_t)n >= sizeof(p)) {
            free(g);
            errno = ENAMETOOLONG;
            return NULL;
        }
        for (i = 0; i < g->ndirs && strcmp(g->dir[i].path, p) != 0; i++)
            ;
        if (i == g->ndirs)
            snprintf(g->dir[g->ndirs++].path, PATH_MAX, "%s", p);
        g->dir[i].ctrls |= r->v2 ? r->have : CG_BIT(c);
    }
    return g;
}

static void cg_free(struct cg *g, int remove)
{
    for (int i = 0; i < g->nfds; i++)
        if (g->fds[i] >= 0)
            close(g->fds[i]);
    for (int i = 0; remove && i < g->ndirs; i++)
        if (cg_rmdir(g->r, g->dir[i].path) < 0)
            log_warn("cannot remove the cgroup \"%s\": %s", g->dir[i].path, strerror(errno));
    free(g);
}

static int cg_limits_v2(struct cg *g, const struct cg_dir *d, struct omni_err *err)
{
    const struct cg_root *r = g->r;
    const struct cg_limits *l = &g->lim;
    char v[64];
    if ((d->ctrls & CG_BIT(CG_PIDS)) &&
        (l->pids_max > 0 ? cg_write_ll(r, d->path, "pids.max", l->pids_max, err)
                         : cg_write(r, d->path, "pids.max", "max", err)) < 0)
        return -1;
    if (d->ctrls & CG_BIT(CG_MEMORY)) {
        if ((l->memory_max > 0 ? cg_write_ll(r, d->path, "memory.max", l->memory_max, err)
                               : cg_write(r, d->path, "memory.max", "max", err)) < 0)
            return -1;
        if (cg_exists(d->path, "memory.swap.max") &&
            cg_write(r, d->path, "memory.swap.max", l->memory_max > 0 ? "0" : "max", err) < 0)
            return -1;
    }
    if (d->ctrls & CG_BIT(CG_CPU)) {
        long long q = (long long)l->cpu_percent * CG_CPU_PERIOD_US / 100;
        if (l->cpu_percent > 0 && q < 1000)
            q = 1000; /* the kernel's smallest quota */
        if (l->cpu_percent > 0)
            snprintf(v, sizeof(v), "%lld %d", q, CG_CPU_PERIOD_US);
        else
            snprintf(v, sizeof(v), "max %d", CG_CPU_PERIOD_US);
        if (cg_write(r, d->path, "cpu.max", v, err) < 0)
            return -1;
    }
    return 0;
}

static int cg_limits_v1(struct cg *g, const struct cg_dir *d, struct omni_err *err)
{
    const struct cg_root *r = g->r;
    const struct cg_limits *l = &g->lim;
    if ((d->ctrls & CG_BIT(CG_PIDS)) &&
        (l->pids_max > 0 ? cg_write_ll(r, d->path, "pids.max", l->pids_max, err)
                         : cg_write(r, d->path, "pids.max", "max", err)) < 0)
        return -1;
    if (d->ctrls & CG_BIT(CG_MEMORY)) {
        /* memsw >= limit always: lift memsw, set the limit, then memsw */
        int memsw = cg_exists(d->path, "memory.memsw.limit_in_bytes");
        if (memsw)
            cg_write(r, d->path, "memory.memsw.limit_in_bytes", "-1", NULL);
        if (cg_write_ll(r, d->path, "memory.limit_in_bytes", l->memory_max > 0 ? l->memory_max : -1,
                        err) < 0)
            return -1;
        if (memsw && l->memory_max > 0 &&
            cg_write_ll(r, d->path, "memory.memsw.limit_in_bytes", l->memory_max, err) < 0)
            return -1;
    }
    if (d->ctrls & CG_BIT(CG_CPU)) {
        long long q = (long long)l->cpu_percent * CG_CPU_PERIOD_US / 100;
        if (l->cpu_percent > 0 && q < 1000)
            q = 1000;
        if (cg_write_ll(r, d->path, "cpu.cfs_period_us", CG_CPU_PERIOD_US, err) < 0 ||
            cg_write_ll(r, d->path, "cpu.cfs_quota_us", l->cpu_percent > 0 ? q : -1, err) < 0)
            return -1;
    }
    return 0;
}

struct cg *cg_create(struct cg_root *r, const char *name, const struct cg_limits *lim,
                     struct omni_err *err)
{
    char dname[CG_NAME_MAX + sizeof(CG_SESSION_PREFIX)];
    struct cg *g;
    int leftover = 0;
    if (!cg_valid_name(name)) {
        omni_err_set(err, OMNI_E_USAGE, "bad cgroup name \"%.80s\" (1 to %d of A-Z a-z 0-9 _ -)",
                     name, CG_NAME_MAX);
        return NULL;
    }
    if (lim->pids_max < 0 || lim->memory_max < 0 || lim->cpu_percent < 0) {
        omni_err_set(err, OMNI_E_USAGE, "negative cgroup limit for \"%s\"", name);
        return NULL;
    }
    snprintf(dname, sizeof(dname), CG_SESSION_PREFIX "%s", name);
    g = cg_build(r, NULL, dname);
    if (!g) {
        omni_err_set(err, OMNI_E_IO, "cannot set up the cgroup \"%s\": %s", name, strerror(errno));
        return NULL;
    }
    g->lim = *lim;
    for (int i = 0; i < g->ndirs; i++) {
        if (mkdir(g->dir[i].path, 0755) == 0)
            continue;
        if (errno != EEXIST) {
            omni_err_set(err, OMNI_E_IO, "cannot create \"%s\": %s", g->dir[i].path,
                         strerror(errno));
            goto fail;
        }
        leftover = 1;
    }
    if (leftover) {
        int left = cg_kill(g);
        if (left != 0) {
            omni_err_set(err, OMNI_E_IO, "cannot empty the leftover cgroup \"%s\": %s",
                         g->dir[0].path,
                         left < 0 ? "cannot read its members" : "processes survive SIGKILL");
            goto fail;
        }
    }
    for (int i = 0; i < g->ndirs; i++) {
        const struct cg_dir *d = &g->dir[i];
        char p[PATH_MAX];
        if ((r->v2 ? cg_limits_v2(g, d, err) : cg_limits_v1(g, d, err)) < 0)
            goto fail;
        int fd = cg_join(p, d->path, "cgroup.procs") == 0 ? cg_open_w(r, p) : -1;
        if (fd < 0 && errno == ENOENT && !r->v2 && cg_join(p, d->path, "tasks") == 0)
            fd = cg_open_w(r, p);
        if (fd < 0) {
            omni_err_set(err, OMNI_E_IO, "cannot open \"%s\": %s", p, strerror(errno));
            goto fail;
        }
        g->fds[g->nfds++] = fd;
    }
    return g;
fail:
    cg_free(g, 1);
    return NULL;
}

int cg_join_fds(const struct cg *g, const int **fds)
{
    *fds = g->fds;
    return g->nfds;
}

int cg_join_pid(const struct cg *g, pid_t pid, struct omni_err *err)
{
    for (int i = 0; i < g->ndirs; i++)
        if (cg_write_ll(g->r, g->dir[i].path, "cgroup.procs", (long long)pid, err) < 0)
            return -1;
    return 0;
}

int cg_events(const struct cg *g, struct cg_events *ev)
{
    const struct cg_dir *md = cg_dir_of(g, CG_MEMORY), *pd = cg_dir_of(g, CG_PIDS);
    int want = 0, got = 0;
    char *s;
    memset(ev, 0, sizeof(*ev));
    if (md) {
        want++;
        if (g->r->v2 && (s = cg_read_at(md->path, "memory.events"))) {
            got++;
            ev->oom_kills = cg_kv(s, "oom_kill") > 0 ? cg_kv(s, "oom_kill") : 0;
            ev->memory_max_hits = cg_kv(s, "max") > 0 ? cg_kv(s, "max") : 0;
            free(s);
        }
        if (!g->r->v2 && (s = cg_read_at(md->path, "memory.oom_control"))) {
            got++;
            ev->oom_kills = cg_kv(s, "oom_kill") > 0 ? cg_kv(s, "oom_kill") : 0;
            free(s);
        }
        /* memsw is charged first: with both limits equal it is the one that fails */
        for (int k = 0; !g->r->v2 && k < 2; k++)
            if ((s = cg_read_at(md->path, k ? "memory.memsw.failcnt" : "memory.failcnt"))) {
                got++;
                ev->memory_max_hits += strtoll(s, NULL, 10);
                free(s);
            }
    }
    if (pd) {
        want++;
        if ((s = cg_read_at(pd->path, "pids.events"))) {
            got++;
            ev->pids_max_hits = cg_kv(s, "max") > 0 ? cg_kv(s, "max") : 0;
            free(s);
        }
    }
    return want && !got ? -1 : 0;
}

void cg_destroy(struct cg *g)
{
    int left;
    if (!g)
        return;
    left = cg_kill(g);
    if (left != 0)
        log_warn("cgroup \"%s\": %s", g->dir[0].path,
                 left < 0 ? "cannot read its members" : "processes survive SIGKILL");
    cg_free(g, 1);
}
