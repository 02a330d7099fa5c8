#include "fatal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*fatal_hook)(void);

void con_fatal_set_hook(void (*hook)(void))
{
    fatal_hook = hook;
}

void con_fatal(const char *fmt, ...)
{
    va_list ap;
    void (*hook)(void) = fatal_hook;

    fatal_hook = NULL; /* a failing hook must not recurse */
    if (hook)
        hook();
    fputs("omni-console: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void con_oom(void)
{
    con_fatal("out of memory");
}

void *con_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        con_oom();
    return p;
}

void *con_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        con_oom();
    return p;
}

void *con_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        con_oom();
    return q;
}

char *con_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        con_oom();
    return p;
}
