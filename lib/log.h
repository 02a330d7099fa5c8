/*
 * log — one line per record on stderr, as text or JSON lines.
 *
 *   text:  2026-11-21T10:00:00.123Z info omni-worker: claimed work id=work_1 session=sesn_1
 *   json:  {"ts":"2026-11-21T10:00:00.123Z","level":"info","prog":"omni-worker",
 *           "msg":"claimed work","id":"work_1","session":"sesn_1"}
 *
 * log_kv() takes NULL-terminated key/value string pairs. Never pass a secret.
 * Thread-safe: each record is written with a single write(2).
 */
#ifndef OMNI_LOG_H
#define OMNI_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_QUIET };
enum log_format { LOG_TEXT = 0, LOG_JSON };

void log_setup(const char *prog, enum log_format format, enum log_level min_level);
void log_set_level(enum log_level min_level);
enum log_level log_get_level(void);
/* Redirect records to fd (default 2). */
void log_set_fd(int fd);
int log_format_parse(const char *s, enum log_format *out);
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
