/*
 * worker — omni-worker's runtime: configuration, per-item flow, heartbeat,
 * session runner, poll loop and supervision.
 *
 * Layering (each line only calls the ones below it):
 *   main.c     options, credential intake, dispatch (poll | run | serve-item)
 *   poller.c   poll -> ack -> hand the item to item_serve() in-process, to a
 *              supervised child process (--concurrency > 1) or to --on-work
 *   item.c     protocol.md §9.3: credential, heartbeat, session lookup,
 *              memory/skills pre-checks, runner, teardown (force-stop/release)
 *   runner.c   protocol.md §8.9/§9.5: stream reader thread, reconcile, serial
 *              tool execution, result posting with retries and a result cache
 *   runstate.c the pure routing/dedup/confirmation/idle state machine (§8.7,
 *              §8.8, §9.6) — no I/O, unit-tested on its own
 *   lease.c    protocol.md §9.4: the heartbeat loop on its own thread
 * and, used by all of them: client.h (the API-client factory) and
 * shutdown.h (the signal-set stop flags). Nothing below main.c calls into it.
 *
 * Secrets: the environment key and the sessions token live only in heap
 * strings owned by main / item (wiped on free) and inside lib clients. They
 * are never logged, never put into argv, and only the --on-work script (by
 * contract, §10.2) receives the key through its environment.
 */
#ifndef OMNI_WORKER_H
#define OMNI_WORKER_H

#include "api.h"
#include "err.h"
#include "exitcode.h"
#include "toolset.h"

#include <stddef.h>
#include <stdint.h>

#define WK_PROG "omni-worker"

/* Exit codes: lib/exitcode.h's table (documented in omni-worker.8). */
#define WK_EXIT_OK OMNI_EXIT_OK
#define WK_EXIT_RUNTIME OMNI_EXIT_FAIL
#define WK_EXIT_USAGE OMNI_EXIT_USAGE
#define WK_EXIT_CREDS OMNI_EXIT_CONFIG      /* configuration or credentials, 401/403 */
#define WK_EXIT_RELEASED OMNI_EXIT_RELEASED /* run: the lease was lost; the item was left alone */

/* Defaults and limits (protocol.md Appendix A). */
#define WK_MAX_IDLE_MS 60000L
#define WK_RELEASE_WAITING_MS 600000L /* --release-waiting: 10 min */
#define WK_STUCK_CALL_MS 600000L      /* --stuck-call: /readyz's limit, 10 min */
#define WK_DRAIN_MS 25000L
#define WK_CHILD_GRACE_MS 30000L
#define WK_POLL_IDLE_MIN_MS 1000L
#define WK_POLL_IDLE_MAX_MS 3000L
#define WK_POLL_BACKOFF_BASE_MS 1000L
#define WK_POLL_BACKOFF_CAP_MS 60000L
#define WK_POLL_TIMEOUT_MS (30000L + OMNI_POLL_BLOCK_MS)
#define WK_CALL_TIMEOUT_MS 30000L /* session retrieve, events list, result post */
#define WK_STOP_TIMEOUT_MS 10000L
#define WK_STREAM_IDLE_MS 90000L /* no byte (not even a ping) for that long: reconnect */
#define WK_STREAM_BACKOFF_MIN_MS 500L
#define WK_STREAM_BACKOFF_MAX_MS 10000L
#define WK_POST_BACKOFF_BASE_MS 1000L
#define WK_POST_BACKOFF_CAP_MS 30000L
#define WK_POST_WINDOW_DEFAULT_MS 300000L
#define WK_EGRESS_METADATA "egress_allow" /* a session's own allow-list (narrows the worker's) */
#define WK_RESULT_JSON_MAX (512 * 1024)   /* a result's text, JSON-encoded (the API caps bodies) */
#define WK_HB_INTERVAL_MS 30000L          /* heartbeat every min(ttl/2, this) */
#define WK_HB_TTL_MS 300000L /* ttl assumed until a heartbeat reports one: the API's default */
#define WK_HB_MIN_INTERVAL_MS 500L /* floor of the interval: ttl/2 of a 1 s ttl */
/* retry a failed ack this long after the poll returned the item (the
 * server's default reclaim_older_than_ms) */
#define WK_ACK_WINDOW_MS 5000L
#define WK_ACK_BACKOFF_BASE_MS 250L
#define WK_ACK_BACKOFF_CAP_MS 2000L
#define WK_ACK_MIN_TIMEOUT_MS 1000L /* shortest bound on one ack attempt */
#define WK_RM_DEPTH 128             /* deepest tree wk_rm_tree_at() descends */
#define WK_HB_RETRY_MS 1000L        /* next try after a failed heartbeat */
#define WK_HB_MIN_TIMEOUT_MS 250L   /* shortest bound on one heartbeat request */
#define WK_HB_SAFETY_MAX_MS 2000L   /* give the lease up this long (at most ttl/5) early */
/* Tool limits when no flag sets them: the toolset's, which are SDK 1.16's. */
#define WK_TOOL_TIMEOUT_MS TOOLSET_TOOL_TIMEOUT_MS         /* 325 s */
#define WK_BASH_TIMEOUT_MS TOOLSET_BASH_DEFAULT_TIMEOUT_MS /* 295 s */
#define WK_BASH_MAX_TIMEOUT_MS TOOLSET_BASH_MAX_TIMEOUT_MS /* 295 s */
/* --max-file-bytes unset: read 110,000 bytes, edit 256 KiB (TOOLSET_*). */
#define WK_CONCURRENCY_MAX 256
#define WK_MAX_CALLS_DEFAULT 4 /* --max-concurrent-calls: calls of different threads at once */
#define WK_MAX_CALLS_MAX 16    /* = EXECUTOR_CALLS_MAX */
#define WK_LIST_MAX 64         /* --pass-env, --allow-path, --readonly-path entries */
#define WK_SOCKET_PATH_MAX 108 /* sizeof sun_path: --api-socket path + NUL */
#define WK_WORKER_ID_MAX 256
#define WK_POISON_RING 64         /* work ids remembered as poison */
#define WK_EVENT_QUEUE_MAX 100000 /* buffered stream events before forcing a reconcile */

/* Per-session limits (defaults; flags --limit-*). */
#define WK_LIMIT_MEMORY_DEFAULT (2LL * 1024 * 1024 * 1024)  /* memory.max: processes + tmpfs */
#define WK_LIMIT_PIDS_DEFAULT 512L                          /* pids.max */
#define WK_LIMIT_CPU_DEFAULT 100                            /* percent of one CPU */
#define WK_LIMIT_TMP_DEFAULT (512LL * 1024 * 1024)          /* /tmp, /var/tmp, /dev/shm each */
#define WK_LIMIT_WORKDIR_DEFAULT (1LL * 1024 * 1024 * 1024) /* the session's directory (root) */
/* Sessions' uids when the worker is root: one of base .. base + 4095 that no
 * live session on the host holds (a flock()ed file per uid). Above systemd's
 * container range (524288..1879048191), below 2^31. */
#define WK_SANDBOX_UID_BASE_DEFAULT 1879048192L
#define WK_SANDBOX_UIDS 4096
#define WK_UID_LOCK_DIR "/run/omni-worker-uids"
#define WK_LIMIT_SIZE_MIN (1024LL * 1024)
#define WK_WORK_STDIN_MAX (1024u * 1024) /* run --work-stdin, serve-item: the work item JSON */
#define WK_LIMIT_PIDS_MIN 8L
#define WK_VM_MEMORY_DEFAULT (512LL << 20)
#define WK_VM_MEMORY_MIN (128LL << 20)
#define WK_VM_MEMORY_MAX (64LL << 30)
#define WK_MASKED_MAX 8 /* credential files hidden from sandboxes */

/* How a session run / item ended (protocol.md §9.7). */
enum wk_end {
    WK_END_NONE = 0,
    WK_END_CLEAN,      /* terminated/deleted/idle countdown: force-stop */
    WK_END_HB_STOP,    /* heartbeat: stopping/stopped/lease not extended: force-stop */
    WK_END_LEASE_LOST, /* 412, the item queued or active under another holder: release, no stop */
    WK_END_LEASE_STOPPED, /* 412, the item already stopping/stopped: release, no stop */
    WK_END_ASSUMED_LOST,  /* no successful heartbeat for > ttl: release, no stop */
    WK_END_REJECTED,      /* heartbeat fatal 4xx: force-stop */
    WK_END_FATAL,         /* stream/session fatal 4xx or item error: force-stop */
    WK_END_SHUTDOWN,      /* worker shutting down: force-stop */
};
const char *wk_end_name(enum wk_end e);
/* 1 when the item must be left alone (lease lost): no stop at teardown. */
int wk_end_is_release(enum wk_end e);
/* 1 when a released item goes back to the queue (not when it was stopped). */
int wk_end_requeues(enum wk_end e);

struct cg_root;

struct wk_config {
    /* connection */
    const char *base_url; /* ANTHROPIC_BASE_URL or --base-url; NULL = default */
    const char *ca_file;
    const char *workspace_id;   /* --workspace / ANTHROPIC_WORKSPACE_ID; NULL = none */
    const char *api_socket;     /* --api-socket / OMNI_API_SOCKET: reach the API through
                                 * this AF_UNIX socket (a relay); NULL = TCP */
    int honour_secret_base_url; /* use the secret's api_base_url for per-item calls */
    const char *secret_url_allow[WK_LIST_MAX + 1]; /* more origins a secret may name */
    int http_debug;
    /* identity */
    char environment_id[OMNI_ID_MAX];
    char worker_id[WK_WORKER_ID_MAX];
    /* poll */
    const char *env_key_file; /* re-read on SIGHUP and once on a 401; NULL: the key
                               * came from ANTHROPIC_ENVIRONMENT_KEY */
    int concurrency;
    const char *on_work;
    long poll_idle_min_ms, poll_idle_max_ms;
    long max_items; /* 0 = unlimited */
    long child_grace_ms;
    const char *metrics_listen; /* --metrics-listen ADDR, or NULL */
    long stuck_call_ms;         /* --stuck-call */
    /* session */
    const char *workdir; /* parent of the per-session directories */
    int keep_workdir;
    int single_item;         /* omni-worker run: one item, then exit */
    long max_idle_ms;        /* 0 disables */
    long release_waiting_ms; /* waiting on a person this long: stop the item; 0 disables */
    long drain_ms;
    int max_concurrent_calls; /* calls of different session threads at once (>= 1) */
    int no_memory;
    int log_inputs;
    /* toolset */
    const char *pass_env[WK_LIST_MAX + 1];
    const char *allowed_roots[WK_LIST_MAX + 1];
    const char *readonly_roots[WK_LIST_MAX + 1];
    long bash_default_timeout_ms, bash_max_timeout_ms, tool_timeout_ms;
    size_t max_file_bytes;
    /* containment (confine.c, sandbox.c, cgroup.c) */
    int sandbox; /* enum sandbox_kind */
    long long limit_memory, limit_tmp, limit_workdir;
    long limit_pids;
    int limit_cpu;
    long sandbox_uid_base;
    int slot;                              /* this session's slot: uid = base + slot */
    int switch_uid;                        /* root: each session gets its own uid */
    const char *bwrap;                     /* bubblewrap, found at start */
    const char *exec_bin;                  /* omni-exec, found at start */
    struct cg_root *cg_root;               /* NULL: no cgroup limits on this host */
    const char *masked[WK_MASKED_MAX + 1]; /* credential files hidden from sandboxes */
    /* --sandbox microvm (microvm.c) */
    const char *vm_qemu, *vm_kernel, *vm_initrd; /* found or given; absolute after set-up */
    long long vm_memory;                         /* guest RAM */
    int vm_cpus;
    long vm_tsc_khz;         /* the host's TSC rate, for the guest */
    int vm_accel;            /* enum microvm_accel: what was asked */
    int vm_kvm;              /* what set-up chose */
    int vm_snapshot;         /* restore sessions from a template */
    int vm_console;          /* the guest's console to stderr (--log-level debug) */
    const char *vm_template; /* the saved template, or NULL: cold boots */
    /* the egress allow-list (egress.h): bwrap and microvm sandboxes */
    const char *egress_names[WK_LIST_MAX + 1];
    const char *egress_resolver;           /* NULL: /etc/resolv.conf's first */
    long egress_uid;                       /* what the proxy runs as (root worker) */
    int egress_tls_port, egress_http_port; /* upstream ports (0: 443, 80) */
    /* the argv tail (options) that children re-parse: never holds a secret */
    int child_argc;
    char **child_argv;
};

/* ---- lease.c: heartbeat loop (protocol.md §9.4) ------------------------- */

struct lease;

/*
 * Start the heartbeat thread for one item; the first beat is sent at once
 * with NO_HEARTBEAT. `client` is owned by the lease from now on (freed by
 * lease_free). When the lease says the session must end, *end_flag is set to
 * 1 (the runner watches it) and lease_end() reports why.
 */
struct lease *lease_start(struct omni_client *client, const char *env_id, const char *work_id,
                          volatile int *end_flag, struct omni_err *err);
/* Stop the loop and join the thread (prompt: the sleep is interruptible). */
void lease_stop(struct lease *l);
/* Why the lease asked the session to end (WK_END_NONE if it did not). */
enum wk_end lease_end(struct lease *l);
/* Latest lease TTL in ms (result-post retry window). */
long lease_ttl_ms(struct lease *l);
void lease_free(struct lease *l);

/* ---- the item being served (item.c fills it, runner.c reads it) -------- */

struct confine;

/*
 * One claimed item as it is served: what item_serve() learns step by step
 * (credential, heartbeat, sandbox) and the layers below it read, passed by
 * pointer instead of one parameter each. It lives on item_serve()'s stack
 * for one item; every pointer in it is borrowed from there.
 */
struct wk_item_ctx {
    const struct wk_config *cfg;
    const struct omni_work *w; /* the claimed item; w->data_id is the session */
    const char *env_id;        /* the item's environment, else the worker's */
    const char *base_url;      /* per-item base URL (the secret's, when allowed) */
    const char *cred;          /* per-item credential: the sessions token, or the key */
    int have_token;            /* cred is the item's sessions token */
    struct lease *lease;       /* the heartbeat, once started (result retry window) */
    volatile int end_flag;     /* set by the lease: end now */
    int fatal;                 /* the failure is permanent (a fatal 4xx): poison */
    struct confine *cf;        /* the session's directory and sandbox, once open */
};

/* ---- runner.c: session tool runner (protocol.md §8.9, §9.5) ------------- */

/* Serve the session ic->w->data_id with the tools of ic->cf's executor until
 * one of §9.7's causes; returns why it ended. */
enum wk_end runner_run(const struct wk_item_ctx *ic);

/* ---- item.c: per-item flow (protocol.md §9.3) ---------------------------- */

/* How serving an item ended, for whoever claimed it (poller.c). */
enum item_outcome {
    ITEM_DONE = 0,   /* served; stopped (or already stopped) */
    ITEM_FAILED,     /* could not be served; force-stopped */
    ITEM_POISON,     /* failed permanently (a fatal 4xx); force-stopped; do not retry */
    ITEM_RELEASED,   /* the lease was lost: leave the item alone, no stop */
    ITEM_NEEDS_STOP, /* not stopped (no usable sessions token, or it was refused):
                      * the poller force-stops it with the environment key */
};

/*
 * Serve one claimed item end to end, teardown included. env_key is NULL
 * except in `omni-worker run` given the key by the operator: items claimed by
 * the poller are served with their sessions token only.
 */
enum item_outcome item_serve(const struct wk_config *cfg, const struct omni_work *w,
                             const char *env_key);
/* Force- or gracefully stop an item with the given credential (409 ignored). */
int item_stop(const struct wk_config *cfg, const char *base_url, const char *cred,
              const char *env_id, const char *work_id, int force);

/* ---- skills.c: skills download and extraction (protocol.md §11) -------- */

#define WK_SKILLS_MAX 64                          /* skills per session */
#define WK_SKILL_DOWNLOAD_MAX (64u * 1024 * 1024) /* archive bytes */
#define WK_SKILL_MEMBERS_MAX 10000
#define WK_SKILL_TOTAL_MAX (256ull * 1024 * 1024) /* extracted bytes */
#define WK_SKILL_NAME_MAX 1024                    /* member path bytes */
#define WK_SKILL_DEPTH_MAX 64                     /* member path components */
#define WK_SKILL_TIMEOUT_MS 120000L

struct skill_limits {
    size_t max_members;
    unsigned long long max_total;
    size_t max_name;
};

struct skill_stats {
    size_t files, dirs, skipped;
    unsigned long long bytes;
};

void skills_limits_default(struct skill_limits *lim);
/* <dir> for a skill: the last component of the trimmed name, else skill_id
 * (when empty, "." or ".."). Returns -1 when neither fits in out. */
int skills_dir_name(const char *name, const char *skill_id, char *out, size_t outlen);
/*
 * Extract an in-memory zip or tar (gzip/bzip2/xz/zstd) into the new
 * directory `dest` under parent_fd (see skills.c for the rules). dest must
 * not exist. lim NULL = defaults. Returns 0, or -1 with err and nothing left
 * behind.
 */
int skills_extract(const void *data, size_t len, int parent_fd, const char *dest,
                   const struct skill_limits *lim, struct skill_stats *st, struct omni_err *err);
/*
 * Install every session.agent.skills entry into <workdir>/skills/<dir> with
 * the item credential. Failures are logged per skill. Returns the number
 * installed, or -1 when the skills directory cannot be made.
 */
int skills_install(const struct wk_config *cfg, const char *base_url, const char *cred,
                   const cJSON *session, const char *workdir, volatile int *abort);

/* ---- poller.c: poll loop and supervision (protocol.md §9.1, §9.2, §10.2) -- */

/* Returns an exit code. env_key is borrowed. */
int poller_run(const struct wk_config *cfg, const char *env_key);
/* Internal mode of a child: read the hand-over from stdin (a line
 * "<slot> <environment id>", then the work item as claimed, at most
 * WK_WORK_STDIN_MAX bytes) and serve it. Returns an exit code. */
int poller_serve_child(const struct wk_config *cfg);

/*
 * Remove name (relative to dfd) and everything below it without following
 * symlinks; directories a tool made unreadable are chmodded first. Failures
 * are logged, not returned (fsutil.c).
 */
void wk_rm_tree_at(int dfd, const char *name, int depth);

/* Read fd to its end into out (capped by out's max; what it may hold, a
 * secret, is wiped from the stack). -1 when it did not fit. */
struct buf;
int wk_read_all(int fd, struct buf *out);
/* An installed companion file: rel beside our own binary, else in
 * ../lib/omni/ from it, accessible with mode (access(2)); its real path in
 * out. 0, or -1 when neither is there. */
int wk_find_beside_self(const char *rel, int mode, char *out, size_t outlen);

#endif
