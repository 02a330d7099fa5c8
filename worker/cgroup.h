/*
 * cgroup — one cgroup per session: limits for its processes, a report of
 * the limits they hit, and the kill of every one of them at the end, whatever
 * they did to escape (double fork, setsid, a new PID namespace).
 *
 * Both hierarchies are supported:
 *
 *   v2  (unified; /sys/fs/cgroup is a cgroup2 mount, or the cgroup2 tree of a
 *       hybrid host at <fs_root>/unified when the v1 controllers are not
 *       available). The worker needs write access to its own cgroup (as root,
 *       or systemd Delegate=yes). cg_root_open() moves the worker (and any
 *       other process in its cgroup) into the leaf <own>/supervisor, enables
 *       the available controllers among pids, memory and cpu in
 *       <own>/cgroup.subtree_control, and sessions get <own>/sess-<name>.
 *       Limits: pids.max, memory.max (+ memory.swap.max 0), cpu.max. Kill:
 *       cgroup.kill (Linux >= 5.14), else SIGKILL over cgroup.procs (frozen
 *       through cgroup.freeze when it exists).
 *   v1  (one hierarchy per controller under <fs_root>/<controller>): pids,
 *       memory, cpu and freezer, each at the worker's own position in that
 *       hierarchy (from /proc/self/cgroup) plus omni-worker-<pid>/sess-<name>.
 *       Limits: pids.max, memory.limit_in_bytes (+ memory.memsw.limit_in_bytes),
 *       cpu.cfs_quota_us/cfs_period_us. Kill: freeze, SIGKILL every member,
 *       thaw, until empty (bounded); without a freezer, pids.max 0 first.
 *
 * A controller that is not available is skipped (its limit is not applied)
 * and named in the `missing` line of cg_root_open(), so the worker can log
 * once what this host does not enforce.
 *
 * Caller's steps:
 *   1. r = cg_root_open(NULL, NULL, ...) once at start, before any thread or
 *      child exists (v2 moves the whole process); NULL: run without cgroups.
 *   2. per session: g = cg_create(r, name, &limits, err);
 *   3. per child: after fork and before exec, write "0" to each of the
 *      cg_join_fds() descriptors (async-signal-safe: write() only);
 *   4. after a tool run: cg_events() (counters only grow; compare with the
 *      values seen before); cg_kill() ends everything and leaves the cgroup
 *      usable for the next child;
 *   5. at session end: cg_destroy(g) (kill, remove, free);
 *   6. at exit: cg_root_close(r) after every cg_destroy().
 * r must outlive every g made from it. Nothing here is thread-safe: one
 * thread per struct cg, and cg_create() calls serialised.
 */
#ifndef OMNI_CGROUP_H
#define OMNI_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define CG_FS_ROOT "/sys/fs/cgroup"
#define CG_PROC_SELF "/proc/self/cgroup"
#define CG_NAME_MAX 64          /* session name: [A-Za-z0-9_-], 1..64 bytes */
#define CG_JOIN_MAX 4           /* join descriptors: one per v1 hierarchy */
#define CG_CPU_PERIOD_US 100000 /* cpu.max / cfs_period_us period */
#define CG_KILL_ROUNDS 50       /* cg_kill(): at most this many rounds */
#define CG_KILL_MS 2000         /* ... and this long */
#define CG_KILL_POLL_MS 10      /* pause between rounds */
#define CG_FREEZE_WAIT_MS 500   /* v1: wait for freezer.state FROZEN */
#define CG_RMDIR_WAIT_MS 500    /* retry rmdir while exiting tasks leave */
#define CG_FILE_MAX (1 << 20)   /* largest control file read (cgroup.procs) */

/* 0 = no limit for that resource; cpu_percent 100 = one CPU, 250 = 2.5 CPUs. */
struct cg_limits {
    long pids_max;
    long long memory_max; /* bytes */
    int cpu_percent;
};

/* Counters since the cgroup was made; they only grow. */
struct cg_events {
    long long oom_kills;       /* v2 memory.events oom_kill; v1 memory.oom_control oom_kill */
    long long memory_max_hits; /* v2 memory.events max; v1 memory.failcnt + memsw.failcnt */
    long long pids_max_hits;   /* pids.events max (a fork failed) */
};

struct cg_root; /* the worker's position: mode, paths, working controllers */
struct cg;      /* one session's cgroup (one directory per v1 hierarchy) */

/*
 * Find the hierarchy and prepare it. fs_root NULL: CG_FS_ROOT;
 * proc_self_cgroup: the text of /proc/self/cgroup (NULL: read CG_PROC_SELF).
 * v2 when fs_root is a cgroup2 mount; else v1, unless <fs_root>/unified is a
 * usable cgroup2 tree offering more of pids/memory/cpu than v1 does. Returns
 * NULL and err when cgroups cannot be used at all. *missing (may be NULL)
 * gets one line naming what does not work ("" when everything does), also
 * when NULL is returned. v2: an own path ending in /supervisor means its
 * parent (opened again after the move). v1: the sessions of a dead worker
 * (omni-worker-<pid> with no such process) are killed and removed.
 */
struct cg_root *cg_root_open(const char *fs_root, const char *proc_self_cgroup, char *missing,
                             size_t missinglen, struct omni_err *err);
const char *cg_root_mode(const struct cg_root *r); /* "v1" or "v2" */
/* v1: remove omni-worker-<pid> when empty; v2: the worker stays in
 * supervisor. Frees r; NULL is a no-op. */
void cg_root_close(struct cg_root *r);

/*
 * Make (or take over a leftover of) the session cgroup `name` and set its
 * limits. A leftover's processes are killed first. NULL and err on failure
 * (the file that failed and why).
 */
struct cg *cg_create(struct cg_root *r, const char *name, const struct cg_limits *lim,
                     struct omni_err *err);
/* Descriptors (O_WRONLY|O_CLOEXEC, owned by g) a child writes "0" into to
 * join. Returns their count, 0..CG_JOIN_MAX. */
int cg_join_fds(const struct cg *g, const int **fds);
/* Move an existing process in. 0, or -1 and err. */
int cg_join_pid(const struct cg *g, pid_t pid, struct omni_err *err);
/* 0 (a counter whose file is absent stays 0), -1 when none can be read. */
int cg_events(const struct cg *g, struct cg_events *ev);
/* Processes in the cgroup, -1 on error. */
int cg_count(const struct cg *g);
/* Kill every process (bounded by CG_KILL_ROUNDS and CG_KILL_MS). Returns how
 * many remain (0: all gone), -1 when the members cannot be read. */
int cg_kill(struct cg *g);
/* cg_kill(), remove the directories, free. NULL is a no-op. */
void cg_destroy(struct cg *g);

/*
 * For tests only: a fake file system of plain directories. While on, writes
 * create missing files, a directory holding "cgroup.controllers" counts as a
 * cgroup2 root, mount types are not checked, directories are emptied of
 * plain files before rmdir, and every write is passed to hook (may be NULL).
 * Applies to roots opened afterwards.
 */
typedef void cg_write_hook(const char *path, const char *value, void *ctx);
void cg_test_fake_fs(int on, cg_write_hook *hook, void *ctx);

#endif
