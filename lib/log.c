#include "log.h"

#include "buf.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "omni";
static enum log_format log_fmt = LOG_TEXT;
static enum log_level log_min = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "quiet"};

void log_setup(const char *prog, enum log_format format, enum log_level min_level)
{
    log_prog = prog;
    log_fmt = format;
    log_min = min_level;
}

void log_set_level(enum log_level min_level)
{
    log_min = min_level;
}

enum log_level log_get_level(void)
{
    return log_min;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_format_parse(const char *s, enum log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_JSON;
    else
        return -1;
    return 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i <= LOG_QUIET; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Text values with spaces or quotes are quoted so lines stay parseable. */
static void add_text_value(struct buf *b, const char *v)
{
    if (*v && !strpbrk(v, " \t\"=\n"))
        buf_adds(b, v);
    else
        buf_add_json_str(b, v);
}

static void emit(enum log_level level, const char *msg, va_list kv)
{
    struct buf b = BUF_INIT_MAX(64 * 1024);
    char ts[40];
    const char *k, *v;

    omni_rfc3339_format(omni_wall_us(), ts, sizeof ts, 3);
    if (log_fmt == LOG_JSON) {
        buf_addf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":", ts, level_names[level]);
        buf_add_json_str(&b, log_prog);
        buf_adds(&b, ",\"msg\":");
        buf_add_json_str(&b, msg);
        while ((k = va_arg(kv, const char *)) != NULL) {
            v = va_arg(kv, const char *);
            buf_addc(&b, ',');
            buf_add_json_str(&b, k);
            buf_addc(&b, ':');
            buf_add_json_str(&b, v ? v : "");
        }
        buf_adds(&b, "}\n");
    } else {
        buf_addf(&b, "%s %s %s: %s", ts, level_names[level], log_prog, msg);
        while ((k = va_arg(kv, const char *)) != NULL) {
            v = va_arg(kv, const char *);
            buf_addf(&b, " %s=", k);
            add_text_value(&b, v ? v : "");
        }
        buf_addc(&b, '\n');
    }
    if (b.overflow) {
        buf_reset(&b);
        buf_addf(&b, "%s %s %s: (log record too long, dropped)\n", ts, level_names[level],
                 log_prog);
    }
    if (write(log_fd, b.data, b.len) < 0) {
        /* nowhere left to report it */
    }
    buf_release(&b);
}

static void emit_kv(enum log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    emit_kv(level, line, (const char *)NULL);
}

void log_kv(enum log_level level, const char *msg, ...)
{
    va_list ap;

    if (level < log_min)
        return;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}
