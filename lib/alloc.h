/*
 * alloc — the one set of allocation wrappers for every program.
 *
 * omni_xmalloc() and friends never return NULL. When memory runs out they call
 * the out-of-memory hook, which must not return. The default hook prints
 * "out of memory" to stderr and aborts. A program that has state to restore
 * first (the console's terminal) installs its own with omni_set_oom_hook() at
 * start-up; library code never exits on its own.
 *
 * Caller contract: use these only where the program could not go on without
 * the memory anyway (a table row, a copy of an id). Where a failure can be
 * reported (a response too large to hold), use malloc() and return an error.
 */
#ifndef OMNI_ALLOC_H
#define OMNI_ALLOC_H

#include <stddef.h>

typedef void (*omni_oom_hook)(void);

/* Install the out-of-memory hook (NULL restores the default). Returns the old one. */
omni_oom_hook omni_set_oom_hook(omni_oom_hook hook);
/* Run the hook; never returns. */
void omni_oom(void) __attribute__((noreturn));

void *omni_xmalloc(size_t n);
void *omni_xcalloc(size_t n, size_t size);
void *omni_xrealloc(void *p, size_t n);
/* realloc to n * size elements, refusing a product that overflows. */
void *omni_xreallocarray(void *p, size_t n, size_t size);
/* strdup; NULL gives "". */
char *omni_xstrdup(const char *s);
char *omni_xstrndup(const char *s, size_t n);

#endif
