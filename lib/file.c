#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int omni_file_in_group(gid_t gid)
{
    gid_t groups[256];
    int n;

    if (gid == getegid())
        return 1;
    n = getgroups((int)(sizeof groups / sizeof groups[0]), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

int omni_file_mode_check(const char *path, const char *what, const struct stat *st,
                         struct omni_err *err)
{
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (mode & 007)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "%s \"%s\" is accessible by others (mode %04o): run chmod 600 \"%s\"",
                            what, path, mode, path);
    if (mode & 030)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "%s \"%s\" is writable or executable by its group (mode %04o): run "
                            "chmod 600 \"%s\" (or 640 for a group of readers)",
                            what, path, mode, path);
    if ((mode & 040) && !omni_file_in_group(st->st_gid))
        return omni_err_set(err, OMNI_E_CONFIG,
                            "%s \"%s\" is readable by group %lu, which is not this process's "
                            "(mode %04o): run chmod 600 \"%s\" or chown :GROUP it to a group of "
                            "the reader",
                            what, path, (unsigned long)st->st_gid, mode, path);
    return 0;
}

char *omni_file_read(const char *path, const char *what, size_t max, unsigned flags, size_t *len,
                     struct omni_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd;

    omni_err_clear(err);
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT && (flags & OMNI_FILE_OPTIONAL))
            return NULL;
        omni_err_set(err, OMNI_E_CONFIG, "cannot open %s \"%s\": %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        omni_err_set(err, OMNI_E_CONFIG, "cannot stat %s \"%s\": %s", what, path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        omni_err_set(err, OMNI_E_CONFIG, "%s \"%s\" is not a regular file", what, path);
        goto fail;
    }
    if ((flags & OMNI_FILE_PRIVATE) && omni_file_mode_check(path, what, &st, err) < 0)
        goto fail;
    if (st.st_size < 0 || (unsigned long long)st.st_size > max)
        goto too_big;
    buf = malloc(max + 2);
    if (!buf) {
        omni_err_set(err, OMNI_E_IO, "cannot read %s \"%s\": out of memory", what, path);
        goto fail;
    }
    /* Read up to one byte more than allowed, in case the file grew. */
    while (got < max + 1) {
        ssize_t n = read(fd, buf + got, max + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            omni_err_set(err, OMNI_E_CONFIG, "cannot read %s \"%s\": %s", what, path,
                         strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > max)
        goto too_big;
    buf[got] = '\0';
    close(fd);
    *len = got;
    return buf;
too_big:
    omni_err_set(err, OMNI_E_CONFIG, "%s \"%s\" is larger than %zu bytes", what, path, max);
fail:
    omni_file_wipe(buf, got);
    close(fd);
    return NULL;
}

void omni_file_wipe(char *buf, size_t len)
{
    if (!buf)
        return;
    explicit_bzero(buf, len);
    free(buf);
}
