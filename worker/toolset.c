/*
 * toolset — dispatch, input validation and result normalisation (toolset.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"
#include "tool_int.h"

static const struct {
    const char *name;
    void (*run)(struct tool_call *c);
} tool_table[] = {
    {"bash", tool_bash}, {"read", tool_read}, {"write", tool_write},
    {"edit", tool_edit}, {"glob", tool_glob}, {"grep", tool_grep},
};

/* ---- results ---- */

void tool_set(struct tool_call *c, int is_error, char *text)
{
    free(c->out->text);
    c->out->text = text;
    c->out->is_error = is_error;
}

static int tool_vset(struct tool_call *c, int is_error, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int tool_vset(struct tool_call *c, int is_error, const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    tool_set(c, is_error, s);
    return 0;
}

int tool_ok(struct tool_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tool_vset(c, 0, fmt, ap);
    va_end(ap);
    return 0;
}

int tool_err(struct tool_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tool_vset(c, 1, fmt, ap);
    va_end(ap);
    return 0;
}

int tool_cancelled(const struct tool_call *c)
{
    return c->cancel && *c->cancel;
}

int tool_expired(struct tool_call *c)
{
    if (omni_mono_ms() < c->deadline_ms)
        return 0;
    tool_err(c, "tool '%s' timed out", c->tool);
    return 1;
}

static char *json_quote(const char *s)
{
    struct buf b = BUF_INIT;
    if (buf_add_json_str(&b, s) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

void tool_path_fail(struct tool_call *c, const char *p, int kind, int errnum)
{
    char tmp[64];
    if (kind == PATHS_ERRNO) {
        tool_errno(c, p, errnum);
        return;
    }
    char *q = json_quote(p);
    /* Prefixed with the tool's name, as the SDK's refusedBy does. */
    if (kind == PATHS_OUTSIDE)
        tool_err(
            c, "%s: path %s is outside the session's working directory%s", c->tool, q ? q : "\"\"",
            paths_has_allowed_roots(c->ts->paths) ? " and its other permitted directories" : "");
    else
        tool_err(c, "%s: path %s: %s", c->tool, q ? q : "\"\"",
                 paths_reason(errnum, tmp, sizeof(tmp)));
    free(q);
}

const char *tool_readonly_root(struct tool_call *c, const char *abs, char *tmp, size_t tmplen)
{
    struct toolset *ts = c->ts;
    if (ts->save_dir[0] && abs) {
        int n = snprintf(tmp, tmplen, "%s/%s", paths_workdir(ts->paths), ts->save_dir);
        if (n > 0 && (size_t)n < tmplen && strncmp(abs, tmp, (size_t)n) == 0 &&
            (abs[n] == '/' || abs[n] == '\0'))
            return tmp;
    }
    return paths_readonly_root(ts->paths, abs);
}

void tool_errno(struct tool_call *c, const char *p, int e)
{
    char tmp[64];
    tool_err(c, "%s: %s: %s", c->tool, p, paths_reason(e, tmp, sizeof(tmp)));
}

int tool_regular_file(struct tool_call *c, const char *p, int fd, struct stat *st)
{
    if (fstat(fd, st) < 0) {
        tool_errno(c, p, errno);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        tool_err(c, "%s: %s is not a regular file", c->tool, p);
        return -1;
    }
    if (st->st_nlink > 1) {
        tool_err(c,
                 "%s: %s has %lu hard links; refused because a hard link can lead outside the "
                 "permitted directories",
                 c->tool, p, (unsigned long)st->st_nlink);
        return -1;
    }
    return 0;
}

int tool_search_root(struct tool_call *c, const char *path, int oflags, struct path_res *r,
                     const char **root)
{
    int fd;

    if (path && *path) {
        int kind = paths_open(c->ts->paths, path, oflags, r);
        if (kind != PATHS_OK) {
            tool_path_fail(c, path, kind, r->err);
            return -1;
        }
        fd = r->fd;
        r->fd = -1;
        *root = r->abs;
        return fd;
    }
    fd = openat(paths_workdir_fd(c->ts->paths), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        char tmp[64];
        tool_err(c, "%s: cannot open the working directory: %s", c->tool,
                 paths_reason(errno, tmp, sizeof(tmp)));
        return -1;
    }
    *root = paths_workdir(c->ts->paths);
    return fd;
}

/* ---- input fields ---- */

int tool_str(struct tool_call *c, const char *field, int required, const char **out)
{
    const cJSON *v = c->input ? cJSON_GetObjectItemCaseSensitive(c->input, field) : NULL;
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return tool_err(c, "%s: %s is required", c->tool, field), -1;
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return tool_err(c, "%s: %s must be a string", c->tool, field), -1;
    if (required == 1 && v->valuestring[0] == '\0')
        return tool_err(c, "%s: %s is required", c->tool, field), -1;
    *out = v->valuestring;
    return 0;
}

int tool_bool(struct tool_call *c, const char *field, int *out)
{
    const cJSON *v = c->input ? cJSON_GetObjectItemCaseSensitive(c->input, field) : NULL;
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return tool_err(c, "%s: %s must be a boolean", c->tool, field), -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

int tool_int(struct tool_call *c, const char *field, long long *out)
{
    const cJSON *v = c->input ? cJSON_GetObjectItemCaseSensitive(c->input, field) : NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
    /* range before the cast: casting an out-of-range double is undefined */
    if (!cJSON_IsNumber(v) || !(d >= -9.0e15 && d <= 9.0e15) || d != (double)(long long)d)
        return tool_err(c, "%s: %s must be an integer", c->tool, field), -1;
    *out = (long long)d;
    return 1;
}

/* ---- UTF-8 hygiene ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static char *utf8_filter(const char *in, size_t len, size_t *outlen, int terminal)
{
    const unsigned char *s = (const unsigned char *)in;
    struct buf b = BUF_INIT_MAX(len * 3 + 16);
    static const char fffd[] = "\xEF\xBF\xBD";
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = utf8_seq(s + i, len - i, &cp);
        if (n == 0) {
            buf_add(&b, fffd, 3);
            i++;
            continue;
        }
        if (cp == 0) {
            if (!terminal)
                buf_add(&b, fffd, 3);
            i += n;
            continue;
        }
        if (terminal) {
            if (cp == 0x1B) {
                /* Escape sequences: CSI, OSC/DCS/SOS/PM/APC strings, or ESC + final. */
                size_t j = i + 1;
                if (j < len && s[j] == '[') {
                    j++;
                    while (j < len && s[j] >= 0x30 && s[j] <= 0x3F)
                        j++;
                    while (j < len && s[j] >= 0x20 && s[j] <= 0x2F)
                        j++;
                    if (j < len && s[j] >= 0x40 && s[j] <= 0x7E)
                        j++;
                } else if (j < len && (s[j] == ']' || s[j] == 'P' || s[j] == 'X' || s[j] == '^' ||
                                       s[j] == '_')) {
                    j++;
                    while (j < len && s[j] != 0x07 &&
                           !(s[j] == 0x1B && j + 1 < len && s[j + 1] == '\\'))
                        j++;
                    if (j < len)
                        j += s[j] == 0x07 ? 1 : 2;
                } else {
                    while (j < len && s[j] >= 0x20 && s[j] <= 0x2F)
                        j++;
                    if (j < len && s[j] >= 0x30 && s[j] <= 0x7E)
                        j++;
                }
                i = j;
                continue;
            }
            if (cp == '\r') {
                if (i + 1 < len && s[i + 1] == '\n')
                    buf_addc(&b, '\r');
                i++;
                continue;
            }
            if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7F ||
                (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
                (cp >= 0x2066 && cp <= 0x2069)) {
                i += n;
                continue;
            }
        }
        buf_add(&b, in + i, n);
        i += n;
    }
    return buf_detach(&b, outlen);
}

char *utf8_clean(const char *s, size_t len, size_t *outlen)
{
    return utf8_filter(s, len, outlen, 0);
}

char *utf8_clean_terminal(const char *s, size_t len, size_t *outlen)
{
    return utf8_filter(s, len, outlen, 1);
}

size_t utf8_tail_start(const char *s, size_t len, size_t keep)
{
    if (len <= keep)
        return 0;
    size_t start = len - keep;
    /* Never start on a continuation byte (at most 3 steps forward). */
    for (int k = 0; k < 3 && start < len && ((unsigned char)s[start] & 0xC0) == 0x80; k++)
        start++;
    return start;
}

/* ---- lifecycle and dispatch ---- */

static char **strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **d = calloc(n + 1, sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i] = strdup(v[i]);
        if (!d[i]) {
            for (size_t j = 0; j < i; j++)
                free(d[j]);
            free(d);
            return NULL;
        }
    }
    return d;
}

struct toolset *toolset_new(const struct toolset_opts *o, struct omni_err *err)
{
    struct toolset *ts = calloc(1, sizeof(*ts));
    unsigned char rnd[16];
    if (!ts) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    ts->o = *o;
    ts->save_dirfd = -1;
    if (ts->o.bash_default_timeout_ms <= 0)
        ts->o.bash_default_timeout_ms = TOOLSET_BASH_DEFAULT_TIMEOUT_MS;
    if (ts->o.tool_timeout_ms <= 0)
        ts->o.tool_timeout_ms = TOOLSET_TOOL_TIMEOUT_MS;
    if (ts->o.bash_max_timeout_ms <= 0)
        ts->o.bash_max_timeout_ms = TOOLSET_BASH_MAX_TIMEOUT_MS;
    /* The per-call limit must stay above the largest effective bash timeout. */
    if (ts->o.bash_max_timeout_ms > ts->o.tool_timeout_ms - 1000)
        ts->o.bash_max_timeout_ms =
            ts->o.tool_timeout_ms > 2000 ? ts->o.tool_timeout_ms - 1000 : 1000;
    if (ts->o.bash_default_timeout_ms > ts->o.bash_max_timeout_ms)
        ts->o.bash_default_timeout_ms = ts->o.bash_max_timeout_ms;
    /* As the SDK's maxFileBytes: unset gives each tool its own cap, a number sets both. */
    ts->read_cap = ts->o.max_file_bytes ? ts->o.max_file_bytes : TOOLSET_MAX_READ_BYTES;
    ts->edit_cap = ts->o.max_file_bytes ? ts->o.max_file_bytes : TOOLSET_MAX_FILE_BYTES;
    if (ts->o.grep_timeout_ms <= 0)
        ts->o.grep_timeout_ms = TOOLSET_GREP_TIMEOUT_MS;
    ts->paths = paths_new(o->workdir, o->allowed_roots, o->readonly_roots, err);
    if (!ts->paths)
        goto fail;
    ts->o.workdir = paths_workdir(ts->paths);
    ts->o.allowed_roots = NULL;
    ts->o.readonly_roots = NULL;
    ts->pass_env = strv_dup(o->pass_env);
    ts->o.pass_env = NULL;
    if (!ts->pass_env) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        goto fail;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        omni_err_set(err, OMNI_E_IO, "getrandom: %s", strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(ts->tag + 2 * i, 3, "%02x", rnd[i]);
    return ts;
fail:
    toolset_free(ts);
    return NULL;
}

void toolset_free(struct toolset *ts)
{
    if (!ts)
        return;
    bash_close(ts);
    bash_saved_remove(ts);
    for (size_t i = 0; ts->pass_env && ts->pass_env[i]; i++)
        free(ts->pass_env[i]);
    free(ts->pass_env);
    paths_free(ts->paths);
    free(ts);
}

int toolset_owns(const struct toolset *ts, const char *name)
{
    (void)ts;
    for (size_t i = 0; name && i < sizeof(tool_table) / sizeof(tool_table[0]); i++)
        if (strcmp(name, tool_table[i].name) == 0)
            return 1;
    return 0;
}

/* 1 when s is valid UTF-8 (a NUL escaped in the JSON arrives as the byte
 * 0xFF, see omni_json_parse, so it fails here too). */
static int utf8_ok(const char *s)
{
    size_t len = strlen(s), i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_seq((const unsigned char *)s + i, len - i, &cp);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* 1 when some string (value or key) in v cannot be used exactly; *field is
 * the top-level key it is under. */
static int input_unrepresentable(const cJSON *v, const char **field, int depth)
{
    const cJSON *it;
    if (!v || depth > TOOLSET_INPUT_DEPTH_MAX)
        return 0;
    if (cJSON_IsString(v) && v->valuestring && !utf8_ok(v->valuestring))
        return 1;
    cJSON_ArrayForEach(it, v) {
        if ((it->string && !utf8_ok(it->string)) || input_unrepresentable(it, field, depth + 1)) {
            if (depth == 0)
                *field = it->string && utf8_ok(it->string) ? it->string : "input";
            return 1;
        }
    }
    return 0;
}

void toolset_run(struct toolset *ts, const char *name, const cJSON *input, volatile int *cancel,
                 struct tool_result *out)
{
    const char *field = NULL;
    struct tool_call c;
    out->is_error = 0;
    out->text = NULL;
    memset(&c, 0, sizeof(c));
    c.ts = ts;
    c.tool = name ? name : "";
    c.input = input;
    c.cancel = cancel;
    c.out = out;
    c.deadline_ms = omni_mono_ms() + ts->o.tool_timeout_ms;
    size_t i;
    for (i = 0; i < sizeof(tool_table) / sizeof(tool_table[0]); i++)
        if (strcmp(c.tool, tool_table[i].name) == 0)
            break;
    if (i == sizeof(tool_table) / sizeof(tool_table[0])) {
        tool_err(&c, "Error: unknown tool \"%s\"", c.tool);
    } else if (input && !cJSON_IsObject(input)) {
        tool_err(&c, "%s: input must be an object", c.tool);
    } else if (input_unrepresentable(input, &field, 0)) {
        tool_err(&c,
                 "%s: %s contains a NUL character or invalid UTF-8, which cannot be used "
                 "exactly; nothing was done",
                 c.tool, field ? field : "input");
    } else {
        tool_table[i].run(&c);
    }
    /* Normalise: valid UTF-8, no NUL, never empty. */
    if (!out->text) {
        out->is_error = 1;
        out->text = strdup("Error: out of memory");
        log_error("tool %s: result allocation failed", c.tool);
    }
    if (out->text) {
        char *clean = utf8_clean(out->text, strlen(out->text), NULL);
        if (clean) {
            free(out->text);
            out->text = clean;
        }
    }
    if (out->text && out->text[0] == '\0') {
        free(out->text);
        out->text = strdup(TOOL_NO_OUTPUT);
    }
}

void tool_result_release(struct tool_result *r)
{
    if (!r)
        return;
    free(r->text);
    r->text = NULL;
    r->is_error = 0;
}
