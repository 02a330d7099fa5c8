/*
 * omni-console — a live dashboard of self-hosted environments, their
 * sessions and work items. Organisation key; never blocks on the network.
 *
 * Exit status (lib/exitcode.h): 0 success, 1 runtime failure, 2 usage, 3
 * configuration or credentials (a 401/403 too), 4 not found (--once); see
 * man/omni-console.1.
 */
#include "console.h"

#include "alloc.h"
#include "config.h"
#include "creds.h"
#include "exitcode.h"
#include "fatal.h"
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CON_DEFAULT_REFRESH_MS 2000
#define CON_MIN_REFRESH_MS 100
#define CON_DEFAULT_TIMEOUT_MS 15000L
#define CON_TICK_MS 1000 /* repaint at least this often (ages move) */
#define CON_BENCH_ROWS 10000

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static const char usage_text[] =
    "usage: omni-console [-C] [--readonly] [--once] [-n N] [--refresh SECS] [--env ENV]\n"
    "                    [--profile NAME] [--base-url URL] [--workspace ID]\n"
    "                    [--warn-depth RANGE] [--crit-depth RANGE] [--warn-age RANGE]\n"
    "                    [--crit-age RANGE]"
    " [--min-workers N] [--stuck-after DURATION] [--local-time]\n"
    "                    [--bench-render N]\n";

static void usage(FILE *fp)
{
    fputs(usage_text, fp);
}

struct opts {
    long iterations;
    const char *refresh;
    const char *env;
    const char *profile;
    const char *base_url;
    const char *workspace;
    int readonly, mono, once, local_time;
    const char *th[4]; /* warn_depth crit_depth warn_age crit_age */
    const char *min_workers;
    const char *stuck_after;
    long bench;
};

enum {
    OPT_REFRESH = 256,
    OPT_ENV,
    OPT_PROFILE,
    OPT_BASE_URL,
    OPT_WORKSPACE,
    OPT_READONLY,
    OPT_ONCE,
    OPT_WARN_DEPTH,
    OPT_CRIT_DEPTH,
    OPT_WARN_AGE,
    OPT_CRIT_AGE,
    OPT_MIN_WORKERS,
    OPT_STUCK_AFTER,
    OPT_BENCH,
    OPT_LOCAL_TIME
};

static int parse_long(const char *s, long min, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"refresh", required_argument, NULL, OPT_REFRESH},
        {"env", required_argument, NULL, OPT_ENV},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"base-url", required_argument, NULL, OPT_BASE_URL},
        {"workspace", required_argument, NULL, OPT_WORKSPACE},
        {"readonly", no_argument, NULL, OPT_READONLY},
        {"once", no_argument, NULL, OPT_ONCE},
        {"no-color", no_argument, NULL, 'C'},
        {"warn-depth", required_argument, NULL, OPT_WARN_DEPTH},
        {"crit-depth", required_argument, NULL, OPT_CRIT_DEPTH},
        {"warn-age", required_argument, NULL, OPT_WARN_AGE},
        {"crit-age", required_argument, NULL, OPT_CRIT_AGE},
        {"min-workers", required_argument, NULL, OPT_MIN_WORKERS},
        {"stuck-after", required_argument, NULL, OPT_STUCK_AFTER},
        {"bench-render", required_argument, NULL, OPT_BENCH},
        {"local-time", no_argument, NULL, OPT_LOCAL_TIME},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "n:ChV", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_long(optarg, 1, &o->iterations) < 0) {
                fprintf(stderr, "omni-console: -n \"%s\" is not a positive number\n", optarg);
                return -1;
            }
            break;
        case OPT_REFRESH:
            o->refresh = optarg;
            break;
        case OPT_ENV:
            if (!omni_id_valid(optarg)) {
                fprintf(stderr, "omni-console: --env \"%s\" is not a valid id\n", optarg);
                return -1;
            }
            o->env = optarg;
            break;
        case OPT_PROFILE:
            o->profile = optarg;
            break;
        case OPT_BASE_URL:
            o->base_url = optarg;
            break;
        case OPT_WORKSPACE:
            if (!omni_workspace_id_valid(optarg)) {
                fprintf(stderr,
                        "omni-console: --workspace \"%.40s\" is not a workspace id (letters, "
                        "digits, '_' and '-', 1 to %d bytes)\n",
                        optarg, OMNI_WORKSPACE_ID_MAX);
                return -1;
            }
            o->workspace = optarg;
            break;
        case OPT_READONLY:
            o->readonly = 1;
            break;
        case OPT_ONCE:
            o->once = 1;
            break;
        case OPT_LOCAL_TIME:
            o->local_time = 1;
            break;
        case 'C':
            o->mono = 1;
            break;
        case OPT_WARN_DEPTH:
        case OPT_CRIT_DEPTH:
        case OPT_WARN_AGE:
        case OPT_CRIT_AGE:
            o->th[c - OPT_WARN_DEPTH] = optarg;
            break;
        case OPT_MIN_WORKERS:
            o->min_workers = optarg;
            break;
        case OPT_STUCK_AFTER:
            o->stuck_after = optarg;
            break;
        case OPT_BENCH:
            if (parse_long(optarg, 1, &o->bench) < 0) {
                fprintf(stderr, "omni-console: --bench-render \"%s\" is not a positive number\n",
                        optarg);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("omni-console %s\n", OMNI_VERSION);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omni-console: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- configuration (lib/profile.h and lib/health.h, as omnictl) ------------ */

struct setup {
    struct omni_profile prof;
    int prof_loaded;
    char *org_key;
    long refresh_ms;
    struct omni_thresholds th;
};

static int setup_load(const struct opts *o, struct setup *s, int *code, struct omni_err *err)
{
    const struct omni_profile_args pa = {
        .prog = "omni-console",
        .profile = o->profile,
        .base_url = o->base_url,
        .workspace = o->workspace,
        .default_timeout_ms = CON_DEFAULT_TIMEOUT_MS,
    };
    const struct omni_threshold_flags tf = {
        .warn_depth = o->th[0],
        .crit_depth = o->th[1],
        .warn_age = o->th[2],
        .crit_age = o->th[3],
        .min_workers = o->min_workers,
        .stuck_after = o->stuck_after,
    };
    const char *v;
    int64_t ms;

    *code = OMNI_EXIT_CONFIG;
    if (omni_profile_load(&s->prof, &pa, err) < 0)
        goto fail;
    s->prof_loaded = 1;
    /* refresh: flag > config > default */
    s->refresh_ms = CON_DEFAULT_REFRESH_MS;
    v = o->refresh ? o->refresh : omni_profile_get(&s->prof, "refresh");
    if (v) {
        if (omni_duration_parse(v, &ms) < 0 || ms < CON_MIN_REFRESH_MS) {
            omni_err_set(err, o->refresh ? OMNI_E_USAGE : OMNI_E_CONFIG,
                         "refresh \"%s\" must be a duration of at least %d ms", v,
                         CON_MIN_REFRESH_MS);
            goto fail;
        }
        s->refresh_ms = (long)ms;
    }
    if (omni_thresholds_resolve(&s->th, &tf, &s->prof, err) < 0)
        goto fail;
    s->org_key = omni_profile_org_key(&s->prof, err);
    if (!s->org_key)
        goto fail;
    return 0;
fail:
    if (err->kind == OMNI_E_USAGE)
        *code = OMNI_EXIT_USAGE;
    return -1;
}

static void setup_release(struct setup *s)
{
    if (s->prof_loaded)
        omni_profile_release(&s->prof);
    omni_key_free(s->org_key);
}

/* ---- the app ----------------------------------------------------------------- */

static void fatal_hook(void)
{
    ui_end();
}

static int run_ui(struct con_app *a, long iterations)
{
    SCREEN *scr;
    struct pollfd pfd[2];
    int64_t done_gen = 0;
    int quit = 0;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "omni-console: not a terminal (use --once for plain tables)\n");
        return OMNI_EXIT_FAIL;
    }
    scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        fprintf(stderr, "omni-console: cannot initialise the terminal \"%s\"\n",
                getenv("TERM") ? getenv("TERM") : "");
        return OMNI_EXIT_FAIL;
    }
    set_term(scr);
    con_fatal_set_hook(fatal_hook);
    ui_init(a);
    if (a->readonly)
        ui_status(a, 0, "read-only mode: actions are off");
    a->now_us = omni_wall_us();
    ui_draw(a);
    pfd[0].fd = STDIN_FILENO;
    pfd[0].events = POLLIN;
    pfd[1].fd = net_wake_fd(a->net);
    pfd[1].events = POLLIN;
    while (!quit) {
        int64_t now = omni_mono_ms();
        int timeout, ch, mask = 0;
        struct net_result *r;

        a->now_us = omni_wall_us();
        if (a->inflight == 0 && now >= a->next_refresh_ms)
            con_app_refresh(a, now);
        timeout = CON_TICK_MS;
        if (a->inflight == 0 && a->next_refresh_ms - now < timeout)
            timeout = (int)(a->next_refresh_ms - now < 0 ? 0 : a->next_refresh_ms - now);
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
            break;
        if (got_signal)
            break;
        net_wake_drain(a->net);
        while ((r = net_take(a->net))) {
            actions_result(a, r);
            net_result_free(r);
        }
        if (a->inflight == 0 && (int64_t)a->refresh_gen > done_gen) {
            done_gen = a->refresh_gen;
            a->refreshes_done++;
            a->next_refresh_ms = a->refresh_soon ? 0 : a->refresh_started_ms + a->refresh_ms;
            a->refresh_soon = 0;
            if (iterations && a->refreshes_done >= iterations)
                quit = 1;
        }
        while ((ch = getch()) != ERR) {
            if (ch == KEY_RESIZE)
                continue;
            mask |= actions_key(a, ch);
            if (mask & CON_R_QUIT) {
                quit = 1;
                break;
            }
        }
        if (mask & CON_R_REFRESH) {
            a->force_tables = 1;
            if (a->inflight == 0)
                a->next_refresh_ms = 0;
            else
                a->refresh_soon = 1;
        }
        ui_draw(a);
    }
    ui_end();
    delscreen(scr);
    return got_signal ? 128 + (int)got_signal : 0;
}

/* ---- --once ------------------------------------------------------------------ */

/* Run one job; 0, or its exit status (lib/exitcode.h: a 401 is 3). */
static int once_run(struct net_exec *x, struct con_app *a, struct net_job *j)
{
    struct net_result r;
    int code = 0;

    net_exec_run(x, j, &r);
    if (!r.ok) {
        fprintf(stderr, "omni-console: %s\n", r.err.msg);
        code = omni_exit_code(&r.err);
        if (code == OMNI_EXIT_OK)
            code = OMNI_EXIT_FAIL;
    }
    actions_result(a, &r);
    net_result_release(&r);
    return code;
}

static int run_once(struct con_app *a, const struct net_opts *no, const char *only_env)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct net_exec *x = net_exec_new(no, &err);
    struct net_job j = {0};
    int rc = 0, code;

    if (!x) {
        fprintf(stderr, "omni-console: %s\n", err.msg);
        return omni_exit_code(&err) ? omni_exit_code(&err) : OMNI_EXIT_FAIL;
    }
    a->now_us = omni_wall_us();
    j.kind = NET_ENVS;
    if ((code = once_run(x, a, &j)) != 0) {
        net_exec_free(x);
        return code;
    }
    a->now_us = omni_wall_us();
    printf("ENVIRONMENTS\n");
    con_print_envs(stdout, a);
    for (size_t i = 0; i < a->m.nenvs; i++) {
        char env[OMNI_ID_MAX];
        int fetched = 0;
        snprintf(env, sizeof env, "%s", a->m.envs[i].id);
        if (only_env && strcmp(env, only_env) != 0)
            continue;
        memset(&j, 0, sizeof j);
        snprintf(j.env_id, sizeof j.env_id, "%s", env);
        j.kind = NET_SESSIONS;
        printf("\nSESSIONS of %s (%s)\n", env, a->m.envs[i].name);
        if ((code = once_run(x, a, &j)) != 0) {
            rc = rc ? rc : code;
            continue;
        }
        {
            struct con_session *rows = a->m.sessions.rows;
            size_t n = a->m.sessions.n;
            for (size_t k = 0; k < n && fetched < CON_ONCE_EVENTS_MAX; k++) {
                char sid[OMNI_ID_MAX];
                if (strcmp(rows[k].status, "terminated") == 0)
                    continue;
                snprintf(sid, sizeof sid, "%s", rows[k].id);
                j.kind = NET_EVENTS;
                snprintf(j.session_id, sizeof j.session_id, "%s", sid);
                if ((code = once_run(x, a, &j)) != 0)
                    rc = rc ? rc : code;
                rows = a->m.sessions.rows;
                fetched++;
            }
        }
        a->now_us = omni_wall_us();
        con_print_sessions(stdout, a);
        if (net_env_key_file(no, env)) {
            j.kind = NET_WORK;
            printf("\nWORK of %s\n", env);
            if ((code = once_run(x, a, &j)) != 0) {
                rc = rc ? rc : code;
                continue;
            }
            con_print_work(stdout, a);
        }
    }
    if (only_env && !con_model_env(&a->m, only_env)) {
        fprintf(stderr, "omni-console: environment \"%s\" not found\n", only_env);
        rc = rc ? rc : OMNI_EXIT_NOTFOUND;
    }
    net_exec_free(x);
    return rc;
}

/*
 * A refresh of a big table parses megabytes of JSON into short-lived nodes and
 * frees them all. With glibc's defaults, the freed memory goes back to the
 * kernel and the next refresh faults it in again, zeroed: at 10,000 sessions
 * that was about a third of the refresh's CPU. Keep freed memory (up to
 * CON_HEAP_KEEP) for the next refresh instead.
 */
static void keep_heap(void)
{
#if defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, CON_HEAP_KEEP / 2);
    mallopt(M_TRIM_THRESHOLD, CON_HEAP_KEEP);
#endif
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct setup s = {0};
    struct omni_err err = OMNI_ERR_INIT;
    struct net_opts no = {0};
    struct con_app a;
    struct sigaction sa;
    const char *nc;
    int code, rc;

    omni_set_oom_hook(con_oom); /* endwin first, then "out of memory", exit 1 */
    setlocale(LC_ALL, "");
    log_setup("omni-console", LOG_TEXT, LOG_QUIET);
    keep_heap();
    if (parse_opts(argc, argv, &o) < 0)
        return OMNI_EXIT_USAGE;
    if (o.bench)
        return con_bench_render(o.bench, CON_BENCH_ROWS) < 0 ? OMNI_EXIT_FAIL : 0;
    if (setup_load(&o, &s, &code, &err) < 0) {
        fprintf(stderr, "omni-console: %s\n", err.msg);
        setup_release(&s);
        return code;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    no.prof = &s.prof;
    no.org_key = s.org_key;
    no.stuck_ms = s.th.stuck_ms;

    con_app_init(&a);
    a.m.th = s.th;
    a.m.work.stuck_ms = s.th.stuck_ms;
    a.refresh_ms = s.refresh_ms;
    a.m.spark_step_us = (int64_t)s.refresh_ms * 1000;
    a.readonly = o.readonly;
    a.local_time = o.local_time;
    a.nopts = &no;
    a.base_url = s.prof.base_url;
    a.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    nc = getenv("NO_COLOR");
    a.color = !o.mono && !(nc && *nc);
    if (o.env) {
        snprintf(a.env_id, sizeof a.env_id, "%s", o.env);
        a.view = CON_VIEW_SESSIONS;
    }

    if (o.once) {
        rc = run_once(&a, &no, o.env);
    } else {
        a.net = net_start(&no, &err);
        if (!a.net) {
            fprintf(stderr, "omni-console: %s\n", err.msg);
            rc = OMNI_EXIT_FAIL;
        } else {
            rc = run_ui(&a, o.iterations);
            net_stop(a.net);
            a.net = NULL;
        }
    }
    con_app_release(&a);
    setup_release(&s);
    return rc;
}
