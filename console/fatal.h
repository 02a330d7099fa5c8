/*
 * fatal — omni-console's one "cannot continue" path.
 *
 * con_fatal() runs the hook installed with con_fatal_set_hook() (the UI's
 * endwin(), so the terminal is restored before anything is printed), then
 * prints "omni-console: <message>" to stderr and exits with status 1.
 *
 * Allocation goes through lib/alloc.h (omni_xmalloc() and friends); main()
 * installs con_oom() as its out-of-memory hook with omni_set_oom_hook() before
 * anything else, so running out of memory takes this path too: endwin, then
 * "omni-console: out of memory", exit 1.
 */
#ifndef CONSOLE_FATAL_H
#define CONSOLE_FATAL_H

#include "alloc.h"

void con_fatal_set_hook(void (*hook)(void));
void con_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* The console's out-of-memory hook: con_fatal("out of memory"). */
void con_oom(void) __attribute__((noreturn));

#endif
