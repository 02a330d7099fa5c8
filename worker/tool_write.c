/*
 * write — create or overwrite a whole file, atomically (toolset.md §6).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_int.h"

#define WRITE_NEW_FILE_MODE 0600

int tool_replace_file(int dirfd, const char *leaf, const void *data, size_t len, int mode)
{
    char tmp[64];
    unsigned long long rnd = 0;
    int fd, e = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (unsigned long long)rand();
    snprintf(tmp, sizeof(tmp), ".tmp-%d-%016llx", (int)getpid(), rnd);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                WRITE_NEW_FILE_MODE);
    if (fd < 0)
        return errno;
    if (mode >= 0 && fchmod(fd, (mode_t)mode & 07777) < 0)
        e = errno;
    const char *p = data;
    size_t left = len;
    while (!e && left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!e && fsync(fd) < 0)
        e = errno;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && renameat(dirfd, tmp, dirfd, leaf) < 0)
        e = errno;
    if (e)
        unlinkat(dirfd, tmp, 0);
    return e;
}

void tool_write(struct tool_call *c)
{
    const char *p, *content;
    struct path_res r = PATH_RES_INIT;
    struct stat st;
    int kind, mode = -1;

    if (tool_str(c, "file_path", 1, &p) < 0 || tool_str(c, "content", 2, &content) < 0)
        return;
    /* Guardrail and read-only check before anything is created. */
    kind = paths_would_be(c->ts->paths, p, &r);
    if (kind != PATHS_OK) {
        tool_path_fail(c, p, kind, r.err);
        return;
    }
    char robuf[4200];
    const char *ro = tool_readonly_root(c, r.abs, robuf, sizeof(robuf));
    if (ro) {
        tool_err(c, "write: %s is inside read-only directory %s", p, ro);
        path_res_release(&r);
        return;
    }
    path_res_release(&r);
    kind = paths_parent(c->ts->paths, p, 1, &r);
    if (kind != PATHS_OK) {
        tool_path_fail(c, p, kind, r.err);
        return;
    }
    /* The walk may have followed a link: check the final target again. */
    ro = tool_readonly_root(c, r.abs, robuf, sizeof(robuf));
    if (ro) {
        tool_err(c, "write: %s is inside read-only directory %s", p, ro);
        path_res_release(&r);
        return;
    }
    if (r.leaf_exists && fstatat(r.dirfd, r.leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            tool_errno(c, p, EISDIR);
            path_res_release(&r);
            return;
        }
        if (S_ISREG(st.st_mode))
            mode = (int)(st.st_mode & 07777);
    }
    if (tool_expired(c)) {
        path_res_release(&r);
        return;
    }
    size_t len = strlen(content);
    int e = tool_replace_file(r.dirfd, r.leaf, content, len, mode);
    path_res_release(&r);
    if (e) {
        tool_errno(c, p, e);
        return;
    }
    tool_ok(c, "wrote %zu bytes to %s", len, p);
}
