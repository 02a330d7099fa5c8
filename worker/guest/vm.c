/*
 * vm — omni-exec as a microVM's guest agent (see vm.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../exec_proto.h"
#include "../sandbox.h"
#include "buf.h"
#include "timeutil.h"
#include "vm.h"

#define GUEST_PORT_WAIT_MS 10000
#define GUEST_BUSYBOX "/stage1/busybox" /* the initramfs's (scripts/microvm-image) */
#define GUEST_WRITE_TIMEOUT_MS 30000
#define GUEST_SETUP_MAX (1024 * 1024)
#define GUEST_9P_USR "trans=virtio,version=9p2000.L,msize=262144,cache=loose"
/* (not cache=loose for a writable share: a write past a full share then
 * hangs instead of failing with ENOSPC, on the 6.1 guest kernel) */
#define GUEST_9P_RW "trans=virtio,version=9p2000.L,msize=262144,cache=mmap"
#define GUEST_9P_RO GUEST_9P_RW

int guest_open_port(char *why, size_t whylen)
{
    int64_t end = omni_mono_ms() + GUEST_PORT_WAIT_MS;
    for (;;) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            char path[300], name[64] = "";
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
            FILE *f = fopen(path, "re");
            if (!f)
                continue;
            if (!fgets(name, sizeof(name), f))
                name[0] = '\0';
            fclose(f);
            name[strcspn(name, "\n")] = '\0';
            if (strcmp(name, SANDBOX_VM_PORT) != 0)
                continue;
            snprintf(path, sizeof(path), "/dev/%s", de->d_name);
            int fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd >= 0) {
                closedir(d);
                return fd;
            }
        }
        if (d)
            closedir(d);
        if (omni_mono_ms() >= end) {
            snprintf(why, whylen, "no virtio port named %s", SANDBOX_VM_PORT);
            return -1;
        }
        omni_sleep_ms(20, NULL);
    }
}

static long num(const cJSON *m, const char *k, long dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.2e18
               ? (long)v->valuedouble
               : dflt;
}

static const char *str(const cJSON *m, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A JSON array of strings into a NULL-terminated list (absolute paths when
 * paths is set). -1 when malformed or too long. */
static int str_list(const cJSON *m, const char *k, const char **out, int paths)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, k), *e;
    int n = 0;
    out[0] = NULL;
    if (!a)
        return 0;
    if (!cJSON_IsArray(a))
        return -1;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsString(e) || n >= GUEST_LIST_MAX || (paths && e->valuestring[0] != '/'))
            return -1;
        out[n++] = e->valuestring;
        out[n] = NULL;
    }
    return 0;
}

/* mkdir -p, 0755 (the session's uid walks the path to its directory). */
static int mkdirs(const char *path)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return -1;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -1;
            if (!c)
                return 0;
            *s = c;
        }
    }
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The host's entropy, credited: a VM restored from the template would
 * otherwise start from the template's random state, the same in every VM. */
static void add_entropy(const char *hex)
{
    struct {
        struct rand_pool_info info;
        unsigned char bytes[128];
    } e;
    size_t n = 0;
    memset(&e, 0, sizeof(e));
    for (; hex && hex[2 * n] && hex[2 * n + 1] && n < sizeof(e.bytes); n++) {
        int hi = hex_val(hex[2 * n]), lo = hex_val(hex[2 * n + 1]);
        if (hi < 0 || lo < 0)
            break;
        e.bytes[n] = (unsigned char)(hi << 4 | lo);
    }
    e.info.entropy_count = (int)(n * 8);
    e.info.buf_size = (int)n;
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ioctl(fd, RNDADDENTROPY, &e);
        close(fd);
    }
    explicit_bzero(&e, sizeof(e));
}

static int mount_tmp(const char *dir, long long bytes, char *why, size_t whylen)
{
    char opt[64];
    snprintf(opt, sizeof(opt), "mode=1777,size=%lld", bytes > 0 ? bytes : 64LL << 20);
    if (mkdirs(dir) < 0 || mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opt) < 0) {
        snprintf(why, whylen, "cannot mount a tmpfs on %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int mount_9p(const char *tag, const char *dir, int ro, const char *opts, char *why,
                    size_t whylen)
{
    unsigned long fl = MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0);
    if (mkdirs(dir) < 0 || mount(tag, dir, "9p", fl, opts) < 0) {
        snprintf(why, whylen, "cannot mount the host's share %s on %s: %s", tag, dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int busybox(const char *const argv[])
{
    pid_t p = fork();
    if (p == 0) {
        execv(GUEST_BUSYBOX, (char *const *)argv);
        _exit(127);
    }
    int st;
    while (p > 0 && waitpid(p, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The egress allow-list: the listed names resolve to the proxy's forward,
 * the only address the restricted network reaches (no route, no DNS). */
static int egress_up(const char *hosts, char *why, size_t whylen)
{
    static const char *const up[] = {"ip", "link", "set", "eth0", "up", NULL};
    static const char *const addr[] = {"ip",  "addr", "add", SANDBOX_VM_GUEST_IP "/24",
                                       "dev", "eth0", NULL};
    int fd = open("/etc/hosts", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || write(fd, hosts, strlen(hosts)) != (ssize_t)strlen(hosts) || close(fd) < 0 ||
        busybox(up) < 0 || busybox(addr) < 0) {
        snprintf(why, whylen, "cannot set the egress network up: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Apply the set-up as root. */
static int apply(const cJSON *m, struct guest_conf *g, char *why, size_t whylen)
{
    const cJSON *shares = cJSON_GetObjectItemCaseSensitive(m, "shares"), *sh;
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(m, "env"), *e;
    struct timespec ts = {num(m, "time_sec", 0), num(m, "time_nsec", 0)};
    const char *host = str(m, "hostname");

    if (ts.tv_sec > 0 && ts.tv_nsec < 1000000000L)
        clock_settime(CLOCK_REALTIME, &ts);
    add_entropy(str(m, "seed"));
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(m, "seed");
    if (cJSON_IsString(sd))
        explicit_bzero(sd->valuestring, strlen(sd->valuestring));
    if (host)
        sethostname(host, strlen(host));
    if (str(m, "egress_hosts") && egress_up(str(m, "egress_hosts"), why, whylen) < 0)
        return -1;
    if (mount_9p("usr", "/usr", 1, GUEST_9P_USR, why, whylen) < 0)
        return -1;
    /* the scratch space first: a share may lie below /tmp (as on the host) */
    long long tmp = (long long)num(m, "tmp_bytes", 0);
    if (mount_tmp("/tmp", tmp, why, whylen) < 0 || mount_tmp("/var/tmp", tmp, why, whylen) < 0 ||
        mount_tmp("/dev/shm", tmp, why, whylen) < 0)
        return -1;
    if (!cJSON_IsArray(shares)) {
        snprintf(why, whylen, "setup: no shares");
        return -1;
    }
    cJSON_ArrayForEach(sh, shares) {
        const char *tag = str(sh, "tag"), *path = str(sh, "path");
        int ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sh, "ro"));
        if (!tag || !path || path[0] != '/' || strlen(tag) > 31) {
            snprintf(why, whylen, "setup: a malformed share");
            return -1;
        }
        if (mount_9p(tag, path, ro, ro ? GUEST_9P_RO : GUEST_9P_RW, why, whylen) < 0)
            return -1;
    }
    long pids = num(m, "pids_max", 0);
    if (pids > 0) { /* counted per uid: the tools' processes, the agent's among them */
        struct rlimit rl = {(rlim_t)pids, (rlim_t)pids};
        setrlimit(RLIMIT_NPROC, &rl);
    }
    clearenv();
    if (cJSON_IsArray(env))
        cJSON_ArrayForEach(e, env)
            if (cJSON_IsString(e) && strchr(e->valuestring, '='))
                putenv(e->valuestring);
    return 0;
}

int guest_setup(int fd, struct guest_conf *g, char *why, size_t whylen)
{
    static const char boot[] = "{\"op\":\"boot\",\"version\":1}";
    struct buf frame = BUF_INIT_MAX(GUEST_SETUP_MAX);
    memset(g, 0, sizeof(*g));
    g->uid = g->gid = -1;
    if (xp_write(fd, boot, strlen(boot), GUEST_WRITE_TIMEOUT_MS) < 0) {
        snprintf(why, whylen, "cannot write to the host: %s", strerror(errno));
        return -1;
    }
    /* the host sends the set-up at once; a restored VM reads it here too */
    int r = xp_read(fd, &frame, -1, NULL);
    g->setup = r > 0 ? cJSON_ParseWithLength(frame.data, frame.len) : NULL;
    explicit_bzero(frame.data, frame.len);
    buf_release(&frame);
    const char *op = str(g->setup, "op");
    if (!op || strcmp(op, "setup") != 0) {
        snprintf(why, whylen, "no set-up from the host");
        return -1;
    }
    const cJSON *m = g->setup;
    g->to.workdir = str(m, "workdir");
    g->uid = num(m, "uid", -1);
    g->gid = num(m, "gid", -1);
    if (!g->to.workdir || g->to.workdir[0] != '/' || g->uid <= 0 || g->gid <= 0 ||
        str_list(m, "allow", g->allowed, 1) < 0 || str_list(m, "readonly", g->readonly, 1) < 0 ||
        str_list(m, "pass_env", g->pass_env, 0) < 0) {
        snprintf(why, whylen, "a malformed set-up from the host");
        return -1;
    }
    g->to.allowed_roots = g->allowed[0] ? g->allowed : NULL;
    g->to.readonly_roots = g->readonly[0] ? g->readonly : NULL;
    g->to.pass_env = g->pass_env;
    g->to.bash_default_timeout_ms = num(m, "bash_timeout", 0);
    g->to.bash_max_timeout_ms = num(m, "bash_max_timeout", 0);
    g->to.tool_timeout_ms = num(m, "tool_timeout", 0);
    g->to.max_file_bytes = (size_t)num(m, "max_file_bytes", 0);
    return apply(m, g, why, whylen);
}

void guest_conf_release(struct guest_conf *g)
{
    cJSON_Delete(g->setup);
    g->setup = NULL;
}
