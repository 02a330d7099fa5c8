/*
 * microvm — the host side of `--sandbox microvm` (see microvm.h).
 */
#include "microvm.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "exec_proto.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

int microvm_accel_parse(const char *s, int *out)
{
    if (strcmp(s, "auto") == 0)
        *out = MICROVM_AUTO;
    else if (strcmp(s, "kvm") == 0)
        *out = MICROVM_KVM;
    else if (strcmp(s, "tcg") == 0)
        *out = MICROVM_TCG;
    else
        return -1;
    return 0;
}

/* ---- the agent's set-up frame ---- */

static void add_share(cJSON *shares, const char *tag, const char *path, int ro)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tag", tag);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddBoolToObject(o, "ro", ro);
    cJSON_AddItemToArray(shares, o);
}

char *microvm_setup_frame(const struct sandbox_spec *s, char *const env[])
{
    unsigned char seed[MICROVM_SEED_BYTES];
    char hex[2 * MICROVM_SEED_BYTES + 1], tag[16];
    struct timespec now;
    cJSON *m = cJSON_CreateObject(), *a;

    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        cJSON_Delete(m);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(seed); i++)
        snprintf(hex + 2 * i, 3, "%02x", seed[i]);
    explicit_bzero(seed, sizeof(seed));
    clock_gettime(CLOCK_REALTIME, &now);

    cJSON_AddStringToObject(m, "op", "setup");
    cJSON_AddNumberToObject(m, "version", XP_VERSION);
    cJSON_AddStringToObject(m, "workdir", s->session_dir);
    cJSON_AddNumberToObject(m, "uid", s->switch_uid ? (double)s->uid : (double)getuid());
    cJSON_AddNumberToObject(m, "gid", s->switch_uid ? (double)s->gid : (double)getgid());
    cJSON_AddNumberToObject(m, "time_sec", (double)now.tv_sec);
    cJSON_AddNumberToObject(m, "time_nsec", (double)now.tv_nsec);
    cJSON_AddStringToObject(m, "seed", hex);
    explicit_bzero(hex, sizeof(hex));
    cJSON_AddStringToObject(m, "hostname", SANDBOX_HOSTNAME);
    if (s->egress_hosts)
        cJSON_AddStringToObject(m, "egress_hosts", s->egress_hosts);
    cJSON_AddNumberToObject(m, "tmp_bytes", (double)s->tmp_bytes);
    cJSON_AddNumberToObject(m, "pids_max", (double)s->pids_max);
    a = cJSON_AddArrayToObject(m, "shares");
    add_share(a, "work", s->session_dir, 0);
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++) {
        snprintf(tag, sizeof(tag), "rw%zu", i);
        add_share(a, tag, s->allowed_roots[i], 0);
    }
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++) {
        snprintf(tag, sizeof(tag), "ro%zu", i);
        add_share(a, tag, s->readonly_roots[i], 1);
    }
    a = cJSON_AddArrayToObject(m, "allow");
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s->allowed_roots[i]));
    a = cJSON_AddArrayToObject(m, "readonly");
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s->readonly_roots[i]));
    a = cJSON_AddArrayToObject(m, "pass_env");
    for (size_t i = 0; s->pass_env && s->pass_env[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s->pass_env[i]));
    a = cJSON_AddArrayToObject(m, "env");
    for (size_t i = 0; env && env[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(env[i]));
    cJSON_AddNumberToObject(m, "bash_timeout", (double)s->bash_default_timeout_ms);
    cJSON_AddNumberToObject(m, "bash_max_timeout", (double)s->bash_max_timeout_ms);
    cJSON_AddNumberToObject(m, "tool_timeout", (double)s->tool_timeout_ms);
    cJSON_AddNumberToObject(m, "max_file_bytes", (double)s->max_file_bytes);
    char *out = cJSON_PrintUnformatted(m);
    /* the seed is in the tree's copy too */
    cJSON *sd = cJSON_GetObjectItemCaseSensitive(m, "seed");
    if (cJSON_IsString(sd))
        explicit_bzero(sd->valuestring, strlen(sd->valuestring));
    cJSON_Delete(m);
    return out;
}

/* ---- finding the pieces ---- */

static char qemu_path[PATH_MAX], kernel_path[PATH_MAX], initrd_path[PATH_MAX];
static char vm_dir[PATH_MAX], template_path[PATH_MAX + 32];

static int find_qemu(void)
{
    const char *env = getenv("OMNI_QEMU");
    if (env && env[0] == '/' && access(env, X_OK) == 0) {
        snprintf(qemu_path, sizeof(qemu_path), "%s", env);
        return 0;
    }
    char list[] = MICROVM_QEMU_PATHS;
    for (char *save = NULL, *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
        if (access(p, X_OK) == 0) {
            snprintf(qemu_path, sizeof(qemu_path), "%s", p);
            return 0;
        }
    return -1;
}

/* The guest's directory: $OMNI_VM_DIR, microvm/ beside our binary, or
 * ../lib/omni/microvm/. */
static int find_vm_dir(char *out, size_t outlen)
{
    const char *env = getenv("OMNI_VM_DIR");
    if (env && env[0] == '/') {
        snprintf(out, outlen, "%s", env);
        return 0;
    }
    if (wk_find_beside_self("microvm/vmlinuz", R_OK, out, outlen) < 0)
        return -1;
    char *slash = strrchr(out, '/'); /* the directory of the kernel found */
    if (slash)
        *slash = '\0';
    return 0;
}

/* path (given, or name in the guest's directory) made absolute in out. */
static int find_file(const char *given, const char *name, char *out, struct omni_err *err)
{
    char cand[PATH_MAX * 2];
    if (given)
        snprintf(cand, sizeof(cand), "%s", given);
    else if (vm_dir[0])
        snprintf(cand, sizeof(cand), "%s/%s", vm_dir, name);
    else
        return omni_err_set(err, OMNI_E_CONFIG,
                            "no microVM %s: build the guest with `make microvm` "
                            "(scripts/microvm-image), or give --vm-%s",
                            name, strcmp(name, "vmlinuz") == 0 ? "kernel" : "initrd");
    struct stat st;
    if (!realpath(cand, out) || stat(out, &st) < 0 || !S_ISREG(st.st_mode) || access(out, R_OK) < 0)
        return omni_err_set(err, OMNI_E_CONFIG, "microVM %s \"%s\": %s", name, cand,
                            errno ? strerror(errno) : "not a regular file");
    return 0;
}

/* ---- QMP, for the template's save ---- */

struct qmp {
    int fd;
    struct buf in;
};

/* The next reply (not an event) within the deadline; the parsed object. */
static cJSON *qmp_reply(struct qmp *q, int64_t deadline)
{
    for (;;) {
        char *nl = q->in.len ? memchr(q->in.data, '\n', q->in.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->in.data) + 1;
            cJSON *m = cJSON_ParseWithLength(q->in.data, n);
            memmove(q->in.data, q->in.data + n, q->in.len - n);
            q->in.len -= n;
            if (m && !cJSON_HasObjectItem(m, "event"))
                return m;
            cJSON_Delete(m);
            continue;
        }
        int64_t left = deadline - omni_mono_ms();
        struct pollfd p = {q->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return NULL;
        char chunk[4096];
        ssize_t r = read(q->fd, chunk, sizeof(chunk));
        if (r <= 0 || buf_add(&q->in, chunk, (size_t)r) < 0)
            return NULL;
    }
}

/* Send one command (with a descriptor when pass_fd >= 0); 0 when it
 * succeeded, with *reply (may be NULL) the "return" object's owner. */
static int qmp_cmd(struct qmp *q, const char *cmd, int pass_fd, int64_t deadline, cJSON **reply,
                   char *why, size_t whylen)
{
    struct iovec iov = {(void *)cmd, strlen(cmd)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (pass_fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    if (sendmsg(q->fd, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
        snprintf(why, whylen, "QMP: %s", strerror(errno));
        return -1;
    }
    cJSON *m = qmp_reply(q, deadline);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
    if (!m || e) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "desc");
        snprintf(why, whylen, "QMP %.40s: %.200s", cmd,
                 cJSON_IsString(d) ? d->valuestring : "no answer");
        cJSON_Delete(m);
        return -1;
    }
    if (reply)
        *reply = m;
    else
        cJSON_Delete(m);
    return 0;
}

/*
 * Save the VM to fd: QEMU's migration stream into a file. It is saved
 * running (its agent idles in a read), so that a restore resumes it: a VM
 * saved paused would be restored paused. The caller ends it.
 */
static int qmp_save(int qmp_fd, int state_fd, char *why, size_t whylen)
{
    struct qmp q = {qmp_fd, BUF_INIT_MAX(1024 * 1024)};
    int64_t deadline = omni_mono_ms() + MICROVM_SAVE_TIMEOUT_MS;
    int rc = -1;
    cJSON *greet = qmp_reply(&q, deadline), *st = NULL;
    if (!greet) {
        snprintf(why, whylen, "QMP: no greeting");
        goto out;
    }
    cJSON_Delete(greet);
    if (qmp_cmd(&q, "{\"execute\":\"qmp_capabilities\"}\n", -1, deadline, NULL, why, whylen) ||
        qmp_cmd(&q,
                "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
                "{\"max-bandwidth\":10737418240}}\n",
                -1, deadline, NULL, why, whylen) ||
        qmp_cmd(&q, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"state\"}}\n", state_fd,
                deadline, NULL, why, whylen) ||
        qmp_cmd(&q, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:state\"}}\n", -1,
                deadline, NULL, why, whylen))
        goto out;
    for (;;) {
        if (qmp_cmd(&q, "{\"execute\":\"query-migrate\"}\n", -1, deadline, &st, why, whylen))
            goto out;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(st, "return"), "status");
        if (cJSON_IsString(s) && strcmp(s->valuestring, "completed") == 0)
            break;
        if (!cJSON_IsString(s) || strcmp(s->valuestring, "failed") == 0 ||
            strcmp(s->valuestring, "cancelled") == 0 || omni_mono_ms() >= deadline) {
            snprintf(why, whylen, "the VM's state was not saved (migration %s)",
                     cJSON_IsString(s) ? s->valuestring : "status unknown");
            goto out;
        }
        cJSON_Delete(st);
        st = NULL;
        omni_sleep_ms(20, NULL);
    }
    rc = 0;
out:
    cJSON_Delete(st);
    buf_release(&q.in);
    return rc;
}

/* ---- the test boot and the template ---- */

static void vm_end(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/*
 * Boot one VM (accelerator kvm or not) to its agent's "boot" frame within
 * limit_ms; with state_fd >= 0, save it there. 0, or -1 with why.
 */
static int vm_trial(const struct wk_config *cfg, const char *dir, int kvm, long limit_ms,
                    int state_fd, long *boot_ms, char *why, size_t whylen)
{
    int ch[2] = {-1, -1}, qmp[2] = {-1, -1}, rc = -1;
    struct sandbox_vm vm = {.qemu = qemu_path,
                            .kernel = kernel_path,
                            .initrd = initrd_path,
                            .mem_mib = (long)(cfg->vm_memory >> 20),
                            .vcpus = cfg->vm_cpus,
                            .tsc_khz = cfg->vm_tsc_khz,
                            .kvm = kvm,
                            .console = cfg->vm_console,
                            .nic = cfg->egress_names[0] != NULL,
                            .state_fd = -1,
                            .qmp_fd = -1};
    struct sandbox_spec spec = {0};
    char *env[] = {(char *)"PATH=/usr/bin:/bin", NULL};
    struct omni_err err = OMNI_ERR_INIT;
    struct buf frame = BUF_INIT_MAX(XP_FRAME_MAX);
    pid_t pid = -1;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) < 0 ||
        (state_fd >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0)) {
        snprintf(why, whylen, "socketpair: %s", strerror(errno));
        goto out;
    }
    vm.qmp_fd = qmp[1];
    spec.kind = SANDBOX_MICROVM;
    spec.bwrap = cfg->bwrap;
    spec.exec_bin = cfg->exec_bin;
    spec.sessions_root = cfg->workdir;
    spec.session_dir = dir;
    spec.allowed_roots = cfg->allowed_roots[0] ? cfg->allowed_roots : NULL;
    spec.readonly_roots = cfg->readonly_roots[0] ? cfg->readonly_roots : NULL;
    spec.switch_uid = cfg->switch_uid;
    spec.uid = (uid_t)cfg->sandbox_uid_base;
    spec.gid = (gid_t)cfg->sandbox_uid_base;
    spec.vm = &vm;
    int64_t t0 = omni_mono_ms();
    pid = sandbox_spawn(&spec, ch[1], env, NULL, 0, &err);
    close(ch[1]);
    ch[1] = -1;
    if (qmp[1] >= 0) {
        close(qmp[1]);
        qmp[1] = -1;
    }
    if (pid < 0) {
        snprintf(why, whylen, "%s", err.msg);
        goto out;
    }
    fcntl(ch[0], F_SETFL, fcntl(ch[0], F_GETFL) | O_NONBLOCK); /* (the bound holds) */
    int r = xp_read(ch[0], &frame, (int)limit_ms, NULL);
    cJSON *m = r > 0 ? cJSON_ParseWithLength(frame.data, frame.len) : NULL;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(m, "op");
    int booted = cJSON_IsString(op) && strcmp(op->valuestring, "boot") == 0;
    cJSON_Delete(m);
    if (!booted) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            snprintf(why, whylen, "QEMU ended (%s %d) before the guest agent started%s",
                     WIFEXITED(st) ? "exit" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                     cfg->vm_console ? "" : "; --log-level debug shows the guest's console");
        } else {
            snprintf(why, whylen, "the guest agent did not start within %ld s%s", limit_ms / 1000,
                     r < 0 && errno == ETIMEDOUT ? "" : " (its channel broke)");
        }
        goto out;
    }
    *boot_ms = (long)(omni_mono_ms() - t0);
    if (state_fd >= 0 && qmp_save(qmp[0], state_fd, why, whylen) < 0)
        goto out;
    rc = 0;
out:
    vm_end(pid);
    for (int i = 0; i < 2; i++) {
        if (ch[i] >= 0)
            close(ch[i]);
        if (qmp[i] >= 0)
            close(qmp[i]);
    }
    buf_release(&frame);
    return rc;
}

/* Remove the template directories of workers that are gone. */
static void sweep_templates(const char *workdir)
{
    DIR *d = opendir(workdir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        char *end;
        if (strncmp(de->d_name, ".microvm-", 9) != 0)
            continue;
        long pid = strtol(de->d_name + 9, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno == EPERM))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s/template.state", workdir, de->d_name);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%s/template.state.tmp", workdir, de->d_name);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%s/work", workdir, de->d_name);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/%s", workdir, de->d_name);
        rmdir(p);
    }
    closedir(d);
}

/* The host's TSC rate in kHz ("cpu MHz" of the first CPU), 0 if unknown. */
static long host_tsc_khz(void)
{
    char line[256];
    double mhz = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *c = strchr(line, ':');
            mhz = c ? strtod(c + 1, NULL) : 0;
            break;
        }
    if (f)
        fclose(f);
    return mhz > 100 && mhz < 100000 ? (long)(mhz * 1000) : 0;
}

static int kvm_usable(char *why, size_t whylen)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "/dev/kvm: %s", strerror(errno));
        return 0;
    }
    close(fd);
    return 1;
}

int microvm_host_setup(struct wk_config *cfg, int announce, struct omni_err *err)
{
    char why[512] = "", tdir[PATH_MAX], work[PATH_MAX + 8];
    long boot_ms = 0;

    if (find_qemu() < 0)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "--sandbox microvm: QEMU (qemu-system-x86_64) is not installed "
                            "(Debian: apt-get install qemu-system-x86)");
    vm_dir[0] = '\0';
    if (!cfg->vm_kernel || !cfg->vm_initrd)
        find_vm_dir(vm_dir, sizeof(vm_dir));
    if (find_file(cfg->vm_kernel, "vmlinuz", kernel_path, err) < 0 ||
        find_file(cfg->vm_initrd, "initrd.img", initrd_path, err) < 0)
        return -1;
    cfg->vm_qemu = qemu_path;
    cfg->vm_tsc_khz = host_tsc_khz();
    cfg->vm_console = log_get_level() == LOG_DEBUG;
    cfg->vm_kernel = kernel_path;
    cfg->vm_initrd = initrd_path;

    if (!announce) {
        const char *acc = getenv(MICROVM_ENV_ACCEL), *tp = getenv(MICROVM_ENV_TEMPLATE);
        cfg->vm_kvm = acc && strcmp(acc, "kvm") == 0;
        if (tp && tp[0] == '/') {
            snprintf(template_path, sizeof(template_path), "%s", tp);
            cfg->vm_template = template_path;
        }
        return 0;
    }

    sweep_templates(cfg->workdir);
    snprintf(tdir, sizeof(tdir), "%s/.microvm-%ld", cfg->workdir, (long)getpid());
    snprintf(work, sizeof(work), "%s/work", tdir);
    if ((mkdir(tdir, 0700) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST))
        return omni_err_set(err, OMNI_E_CONFIG, "cannot create \"%s\": %s", work, strerror(errno));
    if (cfg->switch_uid &&
        chown(work, (uid_t)cfg->sandbox_uid_base, (gid_t)cfg->sandbox_uid_base) < 0)
        return omni_err_set(err, OMNI_E_CONFIG, "cannot hand \"%s\" over: %s", work,
                            strerror(errno));

    /* the accelerator: KVM when a bounded test boot works */
    const char *accel_why = "";
    cfg->vm_kvm = 0;
    if (cfg->vm_accel == MICROVM_TCG) {
        accel_why = "--vm-accel tcg";
    } else if (!kvm_usable(why, sizeof(why))) {
        if (cfg->vm_accel == MICROVM_KVM)
            return omni_err_set(err, OMNI_E_CONFIG, "--vm-accel kvm: %s", why);
        accel_why = why;
    } else if (vm_trial(cfg, work, 1, MICROVM_KVM_PROBE_MS, -1, &boot_ms, why, sizeof(why)) < 0) {
        if (cfg->vm_accel == MICROVM_KVM)
            return omni_err_set(err, OMNI_E_CONFIG, "--vm-accel kvm: a test boot failed: %s", why);
        accel_why = why;
    } else {
        cfg->vm_kvm = 1;
        accel_why = "a test boot worked";
    }
    if (!cfg->vm_kvm && cfg->vm_accel == MICROVM_AUTO)
        log_kv(LOG_WARN,
               "KVM is not usable here; microVMs run under TCG (software emulation, "
               "several times slower)",
               "reason", accel_why, NULL);

    /* the test boot (under the accelerator chosen) and the template */
    int state_fd = -1;
    char tmp[PATH_MAX + 32];
    snprintf(template_path, sizeof(template_path), "%s/template.state", tdir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", template_path);
    if (cfg->vm_snapshot) {
        state_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (state_fd < 0)
            return omni_err_set(err, OMNI_E_CONFIG, "cannot create \"%s\": %s", tmp,
                                strerror(errno));
    }
    int64_t t0 = omni_mono_ms();
    int rc = vm_trial(cfg, work, cfg->vm_kvm,
                      cfg->vm_kvm ? MICROVM_KVM_PROBE_MS : MICROVM_BOOT_TIMEOUT_MS, state_fd,
                      &boot_ms, why, sizeof(why));
    long save_ms = (long)(omni_mono_ms() - t0) - boot_ms;
    struct stat st = {0};
    if (state_fd >= 0) {
        fstat(state_fd, &st);
        close(state_fd);
    }
    if (rc < 0 && !boot_ms) {
        unlink(tmp);
        return omni_err_set(err, OMNI_E_CONFIG, "--sandbox microvm: the test boot failed: %s", why);
    }
    if (rc < 0) { /* booted, not saved: cold boots only */
        unlink(tmp);
        log_kv(LOG_WARN, "microVM snapshot failed; every session boots cold", "reason", why, NULL);
    } else if (cfg->vm_snapshot) {
        if (rename(tmp, template_path) < 0)
            return omni_err_set(err, OMNI_E_CONFIG, "cannot save \"%s\": %s", template_path,
                                strerror(errno));
        cfg->vm_template = template_path;
    }
    setenv(MICROVM_ENV_ACCEL, cfg->vm_kvm ? "kvm" : "tcg", 1);
    if (cfg->vm_template)
        setenv(MICROVM_ENV_TEMPLATE, cfg->vm_template, 1);
    else
        unsetenv(MICROVM_ENV_TEMPLATE);

    char bms[32], sms[32], smb[32], mem[32];
    snprintf(bms, sizeof(bms), "%ld", boot_ms);
    snprintf(sms, sizeof(sms), "%ld", cfg->vm_template ? save_ms : 0L);
    snprintf(smb, sizeof(smb), "%lld", (long long)st.st_size);
    snprintf(mem, sizeof(mem), "%lldM", cfg->vm_memory >> 20);
    log_kv(LOG_INFO, "microVM guest ready", "accel", cfg->vm_kvm ? "kvm" : "tcg", "kernel",
           kernel_path, "memory", mem, "boot_ms", bms, "snapshot", cfg->vm_template ? "on" : "off",
           "save_ms", sms, "state_bytes", smb, NULL);
    return 0;
}

void microvm_host_cleanup(const struct wk_config *cfg)
{
    char p[PATH_MAX + 32];
    if (cfg->sandbox != SANDBOX_MICROVM || !cfg->workdir)
        return;
    if (cfg->vm_template)
        unlink(cfg->vm_template);
    snprintf(p, sizeof(p), "%s/.microvm-%ld/work", cfg->workdir, (long)getpid());
    rmdir(p);
    snprintf(p, sizeof(p), "%s/.microvm-%ld", cfg->workdir, (long)getpid());
    rmdir(p);
}
