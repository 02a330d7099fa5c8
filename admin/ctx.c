#include "ctx.h"

#include "alloc.h"
#include "commands.h"
#include "creds.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTL_ANSWER_MAX 64

void ctx_init(struct ctl_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->out = stdout;
    ctx->err = stderr;
    ctx->in = stdin;
    ctx->prog = "omnictl";
}

int ctx_ids_path(char *out, size_t n)
{
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    int r;

    if (x && *x)
        r = snprintf(out, n, "%s/omni/ids", x);
    else if (h && *h)
        r = snprintf(out, n, "%s/.cache/omni/ids", h);
    else
        return -1;
    return r < 0 || (size_t)r >= n ? -1 : 0;
}

/*
 * Keep the ids this run printed for the bash completion (`omnictl __ids`):
 * the cache file's old ids then the new ones, deduplicated, the newest
 * CTL_IDS_MAX kept; written to a temporary file and renamed, mode 0600.
 * Best effort: a cache that cannot be written is no error.
 */
static void ids_save(struct ctl_ctx *ctx)
{
    char path[4096], tmp[4200], line[OMNI_ID_MAX + 2], *all[2 * CTL_IDS_MAX];
    size_t n = 0, first;
    FILE *f;
    int fd;

    if (!ctx->save_ids || ctx->nids == 0 || ctx_ids_path(path, sizeof path) < 0)
        return;
    if ((f = fopen(path, "re"))) {
        while (n < CTL_IDS_MAX && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (omni_id_valid(line))
                all[n++] = omni_xstrdup(line);
        }
        fclose(f);
    }
    for (size_t i = 0; i < ctx->nids; i++) {
        size_t j;
        for (j = 0; j < n && strcmp(all[j], ctx->ids[i]) != 0; j++)
            ;
        if (j < n) { /* seen again: move to the end */
            char *s = all[j];
            memmove(&all[j], &all[j + 1], (n - j - 1) * sizeof *all);
            all[n - 1] = s;
        } else if (ctx->ids[i][0]) {
            all[n++] = omni_xstrdup(ctx->ids[i]);
        }
    }
    first = n > CTL_IDS_MAX ? n - CTL_IDS_MAX : 0;
    {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        char *up = strrchr(path, '/');
        if (up) {
            *up = '\0';
            mkdir(path, 0700);
            *up = '/';
        }
        mkdir(path, 0700);
        *slash = '/';
    }
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd >= 0 && (f = fdopen(fd, "w"))) {
        for (size_t i = first; i < n; i++)
            fprintf(f, "%s\n", all[i]);
        if (fclose(f) != 0 || rename(tmp, path) != 0)
            unlink(tmp);
    } else if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    for (size_t i = 0; i < n; i++)
        free(all[i]);
}

void ctx_release(struct ctl_ctx *ctx)
{
    ids_save(ctx);
    omni_client_free(ctx->api);
    ctx->api = NULL;
    if (ctx->prof_loaded)
        omni_profile_release(&ctx->prof);
    ctx->prof_loaded = 0;
    for (size_t i = 0; i < ctx->nids; i++)
        free(ctx->ids[i]);
    ctx->nids = ctx->ids_next = 0;
}

/*
 * Server strings reach a terminal through everything omnictl prints: copy s
 * with C0/C1 control characters (but \n and \t), DEL and invalid UTF-8
 * replaced by '?', so no escape sequence or broken text gets through.
 */
static char *clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char *out = omni_xmalloc(n + 1), *o = out;

    while (*p) {
        size_t len = *p < 0x80             ? 1
                     : (*p & 0xe0) == 0xc0 ? 2
                     : (*p & 0xf0) == 0xe0 ? 3
                     : (*p & 0xf8) == 0xf0 ? 4
                                           : 0;
        int ok = len > 0;
        unsigned cp = len == 1 ? *p : len == 2 ? *p & 0x1fu : len == 3 ? *p & 0x0fu : *p & 0x07u;
        for (size_t i = 1; ok && i < len; i++) {
            ok = (p[i] & 0xc0) == 0x80;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if (ok && len > 1) /* no overlong forms, surrogates or values past U+10FFFF */
            ok = cp >= (len == 2   ? 0x80u
                        : len == 3 ? 0x800u
                                   : 0x10000u) &&
                 !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff;
        if (ok && ((cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f)))
            ok = 0;
        if (!ok) {
            *o++ = '?';
            p++;
            continue;
        }
        memcpy(o, p, len);
        o += len;
        p += len;
    }
    *o = '\0';
    return out;
}

void ctx_out(struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL, *c;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    c = clean_text(s);
    fputs(c, ctx->out);
    free(c);
    free(s);
}

void ctx_error(struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fprintf(ctx->err, "%s: ", ctx->prog);
    va_start(ap, fmt);
    vfprintf(ctx->err, fmt, ap);
    va_end(ap);
    fputc('\n', ctx->err);
    fflush(ctx->err);
}

int ctx_fail(struct ctl_ctx *ctx, const struct omni_err *err)
{
    ctx_error(ctx, "%s", err->msg[0] ? err->msg : "unknown error");
    return omni_exit_code(err);
}

int ctx_usage_error(struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    FILE *f = ctx->nagios_usage ? ctx->out : ctx->err;

    /* A monitoring plugin reports on stdout: one UNKNOWN line, exit 3. */
    fprintf(f, ctx->nagios_usage ? "OMNI UNKNOWN - usage: " : "%s: ", ctx->prog);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
    if (ctx->nagios_usage) {
        ctx->nagios_usage = 0; /* one line only */
        return CTL_NAGIOS_UNKNOWN;
    }
    return CTL_EXIT_USAGE;
}

const struct omni_profile *ctx_profile(struct ctl_ctx *ctx, struct omni_err *err)
{
    struct omni_profile_args pa = {0};

    if (ctx->prof_loaded)
        return &ctx->prof;
    pa.prog = ctx->prog;
    pa.profile = ctx->profile;
    pa.base_url = ctx->base_url;
    pa.workspace = ctx->workspace;
    pa.timeout_ms = ctx->timeout_ms;
    pa.default_timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
    if (omni_profile_load(&ctx->prof, &pa, err) < 0)
        return NULL;
    ctx->prof_loaded = 1;
    return &ctx->prof;
}

const char *ctx_config_get(struct ctl_ctx *ctx, const char *key)
{
    struct omni_err err = OMNI_ERR_INIT;
    const struct omni_profile *p = ctx_profile(ctx, &err);
    return p ? omni_profile_get(p, key) : NULL;
}

static struct omni_client *client_make(struct ctl_ctx *ctx, enum omni_auth auth, const char *key,
                                       struct omni_err *err)
{
    struct omni_client_opts o;

    omni_profile_client_opts(&ctx->prof, auth, key, &o);
    o.user_agent = "omnictl/" OMNI_VERSION;
    o.debug = ctx->verbose;
    o.abort = &ctx->cancel;
    return omni_client_new(&o, err);
}

struct omni_client *ctx_api(struct ctl_ctx *ctx, struct omni_err *err)
{
    char *key;

    if (ctx->api)
        return ctx->api;
    if (!ctx_profile(ctx, err) || !(key = omni_profile_org_key(&ctx->prof, err)))
        return NULL;
    ctx->api = client_make(ctx, OMNI_AUTH_API_KEY, key, err);
    omni_key_free(key);
    return ctx->api;
}

struct omni_client *ctx_env_client(struct ctl_ctx *ctx, const char *env_id, struct omni_err *err)
{
    struct omni_client *c;
    char *key;

    if (!ctx_profile(ctx, err) || !(key = omni_profile_env_key(&ctx->prof, env_id, err)))
        return NULL;
    c = client_make(ctx, OMNI_AUTH_BEARER, key, err);
    omni_key_free(key);
    return c;
}

const char *ctx_env(struct ctl_ctx *ctx, const char *given, struct omni_err *err)
{
    const char *e = given;
    if (!e || !*e)
        e = ctx_config_get(ctx, "environment");
    if (!e || !*e) {
        omni_err_set(err, OMNI_E_USAGE,
                     "no environment: pass --env ENV or set \"environment = ENV\" in the config");
        return NULL;
    }
    if (!omni_id_valid(e)) {
        omni_err_set(err, OMNI_E_USAGE, "invalid environment id \"%.80s\"", e);
        return NULL;
    }
    return e;
}

int ctx_confirm(struct ctl_ctx *ctx, const char *fmt, ...)
{
    char answer[CTL_ANSWER_MAX];
    va_list ap;

    if (!isatty(fileno(ctx->in)))
        return 1;
    va_start(ap, fmt);
    vfprintf(ctx->err, fmt, ap);
    va_end(ap);
    fputs(" [y/N] ", ctx->err);
    fflush(ctx->err);
    if (!fgets(answer, sizeof answer, ctx->in))
        return 0;
    return answer[0] == 'y' || answer[0] == 'Y';
}

void ctx_note_id(struct ctl_ctx *ctx, const char *s)
{
    static const char *const prefixes[] = {"env_",  "work_",  "sesn_", "agent_",
                                           "sevt_", "toolu_", NULL};
    int match = 0;

    if (!s || !omni_id_valid(s))
        return;
    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(s, *p, strlen(*p)) == 0)
            match = 1;
    if (!match)
        return;
    for (size_t i = 0; i < ctx->nids; i++)
        if (strcmp(ctx->ids[i], s) == 0)
            return;
    if (ctx->nids < CTL_IDS_MAX) {
        ctx->ids[ctx->nids++] = strdup(s);
        if (!ctx->ids[ctx->nids - 1])
            ctx->nids--;
        return;
    }
    free(ctx->ids[ctx->ids_next]);
    ctx->ids[ctx->ids_next] = strdup(s);
    if (!ctx->ids[ctx->ids_next])
        ctx->ids[ctx->ids_next] = strdup("");
    ctx->ids_next = (ctx->ids_next + 1) % CTL_IDS_MAX;
}

static void note_ids_json(struct ctl_ctx *ctx, const cJSON *j, int depth)
{
    const cJSON *it;
    if (depth > 4 || !j)
        return;
    cJSON_ArrayForEach(it, j) {
        if (cJSON_IsString(it) && it->string &&
            (strcmp(it->string, "id") == 0 || strstr(it->string, "_id")))
            ctx_note_id(ctx, it->valuestring);
        else if (cJSON_IsObject(it) || cJSON_IsArray(it))
            note_ids_json(ctx, it, depth + 1);
    }
}

void ctx_json_time(cJSON *o, const char *key, int64_t us)
{
    char t[40];
    if (us)
        cJSON_AddStringToObject(o, key, omni_rfc3339_format(us, t, sizeof t, 6));
    else
        cJSON_AddNullToObject(o, key);
}

void ctx_json(struct ctl_ctx *ctx, const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (s) {
        /* cJSON escapes control characters; invalid UTF-8 it passes through */
        char *c = clean_text(s);
        fputs(c, ctx->out);
        free(c);
        fputc('\n', ctx->out);
        free(s);
    }
    note_ids_json(ctx, j, 0);
}

const char *ctx_col(const struct ctl_ctx *ctx, const char *code)
{
    if (!ctx->color)
        return "";
    if (strcmp(code, CTL_RED) == 0)
        return "\033[31m";
    if (strcmp(code, CTL_YELLOW) == 0)
        return "\033[33m";
    if (strcmp(code, CTL_GREEN) == 0)
        return "\033[32m";
    if (strcmp(code, CTL_BOLD) == 0)
        return "\033[1m";
    return "\033[0m";
}

/* ---- tables ----------------------------------------------------------- */

void ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > CTL_TABLE_MAX_COLS ? CTL_TABLE_MAX_COLS : ncols;
    ctl_table_row(t, headers, NULL);
}

void ctl_table_row(struct ctl_table *t, const char *const *cells, const char *color)
{
    if (t->nrows == t->alloc) {
        size_t na = t->alloc ? t->alloc * 2 : 16;
        t->cells = omni_xreallocarray(t->cells, na * t->ncols, sizeof *t->cells);
        t->row_color = omni_xreallocarray(t->row_color, na, sizeof *t->row_color);
        t->alloc = na;
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = clean_text(cells[i] && *cells[i] ? cells[i] : "-");
    t->row_color[t->nrows] = color;
    t->nrows++;
}

void ctl_table_print(struct ctl_ctx *ctx, const struct ctl_table *t)
{
    size_t w[CTL_TABLE_MAX_COLS] = {0};

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        const char *col = r == 0 ? CTL_BOLD : t->row_color[r];
        if (col && ctx->color)
            fputs(ctx_col(ctx, col), ctx->out);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (r > 0)
                ctx_note_id(ctx, cell);
            if (c + 1 == t->ncols)
                fputs(cell, ctx->out);
            else
                fprintf(ctx->out, "%-*s  ", (int)w[c], cell);
        }
        if (col && ctx->color)
            fputs("\033[0m", ctx->out);
        fputc('\n', ctx->out);
    }
}

void ctl_table_release(struct ctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->row_color);
    memset(t, 0, sizeof *t);
}

static int time_local;

void ctl_time_local(int on)
{
    time_local = on;
}

char *ctl_time(int64_t us, char *out, size_t n)
{
    struct tm tm;
    time_t t = (time_t)(us / 1000000);
    char z[8];

    if (us == 0) {
        snprintf(out, n, "-");
    } else if (!time_local || !localtime_r(&t, &tm) || !strftime(z, sizeof z, "%z", &tm) ||
               strlen(z) != 5) {
        omni_rfc3339_format(us, out, n, 0);
    } else {
        char base[32];
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, n, "%s%.3s:%.2s", base, z, z + 3); /* +0530 -> +05:30 */
    }
    return out;
}

char *ctl_age(int64_t us, char *out, size_t n)
{
    int64_t now = omni_wall_us();
    if (us == 0)
        snprintf(out, n, "-");
    else
        omni_duration_format(now > us ? (now - us) / 1000 : 0, out, n);
    return out;
}
