/*
 * egress — an opt-in allow-list of host names for a session's sandbox.
 *
 * By default a sandbox has no network (bwrap: a network namespace with only
 * loopback). With an allow-list, the sandbox may reach one thing: a proxy on
 * the host, Debian's nginx, run by this module from a configuration it
 * writes, listening on two UNIX sockets:
 *
 *   tls.sock   port-443 traffic: the stream module reads the TLS ClientHello
 *              (ssl_preread) and passes the connection, still encrypted, to
 *              "<name>:<upstream_tls_port>" when the SNI server name is
 *              listed; anything else (no SNI, as for a raw IP; a name not
 *              listed; not TLS) is closed before a byte goes upstream.
 *   http.sock  port-80 traffic: an HTTP server that proxies a request to
 *              "<name>:<upstream_http_port>" only when its host ($host: the
 *              request line's absolute URI, else the Host header) is listed,
 *              else answers 403. CONNECT is not supported (nginx refuses it).
 *
 * The upstream is always the listed name itself, never a string taken from
 * the client: nginx resolves it through spec->resolver. Inside the sandbox,
 * a relay (socat) listens on 127.0.0.1:443 and 127.0.0.1:80 and forwards each
 * connection to the socket bound into the sandbox; the sandbox's /etc/hosts
 * maps each listed exact name to 127.0.0.1, and the sandbox has no
 * resolv.conf and no route: DNS fails, and a raw IP reaches only the relay
 * (which the proxy refuses: no SNI / Host not listed). See egress_bwrap_argv().
 *
 * Names: DNS host names (egress_name_valid). "*.example.com" admits every
 * name below example.com (not example.com itself) at the proxy; a hosts file
 * cannot hold a wildcard, so inside the sandbox only exact names resolve:
 * list "api.example.com" as well (or alone) for tools to reach it by name.
 * Names are compared case-insensitively and written lower case.
 *
 * Who runs what. Caller root: nginx runs as spec->proxy_uid/proxy_gid (not
 * 0; a dedicated system user is best), in one process group, with
 * no_new_privs, an empty environment, its error log capped at
 * EGRESS_LOG_MAX, and PR_SET_PDEATHSIG SIGTERM (tied to the calling thread:
 * call egress_start() from a thread that outlives the proxy). run_dir is made
 * (0700) and given to the proxy uid; its ancestors must be searchable by that
 * uid. The sockets are chown'd to client_uid:client_gid, mode 0660 (root may
 * always connect). Caller not root: nginx runs as the caller, the proxy_*
 * fields are ignored, and client_uid must be the caller's uid.
 *
 * Caller's steps:
 *   1. e = egress_start(&spec, err): NULL and err when the spec is refused,
 *      nginx refused its configuration or did not listen within
 *      EGRESS_START_MS;
 *   2. egress_bwrap_argv(e, ...) for each sandbox that uses it (kind bwrap);
 *      the sockets stay valid until step 3;
 *   3. egress_stop(e) after the sandbox is gone: stops nginx, removes run_dir
 *      and frees e.
 * Strings of spec are copied; spec need not outlive egress_start().
 *
 * Limits: nginx connects wherever the resolver sends a listed name, host
 * loopback and metadata addresses included (a firewall rule matching the
 * proxy uid, e.g. nft "meta skuid <proxy> ip daddr { 127.0.0.0/8,
 * 169.254.0.0/16, 10.0.0.0/8, ... } reject", closes that); a listed TLS
 * host may front others (SNI allowed.example, Host: other inside the
 * tunnel; ECH hides the inner name); sandbox kind none shares the host's
 * network and the microVM has no NIC: neither uses this module.
 */
#ifndef OMNI_EGRESS_H
#define OMNI_EGRESS_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

#define EGRESS_NAME_MAX 253  /* a host name, "*." included */
#define EGRESS_NAMES_MAX 256 /* names in one allow-list */
#define EGRESS_NGINX "/usr/sbin/nginx"
#define EGRESS_STREAM_MODULE "/usr/lib/nginx/modules/ngx_stream_module.so"
#define EGRESS_START_MS 5000         /* nginx must listen within this */
#define EGRESS_STOP_MS 2000          /* SIGTERM, then SIGKILL to the group */
#define EGRESS_LOG_MAX (1024 * 1024) /* RLIMIT_FSIZE of nginx: caps error.log */
#define EGRESS_CONNECT_TIMEOUT_S 10  /* default; at most 75 (nginx's own cap) */
#define EGRESS_IDLE_TIMEOUT_S 300    /* default; at most 3600 */
#define EGRESS_RESOLVER_TIMEOUT_S 5
#define EGRESS_WORKER_CONNECTIONS 512 /* one proxied connection takes two */
/* where the sandbox sees the proxy (egress_bwrap_argv) */
#define EGRESS_SANDBOX_DIR "/run/omni-egress"
#define EGRESS_SANDBOX_TLS EGRESS_SANDBOX_DIR "/tls.sock"
#define EGRESS_SANDBOX_HTTP EGRESS_SANDBOX_DIR "/http.sock"
#define EGRESS_SOCAT "/usr/bin/socat"
#define EGRESS_SETPRIV "/usr/bin/setpriv"

struct egress_spec {
    const char *const *names; /* NULL-terminated allow-list (egress_name_valid) */
    const char *run_dir;      /* absolute; made 0700 if missing, must be private */
    const char *resolver;     /* "IP[:port]" / "[IPv6]:port"; NULL: first nameserver
                                 of /etc/resolv.conf */
    uid_t client_uid;         /* who may connect to the sockets */
    gid_t client_gid;
    uid_t proxy_uid; /* caller root: what nginx runs as (not 0) */
    gid_t proxy_gid;
    int connect_timeout_s;     /* 0: EGRESS_CONNECT_TIMEOUT_S */
    int idle_timeout_s;        /* 0: EGRESS_IDLE_TIMEOUT_S (proxy_timeout/read/send) */
    int upstream_tls_port;     /* 0: 443 (tests use high ports) */
    int upstream_http_port;    /* 0: 80 */
    const char *nginx;         /* NULL: EGRESS_NGINX */
    const char *stream_module; /* NULL: EGRESS_STREAM_MODULE; "": none (static stream) */
};

struct egress;

/*
 * 1 when name is an acceptable allow-list entry: a DNS host name of at least
 * two labels (letters, digits, hyphens; each label 1..63 bytes, no leading or
 * trailing hyphen; 1..EGRESS_NAME_MAX bytes in all, no trailing dot), with
 * an optional leading "*." (subdomains only). Refused: anything an IPv4 or
 * IPv6 parser would take (a last label of digits only or 0x-hex: "10.1",
 * "127.0.0.1", "0x7f.1"), "localhost" and names below it. Any case.
 */
int egress_name_valid(const char *name);

/*
 * Parse "IPv4[:port]", "IPv6", "[IPv6][:port]" (port 1..65535, default 53)
 * into nginx's canonical form ("1.2.3.4:53", "[::1]:53") in out. 0, or -1.
 */
int egress_resolver_parse(const char *s, char *out, size_t outlen);

/*
 * The nginx configuration for spec, appended to out: 0, or -1 and err
 * (OMNI_E_USAGE for an input refused: a bad name, resolver, port, timeout or
 * run_dir; every string is validated before it goes into the file).
 */
int egress_config(const struct egress_spec *spec, struct buf *out, struct omni_err *err);

/*
 * The /etc/hosts of a sandbox using spec: localhost lines, then each exact
 * listed name (lower case, once) → proxy_ip; wildcard entries are left out
 * (see above). Returns the length written (< outlen, NUL-terminated), or -1
 * when a name or proxy_ip is refused or out is too small.
 */
int egress_hosts_file(const struct egress_spec *spec, const char *proxy_ip, char *out,
                      size_t outlen);

struct egress *egress_start(const struct egress_spec *spec, struct omni_err *err);
/* Host paths of the two sockets (inside run_dir). */
const char *egress_tls_socket(const struct egress *e);
const char *egress_http_socket(const struct egress *e);
/* The sandbox's hosts file written by egress_start (names → 127.0.0.1, mode 0644). */
const char *egress_hosts_path(const struct egress *e);
/* nginx's pid (its process group), or -1 once stopped. */
pid_t egress_pid(const struct egress *e);
/* Stop nginx (SIGTERM, EGRESS_STOP_MS, SIGKILL to its group), remove run_dir, free e. */
void egress_stop(struct egress *e);

/*
 * The bubblewrap pieces for a sandbox of kind bwrap that uses e, as two
 * malloc'd NULL-terminated arrays (egress_argv_free):
 *
 *   *opts  after the sandbox's own options (after "--cap-drop ALL" and the
 *          minimal system, whose /etc/hosts they cover), before the command:
 *            [--cap-add CAP_NET_BIND_SERVICE]            (switch_uid only)
 *            --perms 0755 --dir /run --perms 0755 --dir /run/omni-egress
 *            --ro-bind <run_dir>/tls.sock /run/omni-egress/tls.sock
 *            --ro-bind <run_dir>/http.sock /run/omni-egress/http.sock
 *            --ro-bind <run_dir>/hosts /etc/hosts
 *   *cmd   before the executor's own argv (executor path first):
 *            /bin/sh -c <EGRESS_RELAY_SCRIPT> omni-egress-relay <cap|netns> <uid|-> <gid|->
 *
 * The script starts two relays, `socat TCP4-LISTEN:<443|80>,bind=127.0.0.1,
 * reuseaddr,fork,max-children=64 UNIX-CONNECT:/run/omni-egress/<tls|http>.sock`,
 * each detached (bubblewrap's pid 1 reaps them; they die with the sandbox)
 * with stdin/stdout/stderr on /dev/null (never the executor's channel),
 * under `setpriv ... --no-new-privs`; waits (at most 2 s) until both
 * listen; then execs the executor. Two ways to let them bind ports < 1024:
 *
 *   switch_uid (root worker, privileged bubblewrap) — "cap": bubblewrap adds
 *     CAP_NET_BIND_SERVICE; each relay becomes uid:gid (--reuid --regid
 *     --clear-groups) keeping only that capability (ambient), and the
 *     executor is exec'd without it (it keeps CAP_SETUID/CAP_SETGID and drops
 *     to the session's uid as before). uid must be the proxy's client_uid
 *     (or gid its client_gid). Nothing else changes in sandbox_argv().
 *   !switch_uid (worker not root, user namespace) — "netns": bubblewrap's
 *     --dev and --disable-userns nest a second user namespace, which holds no
 *     capability over the network namespace, so a capability cannot help.
 *     Instead the sandbox's child calls egress_netns_setup(1) before it execs
 *     bubblewrap, and sandbox_argv() must then leave out --unshare-net.
 *     uid/gid are ignored: the relays run as the sandbox's own uid.
 * 0, or -1 and err.
 */
int egress_bwrap_argv(const struct egress *e, int switch_uid, uid_t uid, gid_t gid, char ***opts,
                      char ***cmd, struct omni_err *err);
void egress_argv_free(char **argv);

/*
 * For the "netns" way above: in the sandbox's child after fork, before the
 * exec of bubblewrap (async-signal-safe: system calls only), enter a new
 * network namespace holding only loopback, brought up, where any uid may
 * bind any port (net.ipv4.ip_unprivileged_port_start = 0; the namespace is
 * the sandbox's alone). user: first a new user namespace mapping our uid and
 * gid to themselves (needed when not root; its capabilities last until the
 * exec). bubblewrap then runs without --unshare-net. 0, or -1 with errno.
 */
int egress_netns_setup(int user);

extern const char EGRESS_RELAY_SCRIPT[];

/*
 * A session's own allow-list, narrowed by the worker's: each name of
 * requested (comma- or space-separated, e.g. a session's metadata value) is
 * kept when an entry of allowed admits it (the same name, or "*.d" for a
 * name below d, "*.x.d" included), copied into store (storelen bytes) and
 * listed in out (at most outmax names, NULL-terminated). A name refused is
 * named in refused (first one, may be ""). Returns the count kept.
 */
int egress_narrow(const char *const *allowed, const char *requested, char *store, size_t storelen,
                  const char **out, size_t outmax, char *refused, size_t refusedlen);

#endif
