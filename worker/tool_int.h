/*
 * tool_int — internals shared by toolset.c and the tool_*.c files. Not an API:
 * only the toolset's own files include this.
 */
#ifndef OMNI_TOOL_INT_H
#define OMNI_TOOL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "paths.h"
#include "toolset.h"

#define TOOL_OUTPUT_CAP 102400u /* grep budget */
#define TOOL_NO_OUTPUT "(no output)"
#define BASH_OUTPUT_LIMIT 30000u                      /* UTF-16 units of a bash result */
#define BASH_SAVED_OUTPUT_BYTES (32ull * 1024 * 1024) /* saved long output */
/* Directories of saved bash output in the workdir (glob and grep skip them). */
#define TOOL_SAVE_DIR_PREFIX ".omni-bash-output-"

struct bash_state;

struct toolset {
    struct toolset_opts o; /* limits resolved; string pointers borrowed */
    size_t read_cap;       /* whole-file read and view_range selection */
    size_t edit_cap;
    struct paths *paths;
    char **pass_env; /* owned copy */
    char tag[33];    /* OMNI_TOOLSET_TAG value */
    struct bash_state *bash;
    /* The shell's saved long output: <workdir>/<save_dir>/<save_file>. */
    int save_dirfd; /* -1 when there is none */
    char save_dir[64];
    char save_file[64];
};

/* One call in progress: limits and the result being built. */
struct tool_call {
    struct toolset *ts;
    const char *tool;
    const cJSON *input;
    volatile int *cancel;
    int64_t deadline_ms; /* omni_mono_ms() limit for the whole call */
    struct tool_result *out;
};

/* Set the result (text copied; printf-style). Returns 0. */
int tool_ok(struct tool_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tool_err(struct tool_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of a malloc'd text. */
void tool_set(struct tool_call *c, int is_error, char *text);
/* The wall limit passed: sets "tool '<tool>' timed out" and returns 1. */
int tool_expired(struct tool_call *c);
int tool_cancelled(const struct tool_call *c);
/* Report a paths_* failure for p (guardrail or "<tool>: <p>: <reason>"). */
void tool_path_fail(struct tool_call *c, const char *p, int kind, int errnum);
/*
 * The read-only directory abs (canonical) is in, or NULL: the shell's saved
 * output directory (read-only as in the SDK; the text goes into tmp) or one of
 * the configured read-only roots.
 */
const char *tool_readonly_root(struct tool_call *c, const char *abs, char *tmp, size_t tmplen);
/* "<tool>: <p>: <reason>" for errno e. */
void tool_errno(struct tool_call *c, const char *p, int e);
/*
 * The guard before a file tool reads p's content through fd: fstat it into
 * *st and refuse anything but a regular file with one link (a hard link can
 * lead outside the permitted directories; see toolset.h). 0, or -1 with the
 * error result set ("<tool>: <p> is not a regular file", ...).
 */
struct stat;
int tool_regular_file(struct tool_call *c, const char *p, int fd, struct stat *st);
/*
 * The root of a glob/grep search: path opened with oflags within the
 * permitted directories, or the working directory when path is NULL or "".
 * Returns the fd (the caller closes it) and in *root its canonical path
 * (borrowed from r or the toolset), or -1 with the error result set.
 */
int tool_search_root(struct tool_call *c, const char *path, int oflags, struct path_res *r,
                     const char **root);

/*
 * Input fields. Each returns 0 and the value, or sets the error result and
 * returns -1. tool_str required: 0 optional, 1 required and non-empty, 2
 * required but may be empty. An absent optional field gives *out = NULL.
 */
int tool_str(struct tool_call *c, const char *field, int required, const char **out);
int tool_bool(struct tool_call *c, const char *field, int *out);
/* 1 when present as an integer-valued number, 0 when absent, -1 (error set) otherwise. */
int tool_int(struct tool_call *c, const char *field, long long *out);

/*
 * Text hygiene. utf8_clean: invalid bytes → U+FFFD, NUL → U+FFFD.
 * utf8_clean_terminal additionally strips escape sequences (CSI, OSC, DCS, ...),
 * C0 controls except \t and \n, \r unless it starts \r\n, DEL, C1 controls and
 * bidirectional-text controls. Both return a malloc'd NUL-terminated string.
 */
char *utf8_clean(const char *s, size_t len, size_t *outlen);
char *utf8_clean_terminal(const char *s, size_t len, size_t *outlen);
/* Largest n <= len such that s[len-n..] starts on a UTF-8 character boundary. */
size_t utf8_tail_start(const char *s, size_t len, size_t keep);

/* The tools. */
void tool_bash(struct tool_call *c);
void tool_read(struct tool_call *c);
void tool_write(struct tool_call *c);
void tool_edit(struct tool_call *c);
void tool_glob(struct tool_call *c);
void tool_grep(struct tool_call *c);

/* Atomic replace of dirfd/leaf with data (temp file, fsync, renameat). Keeps
 * mode bits of an existing file (mode < 0: new file, 0600). Returns 0 or errno. */
int tool_replace_file(int dirfd, const char *leaf, const void *data, size_t len, int mode);

/* bash shell lifecycle (tool_bash.c): kill the shell and forget it. */
void bash_close(struct toolset *ts);
/* Remove the shell's saved output file and its directory, if any. */
void bash_saved_remove(struct toolset *ts);
/*
 * Create the saved-output directory dname (0700, mkdirat: fails with EEXIST
 * on anything already there) under workfd, open it with O_NOFOLLOW into
 * *dirfd and create fname in it (O_CREAT|O_EXCL|O_NOFOLLOW, 0600). Returns the
 * file's fd, or -1 with errno set (nothing left behind). Exposed for tests.
 */
int bash_save_create(int workfd, const char *dname, const char *fname, int *dirfd);

#endif
