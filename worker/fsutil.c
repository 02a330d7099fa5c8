/*
 * fsutil — file-system helpers of the worker shared by the per-item flow and
 * the skills installer.
 */
#include "worker.h"

#include "buf.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wk_rm_tree_at(int dfd, const char *name, int depth)
{
    struct stat st;
    int fd;
    DIR *d;
    struct dirent *de;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (!S_ISDIR(st.st_mode) || depth > WK_RM_DEPTH) {
        unlinkat(dfd, name, 0);
        return;
    }
    /* (never through a symlink swapped in since the stat) */
    fchmodat(dfd, name, 0700, AT_SYMLINK_NOFOLLOW);
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && (d = fdopendir(fd)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                wk_rm_tree_at(dirfd(d), de->d_name, depth + 1);
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        log_warn("cannot remove \"%s\": %s", name, strerror(errno));
}

int wk_read_all(int fd, struct buf *out)
{
    char tmp[8192];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_add(out, tmp, (size_t)n) < 0)
            break;
    }
    explicit_bzero(tmp, sizeof tmp);
    return out->overflow ? -1 : 0;
}

int wk_find_beside_self(const char *rel, int mode, char *out, size_t outlen)
{
    char self[PATH_MAX], cand[PATH_MAX * 2], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    static const char *const dirs[] = {"", "../lib/omni/"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(cand, sizeof(cand), "%s/%s%s", self, dirs[i], rel);
        if (access(cand, mode) == 0 && realpath(cand, real) &&
            (size_t)snprintf(out, outlen, "%s", real) < outlen)
            return 0;
    }
    return -1;
}
