/*
 * shell — the interactive `omnictl shell` and its completion.
 *
 * ctl_shell_run() reads command lines and hands each one to ctl_dispatch():
 * with libedit (history, Tab completion) when stdin is a terminal, plain
 * lines otherwise. History: $OMNI_HISTFILE, else
 * $XDG_STATE_HOME/omni/history, else ~/.local/state/omni/history.
 * Returns 0 when every command succeeded, else the last failing code.
 *
 * ctl_complete() is the completion model (no libedit): given the words
 * before the cursor and the partial word under it, it fills out[] with
 * matching candidates from the command table, the options of the command
 * being typed, output formats, and ids seen in earlier output.
 */
#ifndef OMNICTL_SHELL_H
#define OMNICTL_SHELL_H

#include <stddef.h>

struct ctl_ctx;

#define CTL_COMPLETE_MAX 256
#define CTL_LINE_MAX 65536

int ctl_shell_run(struct ctl_ctx *ctx);
size_t ctl_complete(const struct ctl_ctx *ctx, char *const *words, int nwords, const char *cur,
                    const char **out, size_t max);
/* History file path (malloc'd) or NULL when no location is known. */
char *ctl_history_path(void);

#endif
