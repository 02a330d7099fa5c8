#include "fatal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
