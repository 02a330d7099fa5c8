/*
 * edit — exact string replacement on a file's raw bytes (toolset.md §7).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_int.h"

#define EDIT_CHUNK 65536

void tool_edit(struct tool_call *c)
{
    const char *p, *olds, *news;
    int replace_all = 0, kind, fd = -1;
    struct path_res r = PATH_RES_INIT;
    struct stat st;
    struct buf in = BUF_INIT, out = BUF_INIT;

    if (tool_str(c, "file_path", 1, &p) < 0 || tool_str(c, "old_string", 1, &olds) < 0 ||
        tool_str(c, "new_string", 2, &news) < 0 || tool_bool(c, "replace_all", &replace_all) < 0)
        return;
    kind = paths_parent(c->ts->paths, p, 0, &r);
    if (kind != PATHS_OK) {
        tool_path_fail(c, p, kind, r.err);
        return;
    }
    char robuf[4200];
    const char *ro = tool_readonly_root(c, r.abs, robuf, sizeof(robuf));
    if (ro) {
        tool_err(c, "edit: %s is inside read-only directory %s", p, ro);
        goto out;
    }
    if (!r.leaf_exists) {
        tool_errno(c, p, ENOENT);
        goto out;
    }
    fd = openat(r.dirfd, r.leaf, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        tool_errno(c, p, errno);
        goto out;
    }
    if (tool_regular_file(c, p, fd, &st) < 0)
        goto out;
    size_t cap = c->ts->edit_cap;
    if ((unsigned long long)st.st_size > cap) {
        tool_err(c,
                 "edit: %s is %lld bytes, exceeds %zu-byte limit. The edit tool loads the whole "
                 "file and cannot modify a file this large.",
                 p, (long long)st.st_size, cap);
        goto out;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    char chunk[EDIT_CHUNK];
    for (;;) {
        if (tool_expired(c))
            goto out;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tool_errno(c, p, errno);
            goto out;
        }
        if (n == 0)
            break;
        if (buf_add(&in, chunk, (size_t)n) < 0 || in.len > cap) {
            tool_err(c,
                     "edit: %s is %zu bytes, exceeds %zu-byte limit. The edit tool loads the "
                     "whole file and cannot modify a file this large.",
                     p, in.len, cap);
            goto out;
        }
    }
    /* Count non-overlapping occurrences, left to right. */
    size_t olen = strlen(olds), nlen = strlen(news), count = 0;
    const char *s = in.data, *end = in.data + in.len;
    while (s < end) {
        const char *hit = memmem(s, (size_t)(end - s), olds, olen);
        if (!hit)
            break;
        count++;
        s = hit + olen;
    }
    if (count == 0) {
        tool_err(c, "edit: old_string not found in %s", p);
        goto out;
    }
    if (count > 1 && !replace_all) {
        tool_err(c, "edit: old_string appears %zu times in %s (must be unique)", count, p);
        goto out;
    }
    s = in.data;
    while (s < end) {
        const char *hit = memmem(s, (size_t)(end - s), olds, olen);
        if (!hit)
            break;
        if (buf_add(&out, s, (size_t)(hit - s)) < 0 || buf_add(&out, news, nlen) < 0)
            goto nomem;
        s = hit + olen;
    }
    if (buf_add(&out, s, (size_t)(end - s)) < 0)
        goto nomem;
    int e = tool_replace_file(r.dirfd, r.leaf, out.data, out.len, (int)(st.st_mode & 07777));
    if (e) {
        char tmp[64];
        tool_err(c, "edit: write: %s: %s", p, paths_reason(e, tmp, sizeof(tmp)));
        goto out;
    }
    tool_ok(c, "edited %s (%zu replacement(s))", p, replace_all ? count : (size_t)1);
    goto out;
nomem:
    tool_err(c, "Error: out of memory");
out:
    if (fd >= 0)
        close(fd);
    buf_release(&in);
    buf_release(&out);
    path_res_release(&r);
}
