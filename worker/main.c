/*
 * omni-worker — the environment worker: options, credential intake, dispatch.
 *
 *   omni-worker poll [options]     claim work and serve sessions
 *   omni-worker run [options]      serve one already-claimed item
 *   omni-worker version | help
 *
 * Credential rules (protocol.md §3.1): an organisation API key anywhere in the
 * environment is refused (exit 3); the environment key comes from
 * ANTHROPIC_ENVIRONMENT_KEY or --environment-key-file, never from argv. Once
 * read, it is removed from the environment and its original bytes are
 * overwritten (so /proc/self/environ no longer shows it), and the process is
 * made non-dumpable so a same-uid tool shell cannot read /proc/<pid>/mem.
 */
#include "worker.h"
#include "metrics.h"

#include "buf.h"
#include "cgroup.h"
#include "confine.h"
#include "creds.h"
#include "log.h"
#include "egress.h"
#include "envkey.h"
#include "file.h"
#include "microvm.h"
#include "sandbox.h"
#include "shutdown.h"
#include "size.h"
#include "timeutil.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <unistd.h>

extern char **environ;

static const char usage_text[] =
    "usage: omni-worker poll [options]\n"
    "       omni-worker run [options]\n"
    "       omni-worker status ADDR       what each slot is doing (ADDR: --metrics-listen's)\n"
    "       omni-worker version | help\n"
    "\n"
    "credentials (never on the command line):\n"
    "  ANTHROPIC_ENVIRONMENT_KEY or --environment-key-file FILE (mode 0600/0400)\n"
    "  --environment-id ID          (or ANTHROPIC_ENVIRONMENT_ID)\n"
    "  --base-url URL               (or ANTHROPIC_BASE_URL)\n"
    "  --ca-file FILE               extra CA bundle\n"
    "  --workspace ID               anthropic-workspace-id (or ANTHROPIC_WORKSPACE_ID)\n"
    "  --api-socket PATH            reach the API through this unix socket (or OMNI_API_SOCKET)\n"
    "  --ignore-secret-base-url     do not use the work secret's api_base_url\n"
    "  --secret-base-url-allow URL  an origin besides the base URL's that a secret may name\n"
    "poll:\n"
    "  --worker-id ID               (or ANTHROPIC_WORKER_ID; default <host>-<16 hex>)\n"
    "  --concurrency N              sessions at once, one child process each (default 1)\n"
    "  --on-work SCRIPT             hand each session item to SCRIPT (protocol §10.2)\n"
    "  --child-grace DUR            SIGTERM-to-SIGKILL grace for children (default 30s)\n"
    "  --poll-idle-ms MIN[-MAX]     sleep after an empty poll (default 1000-3000)\n"
    "  --max-items N                stop claiming after N items (default unlimited)\n"
    "  --metrics-listen ADDR        serve /metrics /healthz /readyz /status on HOST:PORT or\n"
    "                               unix:/path (off by default; use loopback or a socket)\n"
    "  --stuck-call DUR             /readyz fails when a call is outstanding this long\n"
    "                               with no result posted (default 10m)\n"
    "run:\n"
    "  --work-id ID                 (or ANTHROPIC_WORK_ID)\n"
    "  --session-id ID              (or ANTHROPIC_SESSION_ID)\n"
    "  --work-secret-file FILE      the item's secret (mode 0600/0400)\n"
    "  --work-stdin                 read the work item JSON (with its secret) from stdin\n"
    "sessions:\n"
    "  --workdir DIR                per-session directories DIR/<session> (default ./omni-work)\n"
    "  --keep-workdir               keep session directories after the run\n"
    "  --max-idle DUR               end a session idle this long (default 60s, 0 = never)\n"
    "  --release-waiting DUR        stop a session waiting on a person (a held or custom\n"
    "                               tool call) this long; its answer re-queues it\n"
    "                               (default 10m, 0 = never)\n"
    "  --drain-timeout DUR          on SIGTERM, wait this long for a running call (default 25s)\n"
    "  --max-concurrent-calls N     calls of different session threads run at once, up to N\n"
    "                               per session (1..16, default 4; 1 = one at a time)\n"
    "  --no-memory                  serve sessions with memory stores without memory\n"
    "  --pass-env NAME              pass NAME to tool processes (repeatable)\n"
    "  --allow-path DIR             extra directory the file tools may use (repeatable)\n"
    "  --readonly-path DIR          extra read-only directory for the file tools (repeatable)\n"
    "  --bash-timeout DUR           default bash timeout (default 295s)\n"
    "  --bash-max-timeout DUR       largest bash timeout a call may ask for (default 295s)\n"
    "  --tool-timeout DUR           wall limit of any tool call (default 325s)\n"
    "  --max-file-bytes N           read and edit size cap (default 110000 for read,\n"
    "                               262144 for edit)\n"
    "containment (every mode):\n"
    "  --sandbox none|bwrap|microvm tools in namespaces with the host's files read-only and\n"
    "                               its network (none, default), a minimal jail with no\n"
    "                               network (bwrap), or a microVM of its own (microvm)\n"
    "  --limit-memory SIZE          per session, tmpfs included (default 2G)\n"
    "  --limit-pids N               processes per session (default 512)\n"
    "  --limit-cpu PERCENT          CPU per session, 100 = one core (default 100)\n"
    "  --limit-tmp SIZE             /tmp, /var/tmp, /dev/shm each (default 512M)\n"
    "  --limit-workdir SIZE         the session's directory, when root (default 1G)\n"
    "  --sandbox-uid-base UID       root: sessions run as uids from UID on (default 1879048192)\n"
    "  --vm-kernel FILE             microvm: the guest's kernel (default microvm/vmlinuz beside\n"
    "                               the binary or in ../lib/omni/)\n"
    "  --vm-initrd FILE             microvm: the guest's initramfs (default beside the kernel)\n"
    "  --vm-memory SIZE             microvm: guest memory (default 512M)\n"
    "  --vm-cpus N                  microvm: virtual CPUs (default 1)\n"
    "  --vm-accel auto|kvm|tcg      microvm: accelerator (auto: KVM if a test boot works)\n"
    "  --vm-snapshot on|off         microvm: restore sessions from a saved VM (default on)\n"
    "  --egress-allow NAME          bwrap/microvm: tools may reach NAME (or *.DOMAIN) over\n"
    "                               HTTPS/HTTP through a proxy, and nothing else (repeatable)\n"
    "  --egress-resolver IP[:PORT]  the proxy's DNS server (default: /etc/resolv.conf's)\n"
    "  --egress-user UID            root: the proxy's uid (default 65534, nobody)\n"
    "  --egress-ports TLS:HTTP      the upstream ports (default 443:80)\n"
    "logging:\n"
    "  --log-format text|json       (default text)\n"
    "  --log-level debug|info|warn|error (default info)\n"
    "  --log-inputs                 include tool inputs in the tool-call log lines\n"
    "  --http-debug                 trace HTTP requests (credentials redacted)\n";

enum {
    OPT_ENV_ID = 256,
    OPT_ENV_KEY_FILE,
    OPT_ENV_KEY,
    OPT_BASE_URL,
    OPT_CA_FILE,
    OPT_IGNORE_SECRET_URL,
    OPT_WORKER_ID,
    OPT_CONCURRENCY,
    OPT_ON_WORK,
    OPT_CHILD_GRACE,
    OPT_POLL_IDLE,
    OPT_MAX_ITEMS,
    OPT_WORK_ID,
    OPT_SESSION_ID,
    OPT_SECRET_FILE,
    OPT_SECRET,
    OPT_WORKDIR,
    OPT_KEEP_WORKDIR,
    OPT_MAX_IDLE,
    OPT_RELEASE_WAITING,
    OPT_DRAIN,
    OPT_MAX_CALLS,
    OPT_NO_MEMORY,
    OPT_PASS_ENV,
    OPT_ALLOW_PATH,
    OPT_RO_PATH,
    OPT_BASH_TIMEOUT,
    OPT_BASH_MAX,
    OPT_TOOL_TIMEOUT,
    OPT_MAX_FILE,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_LOG_INPUTS,
    OPT_HTTP_DEBUG,
    OPT_API_SOCKET,
    OPT_WORKSPACE,
    OPT_SANDBOX,
    OPT_LIMIT_MEMORY,
    OPT_LIMIT_PIDS,
    OPT_LIMIT_CPU,
    OPT_LIMIT_TMP,
    OPT_LIMIT_WORKDIR,
    OPT_UID_BASE,
    OPT_SECRET_URL_ALLOW,
    OPT_WORK_STDIN,
    OPT_METRICS_LISTEN,
    OPT_STUCK_CALL,
    OPT_VM_KERNEL,
    OPT_VM_INITRD,
    OPT_VM_MEMORY,
    OPT_VM_CPUS,
    OPT_VM_ACCEL,
    OPT_VM_SNAPSHOT,
    OPT_EGRESS_ALLOW,
    OPT_EGRESS_RESOLVER,
    OPT_EGRESS_USER,
    OPT_EGRESS_PORTS,
};

static const struct option long_opts[] = {
    {"environment-id", required_argument, NULL, OPT_ENV_ID},
    {"environment-key-file", required_argument, NULL, OPT_ENV_KEY_FILE},
    {"environment-key", required_argument, NULL, OPT_ENV_KEY},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"api-socket", required_argument, NULL, OPT_API_SOCKET},
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"ignore-secret-base-url", no_argument, NULL, OPT_IGNORE_SECRET_URL},
    {"worker-id", required_argument, NULL, OPT_WORKER_ID},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"on-work", required_argument, NULL, OPT_ON_WORK},
    {"child-grace", required_argument, NULL, OPT_CHILD_GRACE},
    {"poll-idle-ms", required_argument, NULL, OPT_POLL_IDLE},
    {"max-items", required_argument, NULL, OPT_MAX_ITEMS},
    {"work-id", required_argument, NULL, OPT_WORK_ID},
    {"session-id", required_argument, NULL, OPT_SESSION_ID},
    {"work-secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"work-secret", required_argument, NULL, OPT_SECRET},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"keep-workdir", no_argument, NULL, OPT_KEEP_WORKDIR},
    {"max-idle", required_argument, NULL, OPT_MAX_IDLE},
    {"release-waiting", required_argument, NULL, OPT_RELEASE_WAITING},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"max-concurrent-calls", required_argument, NULL, OPT_MAX_CALLS},
    {"no-memory", no_argument, NULL, OPT_NO_MEMORY},
    {"pass-env", required_argument, NULL, OPT_PASS_ENV},
    {"allow-path", required_argument, NULL, OPT_ALLOW_PATH},
    {"readonly-path", required_argument, NULL, OPT_RO_PATH},
    {"bash-timeout", required_argument, NULL, OPT_BASH_TIMEOUT},
    {"bash-max-timeout", required_argument, NULL, OPT_BASH_MAX},
    {"tool-timeout", required_argument, NULL, OPT_TOOL_TIMEOUT},
    {"max-file-bytes", required_argument, NULL, OPT_MAX_FILE},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-inputs", no_argument, NULL, OPT_LOG_INPUTS},
    {"http-debug", no_argument, NULL, OPT_HTTP_DEBUG},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {"limit-memory", required_argument, NULL, OPT_LIMIT_MEMORY},
    {"limit-pids", required_argument, NULL, OPT_LIMIT_PIDS},
    {"limit-cpu", required_argument, NULL, OPT_LIMIT_CPU},
    {"limit-tmp", required_argument, NULL, OPT_LIMIT_TMP},
    {"limit-workdir", required_argument, NULL, OPT_LIMIT_WORKDIR},
    {"sandbox-uid-base", required_argument, NULL, OPT_UID_BASE},
    {"vm-kernel", required_argument, NULL, OPT_VM_KERNEL},
    {"vm-initrd", required_argument, NULL, OPT_VM_INITRD},
    {"vm-memory", required_argument, NULL, OPT_VM_MEMORY},
    {"vm-cpus", required_argument, NULL, OPT_VM_CPUS},
    {"vm-accel", required_argument, NULL, OPT_VM_ACCEL},
    {"vm-snapshot", required_argument, NULL, OPT_VM_SNAPSHOT},
    {"egress-allow", required_argument, NULL, OPT_EGRESS_ALLOW},
    {"egress-resolver", required_argument, NULL, OPT_EGRESS_RESOLVER},
    {"egress-user", required_argument, NULL, OPT_EGRESS_USER},
    {"egress-ports", required_argument, NULL, OPT_EGRESS_PORTS},
    {"secret-base-url-allow", required_argument, NULL, OPT_SECRET_URL_ALLOW},
    {"work-stdin", no_argument, NULL, OPT_WORK_STDIN},
    {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
    {"stuck-call", required_argument, NULL, OPT_STUCK_CALL},
    {NULL, 0, NULL, 0},
};

struct cli {
    const char *env_key_file;
    const char *work_id;
    const char *session_id;
    const char *secret_file;
    const char *env_id;
    const char *worker_id;
    int work_stdin;
};

/* ---- helpers ------------------------------------------------------------------ */

static void wk_config_defaults(struct wk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->honour_secret_base_url = 1;
    cfg->concurrency = 1;
    cfg->max_concurrent_calls = WK_MAX_CALLS_DEFAULT;
    cfg->poll_idle_min_ms = WK_POLL_IDLE_MIN_MS;
    cfg->poll_idle_max_ms = WK_POLL_IDLE_MAX_MS;
    cfg->child_grace_ms = WK_CHILD_GRACE_MS;
    cfg->workdir = "./omni-work";
    cfg->max_idle_ms = WK_MAX_IDLE_MS;
    cfg->release_waiting_ms = WK_RELEASE_WAITING_MS;
    cfg->stuck_call_ms = WK_STUCK_CALL_MS;
    cfg->drain_ms = WK_DRAIN_MS;
    cfg->sandbox = SANDBOX_NONE;
    cfg->limit_memory = WK_LIMIT_MEMORY_DEFAULT;
    cfg->limit_pids = WK_LIMIT_PIDS_DEFAULT;
    cfg->limit_cpu = WK_LIMIT_CPU_DEFAULT;
    cfg->limit_tmp = WK_LIMIT_TMP_DEFAULT;
    cfg->limit_workdir = WK_LIMIT_WORKDIR_DEFAULT;
    cfg->sandbox_uid_base = WK_SANDBOX_UID_BASE_DEFAULT;
    cfg->vm_memory = WK_VM_MEMORY_DEFAULT;
    cfg->vm_cpus = 1;
    cfg->vm_accel = MICROVM_AUTO;
    cfg->vm_snapshot = 1;
    cfg->egress_uid = 65534;
}

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "omni-worker: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nrun 'omni-worker help' for usage\n");
    return WK_EXIT_USAGE;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_dur(const char *s, long *out)
{
    int64_t ms;
    if (omni_duration_parse(s, &ms) < 0 || ms > 365LL * 86400 * 1000)
        return -1;
    *out = (long)ms;
    return 0;
}

static int list_add(const char **list, const char *v)
{
    for (int i = 0; i < WK_LIST_MAX; i++) {
        if (!list[i]) {
            list[i] = v;
            list[i + 1] = NULL;
            return 0;
        }
    }
    return -1;
}

/*
 * Take a variable out of the environment: copy its value, unset it, and
 * overwrite the original "NAME=value" bytes so /proc/self/environ (which
 * shows the initial environment block) no longer holds them.
 */
static char *env_take(const char *name)
{
    size_t nl = strlen(name), n = 0;
    char *val = NULL, *entries[16];

    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') {
            if (!val && (*e)[nl + 1])
                val = strdup(*e + nl + 1);
            if (n < sizeof entries / sizeof entries[0])
                entries[n++] = *e;
        }
    }
    unsetenv(name);
    for (size_t i = 0; i < n; i++)
        explicit_bzero(entries[i], strlen(entries[i]));
    return val;
}

/* Refuse an organisation API key anywhere in the environment (names only). */
static int env_refuse_org_keys(void)
{
    const char *k = getenv("ANTHROPIC_API_KEY");
    if (k && *k) {
        fprintf(stderr,
                "omni-worker: refusing to run: ANTHROPIC_API_KEY is set; the worker host must "
                "not hold an organisation API key (tool calls could read it). Unset it and use "
                "an environment key.\n");
        return -1;
    }
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && strncmp(eq + 1, "sk-ant-api", 10) == 0) {
            fprintf(stderr,
                    "omni-worker: refusing to run: environment variable %.*s holds an "
                    "organisation API key; the worker host must not hold one. Unset it.\n",
                    (int)(eq - *e), *e);
            return -1;
        }
    }
    return 0;
}

/* Read a work secret file: private, at most OMNI_SECRET_MAX bytes, trailing space trimmed. */
static char *secret_read_file(const char *path, struct omni_err *err)
{
    size_t len = 0;
    char *buf =
        omni_file_read(path, "work secret file", OMNI_SECRET_MAX, OMNI_FILE_PRIVATE, &len, err);

    if (!buf)
        return NULL;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    if (!len) {
        omni_err_set(err, OMNI_E_CONFIG, "work secret file \"%s\" is empty", path);
        omni_file_wipe(buf, len);
        return NULL;
    }
    return buf;
}

/* --work-stdin: the work item JSON on standard input (<= 1 MiB). */
static int work_read_stdin(struct omni_work *w, struct omni_err *err)
{
    struct buf in = BUF_INIT_MAX(WK_WORK_STDIN_MAX);
    int rc;
    if (wk_read_all(0, &in) < 0)
        rc = omni_err_set(err, OMNI_E_USAGE, "--work-stdin: the work item is larger than %u bytes",
                          WK_WORK_STDIN_MAX);
    else if (in.len == 0)
        rc = omni_err_set(err, OMNI_E_USAGE, "--work-stdin: no work item on standard input");
    else
        rc = omni_work_parse(in.data, in.len, w, err);
    if (rc < 0 && !in.overflow && in.len)
        omni_err_set(err, OMNI_E_USAGE, "--work-stdin: the work item is invalid: %s", err->msg);
    explicit_bzero(in.data, in.len);
    buf_release(&in);
    if (rc == 0 && strcmp(w->data_type, "session") != 0) {
        omni_work_release(w);
        return omni_err_set(err, OMNI_E_USAGE, "--work-stdin: the work item is not session work");
    }
    return rc < 0 ? -1 : 0;
}

static void worker_id_default(char *out, size_t outlen)
{
    char host[HOST_NAME_MAX + 1] = "";
    unsigned char rnd[8];
    char hex[17];

    if (gethostname(host, sizeof host) < 0 || !host[0])
        snprintf(host, sizeof host, "omni-worker");
    host[HOST_NAME_MAX] = '\0';
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t t = (uint64_t)omni_wall_us() ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &t, sizeof rnd);
    }
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(out, outlen, "%.200s-%s", host, hex);
}

/* ---- option parsing ------------------------------------------------------------- */

static int parse_opts(int argc, char **argv, struct wk_config *cfg, struct cli *cli)
{
    int c;
    long v;
    enum log_format lf = LOG_TEXT;
    enum log_level ll = LOG_INFO;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case OPT_ENV_ID:
            cli->env_id = a;
            break;
        case OPT_ENV_KEY_FILE:
            cli->env_key_file = a;
            break;
        case OPT_ENV_KEY:
        case OPT_SECRET:
            fprintf(stderr,
                    "omni-worker: %s is not accepted on the command line (argv is "
                    "visible to every local user); use %s\n",
                    c == OPT_ENV_KEY ? "the environment key" : "the work secret",
                    c == OPT_ENV_KEY ? "ANTHROPIC_ENVIRONMENT_KEY or --environment-key-file"
                                     : "--work-secret-file");
            return -1;
        case OPT_BASE_URL:
            cfg->base_url = a;
            break;
        case OPT_CA_FILE:
            cfg->ca_file = a;
            break;
        case OPT_API_SOCKET:
            cfg->api_socket = a;
            break;
        case OPT_WORKSPACE:
            cfg->workspace_id = a;
            break;
        case OPT_IGNORE_SECRET_URL:
            cfg->honour_secret_base_url = 0;
            break;
        case OPT_WORKER_ID:
            cli->worker_id = a;
            break;
        case OPT_CONCURRENCY:
            if (parse_long(a, 1, WK_CONCURRENCY_MAX, &v) < 0)
                return die_usage("--concurrency \"%s\" is not a number in 1..256", a), -1;
            cfg->concurrency = (int)v;
            break;
        case OPT_MAX_CALLS:
            if (parse_long(a, 1, WK_MAX_CALLS_MAX, &v) < 0)
                return die_usage("--max-concurrent-calls \"%s\" is not a number in 1..%d", a,
                                 WK_MAX_CALLS_MAX),
                       -1;
            cfg->max_concurrent_calls = (int)v;
            break;
        case OPT_ON_WORK:
            cfg->on_work = strcmp(a, "in-process") == 0 || !*a ? NULL : a;
            break;
        case OPT_CHILD_GRACE:
            if (parse_dur(a, &cfg->child_grace_ms) < 0)
                return die_usage("--child-grace \"%s\" is not a duration", a), -1;
            break;
        case OPT_POLL_IDLE: {
            char *end;
            long lo, hi;
            errno = 0;
            lo = strtol(a, &end, 10);
            hi = lo * 3;
            if (*end == '-')
                hi = strtol(end + 1, &end, 10);
            else if (lo == 0)
                hi = 1;
            if (errno || *end || lo < 0 || hi <= lo || hi > 600000)
                return die_usage("--poll-idle-ms \"%s\" is not MIN or MIN-MAX milliseconds", a), -1;
            cfg->poll_idle_min_ms = lo;
            cfg->poll_idle_max_ms = hi;
            break;
        }
        case OPT_MAX_ITEMS:
            if (parse_long(a, 0, LONG_MAX, &cfg->max_items) < 0)
                return die_usage("--max-items \"%s\" is not a number", a), -1;
            break;
        case OPT_WORK_ID:
            cli->work_id = a;
            break;
        case OPT_SESSION_ID:
            cli->session_id = a;
            break;
        case OPT_SECRET_FILE:
            cli->secret_file = a;
            break;
        case OPT_WORKDIR:
            cfg->workdir = a;
            break;
        case OPT_KEEP_WORKDIR:
            cfg->keep_workdir = 1;
            break;
        case OPT_MAX_IDLE:
            if (parse_dur(a, &cfg->max_idle_ms) < 0)
                return die_usage("--max-idle \"%s\" is not a duration", a), -1;
            break;
        case OPT_METRICS_LISTEN:
            if (wm_addr_valid(a) < 0)
                return die_usage("--metrics-listen \"%s\" is not HOST:PORT or unix:/path", a), -1;
            cfg->metrics_listen = a;
            break;
        case OPT_STUCK_CALL:
            if (parse_dur(a, &cfg->stuck_call_ms) < 0 || cfg->stuck_call_ms <= 0)
                return die_usage("--stuck-call \"%s\" is not a positive duration", a), -1;
            break;
        case OPT_RELEASE_WAITING:
            if (parse_dur(a, &cfg->release_waiting_ms) < 0)
                return die_usage("--release-waiting \"%s\" is not a duration", a), -1;
            break;
        case OPT_DRAIN:
            if (parse_dur(a, &cfg->drain_ms) < 0)
                return die_usage("--drain-timeout \"%s\" is not a duration", a), -1;
            break;
        case OPT_NO_MEMORY:
            cfg->no_memory = 1;
            break;
        case OPT_PASS_ENV:
            if (strncasecmp(a, "ANTHROPIC_", 10) == 0)
                return die_usage("--pass-env \"%s\": ANTHROPIC_* variables are never passed to "
                                 "tools",
                                 a),
                       -1;
            if (list_add(cfg->pass_env, a) < 0)
                return die_usage("too many --pass-env options (max 64)%s", ""), -1;
            break;
        case OPT_ALLOW_PATH:
        case OPT_RO_PATH:
            if (a[0] != '/')
                return die_usage("path \"%s\" must be absolute", a), -1;
            if (list_add(c == OPT_ALLOW_PATH ? cfg->allowed_roots : cfg->readonly_roots, a) < 0)
                return die_usage("too many path options (max 64)%s", ""), -1;
            break;
        case OPT_BASH_TIMEOUT:
            if (parse_dur(a, &cfg->bash_default_timeout_ms) < 0)
                return die_usage("--bash-timeout \"%s\" is not a duration", a), -1;
            break;
        case OPT_BASH_MAX:
            if (parse_dur(a, &cfg->bash_max_timeout_ms) < 0)
                return die_usage("--bash-max-timeout \"%s\" is not a duration", a), -1;
            break;
        case OPT_TOOL_TIMEOUT:
            if (parse_dur(a, &cfg->tool_timeout_ms) < 0)
                return die_usage("--tool-timeout \"%s\" is not a duration", a), -1;
            break;
        case OPT_MAX_FILE:
            if (parse_long(a, 1, 1L << 30, &v) < 0)
                return die_usage("--max-file-bytes \"%s\" is not a number", a), -1;
            cfg->max_file_bytes = (size_t)v;
            break;
        case OPT_LOG_FORMAT:
            if (log_format_parse(a, &lf) < 0)
                return die_usage("--log-format \"%s\" is not text or json", a), -1;
            log_setup(WK_PROG, lf, log_get_level());
            break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(a, &ll) < 0)
                return die_usage("--log-level \"%s\" is not debug, info, warn or error", a), -1;
            log_set_level(ll);
            break;
        case OPT_LOG_INPUTS:
            cfg->log_inputs = 1;
            break;
        case OPT_HTTP_DEBUG:
            cfg->http_debug = 1;
            break;
        case OPT_SANDBOX: {
            enum sandbox_kind k;
            if (sandbox_kind_parse(a, &k) < 0)
                return die_usage("--sandbox \"%s\" is not none, bwrap or microvm", a), -1;
            cfg->sandbox = (int)k;
            break;
        }
        case OPT_LIMIT_MEMORY:
        case OPT_LIMIT_TMP:
        case OPT_LIMIT_WORKDIR: {
            long long b;
            if (omni_size_parse(a, &b) < 0 || b < WK_LIMIT_SIZE_MIN)
                return die_usage("%s \"%s\" is not a size of at least 1M (e.g. 512M, 2G)",
                                 argv[optind - 1], a),
                       -1;
            *(c == OPT_LIMIT_MEMORY ? &cfg->limit_memory
              : c == OPT_LIMIT_TMP  ? &cfg->limit_tmp
                                    : &cfg->limit_workdir) = b;
            break;
        }
        case OPT_LIMIT_PIDS:
            if (parse_long(a, WK_LIMIT_PIDS_MIN, 4194304, &cfg->limit_pids) < 0)
                return die_usage("--limit-pids \"%s\" is not a number in 8..4194304", a), -1;
            break;
        case OPT_LIMIT_CPU:
            if (parse_long(a, 1, 100 * 1024, &v) < 0)
                return die_usage("--limit-cpu \"%s\" is not a percentage (100 = one core)", a), -1;
            cfg->limit_cpu = (int)v;
            break;
        case OPT_UID_BASE:
            if (parse_long(a, 1000, 2147483647L - WK_SANDBOX_UIDS, &cfg->sandbox_uid_base) < 0)
                return die_usage("--sandbox-uid-base \"%s\" is not a uid in 1000..2147479551", a),
                       -1;
            break;
        case OPT_VM_KERNEL:
            cfg->vm_kernel = a;
            break;
        case OPT_VM_INITRD:
            cfg->vm_initrd = a;
            break;
        case OPT_VM_MEMORY: {
            long long b;
            if (omni_size_parse(a, &b) < 0 || b < WK_VM_MEMORY_MIN || b > WK_VM_MEMORY_MAX)
                return die_usage("--vm-memory \"%s\" is not a size in 128M..64G", a), -1;
            cfg->vm_memory = b;
            break;
        }
        case OPT_VM_CPUS:
            if (parse_long(a, 1, 64, &v) < 0)
                return die_usage("--vm-cpus \"%s\" is not a number in 1..64", a), -1;
            cfg->vm_cpus = (int)v;
            break;
        case OPT_VM_ACCEL:
            if (microvm_accel_parse(a, &cfg->vm_accel) < 0)
                return die_usage("--vm-accel \"%s\" is not auto, kvm or tcg", a), -1;
            break;
        case OPT_VM_SNAPSHOT:
            if (strcmp(a, "on") && strcmp(a, "off"))
                return die_usage("--vm-snapshot \"%s\" is not on or off", a), -1;
            cfg->vm_snapshot = strcmp(a, "on") == 0;
            break;
        case OPT_EGRESS_ALLOW:
            if (!egress_name_valid(a))
                return die_usage("--egress-allow \"%s\" is not a host name (or *.domain)", a), -1;
            if (list_add(cfg->egress_names, a) < 0)
                return die_usage("too many --egress-allow options (max 64)%s", ""), -1;
            break;
        case OPT_EGRESS_RESOLVER: {
            char canon[128];
            if (egress_resolver_parse(a, canon, sizeof(canon)) < 0)
                return die_usage("--egress-resolver \"%s\" is not IP[:PORT]", a), -1;
            cfg->egress_resolver = a;
            break;
        }
        case OPT_EGRESS_USER:
            if (parse_long(a, 1, 2147483646L, &cfg->egress_uid) < 0)
                return die_usage("--egress-user \"%s\" is not a uid other than 0", a), -1;
            break;
        case OPT_EGRESS_PORTS: {
            long t, h;
            char tb[16], hb[16];
            if (sscanf(a, "%15[0-9]:%15[0-9]", tb, hb) != 2 || parse_long(tb, 1, 65535, &t) < 0 ||
                parse_long(hb, 1, 65535, &h) < 0)
                return die_usage("--egress-ports \"%s\" is not TLS:HTTP (e.g. 443:80)", a), -1;
            cfg->egress_tls_port = (int)t;
            cfg->egress_http_port = (int)h;
            break;
        }
        case OPT_SECRET_URL_ALLOW:
            if (strncmp(a, "http://", 7) != 0 && strncmp(a, "https://", 8) != 0)
                return die_usage("--secret-base-url-allow \"%s\" is not an http(s) URL", a), -1;
            if (list_add(cfg->secret_url_allow, a) < 0)
                return die_usage("too many --secret-base-url-allow options (max 64)%s", ""), -1;
            break;
        case OPT_WORK_STDIN:
            cli->work_stdin = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(WK_EXIT_OK);
        default:
            if (optopt)
                return die_usage("unknown or incomplete option \"%s\"",
                                 argv[optind - 1] ? argv[optind - 1] : "?"),
                       -1;
            return die_usage("unknown option \"%s\"", argv[optind - 1] ? argv[optind - 1] : "?"),
                   -1;
        }
    }
    if (optind < argc)
        return die_usage("unexpected argument \"%s\"", argv[optind]), -1;
    /* The whole-call limit stays above every bash timeout (the SDK: 325 s over 295 s). */
    long tool_ms = cfg->tool_timeout_ms > 0 ? cfg->tool_timeout_ms : WK_TOOL_TIMEOUT_MS;
    if (cfg->bash_max_timeout_ms > 0 && cfg->bash_max_timeout_ms >= tool_ms)
        return die_usage("--bash-max-timeout (%ld ms) must be below --tool-timeout (%ld ms)",
                         cfg->bash_max_timeout_ms, tool_ms),
               -1;
    if (cfg->bash_default_timeout_ms > 0 && cfg->bash_default_timeout_ms >= tool_ms)
        return die_usage("--bash-timeout (%ld ms) must be below --tool-timeout (%ld ms)",
                         cfg->bash_default_timeout_ms, tool_ms),
               -1;
    return 0;
}

static const char *env_or(const char *flag, const char *name)
{
    const char *v;
    if (flag && *flag)
        return flag;
    v = getenv(name);
    return v && *v ? v : NULL;
}

/* The environment key: --environment-key-file, else ANTHROPIC_ENVIRONMENT_KEY
 * (already taken out of the environment), checked by envkey.c. Returns 0 or
 * -1 (said on stderr): unreadable, loose, malformed or an organisation key. */
static int key_load(const struct cli *cli, char **env_key)
{
    struct omni_err err = OMNI_ERR_INIT;

    if (cli->env_key_file) {
        char *k = wk_env_key_read(cli->env_key_file, &err);
        if (!k) {
            fprintf(stderr, "omni-worker: %s\n", err.msg);
            return -1;
        }
        if (*env_key) {
            log_warn("both ANTHROPIC_ENVIRONMENT_KEY and --environment-key-file are set; using "
                     "the file");
            omni_key_free(*env_key);
        }
        *env_key = k;
        return 0;
    }
    if (*env_key && wk_env_key_check(*env_key, &err) < 0) {
        fprintf(stderr, "omni-worker: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct wk_config cfg;
    struct cli cli = {0};
    const char *mode;
    char *env_key = NULL, *secret = NULL;
    int rc;

    log_setup(WK_PROG, LOG_TEXT, LOG_INFO);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? WK_EXIT_USAGE : WK_EXIT_OK;
    }
    mode = argv[1];
    if (strcmp(mode, "version") == 0 || strcmp(mode, "--version") == 0) {
        printf("omni-worker %s\n", OMNI_VERSION);
        return WK_EXIT_OK;
    }
    if (strcmp(mode, "status") == 0) {
        if (argc != 3 || wm_addr_valid(argv[2]) < 0)
            return die_usage(
                "status needs one ADDR: HOST:PORT or unix:/path (--metrics-listen's)%s", "");
        return wm_status_client(argv[2]);
    }
    if (strcmp(mode, "poll") && strcmp(mode, "run") && strcmp(mode, "serve-item"))
        return die_usage("unknown command \"%s\"", mode);

    /* Protect memory first, then take the secrets out of the environment. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (env_refuse_org_keys() < 0)
        return WK_EXIT_CREDS;
    env_key = env_take("ANTHROPIC_ENVIRONMENT_KEY");
    secret = env_take("ANTHROPIC_WORK_SECRET");

    wk_config_defaults(&cfg);
    if (parse_opts(argc - 1, argv + 1, &cfg, &cli) < 0) {
        rc = WK_EXIT_USAGE;
        goto out;
    }
    cfg.child_argc = argc - 2;
    cfg.child_argv = argv + 2;
    cfg.base_url = env_or(cfg.base_url, "ANTHROPIC_BASE_URL");
    cfg.api_socket = env_or(cfg.api_socket, "OMNI_API_SOCKET");
    {
        struct omni_err werr = OMNI_ERR_INIT;
        if (omni_workspace_pick(cfg.workspace_id, NULL, &cfg.workspace_id, &werr) < 0) {
            rc = die_usage("%s", werr.msg);
            goto out;
        }
    }
    if (cfg.api_socket && strlen(cfg.api_socket) >= WK_SOCKET_PATH_MAX) {
        rc = die_usage("API socket path \"%s\" is too long (max %d bytes)", cfg.api_socket,
                       WK_SOCKET_PATH_MAX - 1);
        goto out;
    }
    wk_signals_install();

    if (strcmp(mode, "serve-item") == 0 || strcmp(mode, "run") == 0)
        wk_signals_orphan();
    else
        wk_signals_reload();
    if (strcmp(mode, "serve-item") == 0) {
        /* Internal: a supervised child; its work item comes over stdin. It
         * never holds the environment key. */
        struct omni_err err = OMNI_ERR_INIT;
        omni_key_free(env_key);
        env_key = NULL;
        if (confine_host_setup(&cfg, cli.env_key_file, NULL, 0, &err) < 0) {
            fprintf(stderr, "omni-worker: %s\n", err.msg);
            rc = omni_exit_code(&err);
            goto out;
        }
        rc = poller_serve_child(&cfg);
        goto out;
    }
    {
        const char *id = env_or(cli.env_id, "ANTHROPIC_ENVIRONMENT_ID");
        if (!id) {
            rc = die_usage("no environment id: set ANTHROPIC_ENVIRONMENT_ID or "
                           "--environment-id%s",
                           "");
            goto out;
        }
        if (!omni_id_valid(id)) {
            rc = die_usage("environment id \"%s\" is not a valid id", id);
            goto out;
        }
        snprintf(cfg.environment_id, sizeof cfg.environment_id, "%s", id);
    }
    rc = key_load(&cli, &env_key);
    if (rc < 0) {
        rc = WK_EXIT_CREDS; /* unreadable, loose, malformed or an organisation key */
        goto out;
    }
    {
        struct omni_err err = OMNI_ERR_INIT;
        if (confine_host_setup(&cfg, cli.env_key_file, cli.secret_file, 1, &err) < 0) {
            fprintf(stderr, "omni-worker: %s\n", err.msg);
            rc = omni_exit_code(&err);
            goto out;
        }
    }

    if (strcmp(mode, "poll") == 0) {
        const char *wid = env_or(cli.worker_id, "ANTHROPIC_WORKER_ID");
        if (!env_key) {
            fprintf(stderr, "omni-worker: no environment key: set ANTHROPIC_ENVIRONMENT_KEY or "
                            "--environment-key-file\n");
            rc = WK_EXIT_CREDS;
            goto out;
        }
        if (wid)
            snprintf(cfg.worker_id, sizeof cfg.worker_id, "%s", wid);
        else
            worker_id_default(cfg.worker_id, sizeof cfg.worker_id);
        cfg.env_key_file = cli.env_key_file;
        rc = poller_run(&cfg, env_key);
    } else {
        /* run: one already-claimed item (protocol.md §10.3) */
        struct omni_work w;
        const char *work_id = env_or(cli.work_id, "ANTHROPIC_WORK_ID");
        const char *sess_id = env_or(cli.session_id, "ANTHROPIC_SESSION_ID");
        const char *slot = getenv("OMNI_WORKER_SLOT");
        struct omni_err err = OMNI_ERR_INIT;
        long slotn = 0;

        cfg.single_item = 1;
        if (slot && parse_long(slot, 0, WK_CONCURRENCY_MAX - 1, &slotn) == 0)
            cfg.slot = (int)slotn;
        memset(&w, 0, sizeof w);
        if (cli.work_stdin) {
            /* the --on-work hand-over: the work item JSON, its secret inside */
            if (work_read_stdin(&w, &err) < 0) {
                fprintf(stderr, "omni-worker: %s\n", err.msg);
                rc = WK_EXIT_USAGE;
                goto out;
            }
            if (!w.environment_id[0])
                snprintf(w.environment_id, sizeof w.environment_id, "%s", cfg.environment_id);
        } else {
            if (!work_id || !sess_id) {
                rc = die_usage("missing %s", !work_id ? "work id (ANTHROPIC_WORK_ID or --work-id)"
                                                      : "session id (ANTHROPIC_SESSION_ID or "
                                                        "--session-id)");
                goto out;
            }
            if (!omni_id_valid(work_id) || !omni_id_valid(sess_id)) {
                rc = die_usage("invalid work or session id \"%s\"",
                               !omni_id_valid(work_id) ? work_id : sess_id);
                goto out;
            }
            snprintf(w.id, sizeof w.id, "%s", work_id);
            snprintf(w.environment_id, sizeof w.environment_id, "%s", cfg.environment_id);
            snprintf(w.data_type, sizeof w.data_type, "session");
            snprintf(w.data_id, sizeof w.data_id, "%s", sess_id);
        }
        if (cli.secret_file) {
            char *s = secret_read_file(cli.secret_file, &err);
            if (!s) {
                fprintf(stderr, "omni-worker: %s\n", err.msg);
                omni_work_release(&w);
                rc = WK_EXIT_CREDS;
                goto out;
            }
            if (secret) {
                explicit_bzero(secret, strlen(secret));
                free(secret);
            }
            secret = s;
        }
        if (secret) {
            if (w.secret) {
                explicit_bzero(w.secret, strlen(w.secret));
                free(w.secret);
            }
            w.secret = secret;
            secret = NULL;
        }
        if (!env_key && !w.secret) {
            omni_work_release(&w);
            rc = die_usage("no credential: the work item has no secret and no environment key "
                           "was given (ANTHROPIC_ENVIRONMENT_KEY, --environment-key-file, "
                           "--work-secret-file or --work-stdin)%s",
                           "");
            goto out;
        }
        enum item_outcome o = item_serve(&cfg, &w, env_key);
        omni_work_release(&w);
        rc = o == ITEM_DONE ? WK_EXIT_OK : o == ITEM_RELEASED ? WK_EXIT_RELEASED : WK_EXIT_RUNTIME;
    }

out:
    if (strcmp(mode, "serve-item") != 0)
        microvm_host_cleanup(&cfg); /* (a child's template is its poller's) */
    cg_root_close(cfg.cg_root);
    omni_key_free(env_key);
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    return rc;
}
