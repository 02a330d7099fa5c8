/*
 * omni-sim — a local control plane for Claude Managed Agents self-hosted
 * environments (see man/omni-sim.1). main: flags, keys, start-up state,
 * the env file, the lease ticker, signals and clean shutdown.
 *
 * Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 start-up failure
 * (cannot listen, key file or env file problem), 2 usage error.
 */
#include "sim.h"

#include "alloc.h"
#include "exitcode.h"
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAIN_KEY_FILE_MAX 4096
#define MAIN_TICK_MS 100

/*
 * The options: one table row each, from which come getopt_long's option
 * array, the short-option string, --help and the parsing. A row names the
 * option, its short letter (0: none), its argument (metavar; NULL: none), a
 * line of help and what to do with a value: store the string, an integer in
 * lo..hi, a fraction in 0..1 (at off in struct main_args), or call fn.
 *
 * Adding an option: a row here (its place is its place in --help), a field
 * in struct sim_config or struct main_args, and the .Op and .It lines of
 * man/omni-sim.1.
 */

/* What the command line sets. */
struct main_args {
    struct sim_config cfg;
    enum log_format lf;
    enum log_level ll;
};

enum main_kind {
    MAIN_STR,  /* const char * at off */
    MAIN_INT,  /* int at off, lo..hi */
    MAIN_FRAC, /* double at off, 0..1 */
    MAIN_FN,   /* fn(args, value) */
};

/* fn results besides 0 (go on) */
#define MAIN_BAD (-1) /* usage error, said on stderr: exit 2 */
#define MAIN_DONE 1   /* done (--help, --version): exit 0 */

#define MAIN_REPEAT 0x1 /* may be given again and again (usage shows "...") */

struct main_opt {
    const char *name;
    char shortopt;
    const char *metavar;
    enum main_kind kind;
    size_t off;
    long lo, hi;
    int (*fn)(struct main_args *a, const char *v);
    unsigned flags;
    const char *help;
};

static int main_seed(struct main_args *a, const char *v);
static int main_stop_reply(struct main_args *a, const char *v);
static int main_log_format(struct main_args *a, const char *v);
static int main_log_level(struct main_args *a, const char *v);
static int main_skill(struct main_args *a, const char *v);
static int main_skill_format(struct main_args *a, const char *v);
static int main_version(struct main_args *a, const char *v);
static int main_help(struct main_args *a, const char *v);

/* Rows: a string, an integer in lo..hi or a fraction stored in struct
 * sim_config; or a function called with the value (NULL without one). */
#define MAIN_OPT_STR(name, meta, field, help)                                                      \
    {                                                                                              \
        name, 0, meta, MAIN_STR, offsetof(struct main_args, cfg.field), 0, 0, NULL, 0, help        \
    }
#define MAIN_OPT_INT(name, meta, field, lo, hi, help)                                              \
    {                                                                                              \
        name, 0, meta, MAIN_INT, offsetof(struct main_args, cfg.field), lo, hi, NULL, 0, help      \
    }
#define MAIN_OPT_FRAC(name, meta, field, help)                                                     \
    {                                                                                              \
        name, 0, meta, MAIN_FRAC, offsetof(struct main_args, cfg.field), 0, 0, NULL, 0, help       \
    }
#define MAIN_OPT_FN(name, shortopt, meta, fn, flags, help)                                         \
    {                                                                                              \
        name, shortopt, meta, MAIN_FN, 0, 0, 0, fn, flags, help                                    \
    }

static const struct main_opt main_opts[] = {
    MAIN_OPT_INT("port", "N", port, 0, 65535, "TCP port; 0 (the default) picks a free one"),
    MAIN_OPT_STR("listen", "ADDR", listen, "address to bind (default 127.0.0.1)"),
    MAIN_OPT_STR("env-file", "FILE", env_file, "write the connection settings (mode 0600)"),
    MAIN_OPT_STR("org-key-file", "FILE", org_key_file,
                 "organisation API key (first line of a 0600 file)"),
    MAIN_OPT_STR("env-key-file", "FILE", env_key_file, "key of the initial environment (likewise)"),
    MAIN_OPT_STR("tls-cert", "FILE", tls_cert, "serve HTTPS with this PEM certificate (chain)"),
    MAIN_OPT_STR("tls-key", "FILE", tls_key, "and this PEM private key (both or neither)"),
    MAIN_OPT_STR("request-log", "FILE", request_log, "append one line per request"),
    MAIN_OPT_INT("lease-ttl", "SECONDS", lease_ttl, 1, 86400,
                 "default lease TTL of acknowledged work (default 300)"),
    MAIN_OPT_INT("ping-interval", "SECONDS", ping_interval, 1, 3600,
                 "seconds between pings on idle streams (default 15)"),
    MAIN_OPT_FN("stop-reply", 0, "204|200", main_stop_reply, 0,
                "answer work stop with 204 (default) or 200"),
    MAIN_OPT_FN("seed", 0, "N", main_seed, 0, "fault generator seed (default random, logged)"),
    MAIN_OPT_FRAC("fault-5xx", "FRACTION", faults.p5xx,
                  "answer this fraction of /v1 with 500, 503 or 529"),
    MAIN_OPT_FRAC("fault-429", "FRACTION", faults.p429, "answer this fraction of /v1 with 429"),
    MAIN_OPT_INT("latency-ms", "N", faults.latency_ms, 0, 600000,
                 "delay every /v1 request by N ms"),
    MAIN_OPT_INT("jitter-ms", "N", faults.jitter_ms, 0, 600000, "plus a seeded random 0..N ms"),
    MAIN_OPT_INT("cut-stream-after", "K", faults.cut_stream_after, 0, 1000000000,
                 "end every event stream after K events"),
    MAIN_OPT_INT("sse-error-every", "K", faults.sse_error_every, 0, 1000000000,
                 "end a stream with an error frame every K events"),
    MAIN_OPT_INT("steal-lease-every", "K", faults.steal_lease_every, 0, 1000000000,
                 "refuse every K-th good heartbeat with 412"),
    MAIN_OPT_INT("retry-after-ms", "N", faults.retry_after_ms, 1, 600000,
                 "retry-after-ms of injected 429s (default 100)"),
    MAIN_OPT_FN("log-format", 0, "text|json", main_log_format, 0, "log format (default text)"),
    MAIN_OPT_FN("log-level", 0, "LEVEL", main_log_level, 0, "debug, info (default), warn or error"),
    MAIN_OPT_FN("skill", 0, "DIR", main_skill, MAIN_REPEAT,
                "serve DIR as a skill (repeatable, up to 64)"),
    MAIN_OPT_FN("skill-format", 0, "tar.gz|zip", main_skill_format, 0,
                "archive format of --skill (default tar.gz)"),
    MAIN_OPT_FN("version", 0, NULL, main_version, 0, "print the version and exit"),
    MAIN_OPT_FN("help", 'h', NULL, main_help, 0, "print this help and exit"),
};
#define MAIN_NOPTS (sizeof(main_opts) / sizeof(main_opts[0]))
#define MAIN_OPT_LONG 256 /* getopt value of row i without a short letter: 256 + i */
#define MAIN_USAGE_WIDTH 80
#define MAIN_HELP_COLUMN 28 /* where the help text of an option starts */

/* "usage: omni-sim [--port N] ..." wrapped at MAIN_USAGE_WIDTH; with help,
 * then a line per option (two when its name and argument are long). */
static void main_usage(FILE *f, int help)
{
    static const char lead[] = "usage: omni-sim";
    size_t col = sizeof(lead) - 1;

    fputs(lead, f);
    for (size_t i = 0; i < MAIN_NOPTS; i++) {
        const struct main_opt *o = &main_opts[i];
        char item[64];
        int n = snprintf(item, sizeof(item), "[--%s%s%s]%s", o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "", o->flags & MAIN_REPEAT ? "..." : "");
        if (col + 1 + (size_t)n > MAIN_USAGE_WIDTH) {
            fprintf(f, "\n%*s", (int)(sizeof(lead) - 1), "");
            col = sizeof(lead) - 1;
        }
        fprintf(f, " %s", item);
        col += 1 + (size_t)n;
    }
    fputc('\n', f);
    if (!help)
        return;
    fputs("\noptions:\n", f);
    for (size_t i = 0; i < MAIN_NOPTS; i++) {
        const struct main_opt *o = &main_opts[i];
        char left[64];
        snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->shortopt ? '-' : ' ',
                 o->shortopt ? o->shortopt : ' ', o->shortopt ? ',' : ' ', o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        if (strlen(left) > MAIN_HELP_COLUMN - 3)
            fprintf(f, "  %s\n  %-*s %s\n", left, MAIN_HELP_COLUMN - 3, "", o->help);
        else
            fprintf(f, "  %-*s %s\n", MAIN_HELP_COLUMN - 3, left, o->help);
    }
    fputs("\nSee omni-sim(1) for the API, the scenarios and the exit codes.\n", f);
}

static int main_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "omni-sim: invalid --%s '%s': expected an integer in %ld..%ld\n", opt, v,
                lo, hi);
        return MAIN_BAD;
    }
    *out = n;
    return 0;
}

static int main_frac(const char *opt, const char *v, double *out)
{
    char *end = NULL;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= 0.0 && d <= 1.0)) {
        fprintf(stderr, "omni-sim: invalid --%s '%s': expected a fraction in 0..1\n", opt, v);
        return MAIN_BAD;
    }
    *out = d;
    return 0;
}

static int main_seed(struct main_args *a, const char *v)
{
    long n;
    if (main_long("seed", v, 0, 9007199254740991L, &n) < 0)
        return MAIN_BAD;
    a->cfg.seed = (uint64_t)n;
    a->cfg.seed_given = 1;
    return 0;
}

static int main_stop_reply(struct main_args *a, const char *v)
{
    long n;
    if (main_long("stop-reply", v, 200, 204, &n) < 0)
        return MAIN_BAD;
    if (n != 200 && n != 204) {
        fprintf(stderr, "omni-sim: invalid --stop-reply '%s': expected 204 or 200\n", v);
        return MAIN_BAD;
    }
    a->cfg.stop_reply = (int)n;
    return 0;
}

static int main_log_format(struct main_args *a, const char *v)
{
    if (log_format_parse(v, &a->lf) < 0) {
        fprintf(stderr, "omni-sim: invalid --log-format '%s': expected text or json\n", v);
        return MAIN_BAD;
    }
    return 0;
}

static int main_log_level(struct main_args *a, const char *v)
{
    if (log_level_parse(v, &a->ll) < 0) {
        fprintf(stderr, "omni-sim: invalid --log-level '%s'\n", v);
        return MAIN_BAD;
    }
    return 0;
}

static int main_skill(struct main_args *a, const char *v)
{
    if (a->cfg.nskill_dirs == SIM_SKILL_DIRS_MAX) {
        fprintf(stderr, "omni-sim: too many --skill options (at most %d)\n", SIM_SKILL_DIRS_MAX);
        return MAIN_BAD;
    }
    a->cfg.skill_dirs[a->cfg.nskill_dirs++] = v;
    return 0;
}

static int main_skill_format(struct main_args *a, const char *v)
{
    if (strcmp(v, "zip") != 0 && strcmp(v, "tar.gz") != 0) {
        fprintf(stderr, "omni-sim: invalid --skill-format '%s': expected tar.gz or zip\n", v);
        return MAIN_BAD;
    }
    a->cfg.skill_zip = strcmp(v, "zip") == 0;
    return 0;
}

static int main_version(struct main_args *a, const char *v)
{
    (void)a;
    (void)v;
    printf("omni-sim %s\n", OMNI_VERSION);
    return MAIN_DONE;
}

static int main_help(struct main_args *a, const char *v)
{
    (void)a;
    (void)v;
    main_usage(stdout, 1);
    return MAIN_DONE;
}

/* Set what row o says with value v (NULL for options without one). */
static int main_set(struct main_args *a, const struct main_opt *o, const char *v)
{
    char *field = (char *)a + o->off;
    long n;

    switch (o->kind) {
    case MAIN_STR:
        *(const char **)(void *)field = v;
        return 0;
    case MAIN_INT:
        if (main_long(o->name, v, o->lo, o->hi, &n) < 0)
            return MAIN_BAD;
        *(int *)(void *)field = (int)n;
        return 0;
    case MAIN_FRAC:
        return main_frac(o->name, v, (double *)(void *)field);
    case MAIN_FN:
        break;
    }
    return o->fn(a, v);
}

/*
 * Parse the command line into a (defaults already set). Returns 0 to go on,
 * or MAIN_DONE with *exit_code set: 0 after --help/--version, 2 after a usage
 * error (said on stderr).
 */
static int main_parse(int argc, char **argv, struct main_args *a, int *exit_code)
{
    struct option longopts[MAIN_NOPTS + 1];
    char shortopts[2 * MAIN_NOPTS + 1];
    size_t ns = 0;
    int c;

    for (size_t i = 0; i < MAIN_NOPTS; i++) {
        const struct main_opt *o = &main_opts[i];
        longopts[i].name = o->name;
        longopts[i].has_arg = o->metavar ? required_argument : no_argument;
        longopts[i].flag = NULL;
        longopts[i].val = o->shortopt ? o->shortopt : MAIN_OPT_LONG + (int)i;
        if (o->shortopt) {
            shortopts[ns++] = o->shortopt;
            if (o->metavar)
                shortopts[ns++] = ':';
        }
    }
    memset(&longopts[MAIN_NOPTS], 0, sizeof(longopts[MAIN_NOPTS]));
    shortopts[ns] = '\0';

    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct main_opt *o = NULL;
        for (size_t i = 0; i < MAIN_NOPTS && !o; i++)
            if (c == longopts[i].val)
                o = &main_opts[i];
        if (!o) { /* getopt_long said what was wrong */
            main_usage(stderr, 0);
            *exit_code = OMNI_EXIT_USAGE;
            return MAIN_DONE;
        }
        int rc = main_set(a, o, o->metavar ? optarg : NULL);
        if (rc != 0) {
            *exit_code = rc == MAIN_DONE ? OMNI_EXIT_OK : OMNI_EXIT_USAGE;
            return MAIN_DONE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omni-sim: unexpected argument '%s'\n", argv[optind]);
        main_usage(stderr, 0);
        *exit_code = OMNI_EXIT_USAGE;
        return MAIN_DONE;
    }
    return 0;
}

/* Read the first line of a private key file (0600 or stricter). */
#define MAIN_PEM_MAX (1024 * 1024)

/* Read a PEM file whole (for --tls-cert / --tls-key). NULL on failure, said on stderr. */
static char *main_read_pem(const char *opt, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "omni-sim: --%s '%s': %s\n", opt, path, strerror(errno));
        return NULL;
    }
    buf = malloc(MAIN_PEM_MAX + 1);
    n = buf ? fread(buf, 1, MAIN_PEM_MAX + 1, f) : 0;
    fclose(f);
    if (buf && n <= MAIN_PEM_MAX)
        buf[n] = '\0';
    if (!buf || n == 0 || n > MAIN_PEM_MAX || !strstr(buf, "-----BEGIN ")) {
        fprintf(stderr, "omni-sim: --%s '%s': not a PEM file of at most %d bytes\n", opt, path,
                MAIN_PEM_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void main_free_pem(struct sim_config *cfg)
{
    free(cfg->tls_cert_pem);
    free(cfg->tls_key_pem);
    cfg->tls_cert_pem = cfg->tls_key_pem = NULL;
}

static int main_read_key(const char *path, char *out, size_t outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fprintf(stderr, "omni-sim: cannot open key file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
        st.st_size > MAIN_KEY_FILE_MAX) {
        fprintf(stderr,
                "omni-sim: key file '%s' refused: must be a regular file, mode 0600 or "
                "stricter, at most %d bytes\n",
                path, MAIN_KEY_FILE_MAX);
        close(fd);
        return -1;
    }
    char buf[MAIN_KEY_FILE_MAX + 1];
    ssize_t n = read(fd, buf, MAIN_KEY_FILE_MAX);
    close(fd);
    if (n < 0) {
        fprintf(stderr, "omni-sim: cannot read key file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t len = strcspn(p, "\r\n");
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    p[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f) {
            fprintf(stderr, "omni-sim: key file '%s' holds whitespace or control characters\n",
                    path);
            return -1;
        }
    }
    if (!len || len >= outlen) {
        fprintf(stderr, "omni-sim: key file '%s' is empty or its key is too long\n", path);
        memset(buf, 0, sizeof(buf));
        return -1;
    }
    memcpy(out, p, len + 1);
    memset(buf, 0, sizeof(buf));
    return 0;
}

static int main_write_env_file(const char *path, const struct sim *sim)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        fprintf(stderr, "omni-sim: env file path '%s' is too long\n", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "omni-sim: cannot create '%s': %s\n", tmp, strerror(errno));
        return -1;
    }
    char text[1024];
    int n = snprintf(text, sizeof(text),
                     "ANTHROPIC_BASE_URL=%s\nANTHROPIC_API_KEY=%s\nANTHROPIC_ENVIRONMENT_ID=%s\n"
                     "ANTHROPIC_ENVIRONMENT_KEY=%s\nOMNI_SIM_AGENT_ID=%s\n",
                     sim->base_url, sim->org_key, sim->first_env->id, sim->first_env->key,
                     sim->first_agent->id);
    int ok = n > 0 && (size_t)n < sizeof(text) && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
    memset(text, 0, sizeof(text));
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        fprintf(stderr, "omni-sim: cannot write env file '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct main_ticker {
    struct sim *sim;
    int stop;
};

static void *main_tick(void *arg)
{
    struct main_ticker *t = arg;
    struct sim *sim = t->sim;
    for (;;) {
        pthread_mutex_lock(&sim->mu);
        int stop = t->stop;
        if (!stop)
            simwork_tick(sim);
        pthread_mutex_unlock(&sim->mu);
        if (stop)
            return NULL;
        struct timespec ts = {0, MAIN_TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Running out of memory is fatal, said with the program's name. */
static void main_oom(void)
{
    fputs("omni-sim: out of memory\n", stderr);
    abort();
}

static void main_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct main_args args;
    int exit_code;

    omni_set_oom_hook(main_oom);
    memset(&args, 0, sizeof(args));
    args.cfg.listen = "127.0.0.1";
    args.cfg.lease_ttl = SIM_LEASE_TTL_DEFAULT;
    args.cfg.ping_interval = SIM_PING_DEFAULT;
    args.cfg.stop_reply = 204;
    args.cfg.faults.retry_after_ms = 100;
    args.lf = LOG_TEXT;
    args.ll = LOG_INFO;
    if (main_parse(argc, argv, &args, &exit_code) == MAIN_DONE)
        return exit_code;
    struct sim_config cfg = args.cfg;
    enum log_format lf = args.lf;
    enum log_level ll = args.ll;

    if (!cfg.tls_cert != !cfg.tls_key) {
        fprintf(stderr, "omni-sim: --tls-cert and --tls-key go together\n");
        return OMNI_EXIT_USAGE;
    }
    if (cfg.tls_cert) {
        cfg.tls_cert_pem = main_read_pem("tls-cert", cfg.tls_cert);
        cfg.tls_key_pem = cfg.tls_cert_pem ? main_read_pem("tls-key", cfg.tls_key) : NULL;
        if (!cfg.tls_key_pem) {
            free(cfg.tls_cert_pem);
            return OMNI_EXIT_CONFIG;
        }
    }
    log_setup("omni-sim", lf, ll);
    if (!cfg.seed_given) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)time(NULL);
        cfg.seed = r;
    }

    static struct sim sim;
    simstore_init(&sim, &cfg);
    if (cfg.org_key_file) {
        if (main_read_key(cfg.org_key_file, sim.org_key, sizeof(sim.org_key)) < 0)
            return main_free_pem(&cfg), OMNI_EXIT_CONFIG;
    } else {
        simstore_new_key("sk-ant-api03-", sim.org_key, sizeof(sim.org_key));
    }
    if (cfg.request_log) {
        sim.request_log_fd = open(cfg.request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sim.request_log_fd < 0) {
            fprintf(stderr, "omni-sim: cannot open request log '%s': %s\n", cfg.request_log,
                    strerror(errno));
            return main_free_pem(&cfg), OMNI_EXIT_FAIL;
        }
    }

    pthread_mutex_lock(&sim.mu);
    cJSON *config = cJSON_CreateObject();
    cJSON_AddStringToObject(config, "type", "self_hosted");
    sim.first_env = simstore_env_create(&sim, "omni-sim-default", config);
    if (cfg.env_key_file) {
        char key[SIM_KEY_LEN];
        if (main_read_key(cfg.env_key_file, key, sizeof(key)) < 0) {
            pthread_mutex_unlock(&sim.mu);
            return main_free_pem(&cfg), OMNI_EXIT_CONFIG;
        }
        simstore_env_set_key(&sim, sim.first_env, key);
        memset(key, 0, sizeof(key));
    }
    cJSON *ab = cJSON_CreateObject();
    cJSON_AddStringToObject(ab, "name", "omni-sim-agent");
    sim.first_agent = simstore_agent_create(&sim, ab);
    cJSON_Delete(ab);
    for (int i = 0; i < cfg.nskill_dirs; i++) {
        char serr[512];
        if (simskills_add_dir(&sim, cfg.skill_dirs[i], cfg.skill_zip, serr, sizeof(serr)) < 0) {
            fprintf(stderr, "omni-sim: --skill: %s\n", serr);
            pthread_mutex_unlock(&sim.mu);
            return main_free_pem(&cfg), OMNI_EXIT_CONFIG;
        }
    }
    pthread_mutex_unlock(&sim.mu);

    main_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    char err[256];
    int port = 0;
    struct sim_server *srv = simserver_start(&sim, &port, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "omni-sim: %s\n", err);
        return main_free_pem(&cfg), OMNI_EXIT_FAIL;
    }
    const char *host = cfg.listen;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    pthread_mutex_lock(&sim.mu);
    if (strchr(host, ':'))
        snprintf(sim.base_url, sizeof(sim.base_url), "%s://[%s]:%d",
                 cfg.tls_cert ? "https" : "http", host, port);
    else
        snprintf(sim.base_url, sizeof(sim.base_url), "%s://%s:%d", cfg.tls_cert ? "https" : "http",
                 host, port);
    pthread_mutex_unlock(&sim.mu);
    if (cfg.env_file && main_write_env_file(cfg.env_file, &sim) < 0) {
        simserver_stop(srv);
        return main_free_pem(&cfg), OMNI_EXIT_FAIL;
    }
    char seed[32], ttl[16];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)cfg.seed);
    snprintf(ttl, sizeof(ttl), "%d", cfg.lease_ttl);
    log_kv(LOG_INFO, "started", "url", sim.base_url, "environment", sim.first_env->id, "agent",
           sim.first_agent->id, "seed", seed, "lease_ttl", ttl, (char *)NULL);
    printf("listening on %s\n", sim.base_url);
    fflush(stdout);

    struct main_ticker ticker = {&sim, 0};
    pthread_t tick_thread;
    if (pthread_create(&tick_thread, NULL, main_tick, &ticker) != 0) {
        fprintf(stderr, "omni-sim: cannot start the lease ticker\n");
        simserver_stop(srv);
        return main_free_pem(&cfg), OMNI_EXIT_FAIL;
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    log_kv(LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", (char *)NULL);
    simserver_stop(srv);
    pthread_mutex_lock(&sim.mu);
    ticker.stop = 1;
    pthread_mutex_unlock(&sim.mu);
    pthread_join(tick_thread, NULL);
    simwebhook_stop(&sim);
    if (sim.request_log_fd >= 0)
        close(sim.request_log_fd);
    memset(sim.org_key, 0, sizeof(sim.org_key));
    simskills_release(&sim);
    simstore_release(&sim);
    main_free_pem(&cfg);
    return 0;
}
