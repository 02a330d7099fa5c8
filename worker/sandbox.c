/*
 * sandbox — the bubblewrap command line of a session's executor and its
 * start (see sandbox.h).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "egress.h"
#include "sandbox.h"

#define SANDBOX_TMP_DEFAULT (64LL * 1024 * 1024)

const char *sandbox_kind_name(enum sandbox_kind k)
{
    return k == SANDBOX_BWRAP ? "bwrap" : k == SANDBOX_MICROVM ? "microvm" : "none";
}

int sandbox_kind_parse(const char *s, enum sandbox_kind *out)
{
    if (strcmp(s, "none") == 0)
        *out = SANDBOX_NONE;
    else if (strcmp(s, "bwrap") == 0)
        *out = SANDBOX_BWRAP;
    else if (strcmp(s, "microvm") == 0)
        *out = SANDBOX_MICROVM;
    else
        return -1;
    return 0;
}

const char *sandbox_find_bwrap(void)
{
    static const char *const paths[] = {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* ---- argv builder ---- */

struct argv_b {
    char **v;
    size_t n;
    int failed;
};

static void add(struct argv_b *b, const char *s)
{
    if (b->failed)
        return;
    if (b->n + 1 >= SANDBOX_ARGV_MAX) {
        b->failed = E2BIG;
        return;
    }
    b->v[b->n] = strdup(s);
    if (!b->v[b->n]) {
        b->failed = ENOMEM;
        return;
    }
    b->n++;
}

static void add2(struct argv_b *b, const char *a, const char *c)
{
    add(b, a);
    add(b, c);
}

static void add3(struct argv_b *b, const char *a, const char *c, const char *d)
{
    add(b, a);
    add(b, c);
    add(b, d);
}

static void addnum(struct argv_b *b, const char *opt, long long v)
{
    char n[32];
    snprintf(n, sizeof(n), "%lld", v);
    add2(b, opt, n);
}

/* The minimal system of the bwrap backend. */
static void add_minimal_system(struct argv_b *b)
{
    static const char *const top[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
    static const char *const etc[] = {"/etc/ssl",           "/etc/ca-certificates",
                                      "/etc/pki",           "/etc/hosts",
                                      "/etc/nsswitch.conf", "/etc/passwd",
                                      "/etc/group",         "/etc/localtime",
                                      "/etc/ld.so.cache",   "/etc/alternatives",
                                      "/etc/bash.bashrc",   "/etc/inputrc",
                                      "/etc/mime.types",    "/etc/magic"};
    add3(b, "--ro-bind", "/usr", "/usr");
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        char path[64], target[256];
        snprintf(path, sizeof(path), "/%s", top[i]);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        struct stat st;
        if (n > 0) {
            target[n] = '\0';
            add3(b, "--symlink", target, path);
        } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            add3(b, "--ro-bind", path, path);
        }
    }
    /* (bubblewrap makes missing directories 0700 root: the session's uid
     * must be able to walk /etc) */
    add2(b, "--perms", "0755");
    add2(b, "--dir", "/etc");
    for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++)
        add3(b, "--ro-bind-try", etc[i], etc[i]);
}

/*
 * none mode: the directory hidden under an empty tmpfs. The sessions root, or
 * the first of its ancestors that the session's own uid could not search (the
 * path down to the session's directory, made again inside that tmpfs, must
 * be searchable by the session).
 */
static void hide_point(const char *root, int switch_uid, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", root);
    if (!switch_uid)
        return;
    for (char *p = strchr(out + 1, '/');; p = strchr(p + 1, '/')) {
        struct stat st;
        if (p)
            *p = '\0';
        if (stat(out, &st) == 0 && !(st.st_mode & S_IXOTH))
            return;
        if (!p)
            return;
        *p = '/';
    }
}

/* 1 when path is top or lies below it. */
static int path_under(const char *path, const char *top)
{
    size_t n = strlen(top);
    if (n == 1 && top[0] == '/')
        return 1;
    return strncmp(path, top, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Is path in sight inside the sandbox: the whole host in `none` mode, else
 * only what an --allow-path or --readonly-path bind brings in. */
static int sandbox_shows(const struct sandbox_spec *s, const char *path)
{
    if (s->kind == SANDBOX_NONE)
        return 1;
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++)
        if (path_under(path, s->allowed_roots[i]))
            return 1;
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++)
        if (path_under(path, s->readonly_roots[i]))
            return 1;
    return 0;
}

/*
 * The worker's own secrets (key file, secret file, credentials directory)
 * covered wherever the sandbox would show them. After every bind, so that a
 * directory handed to the tools cannot bring one back into sight.
 */
static void add_masks(struct argv_b *b, const struct sandbox_spec *s)
{
    for (size_t i = 0; s->masked && s->masked[i]; i++) {
        struct stat st;

        if (s->masked[i][0] != '/' || lstat(s->masked[i], &st) < 0 ||
            !sandbox_shows(s, s->masked[i]))
            continue;
        if (S_ISDIR(st.st_mode))
            add2(b, "--tmpfs", s->masked[i]);
        else
            add3(b, "--ro-bind", "/dev/null", s->masked[i]);
    }
}

/*
 * The directories between top (a tmpfs of ours, or the sandbox's own root)
 * and the session's directory, made 0755: bubblewrap would make them 0700
 * root, and the session's uid must be able to walk the path to its workdir.
 */
static void add_parents(struct argv_b *b, const char *top, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (path_under(path, top) && strcmp(path, top) != 0) {
            add2(b, "--perms", "0755");
            add2(b, "--dir", path);
        }
        *p = '/';
    }
}

static char **argv_finish(struct argv_b *b, struct omni_err *err)
{
    if (b->failed) {
        int e = b->failed;
        sandbox_argv_free(b->v);
        omni_err_set(err, OMNI_E_IO, "sandbox: cannot build the command line: %s", strerror(e));
        return NULL;
    }
    b->v[b->n] = NULL;
    return b->v;
}

/* A QEMU option value: a comma is written twice. */
static void qemu_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *in && o + 3 < outlen; in++) {
        if (*in == ',')
            out[o++] = ',';
        out[o++] = *in;
    }
    out[o] = '\0';
}

/* One 9p share: host path dir under tag, read-only or not. */
static void add_share(struct argv_b *b, const char *tag, const char *dir, int ro)
{
    char esc[PATH_MAX * 2], arg[PATH_MAX * 2 + 128];
    qemu_escape(dir, esc, sizeof(esc));
    snprintf(arg, sizeof(arg), "local,id=%s,path=%s,security_model=none%s", tag, esc,
             ro ? ",readonly=on" : "");
    add2(b, "-fsdev", arg);
    snprintf(arg, sizeof(arg), "virtio-9p-device,fsdev=%s,mount_tag=%s", tag, tag);
    add2(b, "-device", arg);
}

/*
 * microvm: the jail QEMU runs in, then QEMU's own command line. Every device
 * is given in a fixed order: a saved template restores only into the same
 * machine (the share paths may differ, their tags and order may not).
 */
static void add_vm(struct argv_b *b, const struct sandbox_spec *s)
{
    const struct sandbox_vm *vm = s->vm;
    char arg[PATH_MAX * 2 + 256], esc[2][PATH_MAX * 2];

    add_minimal_system(b);
    add2(b, "--proc", "/proc");
    add2(b, "--dev", "/dev");
    if (vm->kvm)
        add3(b, "--dev-bind", "/dev/kvm", "/dev/kvm");
    add2(b, "--perms", "1777");
    addnum(b, "--size", 16LL * 1024 * 1024);
    add2(b, "--tmpfs", "/tmp");
    add3(b, "--ro-bind", vm->kernel, vm->kernel);
    add3(b, "--ro-bind", vm->initrd, vm->initrd);
    add_parents(b, path_under(s->session_dir, "/tmp") ? "/tmp" : "/", s->session_dir);
    add3(b, "--bind", s->session_dir, s->session_dir);
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++)
        add3(b, "--bind", s->allowed_roots[i], s->allowed_roots[i]);
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++)
        add3(b, "--ro-bind", s->readonly_roots[i], s->readonly_roots[i]);
    if (s->egress) { /* (the directories to them searchable by QEMU's uid) */
        add_parents(b, "/", egress_tls_socket(s->egress));
        add3(b, "--ro-bind", egress_tls_socket(s->egress), egress_tls_socket(s->egress));
        add3(b, "--ro-bind", egress_http_socket(s->egress), egress_http_socket(s->egress));
    }
    add2(b, "--chdir", "/");

    add(b, vm->qemu);
    add2(b, "-M", SANDBOX_VM_MACHINE);
    if (vm->kvm) {
        add2(b, "-accel", "kvm");
        add2(b, "-cpu", "host");
    } else {
        add2(b, "-accel", SANDBOX_VM_TCG);
        add2(b, "-cpu", SANDBOX_VM_TCG_CPU);
    }
    snprintf(arg, sizeof(arg), "%ldM", vm->mem_mib);
    add2(b, "-m", arg);
    addnum(b, "-smp", vm->vcpus > 0 ? vm->vcpus : 1);
    add(b, "-nodefaults");
    add(b, "-no-user-config");
    add2(b, "-display", "none");
    add(b, "-no-reboot");
    qemu_escape(vm->kernel, esc[0], sizeof(esc[0]));
    qemu_escape(vm->initrd, esc[1], sizeof(esc[1]));
    add2(b, "-kernel", esc[0]);
    add2(b, "-initrd", esc[1]);
    snprintf(arg, sizeof(arg), "%s tsc_early_khz=%ld", SANDBOX_VM_CMDLINE,
             vm->tsc_khz > 0 ? vm->tsc_khz : 2000000L);
    add2(b, "-append", arg);
    if (vm->console) {
        add2(b, "-chardev", "file,id=con,path=/proc/self/fd/2,append=on");
        add2(b, "-serial", "chardev:con");
    } else {
        add2(b, "-serial", "null");
    }
    add2(b, "-device", "virtio-serial-device");
    add2(b, "-chardev", "socket,id=exec,fd=0");
    add2(b, "-device", "virtserialport,chardev=exec,name=" SANDBOX_VM_PORT);
    add_share(b, "usr", "/usr", 1);
    add_share(b, "work", s->session_dir, 0);
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++) {
        snprintf(arg, sizeof(arg), "rw%zu", i);
        add_share(b, arg, s->allowed_roots[i], 0);
    }
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++) {
        snprintf(arg, sizeof(arg), "ro%zu", i);
        add_share(b, arg, s->readonly_roots[i], 1);
    }
    add2(b, "-device", "virtio-rng-device");
    if (vm->nic) {
        /* restrict=on: the guest reaches nothing through it but the
         * forwards, each connection handed to the session's proxy socket
         * (a template VM has the device and no forward) */
        char fwd[2][PATH_MAX + 96];
        fwd[0][0] = fwd[1][0] = '\0';
        if (s->egress) {
            snprintf(fwd[0], sizeof(fwd[0]),
                     ",guestfwd=tcp:" SANDBOX_VM_PROXY_IP ":443-cmd:" EGRESS_SOCAT
                     " STDIO UNIX-CONNECT:%s",
                     egress_tls_socket(s->egress));
            snprintf(fwd[1], sizeof(fwd[1]),
                     ",guestfwd=tcp:" SANDBOX_VM_PROXY_IP ":80-cmd:" EGRESS_SOCAT
                     " STDIO UNIX-CONNECT:%s",
                     egress_http_socket(s->egress));
        }
        snprintf(arg, sizeof(arg), "user,id=n0,restrict=on,ipv6=off,net=" SANDBOX_VM_NET "%s%s",
                 fwd[0], fwd[1]);
        add2(b, "-netdev", arg);
        add2(b, "-device", "virtio-net-device,netdev=n0");
    } else {
        add2(b, "-nic", "none");
    }
    /* QEMU's own seccomp filter: no process spawning, no obsolete calls, no
     * scheduler or resource changes; the uid change itself (-runas) needs
     * the set*id calls, after which nothing can be elevated again */
    snprintf(arg, sizeof(arg), "on,obsolete=deny,%sspawn=%s,resourcecontrol=deny",
             s->switch_uid ? "" : "elevateprivileges=deny,",
             s->egress ? "allow" : "deny"); /* (a forward spawns its relay) */
    add2(b, "-sandbox", arg);
    if (s->switch_uid) {
        snprintf(arg, sizeof(arg), "%ld:%ld", (long)s->uid, (long)s->gid);
        add2(b, "-runas", arg);
    }
    if (vm->state_fd >= 0)
        add2(b, "-incoming", "fd:4");
    if (vm->qmp_fd >= 0) {
        add2(b, "-chardev", "socket,id=qmp,fd=5");
        add2(b, "-mon", "chardev=qmp,mode=control");
    }
}

char **sandbox_argv(const struct sandbox_spec *s, struct omni_err *err)
{
    struct argv_b b = {calloc(SANDBOX_ARGV_MAX, sizeof(char *)), 0, 0};
    long long tmp = s->tmp_bytes > 0 ? s->tmp_bytes : SANDBOX_TMP_DEFAULT;

    if (!b.v) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        return NULL;
    }
    if (!s->bwrap || !s->exec_bin || !s->session_dir || !s->sessions_root ||
        s->exec_bin[0] != '/' || s->session_dir[0] != '/' || s->sessions_root[0] != '/') {
        free(b.v);
        omni_err_set(err, OMNI_E_USAGE,
                     "sandbox: bwrap, an absolute executor path, session "
                     "directory and sessions root are required");
        return NULL;
    }
    add(&b, s->bwrap);
    add(&b, "--new-session");
    add(&b, "--die-with-parent");
    add(&b, "--unshare-pid");
    add(&b, "--unshare-ipc");
    add(&b, "--unshare-uts");
    add(&b, "--unshare-cgroup-try");
    if (s->kind != SANDBOX_NONE)
        add(&b, "--unshare-net");
    if (s->switch_uid) {
        /* privileged bubblewrap: omni-exec drops to the session's uid itself
         * (microvm: QEMU does, with -runas, after it has opened the session's
         * directory and the accelerator, before the guest runs; the uid
         * change takes every capability away) */
        add2(&b, "--cap-drop", "ALL");
        add2(&b, "--cap-add", "CAP_SETUID");
        add2(&b, "--cap-add", "CAP_SETGID");
        if (s->kind == SANDBOX_MICROVM)
            add2(&b, "--cap-add", "CAP_DAC_OVERRIDE");
    } else {
        add(&b, "--unshare-user");
        add(&b, "--disable-userns");
        add2(&b, "--cap-drop", "ALL");
    }
    add2(&b, "--hostname", SANDBOX_HOSTNAME);

    if (s->kind == SANDBOX_MICROVM) {
        if (!s->vm || !s->vm->qemu || !s->vm->kernel || !s->vm->initrd)
            b.failed = EINVAL;
        else
            add_vm(&b, s);
        return argv_finish(&b, err);
    }
    if (s->kind == SANDBOX_BWRAP)
        add_minimal_system(&b);
    else
        add3(&b, "--ro-bind", "/", "/");
    add2(&b, "--proc", "/proc");
    add2(&b, "--dev", "/dev");
    /* no pseudo-terminals: their number is one host-wide limit that a single
     * session could exhaust for every other (bubblewrap's devpts has no cap) */
    add2(&b, "--tmpfs", "/dev/pts");
    static const char *const scratch[] = {"/tmp", "/var/tmp", "/dev/shm"};
    for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++) {
        add2(&b, "--perms", "1777");
        addnum(&b, "--size", tmp);
        add2(&b, "--tmpfs", scratch[i]);
    }
    char top[4096] = "/";
    for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
        if (path_under(s->session_dir, scratch[i]))
            snprintf(top, sizeof(top), "%s", scratch[i]);
    if (s->kind == SANDBOX_NONE) {
        /* the host's cgroup tree names every session and its processes */
        add2(&b, "--tmpfs", "/sys/fs/cgroup");
        /* every other session, and the worker's own files, out of sight */
        hide_point(s->sessions_root, s->switch_uid, top, sizeof(top));
        add2(&b, "--tmpfs", top);
    }
    add_parents(&b, top, s->session_dir);
    add3(&b, "--bind", s->session_dir, s->session_dir);
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++)
        add3(&b, "--bind", s->allowed_roots[i], s->allowed_roots[i]);
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++)
        add3(&b, "--ro-bind", s->readonly_roots[i], s->readonly_roots[i]);
    add_masks(&b, s);
    add3(&b, "--ro-bind", s->exec_bin, s->exec_bin);
    char **eg_opts = NULL, **eg_cmd = NULL;
    if (s->egress && s->kind == SANDBOX_BWRAP) {
        if (egress_bwrap_argv(s->egress, s->switch_uid, s->uid, s->gid, &eg_opts, &eg_cmd, err) <
            0) {
            sandbox_argv_free(b.v);
            return NULL;
        }
        for (size_t i = 0; eg_opts[i]; i++)
            add(&b, eg_opts[i]);
    }
    /* root: the directory belongs to the session's uid (mode 0700), which
     * the executor becomes only after bubblewrap is done: it changes into
     * the directory itself then */
    add2(&b, "--chdir", s->switch_uid ? "/" : s->session_dir);

    for (size_t i = 0; eg_cmd && eg_cmd[i]; i++)
        add(&b, eg_cmd[i]);
    egress_argv_free(eg_opts);
    egress_argv_free(eg_cmd);
    add(&b, s->exec_bin);
    add2(&b, "--workdir", s->session_dir);
    for (size_t i = 0; s->allowed_roots && s->allowed_roots[i]; i++)
        add2(&b, "--allow-path", s->allowed_roots[i]);
    for (size_t i = 0; s->readonly_roots && s->readonly_roots[i]; i++)
        add2(&b, "--readonly-path", s->readonly_roots[i]);
    for (size_t i = 0; s->pass_env && s->pass_env[i]; i++)
        add2(&b, "--pass-env", s->pass_env[i]);
    if (s->bash_default_timeout_ms > 0)
        addnum(&b, "--bash-timeout", s->bash_default_timeout_ms);
    if (s->bash_max_timeout_ms > 0)
        addnum(&b, "--bash-max-timeout", s->bash_max_timeout_ms);
    if (s->tool_timeout_ms > 0)
        addnum(&b, "--tool-timeout", s->tool_timeout_ms);
    if (s->max_file_bytes > 0)
        addnum(&b, "--max-file-bytes", (long long)s->max_file_bytes);
    if (s->switch_uid) {
        addnum(&b, "--uid", (long long)s->uid);
        addnum(&b, "--gid", (long long)s->gid);
    }
    if (s->probe)
        add(&b, "--probe");
    return argv_finish(&b, err);
}

void sandbox_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* In the child: only async-signal-safe calls until exec. */
static void sandbox_child(const char *path, char *const argv[], char *const env[], int chan,
                          const int *cg, int ncg, int errfd, const int vmfds[3], int vm_quiet)
{
    int e;
    for (int i = 0; i < ncg; i++)
        if (write(cg[i], "0", 1) != 1)
            goto fail;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        goto fail;
    /* vmfds: /dev/null for QEMU's standard output, the saved state, QMP */
    if (dup2(chan, 0) < 0 || dup2(vmfds[0] >= 0 ? vmfds[0] : chan, 1) < 0)
        goto fail;
    if (errfd != 3 && dup2(errfd, 3) < 0)
        goto fail;
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if ((vmfds[1] >= 0 && dup2(vmfds[1], 4) < 0) || (vmfds[2] >= 0 && dup2(vmfds[2], 5) < 0))
        goto fail;
    if (vmfds[1] < 0 && vmfds[2] >= 0)
        close(4);
    /* microvm: QEMU's own messages (some of them triggered from the guest)
     * reach the worker's log only when debugging, with the guest's console */
    if (vm_quiet && dup2(vmfds[0], 2) < 0)
        goto fail;
    close_range(vmfds[2] >= 0 ? 6 : vmfds[1] >= 0 ? 5 : 4, ~0U, 0);
    /* the socket is non-blocking for the runner; the executor sets its own mode */
    execve(path, argv, env);
fail:
    e = errno;
    (void)!write(3, &e, sizeof(e));
    _exit(127);
}

pid_t sandbox_spawn(const struct sandbox_spec *spec, int chan_fd, char *const env[],
                    const int *cg_fds, int n_cg_fds, struct omni_err *err)
{
    char **argv = sandbox_argv(spec, err);
    int ep[2];
    pid_t pid;
    if (!argv)
        return -1;
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int e = errno;
        sandbox_argv_free(argv);
        omni_err_set(err, OMNI_E_IO, "cannot start the sandbox: %s", strerror(e));
        errno = e;
        return -1;
    }
    /* keep the descriptors the child moves clear of 0..3 */
    int hi_chan = fcntl(chan_fd, F_DUPFD_CLOEXEC, 10);
    int hi_err = fcntl(ep[1], F_DUPFD_CLOEXEC, 10);
    if (hi_chan < 0 || hi_err < 0) {
        int e = errno;
        if (hi_chan >= 0)
            close(hi_chan);
        if (hi_err >= 0)
            close(hi_err);
        close(ep[0]);
        close(ep[1]);
        sandbox_argv_free(argv);
        omni_err_set(err, OMNI_E_IO, "cannot start the sandbox: %s", strerror(e));
        errno = e;
        return -1;
    }
    /* microvm: descriptors clear of 0..5 for the child to move */
    int vmfds[3] = {-1, -1, -1};
    if (spec->kind == SANDBOX_MICROVM && spec->vm) {
        int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
        vmfds[0] = nul >= 0 ? fcntl(nul, F_DUPFD_CLOEXEC, 10) : -1;
        if (nul >= 0)
            close(nul);
        if (spec->vm->state_fd >= 0)
            vmfds[1] = fcntl(spec->vm->state_fd, F_DUPFD_CLOEXEC, 10);
        if (spec->vm->qmp_fd >= 0)
            vmfds[2] = fcntl(spec->vm->qmp_fd, F_DUPFD_CLOEXEC, 10);
    }
    pid = fork();
    if (pid == 0)
        sandbox_child(argv[0], argv, env, hi_chan, cg_fds, n_cg_fds, hi_err, vmfds,
                      vmfds[0] >= 0 && !spec->vm->console);
    int fork_errno = errno;
    for (int i = 0; i < 3; i++)
        if (vmfds[i] >= 0)
            close(vmfds[i]);
    close(hi_chan);
    close(hi_err);
    close(ep[1]);
    sandbox_argv_free(argv);
    if (pid < 0) {
        close(ep[0]);
        omni_err_set(err, OMNI_E_IO, "cannot start the sandbox: fork: %s", strerror(fork_errno));
        errno = fork_errno;
        return -1;
    }
    int cerr = 0;
    ssize_t r;
    do {
        r = read(ep[0], &cerr, sizeof(cerr));
    } while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r == (ssize_t)sizeof(cerr)) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        omni_err_set(err, OMNI_E_IO, "cannot start the sandbox (%s): %s", spec->bwrap,
                     strerror(cerr));
        errno = cerr;
        return -1;
    }
    return pid;
}

int sandbox_probe(const struct sandbox_spec *spec, char *const env[], long timeout_ms,
                  struct omni_err *err)
{
    int sv[2], st = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return omni_err_set(err, OMNI_E_IO, "sandbox check: socketpair: %s", strerror(errno));
    pid_t pid = sandbox_spawn(spec, sv[1], env, NULL, 0, err);
    close(sv[1]);
    close(sv[0]);
    if (pid < 0)
        return -1;
    for (long waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return omni_err_set(err, OMNI_E_IO, "sandbox check: %s", strerror(errno));
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return omni_err_set(err, OMNI_E_CONFIG, "sandbox check: no exit within %ld ms",
                                timeout_ms);
        }
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "the sessions' sandbox cannot start on this host (bubblewrap %s %d; "
                            "its message is above): user namespaces may be disabled, or the "
                            "worker lacks the privileges it needs (see omni-worker(8))",
                            WIFEXITED(st) ? "exit" : "signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}
