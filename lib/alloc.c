#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom_default(void)
{
    fputs("out of memory\n", stderr);
    abort();
}

static omni_oom_hook oom_hook = oom_default;

omni_oom_hook omni_set_oom_hook(omni_oom_hook hook)
{
    omni_oom_hook old = oom_hook;

    oom_hook = hook ? hook : oom_default;
    return old;
}

void omni_oom(void)
{
    omni_oom_hook hook = oom_hook;

    oom_hook = oom_default; /* a hook that allocates and fails must not recurse */
    hook();
    abort(); /* the hook broke its contract by returning */
}

void *omni_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        omni_oom();
    return p;
}

void *omni_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        omni_oom();
    return p;
}

void *omni_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        omni_oom();
    return q;
}

void *omni_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        omni_oom();
    return omni_xrealloc(p, n * size);
}

char *omni_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");

    if (!p)
        omni_oom();
    return p;
}

char *omni_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s ? s : "", n);

    if (!p)
        omni_oom();
    return p;
}
