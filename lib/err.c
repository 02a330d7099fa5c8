#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void omni_err_clear(struct omni_err *e)
{
    struct omni_err z = OMNI_ERR_INIT;
    *e = z;
}

int omni_err_set(struct omni_err *e, enum omni_err_kind kind, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    omni_err_clear(e);
    e->kind = kind;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int omni_err_prefix(struct omni_err *e, const char *fmt, ...)
{
    char pre[256], old[sizeof e->msg];
    va_list ap;

    if (!e)
        return -1;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
    return -1;
}

int omni_err_is_fatal(const struct omni_err *e)
{
    if (e->kind != OMNI_E_HTTP)
        return e->kind == OMNI_E_USAGE || e->kind == OMNI_E_CONFIG;
    if (e->status >= 400 && e->status < 500)
        return e->status != 408 && e->status != 409 && e->status != 429;
    return 0;
}

int omni_err_is_transient(const struct omni_err *e)
{
    switch (e->kind) {
    case OMNI_E_NET:
    case OMNI_E_TIMEOUT:
    case OMNI_E_PARSE:
    case OMNI_E_TOOBIG:
        return 1;
    case OMNI_E_HTTP:
        return !omni_err_is_fatal(e);
    default:
        return 0;
    }
}

const char *omni_err_kind_name(enum omni_err_kind kind)
{
    static const char *const names[] = {
        "none",    "usage", "config", "io",      "network",
        "timeout", "http",  "parse",  "too-big", "aborted",
    };
    if ((unsigned)kind < sizeof names / sizeof names[0])
        return names[kind];
    return "unknown";
}
