/*
 * file — read a small local file whole, safely: the one reader behind key
 * files, config files and the worker's work-secret file.
 *
 * The file must be a regular file (a FIFO or a device is refused before any
 * read, so nothing blocks) of at most `max` bytes, counted as read (a file that
 * grows while it is read is refused too). OMNI_FILE_PRIVATE also refuses a
 * file that others may access in any way, that its group may write or
 * execute, or that its group may read when that group is neither the
 * process's effective gid nor one of its supplementary groups; the error names
 * the chmod (or chown) that fixes it. So a 0600/0400 file is fine whoever owns
 * it, and so is a 0640/0440 one whose group is the reader's own (a Kubernetes
 * secret volume: owner root, group the pod's fsGroup, which the container's
 * process holds as a supplementary group); 0644, 0660 and 0460 are refused.
 *
 * Caller contract: `what` names the file in errors ("key file", "config");
 * errors are OMNI_E_CONFIG (OMNI_E_IO when memory runs out), one line, naming
 * the path and never the content. The buffer returned is NUL-terminated (the
 * file's own NUL bytes are kept; *len counts them), owned by the caller and,
 * for private files, should be wiped with omni_file_wipe() before free().
 * With OMNI_FILE_OPTIONAL a missing file is not an error: NULL is returned
 * with err->kind OMNI_E_NONE.
 */
#ifndef OMNI_FILE_H
#define OMNI_FILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

enum {
    OMNI_FILE_PRIVATE = 1 << 0,  /* refuse other bits, group w/x, group r unless our group */
    OMNI_FILE_OPTIONAL = 1 << 1, /* a missing file gives NULL, kind OMNI_E_NONE */
};

char *omni_file_read(const char *path, const char *what, size_t max, unsigned flags, size_t *len,
                     struct omni_err *err);
/* The OMNI_FILE_PRIVATE mode rule on a stat result: 0, or -1 with err set. */
int omni_file_mode_check(const char *path, const char *what, const struct stat *st,
                         struct omni_err *err);
/* Is gid the process's effective gid or one of its supplementary groups? */
int omni_file_in_group(gid_t gid);
/* Zero and free a buffer omni_file_read() returned (NULL is fine). */
void omni_file_wipe(char *buf, size_t len);

#endif
