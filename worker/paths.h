/*
 * paths — confinement of file-tool paths to the session's directories
 * (toolset.md §3, §15.5).
 *
 * A model path is resolved beneath one root: the workdir (relative paths, and
 * absolute paths inside it) or an allowed root (absolute paths inside it). The
 * open itself is confined, not just a string check, so a symlink swapped in
 * during the call cannot lead outside:
 *
 *  - paths_open() uses openat2(root_fd, rel, RESOLVE_BENEATH |
 *    RESOLVE_NO_MAGICLINKS). When openat2 fails for any reason (including
 *    EXDEV for an absolute symlink, or ENOSYS on old kernels) the component
 *    walker below decides, so error texts come from one place.
 *  - The walker (used by paths_parent() always, and by paths_open() as the
 *    fallback) opens one component at a time with openat(O_PATH|O_NOFOLLOW)
 *    relative to the previous directory fd, keeps a stack of directory fds
 *    (so ".." is the real parent and can never climb above the root), and
 *    reads each symlink it meets through the fd it opened (readlinkat), then
 *    continues from the link's target: a relative target from the link's
 *    directory, an absolute one only when it lies inside the same root's
 *    canonical path. More than 40 links gives ELOOP. Symlinks are thus
 *    followed by kernel rules, never collapsed lexically.
 *
 * Absolute paths: matched against each root's configured and canonical
 * spelling; failing that, the longest existing prefix is canonicalised
 * (realpath) and matched. The final open is beneath the root either way.
 *
 * Not confined (documented limits): bind mounts inside a root; a symlink in
 * one root that points into another permitted root is refused (stricter than
 * the SDK). Hard links cannot be seen by any path check: the tools refuse
 * read/edit of regular files with more than one link (see toolset.h).
 */
#ifndef OMNI_PATHS_H
#define OMNI_PATHS_H

#include <limits.h>

#include "err.h"

#define PATHS_MAX_HOPS 40   /* symlinks followed per resolution */
#define PATHS_MAX_DEPTH 256 /* directory components held open */

struct paths;

/* workdir must exist; roots are absolute directories (may not exist yet). */
struct paths *paths_new(const char *workdir, const char *const *allowed_roots,
                        const char *const *readonly_roots, struct omni_err *err);
void paths_free(struct paths *ps);
/* Canonical workdir path and a directory fd for it (O_PATH). */
const char *paths_workdir(const struct paths *ps);
int paths_workdir_fd(const struct paths *ps);

enum paths_fail {
    PATHS_OK = 0,
    PATHS_OUTSIDE, /* `path "<p>" is outside ...` */
    PATHS_RESOLVE, /* `path "<p>": <reason>` (a component could not be resolved) */
    PATHS_ERRNO,   /* the tool reports `<tool>: <p>: <reason>` */
};

struct path_res {
    int fd;                  /* paths_open: the opened target */
    int dirfd;               /* paths_parent: the parent directory (O_PATH) */
    char leaf[NAME_MAX + 1]; /* paths_parent: name in dirfd */
    int leaf_exists;         /* paths_parent: something is at dirfd/leaf */
    char *abs;               /* canonical absolute path of the target (malloc'd) */
    int err;                 /* errno for PATHS_RESOLVE / PATHS_ERRNO */
};
#define PATH_RES_INIT                                                                              \
    {                                                                                              \
        -1, -1, "", 0, NULL, 0                                                                     \
    }
void path_res_release(struct path_res *r);

/*
 * Open p (a model path) with oflags (O_CLOEXEC and O_NOCTTY are added; a
 * symlink at the leaf is followed within the root). Returns enum paths_fail.
 */
int paths_open(struct paths *ps, const char *p, int oflags, struct path_res *r);
/*
 * Resolve p's parent directory and leaf name, following a symlink leaf within
 * the root (a dangling one too: the target is what gets created). create:
 * make missing parent directories (mode 0700). Without create, missing
 * parents give PATHS_ERRNO/ENOENT. A leaf of "." / ".." or the root itself
 * gives PATHS_ERRNO/EISDIR.
 */
int paths_parent(struct paths *ps, const char *p, int create, struct path_res *r);
/*
 * Canonical absolute form p would have (missing components appended as
 * given), for the read-only check before anything is created. 0 or a fail kind.
 */
int paths_would_be(struct paths *ps, const char *p, struct path_res *r);
/* The configured read-only root containing abs, or NULL. */
const char *paths_readonly_root(const struct paths *ps, const char *abs);
int paths_has_allowed_roots(const struct paths *ps);

/* §3.4 reason text for an errno: never the host's strerror text. */
const char *paths_reason(int errnum, char *tmp, size_t tmplen);

/* Test hook: 0 forces the walker for every open (as if openat2 were ENOSYS) in
 * the instances made afterwards; each instance keeps its own copy. */
void paths_set_openat2(int enabled);
/* The same for one instance (not to be called while it is in use elsewhere). */
void paths_use_openat2(struct paths *ps, int enabled);

#endif
