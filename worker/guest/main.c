/*
 * omni-exec — the tool executor: runs bash/read/write/edit/glob/grep for one
 * session inside its sandbox and answers the session runner over one channel
 * (exec_proto.h). It holds no credential and makes no network call; it is
 * built from the worker's toolset code and nothing else of the worker.
 *
 *   omni-exec --workdir DIR [--allow-path DIR]... [--readonly-path DIR]...
 *             [--pass-env NAME]... [--bash-timeout MS] [--bash-max-timeout MS]
 *             [--tool-timeout MS] [--max-file-bytes N] [--channel-fd FD]
 *             [--uid UID --gid GID] [--probe]
 *   omni-exec --guest
 *
 * With --uid/--gid (the sandbox was started by root, keeping only
 * CAP_SETUID/CAP_SETGID), it first becomes that user, with no supplementary
 * groups and no way back (the capabilities go with the uid change), then sets
 * no_new_privs so nothing it runs can gain privileges again. --probe exits 0
 * right there (the worker's start-up check of its sandbox).
 *
 * The channel is standard input and output (one socket) unless --channel-fd
 * names another descriptor. --guest: the agent of a microVM (vm.h), which
 * takes all of the above from the host's set-up on its virtio-serial port. The worker starts this
 * program; it is not meant to be run by hand. Exit codes: 0 when the channel ends, 2 for bad
 * options, 1 when the toolset cannot start or the channel breaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../exec_proto.h"
#include "harden.h"
#include "../toolset.h"
#include "vm.h"
#include "log.h"

#define EXEC_LIST_MAX 64
#define EXEC_WRITE_TIMEOUT_MS 30000
#define WATCH_TICK_MS 100

/*
 * Threads: the main thread reads the runner's requests and runs them, so a
 * request costs no hand-over between threads. While a call runs, the watcher
 * thread owns the channel's input instead, and applies a "cancel". It is not
 * woken for each call (a wake-up per call is what this layout saves): it
 * looks every WATCH_TICK_MS, so a cancel takes effect within about that, the
 * same order as bash's own polling. Whoever reads does so holding mu, with
 * `running` deciding who it is.
 */
struct agent {
    int in_fd, out_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* wakes the watcher on quit (it ticks otherwise) */
    int running;         /* guarded by mu: a call is in toolset_run */
    double running_id;   /* guarded by mu */
    int quit;            /* guarded by mu: end of the channel or of the program */
    volatile int cancel; /* the running call must stop */
};

/* A request frame: 1 with *op ("run"/"cancel") and *id, 0 for anything else. */
static int parse_request(const struct buf *frame, cJSON **msg, const char **op, double *id)
{
    cJSON *m = cJSON_ParseWithLength(frame->data, frame->len);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, "op");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (!cJSON_IsString(o) || !cJSON_IsNumber(i) ||
        (strcmp(o->valuestring, "run") && strcmp(o->valuestring, "cancel"))) {
        cJSON_Delete(m);
        return 0;
    }
    *msg = m;
    *op = o->valuestring;
    *id = i->valuedouble;
    return 1;
}

/* Watcher: during a call, a "cancel" for it stops it; anything else (the
 * runner never sends a second call before the result) ends the channel. */
static void *watcher_main(void *arg)
{
    struct agent *a = arg;
    struct buf frame = BUF_INIT_MAX(XP_FRAME_MAX);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->running && !a->quit) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_nsec += WATCH_TICK_MS * 1000000L;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &t);
        }
        if (a->quit)
            break;
        pthread_mutex_unlock(&a->mu);
        struct pollfd p = {a->in_fd, POLLIN, 0};
        int pr = poll(&p, 1, WATCH_TICK_MS);
        pthread_mutex_lock(&a->mu);
        if (pr <= 0 || !a->running)
            continue; /* the call ended: the main thread reads again */
        cJSON *m = NULL;
        const char *op = NULL;
        double id = 0;
        if (xp_read(a->in_fd, &frame, EXEC_WRITE_TIMEOUT_MS, NULL) <= 0 ||
            !parse_request(&frame, &m, &op, &id) || strcmp(op, "cancel") != 0) {
            cJSON_Delete(m);
            a->quit = 1;
            a->cancel = 1;
            break;
        }
        if (id == a->running_id)
            a->cancel = 1;
        cJSON_Delete(m);
    }
    pthread_mutex_unlock(&a->mu);
    buf_release(&frame);
    return NULL;
}

static int send_json(struct agent *a, cJSON *m)
{
    char *s = cJSON_PrintUnformatted(m);
    int rc = s ? xp_write(a->out_fd, s, strlen(s), EXEC_WRITE_TIMEOUT_MS) : -1;
    free(s);
    return rc;
}

static int list_add(const char **list, const char *v)
{
    for (int i = 0; i < EXEC_LIST_MAX; i++) {
        if (!list[i]) {
            list[i] = v;
            list[i + 1] = NULL;
            return 0;
        }
    }
    return -1;
}

static int opt_num(const char *name, const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "omni-exec: %s \"%s\" is not a non-negative number\n", name, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* Become uid:gid for good (we start as root inside the sandbox). */
static int drop_to(long uid, long gid)
{
    if (uid == 0 || gid == 0) {
        fprintf(stderr, "omni-exec: refusing to run tools as root (--uid/--gid 0)\n");
        return -1;
    }
    if (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0 ||
        setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) {
        fprintf(stderr, "omni-exec: cannot become uid %ld gid %ld: %s\n", uid, gid,
                strerror(errno));
        return -1;
    }
    /* no way back */
    if (setresuid(0, 0, 0) == 0 || getuid() != (uid_t)uid || geteuid() != (uid_t)uid ||
        getgid() != (gid_t)gid) {
        fprintf(stderr, "omni-exec: the uid change did not hold\n");
        return -1;
    }
    /* the same pid stays dumpable-off after the change */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"workdir", required_argument, NULL, 'w'},
        {"allow-path", required_argument, NULL, 'a'},
        {"readonly-path", required_argument, NULL, 'r'},
        {"pass-env", required_argument, NULL, 'e'},
        {"bash-timeout", required_argument, NULL, 'b'},
        {"bash-max-timeout", required_argument, NULL, 'B'},
        {"tool-timeout", required_argument, NULL, 't'},
        {"max-file-bytes", required_argument, NULL, 'm'},
        {"channel-fd", required_argument, NULL, 'c'},
        {"uid", required_argument, NULL, 'u'},
        {"gid", required_argument, NULL, 'g'},
        {"probe", no_argument, NULL, 'p'},
        {"guest", no_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    const char *allowed[EXEC_LIST_MAX + 1] = {NULL}, *readonly[EXEC_LIST_MAX + 1] = {NULL};
    const char *pass_env[EXEC_LIST_MAX + 1] = {NULL};
    struct toolset_opts to = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct agent a;
    long v, chan = -1, uid = -1, gid = -1;
    int probe = 0, guest = 0;
    struct guest_conf gc = {0};
    int c;

    /* Tools run as our uid: they must not ptrace us or open our descriptors. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    log_setup("omni-exec", LOG_TEXT, LOG_WARN);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            to.workdir = optarg;
            break;
        case 'p':
            probe = 1;
            break;
        case 'G':
            guest = 1;
            break;
        case 'a':
        case 'r':
        case 'e':
            if (list_add(c == 'a' ? allowed : c == 'r' ? readonly : pass_env, optarg) < 0) {
                fprintf(stderr, "omni-exec: too many list options (max %d)\n", EXEC_LIST_MAX);
                return 2;
            }
            break;
        case 'b':
        case 'B':
        case 't':
        case 'm':
        case 'c':
        case 'u':
        case 'g':
            if (opt_num(argv[optind - 1], optarg, &v) < 0)
                return 2;
            if (c == 'b')
                to.bash_default_timeout_ms = v;
            else if (c == 'B')
                to.bash_max_timeout_ms = v;
            else if (c == 't')
                to.tool_timeout_ms = v;
            else if (c == 'm')
                to.max_file_bytes = (size_t)v;
            else if (c == 'u')
                uid = v;
            else if (c == 'g')
                gid = v;
            else
                chan = v;
            break;
        default:
            fprintf(stderr, "omni-exec: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1] ? argv[optind - 1] : "?");
            return 2;
        }
    }
    if (guest) {
        char why[256];
        int fd = optind < argc || to.workdir ? -1 : guest_open_port(why, sizeof(why));
        if (optind < argc || to.workdir) {
            fprintf(stderr, "omni-exec: --guest takes no other option\n");
            return 2;
        }
        if (fd < 0 || guest_setup(fd, &gc, why, sizeof(why)) < 0) {
            fprintf(stderr, "omni-exec: %s\n", why);
            if (fd >= 0) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "op", "failed");
                cJSON_AddStringToObject(f, "error", why);
                char *t = cJSON_PrintUnformatted(f);
                if (t)
                    xp_write(fd, t, strlen(t), EXEC_WRITE_TIMEOUT_MS);
                free(t);
                cJSON_Delete(f);
            }
            return 1;
        }
        to = gc.to;
        uid = gc.uid;
        gid = gc.gid;
        chan = fd;
    }
    if (!to.workdir || optind < argc) {
        fprintf(stderr, "omni-exec: usage: omni-exec --workdir DIR [options]\n");
        return 2;
    }
    if ((uid >= 0) != (gid >= 0)) {
        fprintf(stderr, "omni-exec: --uid and --gid go together\n");
        return 2;
    }
    if (uid >= 0 && drop_to(uid, gid) < 0)
        return 1;
    char why[256], notes[256];
    if (harden_self(why, sizeof(why), notes, sizeof(notes)) < 0) {
        fprintf(stderr, "omni-exec: %s\n", why);
        return 1;
    }
    if (notes[0] && probe)
        fprintf(stderr, "omni-exec: %s\n", notes);
    if (probe)
        return 0; /* the worker's start-up check: the sandbox and the uid change work */
    if (chdir(to.workdir) < 0) {
        fprintf(stderr, "omni-exec: cannot enter the workdir \"%s\": %s\n", to.workdir,
                strerror(errno));
        return 1;
    }
    if (!guest) {
        to.allowed_roots = allowed[0] ? allowed : NULL;
        to.readonly_roots = readonly[0] ? readonly : NULL;
        to.pass_env = pass_env;
    }

    memset(&a, 0, sizeof(a));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    a.in_fd = chan >= 0 ? (int)chan : 0;
    a.out_fd = chan >= 0 ? (int)chan : 1;
    fcntl(a.in_fd, F_SETFL, fcntl(a.in_fd, F_GETFL) | O_NONBLOCK);
    fcntl(a.out_fd, F_SETFL, fcntl(a.out_fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, &ca);
    pthread_condattr_destroy(&ca);

    struct toolset *ts = toolset_new(&to, &err);
    cJSON *hello = cJSON_CreateObject();
    cJSON_AddStringToObject(hello, "op", ts ? "ready" : "failed");
    cJSON_AddNumberToObject(hello, "version", XP_VERSION);
    if (!ts)
        cJSON_AddStringToObject(hello, "error", err.msg);
    int rc = send_json(&a, hello);
    cJSON_Delete(hello);
    if (!ts || rc < 0) {
        toolset_free(ts);
        return 1;
    }

    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watcher_main, &a) != 0) {
        toolset_free(ts);
        return 1;
    }
    struct buf frame = BUF_INIT_MAX(XP_FRAME_MAX);
    int exit_code = 0;
    for (;;) {
        cJSON *job = NULL;
        const char *op = NULL;
        double id = 0;
        pthread_mutex_lock(&a.mu);
        int quit = a.quit;
        pthread_mutex_unlock(&a.mu);
        if (quit) {
            exit_code = 1;
            break;
        }
        int r = xp_read(a.in_fd, &frame, -1, NULL);
        if (r == 0)
            break; /* the runner closed the channel: the session is over */
        if (r < 0 || !parse_request(&frame, &job, &op, &id)) {
            exit_code = 1;
            break;
        }
        if (strcmp(op, "cancel") == 0) {
            cJSON_Delete(job); /* for a call that has already answered */
            continue;
        }
        pthread_mutex_lock(&a.mu);
        a.running = 1;
        a.running_id = id;
        a.cancel = 0;
        pthread_mutex_unlock(&a.mu);

        const cJSON *tool = cJSON_GetObjectItemCaseSensitive(job, "tool");
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(job, "input");
        struct tool_result res = {0};
        toolset_run(ts, cJSON_IsString(tool) ? tool->valuestring : "", input, &a.cancel, &res);

        /* the channel is the main thread's again before the result goes out */
        pthread_mutex_lock(&a.mu);
        a.running = 0;
        pthread_mutex_unlock(&a.mu);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "op", "result");
        cJSON_AddNumberToObject(out, "id", id);
        cJSON_AddBoolToObject(out, "is_error", res.is_error);
        cJSON_AddStringToObject(out, "text", res.text ? res.text : "");
        rc = send_json(&a, out);
        cJSON_Delete(out);
        tool_result_release(&res);
        cJSON_Delete(job);
        if (rc < 0) {
            exit_code = 1;
            break;
        }
    }
    buf_release(&frame);
    pthread_mutex_lock(&a.mu);
    a.quit = 1;
    pthread_cond_signal(&a.cv);
    pthread_mutex_unlock(&a.mu);
    pthread_join(watcher, NULL);
    /* The shell and everything it left: toolset_free kills them (and the
     * sandbox's PID namespace ends with us in any case). */
    toolset_free(ts);
    guest_conf_release(&gc);
    return exit_code;
}
