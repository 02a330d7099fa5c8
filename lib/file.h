/*
 * file — read a small local file whole, safely: the one reader behind key
 * files, config files and the worker's work-secret file.
 *
 * The file must be a regular file (a FIFO or a device is refused before any
 * read, so nothing blocks) of at most `max` bytes, counted as read (a file that
 * grows while it is read is refused too). OMNI_FILE_PRIVATE also refuses a
 * file that group or others may access, with the chmod that fixes it.
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

#include "err.h"

enum {
    OMNI_FILE_PRIVATE = 1 << 0,  /* refuse a mode with any group/other bit */
    OMNI_FILE_OPTIONAL = 1 << 1, /* a missing file gives NULL, kind OMNI_E_NONE */
};

char *omni_file_read(const char *path, const char *what, size_t max, unsigned flags, size_t *len,
                     struct omni_err *err);
/* Zero and free a buffer omni_file_read() returned (NULL is fine). */
void omni_file_wipe(char *buf, size_t len);

#endif
