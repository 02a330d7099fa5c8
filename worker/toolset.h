/*
 * toolset — the six built-in tools of agent_toolset_20260401 run locally:
 * bash, read, write, edit, glob, grep (toolset.md is the contract: tool names,
 * input fields, result and error texts, limits; where SDK 1.16 changed them,
 * 1.16's texts and limits apply, as listed in docs/COMPAT.md).
 *
 * Caller steps (one toolset per session, or per session thread):
 *   1. toolset_new() with the session's workdir (must exist) and options.
 *   2. For each agent.tool_use whose name toolset_owns(): toolset_run(), post
 *      out.text with is_error, then tool_result_release(). The calls of one
 *      toolset must be made one at a time; different toolsets share no
 *      mutable state and may be used at once from different threads (each
 *      has its own shell, saved output, path guard and limits).
 *   3. toolset_free() at the end of the session: kills the persistent shell's
 *      process group and every process that stayed in its session or carries
 *      its tag (see bash below), and removes its saved output.
 *
 * Result texts (as toolset.md Appendix B and SDK 1.16, with these C worker
 * rules):
 *   - never empty: "(no output)" replaces an empty success (1.16 returns "");
 *   - always valid UTF-8 without NUL: invalid bytes and NUL become U+FFFD;
 *   - input validation (§2.2): "<tool>: <field> is required" for a missing (or
 *     empty, for required strings) field and "<tool>: <field> must be <type>"
 *     for a wrong type; unknown extra fields are accepted;
 *   - guardrail refusals name the tool, as 1.16's refusedBy: "<tool>: path
 *     "<p>" is outside the session's working directory[ and its other
 *     permitted directories]", or "<tool>: path "<p>": <reason>"; reasons come
 *     from the §3.4 table only (never host errno text or host paths);
 *   - every call has a wall limit (tool_timeout_ms, default 325 s, the SDK's
 *     session tool runner): "tool '<tool>' timed out" (the runner's text);
 *   - read: a whole file above 110,000 bytes is refused ("read: <p> is <n>
 *     bytes, exceeds 110000-byte limit. Use the view_range parameter ...");
 *     with view_range it is streamed and the selected bytes are capped at the
 *     same size (1.16's two texts); edit's cap is 256 KiB; max_file_bytes,
 *     when set, is both caps (1.16's maxFileBytes).
 *
 * Deliberate differences from the TypeScript SDK (flag them in the changelog):
 *   - paths are opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS) or a
 *     component walker (paths.h), so swapped symlinks cannot escape;
 *   - hard links: read and edit refuse a regular file with more than one link
 *     ("read: <p> has <n> hard links; refused because a hard link can lead
 *     outside the permitted directories"), since no path check can see where
 *     the other names are. write is allowed: it replaces the name with a new
 *     file (rename), so the other names keep the old content untouched;
 *   - bash: escape sequences of every kind and C0 controls (except \t, \n,
 *     and \r before \n) are stripped, not only CSI; lengths are counted as
 *     1.16 does (UTF-16 units, an invalid byte is one U+FFFD); the long output
 *     is saved in the workdir, not in the system temporary directory (see
 *     bash below);
 *   - edit works on raw bytes (bytes outside the match are kept as they were);
 *     a missing new_string, or write's missing content, is an error;
 *   - glob never follows symlinks while walking, and sorts by mtime in ns.
 *
 * bash (as 1.16): one persistent /bin/bash --noprofile --norc per toolset,
 * started on the first command, with three pipes (no PTY), in its own session
 * and process group (setsid), cwd = workdir. Each command runs through the
 * SDK's framing (eval, stdin from /dev/null, stdout and stderr apart, a
 * per-call random sentinel with the status; the same shell input lines, so
 * bash's "/bin/bash: line N:" numbers are the SDK's). The result is stdout,
 * then "\n" and stderr when stderr is not empty (stderr first when the
 * status is not 0), trailing newlines trimmed; a status other than 0 makes it
 * an error (no "exit N" line). Above 30,000 UTF-16 units the first 30,000 are
 * kept, then "\n\n... [N lines truncated] Full output saved to: <path> — use
 * read with view_range to read specific portions. ..." ("First 32 MiB of
 * output saved to:" past 32 MiB; an empty sentence when it could not be
 * saved). The file is <workdir>/.omni-bash-output-<16 hex>/<32 hex>.txt,
 * made with mkdirat (0700) and openat O_CREAT|O_EXCL|O_NOFOLLOW (0600) under
 * the workdir's descriptor; the next long output replaces it, a restart or
 * toolset_free removes it; read and grep reach it, write and edit refuse it
 * ("<tool>: <p> is inside read-only directory <dir>"), grep and glob walks
 * skip it. Output past the first 90 KB of a stream goes to an unnamed file
 * (O_TMPFILE in $TMPDIR or /tmp), never more than 32 MiB in memory or on
 * disk. timeout_ms <= 0 means bash_default_timeout_ms (295 s); larger than
 * bash_max_timeout_ms (295 s) is clamped. A timeout appends "\ncommand timed
 * out after <s>s\n" to stderr; a timeout, a cancel ("bash: This operation was
 * aborted") or the wall limit kills the shell; a result whose shell ended
 * (timeout, exit, exec, killed) ends with "\n[The shell is gone. Call bash
 * with restart set to true ...]", and every later call is refused with "[This
 * command did not run, because the shell is gone. ...]" until one passes
 * restart ("bash session restarted" without a command; "bash: command is
 * required" with neither). Background jobs keep running between calls (their
 * output between calls is dropped) and die with the shell. Environment: built
 * from an allowlist, never from the worker's environment: PATH,
 * HOME=<workdir>, LANG, LC_*, TZ, USER, LOGNAME, TERM=dumb, PS1=, PS2=,
 * HISTFILE=, OMNI_TOOLSET_TAG=<random>, plus the names in pass_env (an
 * ANTHROPIC_* name is never passed). On close, timeout, abort or restart:
 * SIGKILL to the process group, to every process in the shell's session
 * (field 6 of /proc/PID/stat), and to every process of our uid whose
 * environment holds the tag (this catches setsid'd and daemonised children
 * that kept their environment). A process that leaves the session AND clears
 * its environment survives: bash is not a sandbox.
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
 * files including hidden ones (not .omni-bash-output-*), in name order, and
 * stops after 50,000 entries.
 * Lines longer than 2,000 bytes are skipped; a 64 KiB chunk holding a NUL
 * byte ends that file. Each hit reads "<absolute path>:<line>:<text>".
 *
 * glob dialect: "/"-separated segments; "**" matches zero or more directories
 * (not descending into names starting with "."); other segments use
 * fnmatch(3) with FNM_PERIOD ("*", "?", "[...]"; a leading "." must be
 * literal); "{a,b}" alternatives are expanded first (at most 64). Regular
 * files only, .git, node_modules and .omni-bash-output-* pruned, newest first,
 * at most 200 paths.
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
