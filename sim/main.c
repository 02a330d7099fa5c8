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
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
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

enum {
    OPT_PORT = 256,
    OPT_LISTEN,
    OPT_ENV_FILE,
    OPT_ORG_KEY_FILE,
    OPT_ENV_KEY_FILE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_REQUEST_LOG,
    OPT_LEASE_TTL,
    OPT_PING,
    OPT_STOP_REPLY,
    OPT_SEED,
    OPT_F5XX,
    OPT_F429,
    OPT_LATENCY,
    OPT_JITTER,
    OPT_CUT,
    OPT_SSE_ERR,
    OPT_STEAL,
    OPT_RETRY_AFTER,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_SKILL,
    OPT_SKILL_FORMAT,
    OPT_VERSION,
};

static const struct option main_opts[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"env-file", required_argument, NULL, OPT_ENV_FILE},
    {"org-key-file", required_argument, NULL, OPT_ORG_KEY_FILE},
    {"env-key-file", required_argument, NULL, OPT_ENV_KEY_FILE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"request-log", required_argument, NULL, OPT_REQUEST_LOG},
    {"lease-ttl", required_argument, NULL, OPT_LEASE_TTL},
    {"ping-interval", required_argument, NULL, OPT_PING},
    {"stop-reply", required_argument, NULL, OPT_STOP_REPLY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"fault-5xx", required_argument, NULL, OPT_F5XX},
    {"fault-429", required_argument, NULL, OPT_F429},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"jitter-ms", required_argument, NULL, OPT_JITTER},
    {"cut-stream-after", required_argument, NULL, OPT_CUT},
    {"sse-error-every", required_argument, NULL, OPT_SSE_ERR},
    {"steal-lease-every", required_argument, NULL, OPT_STEAL},
    {"retry-after-ms", required_argument, NULL, OPT_RETRY_AFTER},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"skill", required_argument, NULL, OPT_SKILL},
    {"skill-format", required_argument, NULL, OPT_SKILL_FORMAT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void main_usage(FILE *f)
{
    fputs("usage: omni-sim [--port N] [--listen ADDR] [--env-file FILE]\n"
          "                [--org-key-file FILE] [--env-key-file FILE] [--request-log FILE]\n"
          "                [--tls-cert FILE --tls-key FILE]\n"
          "                [--lease-ttl SECONDS] [--ping-interval SECONDS] [--stop-reply 204|200]\n"
          "                [--seed N] [--fault-5xx FRACTION] [--fault-429 FRACTION]\n"
          "                [--latency-ms N] [--jitter-ms N] [--retry-after-ms N]\n"
          "                [--cut-stream-after K] [--sse-error-every K] [--steal-lease-every K]\n"
          "                [--skill DIR]... [--skill-format tar.gz|zip]\n"
          "                [--log-format text|json] [--log-level LEVEL] [--version]\n",
          f);
}

static int main_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "omni-sim: invalid --%s '%s': expected an integer in %ld..%ld\n", opt, v,
                lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int main_int(const char *opt, const char *v, long lo, long hi, int *out)
{
    long n;
    if (main_long(opt, v, lo, hi, &n) < 0)
        return -1;
    *out = (int)n;
    return 0;
}

static int main_frac(const char *opt, const char *v, double *out)
{
    char *end = NULL;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= 0.0 && d <= 1.0)) {
        fprintf(stderr, "omni-sim: invalid --%s '%s': expected a fraction in 0..1\n", opt, v);
        return -1;
    }
    *out = d;
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
    int ok = n > 0 && (size_t)n < sizeof(text) && write(fd, text, (size_t)n) == n &&
             fsync(fd) == 0;
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
    struct sim_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1";
    cfg.lease_ttl = SIM_LEASE_TTL_DEFAULT;
    cfg.ping_interval = SIM_PING_DEFAULT;
    cfg.stop_reply = 204;
    cfg.faults.retry_after_ms = 100;
    enum log_format lf = LOG_TEXT;
    enum log_level ll = LOG_INFO;
    long lv;
    int c;

    omni_set_oom_hook(main_oom);
    while ((c = getopt_long(argc, argv, "h", main_opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_PORT:
            bad = main_int("port", optarg, 0, 65535, &cfg.port);
            break;
        case OPT_LISTEN:
            cfg.listen = optarg;
            break;
        case OPT_ENV_FILE:
            cfg.env_file = optarg;
            break;
        case OPT_ORG_KEY_FILE:
            cfg.org_key_file = optarg;
            break;
        case OPT_ENV_KEY_FILE:
            cfg.env_key_file = optarg;
            break;
        case OPT_TLS_CERT:
            cfg.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            cfg.tls_key = optarg;
            break;
        case OPT_REQUEST_LOG:
            cfg.request_log = optarg;
            break;
        case OPT_LEASE_TTL:
            bad = main_int("lease-ttl", optarg, 1, 86400, &cfg.lease_ttl);
            break;
        case OPT_PING:
            bad = main_int("ping-interval", optarg, 1, 3600, &cfg.ping_interval);
            break;
        case OPT_STOP_REPLY:
            bad = main_int("stop-reply", optarg, 200, 204, &cfg.stop_reply);
            if (!bad && cfg.stop_reply != 200 && cfg.stop_reply != 204) {
                fprintf(stderr, "omni-sim: invalid --stop-reply '%s': expected 204 or 200\n",
                        optarg);
                bad = -1;
            }
            break;
        case OPT_SEED:
            bad = main_long("seed", optarg, 0, 9007199254740991L, &lv);
            cfg.seed = (uint64_t)lv;
            cfg.seed_given = 1;
            break;
        case OPT_F5XX:
            bad = main_frac("fault-5xx", optarg, &cfg.faults.p5xx);
            break;
        case OPT_F429:
            bad = main_frac("fault-429", optarg, &cfg.faults.p429);
            break;
        case OPT_LATENCY:
            bad = main_int("latency-ms", optarg, 0, 600000, &cfg.faults.latency_ms);
            break;
        case OPT_JITTER:
            bad = main_int("jitter-ms", optarg, 0, 600000, &cfg.faults.jitter_ms);
            break;
        case OPT_CUT:
            bad = main_int("cut-stream-after", optarg, 0, 1000000000, &cfg.faults.cut_stream_after);
            break;
        case OPT_SSE_ERR:
            bad = main_int("sse-error-every", optarg, 0, 1000000000, &cfg.faults.sse_error_every);
            break;
        case OPT_STEAL:
            bad = main_int("steal-lease-every", optarg, 0, 1000000000,
                           &cfg.faults.steal_lease_every);
            break;
        case OPT_RETRY_AFTER:
            bad = main_int("retry-after-ms", optarg, 1, 600000, &cfg.faults.retry_after_ms);
            break;
        case OPT_LOG_FORMAT:
            if (log_format_parse(optarg, &lf) < 0) {
                fprintf(stderr, "omni-sim: invalid --log-format '%s': expected text or json\n",
                        optarg);
                bad = -1;
            }
            break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(optarg, &ll) < 0) {
                fprintf(stderr, "omni-sim: invalid --log-level '%s'\n", optarg);
                bad = -1;
            }
            break;
        case OPT_SKILL:
            if (cfg.nskill_dirs == SIM_SKILL_DIRS_MAX) {
                fprintf(stderr, "omni-sim: too many --skill options (at most %d)\n",
                        SIM_SKILL_DIRS_MAX);
                bad = -1;
            } else {
                cfg.skill_dirs[cfg.nskill_dirs++] = optarg;
            }
            break;
        case OPT_SKILL_FORMAT:
            if (strcmp(optarg, "zip") == 0 || strcmp(optarg, "tar.gz") == 0) {
                cfg.skill_zip = strcmp(optarg, "zip") == 0;
            } else {
                fprintf(stderr, "omni-sim: invalid --skill-format '%s': expected tar.gz or zip\n",
                        optarg);
                bad = -1;
            }
            break;
        case OPT_VERSION:
            printf("omni-sim %s\n", OMNI_VERSION);
            return 0;
        case 'h':
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "omni-sim: unexpected argument '%s'\n", argv[optind]);
        main_usage(stderr);
        return 2;
    }
    if (!cfg.tls_cert != !cfg.tls_key) {
        fprintf(stderr, "omni-sim: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (cfg.tls_cert) {
        cfg.tls_cert_pem = main_read_pem("tls-cert", cfg.tls_cert);
        cfg.tls_key_pem = cfg.tls_cert_pem ? main_read_pem("tls-key", cfg.tls_key) : NULL;
        if (!cfg.tls_key_pem) {
            free(cfg.tls_cert_pem);
            return 1;
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
            return main_free_pem(&cfg), 1;
    } else {
        simstore_new_key("sk-ant-api03-", sim.org_key, sizeof(sim.org_key));
    }
    if (cfg.request_log) {
        sim.request_log_fd =
            open(cfg.request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sim.request_log_fd < 0) {
            fprintf(stderr, "omni-sim: cannot open request log '%s': %s\n", cfg.request_log,
                    strerror(errno));
            return main_free_pem(&cfg), 1;
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
            return main_free_pem(&cfg), 1;
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
            return main_free_pem(&cfg), 1;
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
        return main_free_pem(&cfg), 1;
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
        return main_free_pem(&cfg), 1;
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
        return main_free_pem(&cfg), 1;
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    log_kv(LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
           (char *)NULL);
    simserver_stop(srv);
    pthread_mutex_lock(&sim.mu);
    ticker.stop = 1;
    pthread_mutex_unlock(&sim.mu);
    pthread_join(tick_thread, NULL);
    if (sim.request_log_fd >= 0)
        close(sim.request_log_fd);
    memset(sim.org_key, 0, sizeof(sim.org_key));
    simskills_release(&sim);
    simstore_release(&sim);
    main_free_pem(&cfg);
    return 0;
}
