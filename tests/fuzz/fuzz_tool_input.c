/*
 * Fuzz the file tools' input handling and the path resolver (worker/toolset.h,
 * worker/paths.h) against a private scratch tree. bash is never run: the tool
 * name comes from the first input byte and is one of read, write, edit, glob,
 * grep; the input object is built from the fuzz data (parsed as JSON, or split
 * into fields) and never names the tool.
 *
 * Layout (mkdtemp under $TMPDIR or /tmp, removed at exit):
 *   <base>/work       workdir: a.txt, sub/b.txt, sub/deep/c.txt, hard (2 links),
 *                     link-out -> ../outside, link-abs -> <base>/outside,
 *                     link-in -> sub, loop -> loop
 *   <base>/outside    secret.txt: must never change or appear in a result
 *   <base>/work2      prefix sibling of the workdir, same secret
 *   <base>/ro         read-only root: r.txt must never change
 *   <base>/extra      allowed root
 *
 * Checks after every call: the result text is non-empty valid UTF-8 without
 * NUL and never holds the secret; outside/, work2/ and ro/ are unchanged
 * (directory and file mtimes, sizes, inodes); every path the resolver accepts
 * (paths_open, paths_parent, paths_would_be) lies inside the workdir or a
 * permitted root. The workdir is rebuilt every FUZZ_RESET_EVERY calls.
 */
#include <stddef.h> /* before paths.h, which uses size_t without it */

#include "../../worker/paths.h"
#include "../../worker/tool_int.h" /* ts->paths: the walker switch is per instance */
#include "../../worker/toolset.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define FUZZ_RESET_EVERY 256
#define FUZZ_SECRET_LEN 32
#define FUZZ_FIELDS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[256], work[300], outside[300], work2[300], ro[300], extra[300];
static char canon[5][PATH_MAX];
static struct toolset *ts;
static struct paths *ps_walk;
static unsigned long calls;
/* random per process, so no stored input can hold it */
static char secret[FUZZ_SECRET_LEN + 1];

struct snap {
    struct stat st[6];
};
static struct snap before;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_tool_input: %s: %s\n", what, strerror(errno));
    abort();
}

static void put(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    if (!f)
        die(p);
    fputs(text, f);
    fclose(f);
}

static void sub(char *out, size_t n, const char *dir, const char *rel)
{
    snprintf(out, n, "%s/%s", dir, rel);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    if (f->level == 0)
        return 0; /* keep the directory itself: the toolset holds its fd */
    if (remove(p) < 0 && errno != ENOENT) {
        /* a directory left without write permission by a tool: fix and retry */
        chmod(p, 0700);
        remove(p);
    }
    return 0;
}

static void work_build(void)
{
    char p[PATH_MAX], q[PATH_MAX];

    chmod(work, 0700);
    nftw(work, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
    put(work, "a.txt", "alpha\nbeta\ngamma\n\xe2\x82\xac euro\n");
    sub(p, sizeof p, work, "sub");
    mkdir(p, 0700);
    sub(p, sizeof p, work, "sub/deep");
    mkdir(p, 0700);
    put(work, "sub/b.txt", "one\ntwo\nthree\n");
    put(work, "sub/deep/c.txt", "needle in a haystack\n");
    put(work, "hard", "hard link\n");
    sub(p, sizeof p, work, "hard");
    sub(q, sizeof q, work, "sub/hard2");
    if (link(p, q) < 0)
        die("link");
    sub(p, sizeof p, work, "link-out");
    if (symlink("../outside", p) < 0)
        die("symlink");
    sub(p, sizeof p, work, "link-abs");
    if (symlink(outside, p) < 0)
        die("symlink");
    sub(p, sizeof p, work, "link-in");
    if (symlink("sub", p) < 0)
        die("symlink");
    sub(p, sizeof p, work, "loop");
    if (symlink("loop", p) < 0)
        die("symlink");
}

static void snap_take(struct snap *s)
{
    const char *dirs[3] = {outside, work2, ro};
    char p[PATH_MAX];

    memset(s, 0, sizeof *s);
    for (int i = 0; i < 3; i++) {
        if (lstat(dirs[i], &s->st[2 * i]) < 0)
            die(dirs[i]);
        sub(p, sizeof p, dirs[i], i == 2 ? "r.txt" : "secret.txt");
        if (lstat(p, &s->st[2 * i + 1]) < 0)
            die(p);
    }
}

/* 32 random hex digits (getrandom). */
static void secret_make(void)
{
    unsigned char r[FUZZ_SECRET_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        die("getrandom");
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(secret + 2 * i, 3, "%02x", r[i]);
}

/*
 * A plain loop outside the coverage instrumentation (strstr would be
 * intercepted and its needle offered to the fuzzer as a dictionary word).
 */
__attribute__((no_sanitize("coverage"))) static int holds_secret(const char *s)
{
    for (; *s; s++) {
        size_t i = 0;
        while (i < FUZZ_SECRET_LEN && s[i] == secret[i])
            i++;
        if (i == FUZZ_SECRET_LEN)
            return 1;
    }
    return 0;
}

static int st_same(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mode == b->st_mode &&
           a->st_nlink == b->st_nlink && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void snap_check(void)
{
    struct snap now;
    snap_take(&now);
    for (int i = 0; i < 6; i++) {
        if (!st_same(&now.st[i], &before.st[i])) {
            fprintf(stderr, "fuzz_tool_input: a protected path changed (slot %d)\n", i);
            abort();
        }
    }
}

static void cleanup(void)
{
    toolset_free(ts);
    ts = NULL;
    paths_free(ps_walk);
    ps_walk = NULL;
    if (base[0]) {
        chmod(work, 0700);
        nftw(base, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
        rmdir(base);
    }
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    static const char *allowed[2];
    static const char *ros[2];
    struct omni_err err = OMNI_ERR_INIT;

    snprintf(base, sizeof base, "%s/omni-fuzz-tools.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base))
        die("mkdtemp");
    sub(work, sizeof work, base, "work");
    sub(outside, sizeof outside, base, "outside");
    sub(work2, sizeof work2, base, "work2");
    sub(ro, sizeof ro, base, "ro");
    sub(extra, sizeof extra, base, "extra");
    const char *dirs[5] = {work, outside, work2, ro, extra};
    for (int i = 0; i < 5; i++)
        if (mkdir(dirs[i], 0700) < 0)
            die(dirs[i]);
    secret_make();
    put(outside, "secret.txt", secret);
    put(work2, "secret.txt", secret);
    put(ro, "r.txt", "read only\n");
    put(extra, "e.txt", "extra root\n");
    work_build();
    const char *cdirs[5] = {work, extra, ro, outside, work2};
    for (int i = 0; i < 5; i++)
        if (!realpath(cdirs[i], canon[i]))
            die("realpath");

    allowed[0] = extra;
    ros[0] = ro;
    struct toolset_opts o = {0};
    o.workdir = work;
    o.allowed_roots = allowed;
    o.readonly_roots = ros;
    o.tool_timeout_ms = 3000;
    o.grep_timeout_ms = 1000;
    o.bash_default_timeout_ms = 1000;
    o.bash_max_timeout_ms = 1000;
    o.max_file_bytes = 65536;
    ts = toolset_new(&o, &err);
    if (!ts) {
        fprintf(stderr, "fuzz_tool_input: toolset_new: %s\n", err.msg);
        abort();
    }
    ps_walk = paths_new(work, allowed, ros, &err);
    if (!ps_walk) {
        fprintf(stderr, "fuzz_tool_input: paths_new: %s\n", err.msg);
        abort();
    }
    snap_take(&before);
    atexit(cleanup);
}

/* p lies in (or is) one of the permitted roots' canonical paths. */
static int inside_permitted(const char *p)
{
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(canon[i]);
        if (strncmp(p, canon[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
            return 1;
    }
    return 0;
}

static void check_res(const char *what, int rc, const struct path_res *r)
{
    if (rc == PATHS_OK && (!r->abs || !inside_permitted(r->abs))) {
        fprintf(stderr, "fuzz_tool_input: %s accepted a path outside: %s\n", what,
                r->abs ? r->abs : "(null)");
        abort();
    }
    if (rc != PATHS_OK && rc != PATHS_OUTSIDE && rc != PATHS_RESOLVE && rc != PATHS_ERRNO)
        abort();
}

static void fuzz_paths(const char *p, int walker)
{
    struct path_res r = PATH_RES_INIT;
    int rc;

    paths_use_openat2(ps_walk, !walker);
    rc = paths_open(ps_walk, p, O_RDONLY, &r);
    check_res("paths_open", rc, &r);
    path_res_release(&r);

    struct path_res r2 = PATH_RES_INIT;
    rc = paths_parent(ps_walk, p, 0, &r2);
    check_res("paths_parent", rc, &r2);
    path_res_release(&r2);

    struct path_res r3 = PATH_RES_INIT;
    rc = paths_would_be(ps_walk, p, &r3);
    check_res("paths_would_be", rc, &r3);
    path_res_release(&r3);
}

static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        int n;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* Fields mode: NUL-separated strings; which fields go where depends on the tool. */
static cJSON *build_fields(const char *tool, const uint8_t *d, size_t n, uint8_t flags)
{
    char *f[FUZZ_FIELDS] = {0};
    size_t start = 0;
    int k = 0;
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; i <= n && k < FUZZ_FIELDS; i++) {
        if (i == n || d[i] == '\0') {
            f[k] = strndup((const char *)d + start, i - start);
            k++;
            start = i + 1;
        }
    }
    for (int i = 0; i < FUZZ_FIELDS; i++)
        if (!f[i])
            f[i] = strdup("");

    if (strcmp(tool, "read") == 0) {
        cJSON_AddStringToObject(o, "file_path", f[0]);
        if (flags & 0x20)
            cJSON_AddNumberToObject(o, "offset", (double)(int8_t)f[1][0]);
        if (flags & 0x40)
            cJSON_AddNumberToObject(o, "limit", (double)(int8_t)f[2][0]);
    } else if (strcmp(tool, "write") == 0) {
        cJSON_AddStringToObject(o, "file_path", f[0]);
        cJSON_AddStringToObject(o, "content", f[1]);
    } else if (strcmp(tool, "edit") == 0) {
        cJSON_AddStringToObject(o, "file_path", f[0]);
        cJSON_AddStringToObject(o, "old_string", f[1]);
        cJSON_AddStringToObject(o, "new_string", f[2]);
        if (flags & 0x20)
            cJSON_AddBoolToObject(o, "replace_all", 1);
    } else {
        cJSON_AddStringToObject(o, "pattern", f[1]);
        if (f[0][0] || (flags & 0x20))
            cJSON_AddStringToObject(o, "path", f[0]);
        if (strcmp(tool, "grep") == 0 && f[2][0])
            cJSON_AddStringToObject(o, "glob", f[2]);
    }
    for (int i = 0; i < FUZZ_FIELDS; i++)
        free(f[i]);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tools[5] = {"read", "write", "edit", "glob", "grep"};
    struct tool_result out = {0, NULL};
    cJSON *input;

    if (!ts)
        setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *tool = tools[(sel & 0x07) % 5];
    int walker = (sel & 0x08) != 0;
    data++;
    size--;

    if (sel & 0x10) {
        input = cJSON_ParseWithLength((const char *)data, size);
        if (!input)
            return 0;
    } else {
        input = build_fields(tool, data, size, sel);
    }

    /* the resolver directly, with every string the input carries as a path */
    const char *names[3] = {"file_path", "path", "pattern"};
    if (cJSON_IsObject(input)) {
        for (int i = 0; i < 3; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, names[i]);
            if (cJSON_IsString(v) && v->valuestring)
                fuzz_paths(v->valuestring, walker);
        }
    }

    paths_use_openat2(ts->paths, !walker);
    toolset_run(ts, tool, input, NULL, &out);
    if (!out.text || !out.text[0] || !utf8_valid((const unsigned char *)out.text)) {
        fprintf(stderr, "fuzz_tool_input: %s gave an empty or invalid result\n", tool);
        abort();
    }
    if (holds_secret(out.text)) {
        fprintf(stderr, "fuzz_tool_input: %s result holds the outside secret\n", tool);
        abort();
    }
    tool_result_release(&out);
    cJSON_Delete(input);
    snap_check();

    if (++calls % FUZZ_RESET_EVERY == 0) {
        work_build();
        nftw(extra, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
        put(extra, "e.txt", "extra root\n");
    }
    return 0;
}
