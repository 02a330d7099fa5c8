/*
 * fatal — omni-console's one "cannot continue" path and allocation wrappers.
 *
 * con_fatal() runs the hook installed with con_fatal_set_hook() (the UI's
 * endwin(), so the terminal is restored before anything is printed), then
 * prints "omni-console: <message>" to stderr and exits with status 1.
 * con_xmalloc() and friends never return NULL: they call con_oom().
 */
#ifndef CONSOLE_FATAL_H
#define CONSOLE_FATAL_H

#include <stddef.h>

void con_fatal_set_hook(void (*hook)(void));
void con_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void con_oom(void) __attribute__((noreturn));
void *con_xmalloc(size_t n);
void *con_xcalloc(size_t n, size_t size);
void *con_xrealloc(void *p, size_t n);
char *con_xstrdup(const char *s);

#endif
