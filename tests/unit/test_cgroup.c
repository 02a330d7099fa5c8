/*
 * worker/cgroup.c: fake-file-system tests of both hierarchies (limit files,
 * missing controllers, the v2 supervisor move before subtree_control, v1
 * leftovers), then real tests when running as root: v1 hierarchies (pids
 * limit, OOM kill, the kill of a double-forked setsid'd grandchild, removal)
 * and the cgroup2 tree of a hybrid host (cgroup.kill). Real tests skip when
 * the host does not offer them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../worker/cgroup.h"
#include "timeutil.h"

#define MiB (1024LL * 1024)
#define T_LOG_MAX 128
#define T_WAIT_MS 10000 /* any wait for a child */
#define T_FORKS 40
#define T_PIDS_MAX 16
#define T_REAL_FS "/sys/fs/cgroup"
#define T_UNIFIED "/sys/fs/cgroup/unified"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ---- fixture ---------------------------------------------------------- */

static struct {
    char tmp[PATH_MAX];                 /* fake trees */
    char log[T_LOG_MAX][PATH_MAX + 64]; /* "relative/path=value" of each write */
    int nlog;
    struct cg_root *root;
    struct cg *g;
    pid_t kids[8]; /* children to kill and reap in teardown */
    int nkids;
    char v2dir[PATH_MAX];  /* real v2 test: our test cgroup */
    char v2orig[PATH_MAX]; /* ... and the cgroup to move back to */
} fx;

static void hook(const char *path, const char *value, void *ctx)
{
    size_t tl = strlen(fx.tmp);
    (void)ctx;
    if (fx.nlog < T_LOG_MAX)
        snprintf(fx.log[fx.nlog++], sizeof(fx.log[0]), "%s=%s",
                 strncmp(path, fx.tmp, tl) == 0 ? path + tl + 1 : path, value);
}

/* Index of the first write "rel=value" (value NULL: any value), -1 if none. */
static int logged(const char *rel, const char *value)
{
    size_t rl = strlen(rel);
    for (int i = 0; i < fx.nlog; i++)
        if (strncmp(fx.log[i], rel, rl) == 0 && fx.log[i][rl] == '=' &&
            (!value || strcmp(fx.log[i] + rl + 1, value) == 0))
            return i;
    return -1;
}

static void dump_log(void)
{
    for (int i = 0; i < fx.nlog; i++)
        fprintf(stderr, "  write %s\n", fx.log[i]);
}

static const char *tp(const char *rel)
{
    static char p[4][PATH_MAX];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", fx.tmp, rel);
    return p[k];
}

static void mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

/* Create tmp/rel (and its directories) holding text. */
static void put(const char *rel, const char *text)
{
    char d[PATH_MAX];
    snprintf(d, sizeof(d), "%s", tp(rel));
    *strrchr(d, '/') = '\0';
    mkdirs(d);
    FILE *f = fopen(tp(rel), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *get(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    else
        snprintf(buf, sizeof(buf), "<absent>");
    return buf;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(p);
}

/* Reap the zombies of killed orphans: a zombie still counts in pids.current. */
static void reap_zombies(void)
{
    int64_t end = omni_mono_ms() + T_WAIT_MS;
    while (omni_mono_ms() < end) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0)
            return;
        if (p == 0)
            omni_sleep_ms(5, NULL);
    }
}

static void reap_all(void)
{
    for (int i = 0; i < fx.nkids; i++)
        if (fx.kids[i] > 0)
            kill(fx.kids[i], SIGKILL);
    fx.nkids = 0;
    reap_zombies(); /* we are a subreaper: orphaned grandchildren come back to us */
}

static int fake_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    snprintf(fx.tmp, sizeof(fx.tmp), "/tmp/omni-cgtest-XXXXXX");
    assert_non_null(mkdtemp(fx.tmp));
    cg_test_fake_fs(1, hook, NULL);
    return 0;
}

static int fake_teardown(void **state)
{
    (void)state;
    cg_destroy(fx.g);
    cg_root_close(fx.root);
    fx.g = NULL;
    fx.root = NULL;
    reap_all();
    cg_test_fake_fs(0, NULL, NULL);
    nftw(fx.tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- fake v2 ---------------------------------------------------------- */

static void make_v2_tree(const char *own_rel, const char *controllers)
{
    char p[PATH_MAX];
    put("v2/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    put("v2/cgroup.subtree_control", "");
    put("v2/cgroup.procs", "1\n");
    snprintf(p, sizeof(p), "v2%s/cgroup.controllers", own_rel);
    put(p, controllers);
    snprintf(p, sizeof(p), "v2%s/cgroup.subtree_control", own_rel);
    put(p, "");
    snprintf(p, sizeof(p), "v2%s/cgroup.procs", own_rel);
    put(p, "");
}

static void test_fake_v2(void **state)
{
    const char *own = "/system.slice/omni-worker.service";
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    struct cg_events ev;
    const int *fds;
    (void)state;

    make_v2_tree(own, "cpu io memory\n"); /* no pids */
    /* a leftover session with the optional files a kernel would show */
    put("v2/system.slice/omni-worker.service/sess-s1/memory.swap.max", "max\n");
    put("v2/system.slice/omni-worker.service/sess-s1/cgroup.kill", "");
    put("v2/system.slice/omni-worker.service/sess-s1/cgroup.procs", "");
    put("v2/system.slice/omni-worker.service/sess-s1/memory.events",
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n");

    fx.root = cg_root_open(tp("v2"), "0::/system.slice/omni-worker.service\n", missing,
                           sizeof(missing), &err);
    if (!fx.root)
        fail_msg("cg_root_open: %s (missing: %s)", err.msg, missing);
    assert_string_equal(cg_root_mode(fx.root), "v2");
    assert_non_null(strstr(missing, "pids controller not available"));
    assert_null(strstr(missing, "memory"));

    int move = logged("v2/system.slice/omni-worker.service/supervisor/cgroup.procs", "0");
    int enable =
        logged("v2/system.slice/omni-worker.service/cgroup.subtree_control", "+memory +cpu");
    if (move < 0 || enable < 0 || move > enable) {
        dump_log();
        fail_msg("supervisor move (%d) must come before subtree_control (%d)", move, enable);
    }
    assert_true(exists(tp("v2/system.slice/omni-worker.service/supervisor")));

    struct cg_limits lim = {T_PIDS_MAX, 64 * MiB, 150};
    fx.g = cg_create(fx.root, "s1", &lim, &err);
    if (!fx.g)
        fail_msg("cg_create: %s", err.msg);
    const char *sess = "v2/system.slice/omni-worker.service/sess-s1";
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/memory.max", sess);
    assert_string_equal(get(tp(p)), "67108864");
    snprintf(p, sizeof(p), "%s/memory.swap.max", sess);
    assert_string_equal(get(tp(p)), "0");
    snprintf(p, sizeof(p), "%s/cpu.max", sess);
    assert_string_equal(get(tp(p)), "150000 100000");
    snprintf(p, sizeof(p), "%s/pids.max", sess);
    assert_false(exists(tp(p))); /* pids is missing: not written */

    assert_int_equal(cg_join_fds(fx.g, &fds), 1);
    assert_true(fds[0] >= 0);
    assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fds[0], "0", 1), 1);
    assert_int_equal(cg_count(fx.g), 0); /* "0" is not a pid */

    assert_int_equal(cg_events(fx.g, &ev), 0);
    assert_int_equal(ev.oom_kills, 2);
    assert_int_equal(ev.memory_max_hits, 3);
    assert_int_equal(ev.pids_max_hits, 0);

    /* a new session: no swap file appears where the kernel shows none */
    struct cg_limits none = {0, 0, 0};
    struct cg *g2 = cg_create(fx.root, "s2", &none, &err);
    if (!g2)
        fail_msg("cg_create s2: %s", err.msg);
    assert_string_equal(get(tp("v2/system.slice/omni-worker.service/sess-s2/memory.max")), "max");
    assert_string_equal(get(tp("v2/system.slice/omni-worker.service/sess-s2/cpu.max")),
                        "max 100000");
    assert_false(exists(tp("v2/system.slice/omni-worker.service/sess-s2/memory.swap.max")));
    cg_destroy(g2);
    assert_false(exists(tp("v2/system.slice/omni-worker.service/sess-s2")));

    cg_destroy(fx.g);
    fx.g = NULL;
    assert_false(exists(tp(sess)));
    cg_root_close(fx.root);
    fx.root = NULL;
    assert_true(exists(tp("v2/system.slice/omni-worker.service/supervisor")));
}

static void test_fake_v2_no_entry(void **state)
{
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    (void)state;
    make_v2_tree("/a", "memory pids\n");
    fx.root = cg_root_open(tp("v2"), "1:name=systemd:/a\n", missing, sizeof(missing), &err);
    assert_null(fx.root);
    assert_int_equal(err.kind, OMNI_E_IO);
    assert_non_null(strstr(missing, "no cgroup2 entry"));
    /* its own cgroup does not exist */
    fx.root = cg_root_open(tp("v2"), "0::/b\n", missing, sizeof(missing), &err);
    assert_null(fx.root);
    assert_non_null(strstr(missing, "Delegate=yes"));
}

/* ---- fake v1 ---------------------------------------------------------- */

static void test_fake_v1(void **state)
{
    char missing[512], w[64], p[PATH_MAX];
    struct omni_err err = OMNI_ERR_INIT;
    struct cg_events ev;
    const int *fds;
    (void)state;

    /* pids and memory in hierarchies of their own, cpu co-mounted with
     * cpuacct (no "cpu" symlink), no freezer */
    mkdirs(tp("v1/pids"));
    mkdirs(tp("v1/memory/process_api/abc"));
    mkdirs(tp("v1/cpu,cpuacct"));
    mkdirs(tp("v1/unified")); /* a hybrid's cgroup2 tree, not usable: plain dir */
    snprintf(w, sizeof(w), "omni-worker-%ld", (long)getpid());
    snprintf(p, sizeof(p), "v1/memory/process_api/abc/%s/sess-s1/memory.memsw.limit_in_bytes", w);
    put(p, "9223372036854771712\n");
    snprintf(p, sizeof(p), "v1/memory/process_api/abc/%s/sess-s1/memory.oom_control", w);
    put(p, "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    snprintf(p, sizeof(p), "v1/memory/process_api/abc/%s/sess-s1/memory.failcnt", w);
    put(p, "7\n");
    snprintf(p, sizeof(p), "v1/pids/%s/sess-s1/pids.events", w);
    put(p, "max 5\n");

    fx.root = cg_root_open(tp("v1"),
                           "12:pids:/\n9:name=systemd:/\n4:memory:/process_api/abc\n"
                           "3:cpu,cpuacct:/\n0::/\n",
                           missing, sizeof(missing), &err);
    if (!fx.root)
        fail_msg("cg_root_open: %s (missing: %s)", err.msg, missing);
    assert_string_equal(cg_root_mode(fx.root), "v1");
    assert_non_null(strstr(missing, "freezer controller not available"));
    assert_null(strstr(missing, "memory"));

    struct cg_limits lim = {T_PIDS_MAX, 64 * MiB, 50};
    fx.g = cg_create(fx.root, "s1", &lim, &err);
    if (!fx.g)
        fail_msg("cg_create: %s", err.msg);
    char pids[PATH_MAX], mem[PATH_MAX], cpu[PATH_MAX];
    snprintf(pids, sizeof(pids), "v1/pids/%s/sess-s1", w);
    snprintf(mem, sizeof(mem), "v1/memory/process_api/abc/%s/sess-s1", w);
    snprintf(cpu, sizeof(cpu), "v1/cpu,cpuacct/%s/sess-s1", w);
    snprintf(p, sizeof(p), "%s/pids.max", pids);
    assert_string_equal(get(tp(p)), "16");
    snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", mem);
    assert_string_equal(get(tp(p)), "67108864");
    int lim_at = logged(p, "67108864");
    snprintf(p, sizeof(p), "%s/memory.memsw.limit_in_bytes", mem);
    assert_string_equal(get(tp(p)), "67108864");
    int sw_at = logged(p, "67108864");
    if (lim_at < 0 || sw_at < lim_at) {
        dump_log();
        fail_msg("memsw (%d) must be set after memory.limit_in_bytes (%d)", sw_at, lim_at);
    }
    snprintf(p, sizeof(p), "%s/cpu.cfs_period_us", cpu);
    assert_string_equal(get(tp(p)), "100000");
    snprintf(p, sizeof(p), "%s/cpu.cfs_quota_us", cpu);
    assert_string_equal(get(tp(p)), "50000");

    assert_int_equal(cg_join_fds(fx.g, &fds), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(write(fds[i], "0", 1), 1);
    assert_int_equal(cg_events(fx.g, &ev), 0);
    assert_int_equal(ev.oom_kills, 4);
    assert_int_equal(ev.memory_max_hits, 7);
    assert_int_equal(ev.pids_max_hits, 5);

    /* a process of ours joins through cgroup.procs of each hierarchy */
    assert_int_equal(cg_join_pid(fx.g, getpid(), &err), 0);
    snprintf(p, sizeof(p), "%s/cgroup.procs", mem);
    assert_int_equal(atol(get(tp(p))), (long)getpid());
    /* the kill never signals the worker itself; empty the fake lists */
    put(p + 0, "");
    snprintf(p, sizeof(p), "%s/cgroup.procs", pids);
    put(p, "");
    snprintf(p, sizeof(p), "%s/cgroup.procs", cpu);
    put(p, "");
    assert_int_equal(cg_count(fx.g), 0);

    cg_destroy(fx.g);
    fx.g = NULL;
    assert_false(exists(tp(pids)));
    assert_false(exists(tp(mem)));
    assert_false(exists(tp(cpu)));
    cg_root_close(fx.root);
    fx.root = NULL;
    snprintf(p, sizeof(p), "v1/memory/process_api/abc/%s", w);
    assert_false(exists(tp(p)));
}

/* A dead worker's directory (and its sessions) are removed at open. */
static void test_fake_v1_leftovers(void **state)
{
    char missing[512], p[PATH_MAX];
    struct omni_err err = OMNI_ERR_INIT;
    (void)state;
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    mkdirs(tp("v1/pids"));
    mkdirs(tp("v1/freezer"));
    snprintf(p, sizeof(p), "v1/pids/omni-worker-%ld/sess-old/cgroup.procs", (long)dead);
    put(p, "");
    snprintf(p, sizeof(p), "v1/freezer/omni-worker-%ld/sess-old/cgroup.procs", (long)dead);
    put(p, "");
    put("v1/pids/omni-worker-1/sess-alive/cgroup.procs", ""); /* pid 1 lives: kept */

    fx.root = cg_root_open(tp("v1"), "8:pids:/\n6:freezer:/\n", missing, sizeof(missing), &err);
    if (!fx.root)
        fail_msg("cg_root_open: %s", err.msg);
    assert_non_null(strstr(missing, "memory controller not available"));
    assert_non_null(strstr(missing, "cpu controller not available"));
    snprintf(p, sizeof(p), "v1/pids/omni-worker-%ld", (long)dead);
    assert_false(exists(tp(p)));
    snprintf(p, sizeof(p), "v1/freezer/omni-worker-%ld", (long)dead);
    assert_false(exists(tp(p)));
    assert_true(exists(tp("v1/pids/omni-worker-1/sess-alive")));

    /* a leftover of the same name in our own directory is taken over */
    snprintf(p, sizeof(p), "v1/pids/omni-worker-%ld/sess-again/pids.max", (long)getpid());
    put(p, "3\n");
    struct cg_limits lim = {0, 0, 0};
    fx.g = cg_create(fx.root, "again", &lim, &err);
    if (!fx.g)
        fail_msg("cg_create: %s", err.msg);
    assert_string_equal(get(tp(p)), "max");
    /* the freezer is left thawed */
    snprintf(p, sizeof(p), "v1/freezer/omni-worker-%ld/sess-again", (long)getpid());
    assert_true(exists(tp(p)));
}

static void test_fake_hybrid_prefers_v2(void **state)
{
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    (void)state;
    mkdirs(tp("h/cpu"));
    put("h/unified/cgroup.controllers", "pids memory cpu\n");
    put("h/unified/cgroup.subtree_control", "");
    put("h/unified/cgroup.procs", "");
    fx.root = cg_root_open(tp("h"), "5:cpu:/\n0::/\n", missing, sizeof(missing), &err);
    if (!fx.root)
        fail_msg("cg_root_open: %s", err.msg);
    assert_string_equal(cg_root_mode(fx.root), "v2");
    assert_string_equal(missing, "");
    assert_true(logged("h/unified/supervisor/cgroup.procs", "0") >= 0);
    assert_string_equal(get(tp("h/unified/cgroup.subtree_control")), "+pids +memory +cpu");
    struct cg_limits lim = {100, 0, 0};
    fx.g = cg_create(fx.root, "x", &lim, &err);
    assert_non_null(fx.g);
    assert_string_equal(get(tp("h/unified/sess-x/pids.max")), "100");
}

static void test_fake_nothing_usable(void **state)
{
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    (void)state;
    mkdirs(tp("none"));
    fx.root = cg_root_open(tp("none"), "0::/\n", missing, sizeof(missing), &err);
    assert_null(fx.root);
    assert_int_equal(err.kind, OMNI_E_IO);
    assert_non_null(strstr(err.msg, "no usable cgroup hierarchy"));
    assert_non_null(strstr(missing, "memory controller not available"));
}

static void test_fake_names(void **state)
{
    static const char *const bad[] = {
        "",
        "a/b",
        "..",
        "a b",
        "sess.1",
        "x\n",
        "0123456789012345678901234567890123456789012345678901234567890123X"};
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    struct cg_limits lim = {0, 0, 0};
    (void)state;
    put("n/unified/cgroup.controllers", "");
    put("n/unified/cgroup.subtree_control", "");
    put("n/unified/cgroup.procs", "");
    fx.root = cg_root_open(tp("n/unified"), "0::/\n", missing, sizeof(missing), &err);
    assert_non_null(fx.root);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cg *g = cg_create(fx.root, bad[i], &lim, &err);
        if (g)
            fail_msg("name \"%s\" accepted", bad[i]);
        assert_int_equal(err.kind, OMNI_E_USAGE);
    }
    struct cg *g = cg_create(
        fx.root, "0123456789012345678901234567890123456789012345678901234567890123", &lim, &err);
    assert_non_null(g);
    cg_destroy(g);
    cg_destroy(NULL);
    cg_root_close(NULL);
}

/* ---- real hierarchies ------------------------------------------------- */

/* Fork a child that joins g (as the sandbox does) and runs fn(arg, wfd). */
static pid_t spawn_in(const struct cg *g, void (*fn)(int wfd), int *rfd)
{
    int pfd[2];
    const int *fds;
    int n = cg_join_fds(g, &fds);
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        for (int i = 0; i < n; i++)
            if (write(fds[i], "0", 1) != 1)
                _exit(120);
        fn(pfd[1]);
        _exit(0);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -1;
    }
    fx.kids[fx.nkids++] = pid;
    *rfd = pfd[0];
    return pid;
}

/* Read exactly len bytes within T_WAIT_MS. */
static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    int64_t end = omni_mono_ms() + T_WAIT_MS;
    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        int left = (int)(end - omni_mono_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* waitpid within T_WAIT_MS; the status, or -1. */
static int wait_for(pid_t pid)
{
    int64_t end = omni_mono_ms() + T_WAIT_MS;
    int st;
    while (omni_mono_ms() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            for (int i = 0; i < fx.nkids; i++)
                if (fx.kids[i] == pid)
                    fx.kids[i] = 0;
            return st;
        }
        if (r < 0)
            return -1;
        omni_sleep_ms(5, NULL);
    }
    return -1;
}

static void child_forks(int wfd)
{
    int r[3] = {0, 0, 0}; /* started, EAGAIN, other errors */
    for (int i = 0; i < T_FORKS; i++) {
        pid_t p = fork();
        if (p == 0) {
            for (;;)
                pause();
        }
        r[p > 0 ? 0 : errno == EAGAIN ? 1 : 2]++;
    }
    (void)!write(wfd, r, sizeof(r));
    for (;;)
        pause();
}

static void child_eats(int wfd)
{
    size_t n = (size_t)(256 * MiB);
    char *m = malloc(n);
    (void)wfd;
    if (!m)
        _exit(3);
    for (size_t i = 0; i < n; i += 4096)
        m[i] = (char)i;
    _exit(0); /* not reached with a 64 MiB limit */
}

/* A grandchild in a session of its own, whose parent has exited. */
static void child_escapes(int wfd)
{
    pid_t mid = fork();
    if (mid < 0) {
        (void)!write(wfd, &mid, sizeof(mid));
        _exit(1);
    }
    if (mid == 0) {
        setsid();
        pid_t gg = fork();
        if (gg == 0) {
            for (;;)
                pause();
        }
        (void)!write(wfd, &gg, sizeof(gg)); /* -1: fork failed */
        _exit(0);
    }
    waitpid(mid, NULL, 0);
    _exit(0);
}

/* The escaped grandchild survives its parents and dies by cg_kill(). */
static void check_escape_killed(void)
{
    int rfd;
    pid_t gg = -1;
    pid_t c = spawn_in(fx.g, child_escapes, &rfd);
    assert_true(c > 0);
    assert_int_equal(read_full(rfd, &gg, sizeof(gg)), 0);
    close(rfd);
    assert_true(gg > 0);
    fx.kids[fx.nkids++] = gg;
    int st = wait_for(c);
    assert_true(st >= 0 && WIFEXITED(st));
    assert_int_equal(kill(gg, 0), 0);
    assert_true(getsid(gg) != getsid(0));
    assert_true(cg_count(fx.g) >= 1);
    assert_int_equal(cg_kill(fx.g), 0);
    st = wait_for(gg); /* reparented to us: we are a subreaper */
    assert_true(st >= 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(cg_count(fx.g), 0);
}

/* The worker's directory in each v1 hierarchy, from /proc/self/cgroup. */
static void v1_worker_dir(const char *ctrl, char *out, size_t outlen)
{
    char line[512];
    FILE *f = fopen("/proc/self/cgroup", "r");
    out[0] = '\0';
    while (f && fgets(line, sizeof(line), f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        line[strcspn(line, "\n")] = '\0';
        b[1 + strcspn(b + 1, "\n")] = '\0';
        if (strcmp(a + 1, ctrl) == 0)
            snprintf(out, outlen, T_REAL_FS "/%s%s/omni-worker-%ld", ctrl,
                     strcmp(b + 1, "/") == 0 ? "" : b + 1, (long)getpid());
    }
    if (f)
        fclose(f);
}

static int real_v1_setup(void **state)
{
    char missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    (void)state;
    memset(&fx, 0, sizeof(fx));
    cg_test_fake_fs(0, NULL, NULL);
    if (geteuid() != 0)
        return 0;
    fx.root = cg_root_open(NULL, NULL, missing, sizeof(missing), &err);
    if (fx.root && strcmp(cg_root_mode(fx.root), "v1") != 0) {
        cg_root_close(fx.root);
        fx.root = NULL;
    }
    if (fx.root && (strstr(missing, "pids controller") || strstr(missing, "memory controller"))) {
        cg_root_close(fx.root);
        fx.root = NULL;
    }
    if (!fx.root)
        fprintf(stderr, "  (no v1 pids+memory here: %s%s)\n", err.msg, missing);
    else if (missing[0])
        fprintf(stderr, "  v1, missing: %s\n", missing);
    return 0;
}

static int real_teardown(void **state)
{
    (void)state;
    reap_all();
    cg_destroy(fx.g);
    fx.g = NULL;
    cg_root_close(fx.root);
    fx.root = NULL;
    reap_all();
    return 0;
}

/* The session cgroup of a real test: fx.g, limits T_PIDS_MAX processes and
 * 64 MiB, name <prefix>-<pid> (written to name). */
static void fx_create(const char *prefix, int cpu_percent, char *name, size_t namelen)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct cg_limits lim = {T_PIDS_MAX, 64 * MiB, cpu_percent};
    snprintf(name, namelen, "%s-%ld", prefix, (long)getpid());
    fx.g = cg_create(fx.root, name, &lim, &err);
    if (!fx.g)
        fail_msg("cg_create: %s", err.msg);
}

static void test_real_v1_pids(void **state)
{
    struct cg_events ev;
    int r[3], rfd;
    (void)state;
    if (!fx.root)
        skip();
    char name[32];
    fx_create("t-pids", 0, name, sizeof(name));
    pid_t c = spawn_in(fx.g, child_forks, &rfd);
    assert_true(c > 0);
    assert_int_equal(read_full(rfd, r, sizeof(r)), 0);
    close(rfd);
    fprintf(stderr, "  forks: %d started, %d EAGAIN, %d other\n", r[0], r[1], r[2]);
    assert_true(r[0] >= 1 && r[0] <= T_PIDS_MAX - 1);
    assert_true(r[1] > 0);
    assert_int_equal(r[0] + r[1], T_FORKS);
    assert_int_equal(cg_count(fx.g), r[0] + 1);
    assert_int_equal(cg_events(fx.g, &ev), 0);
    assert_true(ev.pids_max_hits > 0);
    int64_t t0 = omni_mono_ms();
    assert_int_equal(cg_kill(fx.g), 0);
    fprintf(stderr, "  cg_kill of %d processes: %lld ms\n", r[0] + 1,
            (long long)(omni_mono_ms() - t0));
    int st = wait_for(c);
    assert_true(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    fx.nkids = 0;
    reap_zombies();
    /* still usable after a kill: the freezer is thawed, the limit kept */
    check_escape_killed();
}

static void test_real_v1_oom(void **state)
{
    struct cg_events ev;
    int rfd;
    (void)state;
    if (!fx.root)
        skip();
    char name[32];
    fx_create("t-oom", 100, name, sizeof(name));
    pid_t c = spawn_in(fx.g, child_eats, &rfd);
    assert_true(c > 0);
    close(rfd);
    int st = wait_for(c);
    assert_true(st >= 0);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("the 256 MiB child was not OOM-killed (status 0x%x)", st);
    assert_int_equal(cg_events(fx.g, &ev), 0);
    fprintf(stderr, "  oom_kills %lld, memory_max_hits %lld\n", ev.oom_kills, ev.memory_max_hits);
    assert_true(ev.oom_kills > 0 || ev.memory_max_hits > 0);
}

static void test_real_v1_escape_and_destroy(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    char name[32], dirs[4][PATH_MAX], p[PATH_MAX];
    static const char *const ctrls[] = {"pids", "memory", "cpu", "freezer"};
    (void)state;
    if (!fx.root)
        skip();
    fx_create("t-esc", 50, name, sizeof(name));
    for (int i = 0; i < 4; i++) {
        v1_worker_dir(ctrls[i], dirs[i], sizeof(dirs[i]));
        if (!dirs[i][0])
            continue;
        snprintf(p, sizeof(p), "%s/sess-%s", dirs[i], name);
        if (!exists(p))
            fail_msg("\"%s\" was not created", p);
    }
    snprintf(p, sizeof(p), "%s/sess-%s/pids.max", dirs[0], name);
    assert_string_equal(get(p), "16\n");
    snprintf(p, sizeof(p), "%s/sess-%s/memory.limit_in_bytes", dirs[1], name);
    assert_string_equal(get(p), "67108864\n");
    if (dirs[2][0]) {
        snprintf(p, sizeof(p), "%s/sess-%s/cpu.cfs_quota_us", dirs[2], name);
        assert_string_equal(get(p), "50000\n");
    }
    check_escape_killed();

    /* a process that never joined by itself is moved in and killed too */
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        for (;;)
            pause();
    }
    fx.kids[fx.nkids++] = c;
    assert_int_equal(cg_join_pid(fx.g, c, &err), 0);
    assert_int_equal(cg_count(fx.g), 1);
    cg_destroy(fx.g);
    fx.g = NULL;
    int st = wait_for(c);
    assert_true(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/sess-%s", dirs[i], name);
        if (dirs[i][0] && exists(p))
            fail_msg("\"%s\" is left behind", p);
    }
    cg_root_close(fx.root);
    fx.root = NULL;
    for (int i = 0; i < 4; i++)
        if (dirs[i][0] && exists(dirs[i]))
            fail_msg("\"%s\" is left behind", dirs[i]);
}

/* Without a freezer the kill sets pids.max to 0, loops SIGKILL, and puts the
 * limit back. */
static void test_real_v1_no_freezer(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    char text[4096], missing[512], name[32], dir[PATH_MAX], p[PATH_MAX + 64];
    int r[3], rfd;
    (void)state;
    if (!fx.root)
        skip();
    cg_root_close(fx.root);
    fx.root = NULL;
    /* /proc/self/cgroup without its freezer line */
    snprintf(text, sizeof(text), "%s", get("/proc/self/cgroup"));
    char *l = strstr(text, ":freezer:");
    assert_non_null(l);
    while (l > text && l[-1] != '\n')
        l--;
    memmove(l, strchr(l, '\n') + 1, strlen(strchr(l, '\n') + 1) + 1);
    fx.root = cg_root_open(NULL, text, missing, sizeof(missing), &err);
    if (!fx.root)
        fail_msg("cg_root_open: %s", err.msg);
    assert_non_null(strstr(missing, "freezer controller not available"));
    fx_create("t-nofz", 0, name, sizeof(name));
    pid_t c = spawn_in(fx.g, child_forks, &rfd);
    assert_true(c > 0);
    assert_int_equal(read_full(rfd, r, sizeof(r)), 0);
    close(rfd);
    assert_true(r[1] > 0);
    assert_int_equal(cg_kill(fx.g), 0);
    int st = wait_for(c);
    assert_true(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    v1_worker_dir("pids", dir, sizeof(dir));
    snprintf(p, sizeof(p), "%s/sess-%s/pids.max", dir, name);
    assert_string_equal(get(p), "16\n");
    fx.nkids = 0;
    reap_zombies();
    check_escape_killed();
}

/* ---- real cgroup2 tree of a hybrid host ------------------------------ */

static int real_v2_setup(void **state)
{
    struct statfs sf;
    char line[512], text[PATH_MAX + 16], missing[512];
    struct omni_err err = OMNI_ERR_INIT;
    FILE *f;
    (void)state;
    memset(&fx, 0, sizeof(fx));
    cg_test_fake_fs(0, NULL, NULL);
    if (geteuid() != 0 || statfs(T_UNIFIED, &sf) < 0 || (long)sf.f_type != CGROUP2_SUPER_MAGIC ||
        access(T_UNIFIED "/cgroup.procs", W_OK) < 0)
        return 0;
    f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(fx.v2orig, sizeof(fx.v2orig), T_UNIFIED "%s",
                     strcmp(line + 3, "/") == 0 ? "" : line + 3);
        }
    if (f)
        fclose(f);
    if (!fx.v2orig[0])
        return 0;
    snprintf(fx.v2dir, sizeof(fx.v2dir), "%s/omni-worker-test-%ld", fx.v2orig, (long)getpid());
    if (mkdir(fx.v2dir, 0755) < 0) {
        fx.v2dir[0] = '\0';
        return 0;
    }
    snprintf(text, sizeof(text), "0::%s\n", fx.v2dir + strlen(T_UNIFIED));
    fx.root = cg_root_open(T_UNIFIED, text, missing, sizeof(missing), &err);
    if (!fx.root)
        fprintf(stderr, "  cg_root_open(" T_UNIFIED "): %s (%s)\n", err.msg, missing);
    else
        fprintf(stderr, "  v2 at %s, missing: %s\n", fx.v2dir, missing[0] ? missing : "nothing");
    return 0;
}

static int real_v2_teardown(void **state)
{
    char p[PATH_MAX + 16], v[32];
    real_teardown(state);
    if (!fx.v2dir[0])
        return 0;
    /* back where we were, then remove our tree */
    snprintf(p, sizeof(p), "%s/cgroup.procs", fx.v2orig);
    snprintf(v, sizeof(v), "%ld", (long)getpid());
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(v, f);
        fclose(f);
    }
    snprintf(p, sizeof(p), "%s/supervisor", fx.v2dir);
    if (rmdir(p) < 0 && errno != ENOENT)
        fprintf(stderr, "  cannot remove %s: %s\n", p, strerror(errno));
    if (rmdir(fx.v2dir) < 0)
        fprintf(stderr, "  cannot remove %s: %s\n", fx.v2dir, strerror(errno));
    return 0;
}

static void test_real_v2_kill(void **state)
{
    char name[32], p[PATH_MAX + 64], self[64];
    (void)state;
    if (!fx.root)
        skip();
    assert_string_equal(cg_root_mode(fx.root), "v2");
    /* we moved ourselves into the supervisor leaf */
    snprintf(self, sizeof(self), "/proc/%ld/cgroup", (long)getpid());
    snprintf(p, sizeof(p), "0::%s/supervisor\n", fx.v2dir + strlen(T_UNIFIED));
    assert_non_null(strstr(get(self), p));

    fx_create("t-v2", 50, name, sizeof(name));
    snprintf(p, sizeof(p), "%s/sess-%s/cgroup.kill", fx.v2dir, name);
    if (!exists(p))
        fprintf(stderr, "  no cgroup.kill: the SIGKILL loop is tested instead\n");
    check_escape_killed();
    cg_destroy(fx.g);
    fx.g = NULL;
    snprintf(p, sizeof(p), "%s/sess-%s", fx.v2dir, name);
    assert_false(exists(p));
}

int main(void)
{
    /* orphans come back to us, so the tests can see how they died */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fake_v2, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_v2_no_entry, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_v1, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_v1_leftovers, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_hybrid_prefers_v2, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_nothing_usable, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_fake_names, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_real_v1_pids, real_v1_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_real_v1_oom, real_v1_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_real_v1_escape_and_destroy, real_v1_setup,
                                        real_teardown),
        cmocka_unit_test_setup_teardown(test_real_v1_no_freezer, real_v1_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_real_v2_kill, real_v2_setup, real_v2_teardown),
    };
    return cmocka_run_group_tests_name("worker: cgroup", tests, NULL, NULL);
}
