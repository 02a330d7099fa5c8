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
 * Calls and threads. A session's threads (SDK 1.16: the calls of different
 * session threads may run at once, never two of one thread) each get a lane:
 * their own toolset, so their own persistent shell, created at the thread's
 * first call. The main thread reads the runner's requests and runs a call
 * itself whenever it is free, so a call of a session with one thread costs no
 * hand-over between threads. While it runs one, the watcher thread owns the
 * channel's input instead: it applies a "cancel", starts a helper thread for
 * a "run" of another lane, and ends a lane on "end". It is not woken for each
 * call (a wake-up per call is what this layout saves): it looks every
 * WATCH_TICK_MS, so a cancel, or a second thread's call arriving during a
 * call, takes effect within about that. Whoever reads does so holding mu,
 * with `inline_running` deciding who it is. Results go out under wmu from
 * whichever thread ran the call.
 */
/* session threads with a live shell; the idle one used least recently goes */
#define EXEC_LANES_MAX 16
#define EXEC_LANE_KEY_MAX 128

/* A session thread's toolset, and the one call of it that may be running. */
struct lane {
    int used;
    char key[EXEC_LANE_KEY_MAX]; /* session_thread_id; "" = the primary thread */
    struct toolset *ts;          /* NULL until its first call */
    unsigned long long last;     /* for least-recently-used eviction */
    int ending;                  /* "end" came during its call: free it after */
    /* the call running (busy), from "run" to its result */
    int busy;
    double id;
    cJSON *msg; /* the "run" request (owned) */
    volatile int cancel;
    struct agent *a; /* for a helper thread */
};

struct agent {
    int in_fd, out_fd;
    const struct toolset_opts *to;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* wakes the watcher on quit (it ticks otherwise); helpers' ends */
    int inline_running; /* guarded by mu: the main thread runs a call */
    int quit;           /* guarded by mu: end of the channel or of the program */
    int helpers;        /* guarded by mu: helper threads running a call */
    unsigned long long clock;
    struct lane lanes[EXEC_LANES_MAX]; /* guarded by mu */
    pthread_mutex_t wmu;               /* one frame at a time on out_fd */
};

/* A request frame: 1 with *op ("run"/"cancel"/"end") and *id, 0 for anything else. */
static int parse_request(const struct buf *frame, cJSON **msg, const char **op, double *id)
{
    cJSON *m = cJSON_ParseWithLength(frame->data, frame->len);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, "op");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (!cJSON_IsString(o) || !cJSON_IsNumber(i) ||
        (strcmp(o->valuestring, "run") && strcmp(o->valuestring, "cancel") &&
         strcmp(o->valuestring, "end"))) {
        cJSON_Delete(m);
        return 0;
    }
    *msg = m;
    *op = o->valuestring;
    *id = i->valuedouble;
    return 1;
}

static int send_json(struct agent *a, cJSON *m)
{
    char *s = cJSON_PrintUnformatted(m);
    pthread_mutex_lock(&a->wmu);
    int rc = s ? xp_write(a->out_fd, s, strlen(s), EXEC_WRITE_TIMEOUT_MS) : -1;
    pthread_mutex_unlock(&a->wmu);
    free(s);
    return rc;
}

static int send_result(struct agent *a, double id, int is_error, const char *text)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "op", "result");
    cJSON_AddNumberToObject(out, "id", id);
    cJSON_AddBoolToObject(out, "is_error", is_error);
    cJSON_AddStringToObject(out, "text", text ? text : "");
    int rc = send_json(a, out);
    cJSON_Delete(out);
    return rc;
}

/* The lane key of a request: its "thread", or "" for the primary thread; NULL when unusable. */
static const char *lane_key(const cJSON *msg)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(msg, "thread");
    if (!t || cJSON_IsNull(t))
        return "";
    if (!cJSON_IsString(t) || strlen(t->valuestring) >= EXEC_LANE_KEY_MAX)
        return NULL;
    return t->valuestring;
}

static struct lane *lane_find(struct agent *a, const char *key)
{
    for (int i = 0; i < EXEC_LANES_MAX; i++)
        if (a->lanes[i].used && strcmp(a->lanes[i].key, key) == 0)
            return &a->lanes[i];
    return NULL;
}

/* Free a lane (mu held; not busy): its shell and whatever it left end. */
static void lane_free(struct lane *l)
{
    toolset_free(l->ts);
    memset(l, 0, sizeof(*l));
}

/* The lane for key, made when new (the idle lane used least recently makes
 * room when all are taken); NULL when every lane is busy. mu held. */
static struct lane *lane_get(struct agent *a, const char *key)
{
    struct lane *l = lane_find(a, key), *victim = NULL;
    if (l)
        return l;
    for (int i = 0; i < EXEC_LANES_MAX; i++) {
        if (!a->lanes[i].used) {
            victim = &a->lanes[i];
            break;
        }
        if (!a->lanes[i].busy && (!victim || a->lanes[i].last < victim->last))
            victim = &a->lanes[i];
    }
    if (!victim)
        return NULL;
    if (victim->used) {
        log_warn("%d session threads have shells; ending the one idle longest", EXEC_LANES_MAX);
        lane_free(victim);
    }
    snprintf(victim->key, EXEC_LANE_KEY_MAX, "%s", key);
    victim->used = 1;
    return victim;
}

/* Run lane l's call (mu not held; it is busy): its toolset is made at its first call. */
static void call_run(struct lane *l, struct tool_result *res)
{
    struct omni_err err = OMNI_ERR_INIT;
    const cJSON *tool = cJSON_GetObjectItemCaseSensitive(l->msg, "tool");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(l->msg, "input");
    const char *name = cJSON_IsString(tool) ? tool->valuestring : "";
    if (!l->ts && !(l->ts = toolset_new(l->a->to, &err))) {
        res->is_error = 1;
        if (asprintf(&res->text, "%s: the tools could not start for this thread: %s", name,
                     err.msg) < 0)
            res->text = NULL;
        return;
    }
    toolset_run(l->ts, name, input, &l->cancel, res);
}

/* Lane l's call is over (mu held): the lane is free again, or ends. */
static void call_finish(struct lane *l)
{
    cJSON_Delete(l->msg);
    l->msg = NULL;
    l->busy = 0;
    l->last = ++l->a->clock;
    if (l->ending)
        lane_free(l);
}

static void *helper_main(void *arg)
{
    struct lane *l = arg;
    struct agent *a = l->a;
    struct tool_result res = {0};
    double id = l->id;
    call_run(l, &res);
    pthread_mutex_lock(&a->mu);
    call_finish(l);
    pthread_mutex_unlock(&a->mu);
    if (send_result(a, id, res.is_error, res.text) < 0) {
        pthread_mutex_lock(&a->mu);
        a->quit = 1;
        pthread_mutex_unlock(&a->mu);
    }
    tool_result_release(&res);
    pthread_mutex_lock(&a->mu);
    a->helpers--;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/*
 * Apply one request (mu held; msg is taken). A "run" makes its lane busy: the
 * lane is returned to the main thread to run the call itself (on_main), else
 * handed to a helper thread. A request that cannot be served is answered at
 * once. Returns the lane whose call the caller must run, or NULL.
 */
static struct lane *apply_request(struct agent *a, cJSON *msg, const char *op, double id,
                                  int on_main)
{
    if (strcmp(op, "cancel") == 0) {
        for (int i = 0; i < EXEC_LANES_MAX; i++)
            if (a->lanes[i].busy && a->lanes[i].id == id)
                a->lanes[i].cancel = 1;
        cJSON_Delete(msg); /* for a call that has already answered: nothing */
        return NULL;
    }
    const char *key = lane_key(msg);
    if (strcmp(op, "end") == 0) {
        struct lane *l = key ? lane_find(a, key) : NULL;
        if (l && l->busy)
            l->ending = 1;
        else if (l)
            lane_free(l);
        cJSON_Delete(msg);
        return NULL;
    }
    const char *why = NULL;
    struct lane *l = NULL;
    if (!key)
        why = "the call's thread id is not usable";
    else if (!(l = lane_get(a, key)))
        why = "every session thread's shell is busy";
    else if (l->busy)
        why = "another call of this session thread is still running";
    if (why) {
        const cJSON *tool = cJSON_GetObjectItemCaseSensitive(msg, "tool");
        char text[256];
        snprintf(text, sizeof(text), "%s: not run: %s",
                 cJSON_IsString(tool) ? tool->valuestring : "tool", why);
        cJSON_Delete(msg);
        send_result(a, id, 1, text);
        return NULL;
    }
    l->busy = 1;
    l->id = id;
    l->msg = msg;
    l->cancel = 0;
    l->a = a;
    if (on_main)
        return l;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, helper_main, l) != 0) {
        pthread_attr_destroy(&at);
        call_finish(l);
        send_result(a, id, 1, "tool: not run: no thread for it (the sandbox's process limit?)");
        return NULL;
    }
    pthread_attr_destroy(&at);
    a->helpers++;
    return NULL;
}

/* Watcher: while the main thread runs a call, it reads the channel. */
static void *watcher_main(void *arg)
{
    struct agent *a = arg;
    struct buf frame = BUF_INIT_MAX(XP_FRAME_MAX);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->inline_running && !a->quit) {
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
        if (pr <= 0 || !a->inline_running)
            continue; /* the call ended: the main thread reads again */
        /* What poll saw may have been the main thread's next request, read
         * by it between its call's end and its next one: look again now
         * that a call is known to run (the main thread does not read then). */
        p.revents = 0;
        if (poll(&p, 1, 0) <= 0)
            continue;
        cJSON *m = NULL;
        const char *op = NULL;
        double id = 0;
        if (xp_read(a->in_fd, &frame, EXEC_WRITE_TIMEOUT_MS, NULL) <= 0 ||
            !parse_request(&frame, &m, &op, &id)) {
            a->quit = 1; /* the channel ended or broke: stop every call */
            for (int i = 0; i < EXEC_LANES_MAX; i++)
                a->lanes[i].cancel = 1;
            break;
        }
        apply_request(a, m, op, id, 0);
    }
    pthread_mutex_unlock(&a->mu);
    buf_release(&frame);
    return NULL;
}

/* The main thread's loop: read, run what it can itself. Returns the exit code. */
static int serve(struct agent *a)
{
    struct buf frame = BUF_INIT_MAX(XP_FRAME_MAX);
    int exit_code = 0;
    for (;;) {
        cJSON *m = NULL;
        const char *op = NULL;
        double id = 0;
        pthread_mutex_lock(&a->mu);
        int quit = a->quit;
        pthread_mutex_unlock(&a->mu);
        if (quit) {
            exit_code = 1;
            break;
        }
        int r = xp_read(a->in_fd, &frame, -1, NULL);
        if (r == 0)
            break; /* the runner closed the channel: the session is over */
        if (r < 0 || !parse_request(&frame, &m, &op, &id)) {
            exit_code = 1;
            break;
        }
        pthread_mutex_lock(&a->mu);
        struct lane *l = apply_request(a, m, op, id, 1);
        if (l)
            a->inline_running = 1;
        pthread_mutex_unlock(&a->mu);
        if (!l)
            continue;
        struct tool_result res = {0};
        call_run(l, &res);
        /* the channel is the main thread's again before the result goes out */
        pthread_mutex_lock(&a->mu);
        a->inline_running = 0;
        call_finish(l);
        pthread_mutex_unlock(&a->mu);
        int rc = send_result(a, id, res.is_error, res.text);
        tool_result_release(&res);
        if (rc < 0) {
            exit_code = 1;
            break;
        }
    }
    buf_release(&frame);
    /* the end: stop the helpers' calls, wait for them, end every lane */
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    for (int i = 0; i < EXEC_LANES_MAX; i++)
        a->lanes[i].cancel = 1;
    pthread_cond_broadcast(&a->cv);
    while (a->helpers > 0)
        pthread_cond_wait(&a->cv, &a->mu);
    for (int i = 0; i < EXEC_LANES_MAX; i++)
        if (a->lanes[i].used)
            lane_free(&a->lanes[i]);
    pthread_mutex_unlock(&a->mu);
    return exit_code;
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
    a.to = &to;
    fcntl(a.in_fd, F_SETFL, fcntl(a.in_fd, F_GETFL) | O_NONBLOCK);
    fcntl(a.out_fd, F_SETFL, fcntl(a.out_fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_init(&a.mu, NULL);
    pthread_mutex_init(&a.wmu, NULL);
    pthread_cond_init(&a.cv, &ca);
    pthread_condattr_destroy(&ca);

    /* The primary thread's lane is made now: a toolset that cannot start is
     * reported in the hello, as before lanes existed. */
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
    a.lanes[0].used = 1;
    a.lanes[0].ts = ts;

    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watcher_main, &a) != 0) {
        toolset_free(ts);
        return 1;
    }
    int exit_code = serve(&a);
    pthread_join(watcher, NULL);
    /* The shells and everything they left: lane_free kills them (and the
     * sandbox's PID namespace ends with us in any case). */
    guest_conf_release(&gc);
    return exit_code;
}
