/*
 * Fuzz worker/skills.c: skills_extract() on arbitrary bytes (zip, tar and
 * compressed tars through libarchive) into a scratch directory.
 *
 * Checks: on success the destination holds only directories (mode 0700)
 * and regular files (0644 or 0755) with one link each, and nothing else
 * appears next to it; on failure nothing is left at all (no destination,
 * no staging directory). Small caps keep each run fast.
 */
#include "../../worker/worker.h"
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FZ_DEPTH 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_parent = -1;
static char fz_dir[] = "/tmp/omni-fuzz-skills-XXXXXX";

static void fz_cleanup(void)
{
    rmdir(fz_dir); /* empty after every input */
}

static void fz_check_tree(int dfd, const char *name, int depth, int remove_it)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        abort();
    if (S_ISREG(st.st_mode)) {
        int m = (int)(st.st_mode & 07777);
        if ((m != 0644 && m != 0755) || st.st_nlink != 1)
            abort();
        if (remove_it && unlinkat(dfd, name, 0) < 0)
            abort();
        return;
    }
    if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0700 || depth > FZ_DEPTH)
        abort();
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d)
        abort();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fz_check_tree(dirfd(d), de->d_name, depth + 1, remove_it);
    }
    closedir(d);
    if (remove_it && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
        abort();
}

static int fz_entries(void)
{
    int fd = dup(fz_parent);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    int n = 0;
    if (!d)
        abort();
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_parent < 0) {
        if (!mkdtemp(fz_dir))
            abort();
        fz_parent = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fz_parent < 0)
            abort();
        atexit(fz_cleanup);
        log_set_level(LOG_QUIET);
    }
    struct skill_limits lim = {200, 1u << 20, 512};
    struct skill_stats st;
    struct omni_err err = OMNI_ERR_INIT;
    int r = skills_extract(data, size, fz_parent, "s", &lim, &st, &err);
    if (r == 0) {
        if (fz_entries() != 1 || st.bytes > lim.max_total || st.files > lim.max_members)
            abort();
        fz_check_tree(fz_parent, "s", 0, 1);
    } else if (!err.msg[0]) {
        abort();
    }
    if (fz_entries() != 0)
        abort();
    return 0;
}
