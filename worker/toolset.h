/*
 * toolset — the six built-in tools of agent_toolset_20260401 run locally:
 * bash, read, write, edit, glob, grep (toolset.md is the contract: tool names,
 * input fields, result and error texts, limits).
 *
 * Caller steps (one toolset per session):
 *   1. toolset_new() with the session's workdir (must exist) and options.
 *   2. For each agent.tool_use whose name toolset_owns(): toolset_run(), post
 *      out.text with is_error, then tool_result_release(). Calls must be made
 *      one at a time (the toolset is not thread-safe).
 *   3. toolset_free() at the end of the session: kills the persistent shell's
 *      process group and every process that stayed in its session or carries
 *      its tag (see bash below), and removes the private scratch directory.
 *
 * Result texts (exactly as toolset.md Appendix B, with these C worker rules):
 *   - never empty: "(no output)" replaces an empty success;
 *   - always valid UTF-8 without NUL: invalid bytes and NUL become U+FFFD;
 *   - input validation (§2.2): "<tool>: <field> is required" for a missing (or
 *     empty, for required strings) field and "<tool>: <field> must be <type>"
 *     for a wrong type; unknown extra fields are accepted;
 *   - guardrail refusals have no tool prefix: path "<p>" is outside the
 *     session's working directory [and its other permitted directories], or
 *     path "<p>": <reason>; reasons come from the §3.4 table only (never host
 *     errno text or host paths);
 *   - every call has a wall limit (tool_timeout_ms): "<tool>: timed out after <n>s".
 *
 * Deliberate differences from the TypeScript SDK (flag them in the changelog):
 *   - paths are opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS) or a
 *     component walker (paths.h), so swapped symlinks cannot escape;
 *   - hard links: read and edit refuse a regular file with more than one link
 *     ("read: <p> has <n> hard links; refused because a hard link can lead
 *     outside the permitted directories"), since no path check can see where
 *     the other names are. write is allowed: it replaces the name with a new
 *     file (rename), so the other names keep the old content untouched;
 *   - bash: a non-zero exit appends a line "exit <n>" to the output; a syntax
 *     error is reported without running anything (bash -n first, the text is
 *     bash's own "bash: line N: ..."); `exit N` / `exec` keep the output and
 *     add the line "bash: shell exited with status N; a new shell will start
 *     on the next call" (or "... was killed by signal N; ..."), is_error when N
 *     is not 0; whitespace- or comment-only commands give "(no output)";
 *     escape sequences and C0 controls (except \t, \n, and \r before \n) are
 *     stripped; the tail kept is 102,400 bytes cut on a UTF-8 boundary;
 *   - edit works on raw bytes (bytes outside the match are kept as they were);
 *     a missing new_string is an error;
 *   - glob never follows symlinks while walking, and sorts by mtime in ns.
 *
 * bash: one persistent /bin/bash --noprofile --norc per toolset, started on
 * the first command, with pipes (no PTY), in its own session and process group
 * (setsid), cwd = workdir. Each command is written to a file in a private
 * 0700 scratch directory, checked with `bash -n`, then the shell sources it
 * (stdin from /dev/null, stderr merged; messages naming the file are shown
 * as "bash: line N: ...") and prints a per-call random sentinel and the
 * status afterwards. Environment: built from an
 * allowlist, never from the worker's environment: PATH, HOME=<workdir>, LANG,
 * LC_*, TZ, USER, LOGNAME, TERM=dumb, PS1=, PS2=, OMNI_TOOLSET_TAG=<random>,
 * plus the names in pass_env (an ANTHROPIC_* name is never passed). On close,
 * timeout, abort or restart: SIGKILL to the process group, to every process
 * in the shell's session (field 6 of /proc/PID/stat), and to every process
 * of our uid whose environment holds the tag (this catches setsid'd and
 * daemonised children that kept their environment). A process that leaves the
 * session AND clears its environment survives: bash is not a sandbox.
 *
 * grep dialect (for the man page): the built-in walker only; no external rg
 * is ever run (simpler and safer: no PATH lookup, no config files, no helper
 * binaries the agent could replace). Patterns are PCRE2 (Perl-compatible:
 * look-around, back-references, \d \w \s are ASCII-only, case-sensitive
 * unless the pattern says (?i)), matched in UTF-8 mode against each line
 * without its line ending; invalid UTF-8 in a file does not stop the search.
 * A match limit and depth limit bound each line; the whole search stops after
 * grep_timeout_ms (default 60,000 ms). The walk enters real directories only
 * (no symlinks, depth <= 40), skips .git and node_modules, searches regular
 * files including hidden ones, in name order, and stops after 50,000 entries.
 * Lines longer than 2,000 bytes are skipped; a 64 KiB chunk holding a NUL
 * byte ends that file. Each hit reads "<absolute path>:<line>:<text>".
 *
 * glob dialect: "/"-separated segments; "**" matches zero or more directories
 * (not descending into names starting with "."); other segments use
 * fnmatch(3) with FNM_PERIOD ("*", "?", "[...]"; a leading "." must be
 * literal); "{a,b}" alternatives are expanded first (at most 64). Regular
 * files only, .git and node_modules pruned, newest first, at most 200 paths.
 */
#ifndef OMNI_TOOLSET_H
#define OMNI_TOOLSET_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

#define TOOLSET_BASH_DEFAULT_TIMEOUT_MS 295000L /* SDK 1.16 BASH_TIMEOUT_MS */
#define TOOLSET_BASH_MAX_TIMEOUT_MS 295000L     /* a larger timeout_ms is clamped to this */
#define TOOLSET_TOOL_TIMEOUT_MS 325000L         /* SDK 1.16 SessionToolRunner TOOL_TIMEOUT_MS */
#define TOOLSET_MAX_READ_BYTES 110000u          /* whole-file read, view_range selection */
#define TOOLSET_MAX_FILE_BYTES 262144u          /* edit */
#define TOOLSET_GREP_TIMEOUT_MS 60000L
#define TOOLSET_INPUT_DEPTH_MAX 64 /* nesting checked for unrepresentable strings */

struct toolset_opts {
    const char *workdir;               /* per-session directory, must exist */
    const char *const *allowed_roots;  /* NULL-terminated absolute dirs, or NULL */
    const char *const *readonly_roots; /* NULL-terminated absolute dirs, or NULL */
    const char *const *pass_env;       /* extra variable names for bash (allowlist) */
    long bash_default_timeout_ms;      /* 0 → 295000 */
    long bash_max_timeout_ms;          /* 0 → 295000; kept below tool_timeout_ms */
    long tool_timeout_ms;              /* 0 → 325000: per-call wall limit */
    size_t max_file_bytes;             /* 0 → read 110000, edit 262144; n → both n */
    long grep_timeout_ms;              /* 0 → 60000 */
};

struct toolset;

/* Returns NULL and fills err when the workdir cannot be opened. */
struct toolset *toolset_new(const struct toolset_opts *o, struct omni_err *err);
/* Kills the persistent shell and its descendants (see above); NULL is a no-op. */
void toolset_free(struct toolset *ts);
/* 1 when name is one of bash, read, write, edit, glob, grep (exact case). */
int toolset_owns(const struct toolset *ts, const char *name);

struct tool_result {
    int is_error;
    char *text; /* malloc'd, valid UTF-8, never empty */
};

/*
 * Run one call. input is the agent.tool_use "input" object (may be NULL,
 * treated as {}). Never fails: every problem becomes an is_error result.
 * cancel (may be NULL): when it becomes non-zero a running call stops
 * ("bash: This operation was aborted", "grep: aborted", "glob: aborted").
 */
void toolset_run(struct toolset *ts, const char *name, const cJSON *input, volatile int *cancel,
                 struct tool_result *out);
void tool_result_release(struct tool_result *r);

#endif
