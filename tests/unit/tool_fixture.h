/*
 * tool_fixture — shared set-up for the toolset unit tests (header-only, test
 * code only). Layout of a fixture:
 *
 *   <base>/work      the session workdir
 *   <base>/outside   a directory the tools must never reach (secret.txt)
 *   <base>/work2     a sibling sharing the workdir's prefix (secret.txt)
 */
#ifndef OMNI_TOOL_FIXTURE_H
#define OMNI_TOOL_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../worker/toolset.h"

struct fx {
    char base[256];
    char work[300];
    char outside[300];
    char work2[300];
    struct toolset *ts;
};

static struct fx fx;

static inline int fx_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void fx_rmrf(const char *dir)
{
    nftw(dir, fx_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static inline void fx_put(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fixture: cannot create %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(content, f);
    fclose(f);
}

/* Path inside the workdir (static buffer, rotating). */
static inline const char *fx_w(const char *rel)
{
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 1024, "%s/%s", fx.work, rel);
    return b;
}

static inline void fx_wput(const char *rel, const char *content)
{
    fx_put(fx_w(rel), content);
}

/* Whole file into a malloc'd string (NULL if missing). */
static inline char *fx_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            s = realloc(s, cap);
        }
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

static inline struct toolset *fx_new_ts(const struct toolset_opts *extra)
{
    struct toolset_opts o;
    struct omni_err err = OMNI_ERR_INIT;
    memset(&o, 0, sizeof(o));
    if (extra)
        o = *extra;
    o.workdir = fx.work;
    struct toolset *ts = toolset_new(&o, &err);
    if (!ts) {
        fprintf(stderr, "toolset_new: %s\n", err.msg);
        abort();
    }
    return ts;
}

static inline int fx_setup_opts(const struct toolset_opts *extra)
{
    snprintf(fx.base, sizeof(fx.base), "/tmp/omni-tt-XXXXXX");
    if (!mkdtemp(fx.base))
        return -1;
    snprintf(fx.work, sizeof(fx.work), "%s/work", fx.base);
    snprintf(fx.outside, sizeof(fx.outside), "%s/outside", fx.base);
    snprintf(fx.work2, sizeof(fx.work2), "%s/work2", fx.base);
    mkdir(fx.work, 0700);
    mkdir(fx.outside, 0700);
    mkdir(fx.work2, 0700);
    char p[400];
    snprintf(p, sizeof(p), "%s/secret.txt", fx.outside);
    fx_put(p, "SECRET\n");
    snprintf(p, sizeof(p), "%s/secret.txt", fx.work2);
    fx_put(p, "SECRET2\n");
    fx.ts = fx_new_ts(extra);
    return 0;
}

static inline int fx_setup(void **state)
{
    (void)state;
    return fx_setup_opts(NULL);
}

static inline int fx_teardown(void **state)
{
    (void)state;
    toolset_free(fx.ts);
    fx.ts = NULL;
    fx_rmrf(fx.base);
    return 0;
}

/* Run tool with a JSON input (printf-style). The caller releases *r. */
static inline void fx_runv(struct tool_result *r, const char *tool, volatile int *cancel,
                           const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static inline void fx_runv(struct tool_result *r, const char *tool, volatile int *cancel,
                           const char *fmt, va_list ap)
{
    char *json = NULL;
    if (vasprintf(&json, fmt, ap) < 0)
        abort();
    cJSON *in = cJSON_Parse(json);
    if (!in) {
        fprintf(stderr, "fixture: bad JSON: %s\n", json);
        abort();
    }
    free(json);
    toolset_run(fx.ts, tool, in, cancel, r);
    cJSON_Delete(in);
}

static inline struct tool_result fx_run(const char *tool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline struct tool_result fx_run(const char *tool, const char *fmt, ...)
{
    struct tool_result r;
    va_list ap;
    va_start(ap, fmt);
    fx_runv(&r, tool, NULL, fmt, ap);
    va_end(ap);
    return r;
}

/* JSON-escape s for embedding in a fixture input (static rotating buffer). */
static inline const char *fx_j(const char *s)
{
    static char bufs[8][2048];
    static int k;
    char *b = bufs[k++ % 8], *o = b;
    for (; *s && o < b + 2040; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
            continue;
        }
        *o++ = *s;
    }
    *o = '\0';
    return b;
}

/* Assert helpers (cmocka). */
#define EXPECT_RESULT(tool, is_err, expected, ...)                                                 \
    do {                                                                                           \
        struct tool_result r_ = fx_run(tool, __VA_ARGS__);                                         \
        if (strcmp(r_.text, (expected)) != 0 || r_.is_error != (is_err))                           \
            fprintf(stderr, "  got is_error=%d text=[%s]\n  want is_error=%d text=[%s]\n",         \
                    r_.is_error, r_.text, (is_err), (expected));                                   \
        assert_int_equal(r_.is_error, (is_err));                                                   \
        assert_string_equal(r_.text, (expected));                                                  \
        tool_result_release(&r_);                                                                  \
    } while (0)

#endif
