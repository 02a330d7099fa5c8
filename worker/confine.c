/*
 * confine — one session's directory, identity, cgroup and executor (see
 * confine.h).
 */
#include "confine.h"

#include "cgroup.h"
#include "child.h"
#include "egress.h"
#include "executor.h"
#include "log.h"
#include "microvm.h"
#include "sandbox.h"
#include "timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define CONFINE_LOCK_WAIT_MS 10000L /* for a session another runner here still holds */
#define CONFINE_LOCK_POLL_MS 50L
#define CONFINE_BYTES_PER_INODE 4096LL /* the session tmpfs's files: one per 4 KiB of its size */
#define CONFINE_EGRESS_ROOT "/run/omni-egress" /* root: the sessions' proxy directories */

/* 1 when dir is a tmpfs mounted on its own (not the parent's file system). */
static int is_own_tmpfs(const char *dir)
{
    struct statfs sf;
    struct stat st, pst;
    char parent[PATH_MAX];
    if (statfs(dir, &sf) < 0 || sf.f_type != TMPFS_MAGIC || stat(dir, &st) < 0)
        return 0;
    if ((size_t)snprintf(parent, sizeof(parent), "%s/..", dir) >= sizeof(parent) ||
        stat(parent, &pst) < 0)
        return 0;
    return st.st_dev != pst.st_dev;
}

/* lchown a whole tree (no link followed; depth-bounded). */
static void chown_tree(int dfd, const char *name, uid_t uid, gid_t gid, int depth)
{
    struct stat st;
    if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
        depth > WK_RM_DEPTH)
        return;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            chown_tree(dirfd(d), de->d_name, uid, gid, depth + 1);
    closedir(d);
}

void confine_give(const struct confine *c, const char *rel)
{
    if (!c->switch_uid)
        return;
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    chown_tree(dfd, rel, c->uid, c->gid, 0);
    close(dfd);
}

/*
 * A uid no live session on this host has: the first of base + slot, base +
 * slot + 1, ... (WK_SANDBOX_UIDS of them) whose lock file in
 * WK_UID_LOCK_DIR we can flock. Every worker on the host takes its sessions'
 * uids this way, so two workers (or a `run` per session) never share one.
 */
static int uid_take(const struct wk_config *cfg, struct confine *c, struct omni_err *err)
{
    if (mkdir(WK_UID_LOCK_DIR, 0700) < 0 && errno != EEXIST)
        return omni_err_set(err, OMNI_E_IO, "cannot create \"%s\": %s", WK_UID_LOCK_DIR,
                            strerror(errno));
    for (long i = 0; i < WK_SANDBOX_UIDS; i++) {
        long uid = cfg->sandbox_uid_base + (cfg->slot + i) % WK_SANDBOX_UIDS;
        char path[128];
        snprintf(path, sizeof(path), "%s/%ld", WK_UID_LOCK_DIR, uid);
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return omni_err_set(err, OMNI_E_IO, "cannot open \"%s\": %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            c->uid_fd = fd;
            c->uid = (uid_t)uid;
            c->gid = (gid_t)uid;
            return 0;
        }
        close(fd);
    }
    return omni_err_set(err, OMNI_E_IO, "all %d session uids from %ld are in use on this host",
                        WK_SANDBOX_UIDS, cfg->sandbox_uid_base);
}

int confine_open(const struct wk_config *cfg, const char *session_id, struct confine *c,
                 struct omni_err *err)
{
    memset(c, 0, sizeof(*c));
    c->lock_fd = -1;
    c->root_fd = -1;
    c->uid_fd = -1;
    c->switch_uid = cfg->switch_uid;
    if (c->switch_uid && uid_take(cfg, c, err) < 0)
        return -1;
    if (mkdir(cfg->workdir, 0700) < 0 && errno != EEXIST)
        return omni_err_set(err, OMNI_E_IO, "cannot create workdir \"%s\": %s", cfg->workdir,
                            strerror(errno));
    if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s/%s", cfg->workdir, session_id) >=
        sizeof(c->dir))
        return omni_err_set(err, OMNI_E_USAGE, "workdir path for session \"%s\" is too long",
                            session_id);
    if (mkdir(c->dir, 0700) < 0 && errno != EEXIST)
        return omni_err_set(err, OMNI_E_IO, "cannot create session directory \"%s\": %s", c->dir,
                            strerror(errno));
    c->lock_fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c->lock_fd < 0)
        return omni_err_set(err, OMNI_E_IO, "cannot open the session directory \"%s\": %s", c->dir,
                            strerror(errno));
    /* Another runner on this host still holds the session (winding down
     * after a lost lease, say): wait for it a little, then give up without
     * harm to the item (it comes back when its lease expires). */
    for (int64_t end = omni_mono_ms() + CONFINE_LOCK_WAIT_MS;
         flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0; omni_sleep_ms(CONFINE_LOCK_POLL_MS, NULL)) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return omni_err_set(err, OMNI_E_IO, "cannot lock the session directory \"%s\": %s",
                                c->dir, strerror(errno));
        if (omni_mono_ms() >= end) {
            omni_err_set(err, OMNI_E_IO,
                         "another runner on this host still holds the session "
                         "directory \"%s\"",
                         c->dir);
            return -2;
        }
    }
    if (cfg->switch_uid && (lchown(c->dir, c->uid, c->gid) < 0 || chmod(c->dir, 0700) < 0))
        return omni_err_set(err, OMNI_E_IO, "cannot hand \"%s\" to uid %u: %s", c->dir,
                            (unsigned)c->uid, strerror(errno));
    if (cfg->switch_uid && !cfg->keep_workdir) {
        /* root: a tmpfs of its own (size cap; its pages are charged to the
         * session's memory cgroup), owned by the session's uid. A directory
         * kept from a lost lease is still mounted: reuse it. (--keep-workdir,
         * for debugging, keeps plain directories instead.) */
        int kept = is_own_tmpfs(c->dir);
        if (!kept) {
            char opts[128];
            /* nr_inodes bounds the extended attributes too (their space is
             * counted against it; size= does not see them) */
            long long inodes = cfg->limit_workdir / CONFINE_BYTES_PER_INODE;
            snprintf(opts, sizeof(opts), "size=%lld,nr_inodes=%lld,mode=0700,uid=%u,gid=%u",
                     cfg->limit_workdir, inodes < 1024 ? 1024 : inodes, (unsigned)c->uid,
                     (unsigned)c->gid);
            if (mount("omni-session", c->dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return omni_err_set(err, OMNI_E_IO, "cannot mount the session directory \"%s\": %s",
                                    c->dir, strerror(errno));
        }
        c->mounted = 1;
        if (kept) { /* from a lost lease, maybe under another uid: all of it is ours now */
            confine_give(c, ".");
        } else {
            /* the tmpfs's own root is what the start-up sweep looks at */
            c->root_fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (c->root_fd < 0 || flock(c->root_fd, LOCK_EX | LOCK_NB) < 0)
                return omni_err_set(err, OMNI_E_IO, "cannot lock the session directory \"%s\": %s",
                                    c->dir, strerror(errno));
        }
    }
    if (cfg->cg_root) {
        struct cg_limits lim = {cfg->limit_pids, cfg->limit_memory, cfg->limit_cpu};
        char name[OMNI_ID_MAX + 16];
        snprintf(name, sizeof(name), "%s", session_id);
        c->cg = cg_create(cfg->cg_root, name, &lim, err);
        if (!c->cg)
            return -1;
    }
    return 0;
}

/* The session's egress proxy (nginx, egress.h), and the guest's hosts file. */
static int confine_egress(const struct wk_config *cfg, const char *session_id,
                          const char *const *names, struct confine *c, char *hosts, size_t hostslen,
                          struct omni_err *err)
{
    char run[PATH_MAX];
    struct egress_spec es;
    memset(&es, 0, sizeof(es));
    /* root: a directory the proxy's uid can reach (the workdir is 0700) */
    if (cfg->switch_uid) {
        if (mkdir(CONFINE_EGRESS_ROOT, 0711) < 0 && errno != EEXIST)
            return omni_err_set(err, OMNI_E_IO, "cannot create %s: %s", CONFINE_EGRESS_ROOT,
                                strerror(errno));
        snprintf(run, sizeof(run), "%s/%ld-%s", CONFINE_EGRESS_ROOT, (long)getpid(), session_id);
    } else {
        snprintf(run, sizeof(run), "%s/.egress-%s", cfg->workdir, session_id);
    }
    es.names = names;
    es.run_dir = run;
    es.resolver = cfg->egress_resolver;
    es.client_uid = c->switch_uid ? c->uid : getuid();
    es.client_gid = c->switch_uid ? c->gid : getgid();
    es.proxy_uid = (uid_t)cfg->egress_uid;
    es.proxy_gid = (gid_t)cfg->egress_uid;
    es.upstream_tls_port = cfg->egress_tls_port;
    es.upstream_http_port = cfg->egress_http_port;
    if (egress_hosts_file(&es, SANDBOX_VM_PROXY_IP, hosts, hostslen) < 0)
        return omni_err_set(err, OMNI_E_CONFIG, "the egress allow-list makes no hosts file");
    c->eg = egress_start(&es, err);
    return c->eg ? 0 : -1;
}

int confine_start(const struct wk_config *cfg, const char *session_id, const char *const *egress,
                  struct confine *c, struct omni_err *err)
{
    struct executor_opts o;
    memset(&o, 0, sizeof(o));
    c->env = child_env_build(c->dir, cfg->pass_env, NULL);
    if (!c->env)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    o.spec.kind = cfg->sandbox;
    o.spec.bwrap = cfg->bwrap;
    o.spec.exec_bin = cfg->exec_bin;
    o.spec.sessions_root = cfg->workdir;
    o.spec.session_dir = c->dir;
    o.spec.allowed_roots = cfg->allowed_roots[0] ? cfg->allowed_roots : NULL;
    o.spec.readonly_roots = cfg->readonly_roots[0] ? cfg->readonly_roots : NULL;
    o.spec.masked = cfg->masked;
    o.spec.pass_env = cfg->pass_env;
    o.spec.switch_uid = c->switch_uid;
    o.spec.uid = c->uid;
    o.spec.gid = c->gid;
    o.spec.tmp_bytes = cfg->limit_tmp;
    o.spec.pids_max = cfg->limit_pids;
    struct sandbox_vm vm = {.qemu = cfg->vm_qemu,
                            .kernel = cfg->vm_kernel,
                            .initrd = cfg->vm_initrd,
                            .mem_mib = (long)(cfg->vm_memory >> 20),
                            .vcpus = cfg->vm_cpus,
                            .tsc_khz = cfg->vm_tsc_khz,
                            .kvm = cfg->vm_kvm,
                            .console = cfg->vm_console,
                            .nic = cfg->egress_names[0] != NULL,
                            .state_fd = -1,
                            .qmp_fd = -1};
    if (cfg->sandbox == SANDBOX_MICROVM) {
        o.spec.vm = &vm; /* copied by the executor */
        o.vm_template = cfg->vm_template;
    }
    o.spec.bash_default_timeout_ms = cfg->bash_default_timeout_ms;
    o.spec.bash_max_timeout_ms = cfg->bash_max_timeout_ms;
    o.spec.tool_timeout_ms = cfg->tool_timeout_ms;
    o.spec.max_file_bytes = cfg->max_file_bytes;
    char hosts[8192];
    if (!egress)
        egress = cfg->egress_names;
    if (egress[0] && confine_egress(cfg, session_id, egress, c, hosts, sizeof(hosts), err) < 0)
        return -1;
    o.spec.egress = c->eg;
    o.spec.egress_hosts = c->eg ? hosts : NULL;
    o.env = c->env;
    o.cg = c->cg;
    o.limits.pids_max = cfg->limit_pids;
    o.limits.memory_max = cfg->limit_memory;
    o.limits.cpu_percent = cfg->limit_cpu;
    o.session_id = session_id;
    c->ex = executor_new(&o, err);
    return c->ex ? 0 : -1;
}

void confine_close(struct confine *c, int keep_dir)
{
    executor_free(c->ex);
    c->ex = NULL;
    egress_stop(c->eg); /* after the sandbox: nothing uses the proxy now */
    c->eg = NULL;
    /* Every process of the session, whatever it did to escape its group. */
    cg_destroy(c->cg);
    c->cg = NULL;
    child_env_free(c->env);
    c->env = NULL;
    if (c->lock_fd >= 0) {
        close(c->lock_fd); /* the flock goes with it */
        c->lock_fd = -1;
    }
    if (c->uid_fd >= 0) {
        close(c->uid_fd); /* the uid is free again: nothing of the session is left */
        c->uid_fd = -1;
    }
    if (c->root_fd >= 0) {
        close(c->root_fd);
        c->root_fd = -1;
    }
    if (!c->dir[0] || keep_dir)
        return;
    if (c->mounted) {
        if (umount2(c->dir, MNT_DETACH) < 0)
            log_warn("cannot unmount the session directory \"%s\": %s", c->dir, strerror(errno));
        if (rmdir(c->dir) < 0 && errno != ENOENT)
            log_warn("cannot remove \"%s\": %s", c->dir, strerror(errno));
    } else {
        wk_rm_tree_at(AT_FDCWD, c->dir, 0);
    }
    c->dir[0] = '\0';
}

void confine_sweep(const struct wk_config *cfg)
{
    DIR *d = opendir(cfg->workdir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        if (de->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", cfg->workdir, de->d_name) >= sizeof(path))
            continue;
        if (!is_own_tmpfs(path))
            continue;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) { /* a live session's */
            if (fd >= 0)
                close(fd);
            continue;
        }
        close(fd);
        log_kv(LOG_INFO, "removing a session directory no session holds", "path", path, NULL);
        if (umount2(path, MNT_DETACH) == 0)
            rmdir(path);
    }
    closedir(d);
}

/* ---- host set-up, once per process ---- */

#define CONFINE_PROBE_TIMEOUT_MS 10000L
#define CONFINE_VM_OVERHEAD (192LL * 1024 * 1024) /* QEMU and its TCG cache beside the guest */

static char workdir_abs[PATH_MAX];
static char exec_path[PATH_MAX];
static char masked_paths[WK_MASKED_MAX][PATH_MAX];

/* omni-exec: $OMNI_EXEC_BIN, beside our binary, or in ../lib/omni/. */
static int find_exec_bin(char *out, size_t outlen)
{
    const char *env = getenv("OMNI_EXEC_BIN");
    if (env && env[0] == '/') {
        snprintf(out, outlen, "%s", env);
        return access(out, X_OK);
    }
    return wk_find_beside_self("omni-exec", X_OK, out, outlen);
}

static void mask_add(struct wk_config *cfg, int *n, const char *path)
{
    if (!path || !*path || *n >= WK_MASKED_MAX)
        return;
    if (!realpath(path, masked_paths[*n]))
        return;
    cfg->masked[*n] = masked_paths[*n];
    (*n)++;
    cfg->masked[*n] = NULL;
}

int confine_host_setup(struct wk_config *cfg, const char *key_file, const char *secret_file,
                       int announce, struct omni_err *err)
{
    char missing[512] = "";
    int nmask = 0;

    cfg->bwrap = sandbox_find_bwrap();
    if (!cfg->bwrap)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "bubblewrap (bwrap) is not installed: it builds every session's "
                            "sandbox (Debian: apt-get install bubblewrap)");
    if (find_exec_bin(exec_path, sizeof(exec_path)) < 0)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "the tool executor omni-exec was not found beside omni-worker or "
                            "in ../lib/omni/ (or set OMNI_EXEC_BIN)");
    cfg->exec_bin = exec_path;
    if (mkdir(cfg->workdir, 0700) < 0 && errno != EEXIST)
        return omni_err_set(err, OMNI_E_CONFIG, "cannot create workdir \"%s\": %s", cfg->workdir,
                            strerror(errno));
    if (!realpath(cfg->workdir, workdir_abs))
        return omni_err_set(err, OMNI_E_CONFIG, "workdir \"%s\": %s", cfg->workdir,
                            strerror(errno));
    cfg->workdir = workdir_abs;
    mask_add(cfg, &nmask, key_file);
    mask_add(cfg, &nmask, secret_file);
    mask_add(cfg, &nmask, getenv("CREDENTIALS_DIRECTORY"));
    cfg->switch_uid = geteuid() == 0;

    if (cfg->egress_names[0] &&
        (cfg->sandbox == SANDBOX_NONE || (cfg->sandbox == SANDBOX_BWRAP && !cfg->switch_uid)))
        return omni_err_set(err, OMNI_E_CONFIG,
                            "--egress-allow needs --sandbox microvm, or --sandbox bwrap with the "
                            "worker running as root (--sandbox none shares the host's network)");
    cfg->cg_root = cg_root_open(NULL, NULL, missing, sizeof(missing), err);
    omni_err_clear(err);
    if (cfg->sandbox == SANDBOX_MICROVM && microvm_host_setup(cfg, announce, err) < 0)
        return -1;
    if (!announce)
        return 0;

    /* a sandbox that cannot start here fails every item: say so now */
    struct sandbox_spec probe = {0};
    char *env[] = {(char *)"PATH=/usr/bin:/bin", NULL};
    probe.kind = (enum sandbox_kind)cfg->sandbox;
    probe.bwrap = cfg->bwrap;
    probe.exec_bin = cfg->exec_bin;
    probe.sessions_root = cfg->workdir;
    probe.session_dir = cfg->workdir;
    probe.masked = cfg->masked;
    probe.switch_uid = cfg->switch_uid;
    probe.uid = (uid_t)cfg->sandbox_uid_base;
    probe.gid = (gid_t)cfg->sandbox_uid_base;
    probe.probe = 1;
    if (cfg->sandbox != SANDBOX_MICROVM &&
        sandbox_probe(&probe, env, CONFINE_PROBE_TIMEOUT_MS, err) < 0)
        return -1; /* (a microVM's test boot was its probe) */
    if (cfg->sandbox == SANDBOX_MICROVM && cfg->cg_root &&
        cfg->limit_memory < cfg->vm_memory + CONFINE_VM_OVERHEAD) {
        char need[32];
        executor_fmt_bytes(cfg->vm_memory + CONFINE_VM_OVERHEAD, need, sizeof(need));
        log_kv(LOG_WARN,
               "--limit-memory is below the guest's memory plus QEMU's own: a busy "
               "guest will be killed by the host",
               "needed", need, NULL);
    }

    /* one line on what protects the sessions, one per thing missing */
    char mem[32], tmp[32], wd[32];
    executor_fmt_bytes(cfg->limit_memory, mem, sizeof(mem));
    executor_fmt_bytes(cfg->limit_tmp, tmp, sizeof(tmp));
    executor_fmt_bytes(cfg->limit_workdir, wd, sizeof(wd));
    char who[96], lim[160];
    if (cfg->switch_uid)
        snprintf(who, sizeof(who), "own uid per session (from %ld)", cfg->sandbox_uid_base);
    else
        snprintf(who, sizeof(who), "the worker's uid in a user namespace");
    if (cfg->cg_root)
        snprintf(lim, sizeof(lim), "cgroup %s limits: memory %s, %ld processes, %d%% CPU",
                 cg_root_mode(cfg->cg_root), mem, cfg->limit_pids, cfg->limit_cpu);
    else
        snprintf(lim, sizeof(lim), "no cgroup limits");
    log_kv(LOG_INFO, "session containment", "sandbox", sandbox_kind_name(cfg->sandbox), "identity",
           who, "limits", lim, "tmp", tmp, "workdir", cfg->switch_uid ? wd : "no size cap", NULL);
    if (!cfg->cg_root)
        log_kv(LOG_WARN,
               "no cgroup delegation: sessions run without memory, process and CPU limits, so "
               "one session can exhaust the host (systemd: Delegate=yes, see omni-worker(8))",
               "missing", missing[0] ? missing : "cgroups", NULL);
    else if (missing[0])
        log_kv(LOG_WARN, "some cgroup controllers are missing; their limits are off", "missing",
               missing, NULL);
    if (!cfg->switch_uid)
        log_kv(LOG_WARN,
               "not running as root: sessions share the worker's uid (isolated by namespaces "
               "only) and their directories have no size cap; see omni-worker(8) SECURITY",
               NULL);
    return 0;
}
