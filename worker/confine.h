/*
 * confine — everything that contains one session on this host: its
 * directory (a size-capped tmpfs when the worker is root), its identity (a
 * uid of its own when the worker is root), its cgroup (limits, and the kill
 * of every process at the end) and its tool executor (omni-exec in a
 * bubblewrap sandbox).
 *
 *   confine_open()   directory, identity, cgroup; nothing of the session runs
 *                    yet (the runner may install skills into the directory);
 *   confine_start()  start the executor in its sandbox (it must say "ready",
 *                    within a bound, before the first call);
 *   confine_close()  end the executor, kill the whole cgroup, remove it, and
 *                    remove the directory unless it must be kept (a lost
 *                    lease: the item returns to the queue with its files).
 *
 * The runner never runs anything of the session's itself: tool calls go to
 * confine.ex (executor.h).
 */
#ifndef OMNI_CONFINE_H
#define OMNI_CONFINE_H

#include <limits.h>
#include <sys/types.h>

#include "worker.h"

struct executor;
struct cg;

struct confine {
    char dir[PATH_MAX]; /* the session's directory (absolute) */
    int mounted;        /* dir is a tmpfs we mounted */
    int lock_fd;        /* the directory, flock()ed while the session lives */
    int root_fd;        /* the tmpfs mounted on it, flock()ed likewise */
    int uid_fd;         /* the uid's lock file, flock()ed likewise */
    int switch_uid;
    uid_t uid;
    gid_t gid;
    struct cg *cg;
    char **env; /* the executor's environment */
    struct executor *ex;
    struct egress *eg; /* the session's egress proxy, or NULL */
};

/* 0; -1 with err; -2 when another runner on this host still holds the
 * session's directory after a short wait (not the item's fault: release it). */
int confine_open(const struct wk_config *cfg, const char *session_id, struct confine *c,
                 struct omni_err *err);
/* egress: the session's allow-list (NULL: the worker's own, --egress-allow). */
int confine_start(const struct wk_config *cfg, const char *session_id, const char *const *egress,
                  struct confine *c, struct omni_err *err);
void confine_close(struct confine *c, int keep_dir);

/* Hand rel (a tree under the session's directory, made by the runner: the
 * skills) to the session's uid, without following any link. */
void confine_give(const struct confine *c, const char *rel);

/* At the poller's start and end: unmount and remove the tmpfs session
 * directories no live session holds (its flock): kept for lost leases and
 * not served here again, or left by a worker that was killed. */
void confine_sweep(const struct wk_config *cfg);

/*
 * Once per process, after the options: find bubblewrap and omni-exec, make
 * the workdir absolute, hide the credential files (key_file, secret_file,
 * $CREDENTIALS_DIRECTORY) from none-mode sandboxes, take a uid per session
 * when root, open the cgroup root. With announce, log one line naming what
 * contains the sessions and one warning per protection that is missing.
 * Returns -1 (OMNI_E_CONFIG) when no sandbox can be built at all.
 */
int confine_host_setup(struct wk_config *cfg, const char *key_file, const char *secret_file,
                       int announce, struct omni_err *err);

#endif
