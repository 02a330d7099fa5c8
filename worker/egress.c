/*
 * egress — the allow-list proxy (Debian's nginx, driven by a configuration
 * written here) and the relay a sandbox needs to reach it (see egress.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "egress.h"
#include "log.h"
#include "sandbox.h"
#include "timeutil.h"

#define EGRESS_CONF "nginx.conf"
#define EGRESS_LOG "error.log"
#define EGRESS_HOSTS "hosts"
#define EGRESS_TLS_SOCK "tls.sock"
#define EGRESS_HTTP_SOCK "http.sock"
#define EGRESS_HOSTS_MAX (EGRESS_NAMES_MAX * (EGRESS_NAME_MAX + 48) + 256)
#define EGRESS_CONF_MAX (1024 * 1024)

struct egress {
    pid_t pid; /* nginx master, leader of its own process group */
    char *run_dir;
    int made_dir; /* run_dir was made by egress_start */
    uid_t client_uid;
    gid_t client_gid;
    char tls[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char http[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char hosts[4096];
};

/* ---- validation ---- */

static int is_ldh(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static int lc(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int egress_name_valid(const char *name)
{
    const char *p, *last = NULL;
    size_t lastlen = 0;
    int labels = 0;

    if (!name)
        return 0;
    size_t n = strnlen(name, EGRESS_NAME_MAX + 1);
    if (n == 0 || n > EGRESS_NAME_MAX)
        return 0;
    p = name;
    if (p[0] == '*') {
        if (p[1] != '.')
            return 0;
        p += 2;
    }
    for (;;) {
        const char *s = p;
        while (is_ldh((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
            return 0;
        labels++;
        last = s;
        lastlen = len;
        if (*p == '\0')
            break;
        if (*p != '.')
            return 0;
        p++;
    }
    if (labels < 2)
        return 0;
    /* what an IPv4 parser (inet_aton, curl, browsers) would take: a last
     * label of digits, or 0x and hex digits */
    size_t i = 0;
    while (i < lastlen && last[i] >= '0' && last[i] <= '9')
        i++;
    if (i == lastlen)
        return 0;
    if (lastlen >= 2 && last[0] == '0' && lc((unsigned char)last[1]) == 'x') {
        for (i = 2; i < lastlen; i++) {
            int c = lc((unsigned char)last[i]);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                break;
        }
        if (i == lastlen)
            return 0;
    }
    /* names of this host, whatever the resolver says */
    if (lastlen == 9 && strncasecmp(last, "localhost", 9) == 0)
        return 0;
    /* belt and braces: nothing an address parser takes */
    unsigned char a[16];
    const char *bare = name[0] == '*' ? name + 2 : name;
    if (inet_pton(AF_INET, bare, a) == 1 || inet_pton(AF_INET6, bare, a) == 1)
        return 0;
    return 1;
}

static int parse_port(const char *s, int *port)
{
    long v = 0;
    if (!*s || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int egress_resolver_parse(const char *s, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN + 1], txt[INET6_ADDRSTRLEN];
    unsigned char a[16];
    int port = 53, v6;
    const char *colon;

    if (!s || !*s || strlen(s) > INET6_ADDRSTRLEN + 8)
        return -1;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (size_t)(end - s - 1) >= sizeof(host))
            return -1;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        if (end[1] == ':') {
            if (parse_port(end + 2, &port) < 0)
                return -1;
        } else if (end[1] != '\0') {
            return -1;
        }
        v6 = 1;
    } else if ((colon = strchr(s, ':')) && strchr(colon + 1, ':')) {
        if (strlen(s) >= sizeof(host))
            return -1;
        memcpy(host, s, strlen(s) + 1); /* bare IPv6, no port */
        v6 = 1;
    } else {
        size_t hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl >= sizeof(host))
            return -1;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (colon && parse_port(colon + 1, &port) < 0)
            return -1;
        v6 = 0;
    }
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, a) != 1 ||
        !inet_ntop(v6 ? AF_INET6 : AF_INET, a, txt, sizeof(txt)))
        return -1;
    int n = v6 ? snprintf(out, outlen, "[%s]:%d", txt, port)
               : snprintf(out, outlen, "%s:%d", txt, port);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The first usable nameserver of path, canonical, or -1. */
static int resolver_from_file(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "re");
    char line[512];
    int rc = -1;
    if (!f)
        return -1;
    while (rc < 0 && fgets(line, sizeof(line), f)) {
        char word[32], addr[128];
        if (sscanf(line, " %31s %127s", word, addr) == 2 && strcmp(word, "nameserver") == 0)
            rc = egress_resolver_parse(addr, out, outlen);
    }
    fclose(f);
    return rc;
}

/* A path that may go into the configuration as is (inside double quotes). */
static int path_safe(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 1024)
        return 0;
    for (const char *c = p; *c; c++)
        if (!is_ldh((unsigned char)*c) && *c != '/' && *c != '.' && *c != '_' && *c != '+')
            return 0;
    /* no "." or ".." component */
    for (const char *c = p; (c = strchr(c, '/')); c++)
        if (c[1] == '.' && (c[2] == '/' || c[2] == '\0' || (c[2] == '.' && (c[3] == '/' || !c[3]))))
            return 0;
    return 1;
}

static void lower_copy(char *dst, const char *src, size_t dstlen)
{
    size_t i = 0;
    for (; src[i] && i + 1 < dstlen; i++)
        dst[i] = (char)lc((unsigned char)src[i]);
    dst[i] = '\0';
}

/* 1 when names[i] (case-insensitively) came before. */
static int seen_before(const char *const *names, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(names[j], names[i]) == 0)
            return 1;
    return 0;
}

struct egress_params {
    char resolver[INET6_ADDRSTRLEN + 16];
    int tls_port, http_port, connect_s, idle_s;
    size_t n_names;
};

static int check_spec(const struct egress_spec *s, struct egress_params *p, struct omni_err *err)
{
    size_t n = 0;

    if (!s || !s->names || !s->names[0])
        return omni_err_set(err, OMNI_E_USAGE, "egress: the allow-list is empty");
    for (; s->names[n]; n++) {
        if (n >= EGRESS_NAMES_MAX)
            return omni_err_set(err, OMNI_E_USAGE, "egress: more than %d names", EGRESS_NAMES_MAX);
        if (!egress_name_valid(s->names[n])) {
            char shown[80];
            size_t k = 0;
            for (; s->names[n][k] && k + 1 < sizeof(shown); k++) {
                unsigned char c = (unsigned char)s->names[n][k];
                shown[k] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
            }
            shown[k] = '\0';
            return omni_err_set(err, OMNI_E_USAGE,
                                "egress: \"%s\" is not a host name (letters, digits, hyphens, "
                                "dots; an optional leading \"*.\"; no IP address)",
                                shown);
        }
    }
    p->n_names = n;
    if (!path_safe(s->run_dir))
        return omni_err_set(err, OMNI_E_USAGE,
                            "egress: the run directory must be an absolute path of letters, "
                            "digits and . _ + - /");
    if (strlen(s->run_dir) + sizeof("/" EGRESS_HTTP_SOCK) > sizeof(((struct egress *)0)->tls))
        return omni_err_set(err, OMNI_E_USAGE,
                            "egress: run directory \"%s\" too long for a socket path", s->run_dir);
    if (s->stream_module && s->stream_module[0] && !path_safe(s->stream_module))
        return omni_err_set(err, OMNI_E_USAGE, "egress: bad stream module path");
    if (s->nginx && s->nginx[0] != '/')
        return omni_err_set(err, OMNI_E_USAGE, "egress: the nginx path must be absolute");
    if (s->resolver) {
        if (egress_resolver_parse(s->resolver, p->resolver, sizeof(p->resolver)) < 0)
            return omni_err_set(err, OMNI_E_USAGE,
                                "egress: resolver \"%.64s\" is not IP[:port] or [IPv6]:port",
                                s->resolver);
    } else if (resolver_from_file("/etc/resolv.conf", p->resolver, sizeof(p->resolver)) < 0) {
        return omni_err_set(err, OMNI_E_CONFIG,
                            "egress: no resolver given and no usable nameserver in "
                            "/etc/resolv.conf");
    }
    p->tls_port = s->upstream_tls_port ? s->upstream_tls_port : 443;
    p->http_port = s->upstream_http_port ? s->upstream_http_port : 80;
    if (p->tls_port < 1 || p->tls_port > 65535 || p->http_port < 1 || p->http_port > 65535)
        return omni_err_set(err, OMNI_E_USAGE, "egress: upstream ports must be 1..65535");
    p->connect_s = s->connect_timeout_s ? s->connect_timeout_s : EGRESS_CONNECT_TIMEOUT_S;
    p->idle_s = s->idle_timeout_s ? s->idle_timeout_s : EGRESS_IDLE_TIMEOUT_S;
    if (p->connect_s < 1 || p->connect_s > 75)
        return omni_err_set(err, OMNI_E_USAGE, "egress: connect timeout must be 1..75 s");
    if (p->idle_s < 1 || p->idle_s > 3600)
        return omni_err_set(err, OMNI_E_USAGE, "egress: idle timeout must be 1..3600 s");
    return 0;
}

/* ---- the nginx configuration ---- */

/*
 * The map entries: exact names through `hostnames` (the value is the
 * listed name itself), "*.suffix" through a regex that captures only a
 * well-formed host name ending in ".suffix" (SNI bytes are not validated
 * by nginx; the capture is).
 */
static void add_map_entries(struct buf *b, const char *const *names, int port)
{
    for (size_t i = 0; names[i]; i++) {
        char n[EGRESS_NAME_MAX + 1];
        if (seen_before(names, i))
            continue;
        lower_copy(n, names[i], sizeof(n));
        if (n[0] != '*') {
            buf_addf(b, "        \"%s\" \"%s:%d\";\n", n, n, port);
            continue;
        }
        buf_adds(b, "        \"~*^(?<egress_name>(?=.{1,253}$)"
                    "(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+");
        for (const char *c = n + 2; *c; c++) {
            if (*c == '.')
                buf_addc(b, '\\');
            buf_addc(b, *c);
        }
        buf_addf(b, ")$\" \"$egress_name:%d\";\n", port);
    }
}

int egress_config(const struct egress_spec *s, struct buf *b, struct omni_err *err)
{
    struct egress_params p;
    const char *rd;
    const char *mod;

    if (check_spec(s, &p, err) < 0)
        return -1;
    rd = s->run_dir;
    mod = s->stream_module ? s->stream_module : EGRESS_STREAM_MODULE;
    size_t start = b->len;
    buf_adds(b, "# written by omni-worker (worker/egress.c) for one session; not to be edited\n");
    if (mod[0])
        buf_addf(b, "load_module \"%s\";\n", mod);
    buf_addf(b,
             "daemon off;\n"
             "master_process on;\n"
             "worker_processes 1;\n"
             "pid \"%s/nginx.pid\";\n"
             "lock_file \"%s/nginx.lock\";\n"
             "error_log stderr warn;\n"
             "events { worker_connections %d; }\n\n",
             rd, rd, EGRESS_WORKER_CONNECTIONS);
    /* port 443: by the SNI of the ClientHello, the bytes passed on untouched */
    buf_addf(b,
             "stream {\n"
             "    access_log off;\n"
             "    map_hash_bucket_size 512;\n" /* names of up to 253 bytes */
             "    map_hash_max_size 8192;\n"
             "    resolver %s valid=30s ipv6=off;\n"
             "    resolver_timeout %ds;\n"
             "    map $ssl_preread_server_name $egress_tls_upstream {\n"
             "        hostnames;\n"
             "        default \"\";\n",
             p.resolver, EGRESS_RESOLVER_TIMEOUT_S);
    add_map_entries(b, s->names, p.tls_port);
    buf_addf(b,
             "    }\n"
             "    server {\n"
             "        listen \"unix:%s/" EGRESS_TLS_SOCK "\";\n"
             "        ssl_preread on;\n"
             "        preread_timeout 10s;\n"
             "        proxy_connect_timeout %ds;\n"
             "        proxy_timeout %ds;\n"
             "        proxy_pass $egress_tls_upstream;\n"
             "    }\n"
             "}\n\n",
             rd, p.connect_s, p.idle_s);
    /* port 80: by the request's host; CONNECT is refused by nginx itself */
    buf_addf(b,
             "http {\n"
             "    access_log off;\n"
             "    log_not_found off;\n"
             "    server_tokens off;\n"
             "    client_body_temp_path \"%s/client_body_temp\";\n"
             "    proxy_temp_path \"%s/proxy_temp\";\n"
             "    fastcgi_temp_path \"%s/fastcgi_temp\";\n"
             "    uwsgi_temp_path \"%s/uwsgi_temp\";\n"
             "    scgi_temp_path \"%s/scgi_temp\";\n"
             "    map_hash_bucket_size 512;\n"
             "    map_hash_max_size 8192;\n"
             "    resolver %s valid=30s ipv6=off;\n"
             "    resolver_timeout %ds;\n"
             "    client_max_body_size 0;\n"
             "    client_header_timeout 10s;\n"
             "    client_body_timeout %ds;\n"
             "    send_timeout %ds;\n"
             "    keepalive_timeout 30s;\n"
             "    map $host $egress_http_upstream {\n"
             "        hostnames;\n"
             "        default \"\";\n",
             rd, rd, rd, rd, rd, p.resolver, EGRESS_RESOLVER_TIMEOUT_S, p.idle_s, p.idle_s);
    add_map_entries(b, s->names, p.http_port);
    buf_addf(b,
             "    }\n"
             "    server {\n"
             "        listen \"unix:%s/" EGRESS_HTTP_SOCK "\" default_server;\n"
             "        server_name \"\";\n"
             "        location / {\n"
             "            if ($egress_http_upstream = \"\") {\n"
             "                return 403;\n"
             "            }\n"
             "            proxy_pass http://$egress_http_upstream;\n"
             "            proxy_set_header Host $host;\n"
             "            proxy_http_version 1.1;\n"
             "            proxy_buffering off;\n"
             "            proxy_request_buffering off;\n"
             "            proxy_redirect off;\n"
             "            proxy_next_upstream off;\n"
             "            proxy_connect_timeout %ds;\n"
             "            proxy_send_timeout %ds;\n"
             "            proxy_read_timeout %ds;\n"
             "        }\n"
             "    }\n"
             "}\n",
             rd, p.connect_s, p.idle_s, p.idle_s);
    if (b->overflow) {
        buf_truncate(b, start);
        return omni_err_set(err, OMNI_E_TOOBIG, "egress: the configuration is too large");
    }
    return 0;
}

int egress_hosts_file(const struct egress_spec *s, const char *proxy_ip, char *out, size_t outlen)
{
    unsigned char a[16];
    size_t len;
    int n;

    if (!s || !s->names || !proxy_ip || !out || outlen == 0)
        return -1;
    if (inet_pton(AF_INET, proxy_ip, a) != 1 && inet_pton(AF_INET6, proxy_ip, a) != 1)
        return -1;
    n = snprintf(out, outlen,
                 "# the sandbox's hosts: listed names go to the egress relay\n"
                 "127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "127.0.1.1\t" SANDBOX_HOSTNAME "\n");
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    len = (size_t)n;
    for (size_t i = 0; s->names[i]; i++) {
        char name[EGRESS_NAME_MAX + 1];
        if (i >= EGRESS_NAMES_MAX || !egress_name_valid(s->names[i]))
            return -1;
        if (s->names[i][0] == '*' || seen_before(s->names, i))
            continue; /* a hosts file holds no wildcard */
        lower_copy(name, s->names[i], sizeof(name));
        n = snprintf(out + len, outlen - len, "%s\t%s\n", proxy_ip, name);
        if (n < 0 || (size_t)n >= outlen - len)
            return -1;
        len += (size_t)n;
    }
    return (int)len;
}

/* ---- files of run_dir ---- */

static int write_file_at(int dfd, const char *name, const char *data, size_t len, mode_t mode,
                         uid_t uid, gid_t gid, int chown_it)
{
    int fd, e;
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return -1;
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (fchmod(fd, mode) < 0 || (chown_it && fchown(fd, uid, gid) < 0))
        goto fail;
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        data += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0)
        return -1;
    return 0;
fail:
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* Remove everything below dfd (depth-bounded, never following a symlink). */
static void clear_dir_at(int dfd, int depth)
{
    DIR *d;
    struct dirent *de;
    int fd = dup(dfd);
    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dfd, de->d_name, 0) == 0 || errno != EISDIR)
            continue;
        if (depth > 0) {
            int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                clear_dir_at(sub, depth - 1);
                close(sub);
            }
        }
        unlinkat(dfd, de->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

/* The line of nginx's log worth showing: the first [emerg]/[alert]/[crit], else the first. */
static void log_line(const char *run_dir, char *out, size_t outlen)
{
    char path[4200], data[8192], *best = NULL;
    int fd;
    ssize_t n;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/" EGRESS_LOG, run_dir);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, data, sizeof(data) - 1);
    close(fd);
    if (n <= 0)
        return;
    data[n] = '\0';
    static const char *const levels[] = {"[emerg]", "[alert]", "[crit]"};
    for (size_t i = 0; !best && i < sizeof(levels) / sizeof(levels[0]); i++)
        best = strstr(data, levels[i]);
    if (!best) {
        best = data;
        while (*best == '\n')
            best++;
    }
    size_t k = 0;
    for (const char *c = best; *c && *c != '\n' && k + 1 < outlen; c++)
        out[k++] = (unsigned char)*c >= 0x20 && *c != 0x7f ? *c : '?';
    out[k] = '\0';
}

/* 0 when a connection to the UNIX socket at path is accepted (queued). */
static int try_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc;
}

/*
 * Give the socket name (in dfd) to uid:gid, mode 0660, without following a
 * link: run_dir belongs to the proxy uid, which could have swapped it.
 */
static int hand_socket(int dfd, const char *name, uid_t owner, uid_t uid, gid_t gid, int root)
{
    struct stat st;
    char proc[64];
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_uid != owner || st.st_nlink != 1) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if ((root && fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0) ||
        chmod(proc, root ? 0660 : 0600) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- start and stop ---- */

static void kill_and_reap(pid_t pid, int ms)
{
    siginfo_t si;
    int st;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int waited = 0;; waited += 10) {
        memset(&si, 0, sizeof(si));
        /* WNOWAIT: the zombie keeps the group id ours until the group is killed */
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            break;
        if (waited >= ms)
            break;
        omni_sleep_ms(10, NULL);
    }
    kill(-pid, SIGKILL); /* workers left behind, or the master itself */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* In the child: only async-signal-safe calls until exec. */
static void nginx_child(const char *path, char *const argv[], int logfd, int errfd,
                        const char *run_dir, pid_t parent, int drop, uid_t uid, gid_t gid)
{
    static char *const envp[] = {NULL};
    struct rlimit fsz = {EGRESS_LOG_MAX, EGRESS_LOG_MAX};
    sigset_t none;
    int e, nul;

    setpgid(0, 0);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    /* a full log makes write() fail (EFBIG), not kill nginx */
    signal(SIGXFSZ, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setrlimit(RLIMIT_FSIZE, &fsz) < 0)
        goto fail;
    umask(077);
    nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        goto fail;
    if (errfd != 3 && dup2(errfd, 3) < 0)
        goto fail;
    fcntl(3, F_SETFD, FD_CLOEXEC);
    close_range(4, ~0U, 0);
    if (drop && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
                 setresuid(uid, uid, uid) < 0 || setresuid(0, 0, 0) == 0))
        goto fail;
    /* after the uid change, which clears it */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
        goto fail;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || chdir(run_dir) < 0)
        goto fail;
    execve(path, argv, envp);
fail:
    e = errno;
    (void)!write(3, &e, sizeof(e));
    _exit(127);
}

/* Make or check run_dir; an O_DIRECTORY descriptor of it, or -1 with err. */
static int open_run_dir(const struct egress_spec *s, int root, int *made, struct omni_err *err)
{
    struct stat st;
    int dfd;

    *made = 0;
    if (mkdir(s->run_dir, 0700) == 0)
        *made = 1;
    else if (errno != EEXIST)
        return omni_err_set(err, OMNI_E_IO, "egress: mkdir \"%s\": %s", s->run_dir,
                            strerror(errno));
    dfd = open(s->run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return omni_err_set(err, OMNI_E_IO, "egress: open \"%s\": %s", s->run_dir, strerror(errno));
    if (fstat(dfd, &st) < 0 || (st.st_mode & 077) ||
        (st.st_uid != geteuid() && !(root && st.st_uid == s->proxy_uid))) {
        close(dfd);
        return omni_err_set(err, OMNI_E_CONFIG,
                            "egress: run directory \"%s\" must be ours and private (0700)",
                            s->run_dir);
    }
    clear_dir_at(dfd, 2); /* what a crashed run left */
    if (root && (fchown(dfd, s->proxy_uid, s->proxy_gid) < 0 || fchmod(dfd, 0700) < 0)) {
        int e = errno;
        close(dfd);
        return omni_err_set(err, OMNI_E_IO, "egress: chown \"%s\": %s", s->run_dir, strerror(e));
    }
    return dfd;
}

static void cleanup_dir(const char *run_dir, int made)
{
    int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd >= 0) {
        clear_dir_at(dfd, 2);
        close(dfd);
    }
    if (made)
        rmdir(run_dir);
}

struct egress *egress_start(const struct egress_spec *s, struct omni_err *err)
{
    struct buf conf = BUF_INIT_MAX(EGRESS_CONF_MAX);
    char *hosts = NULL;
    struct egress *e = NULL;
    const char *nginx;
    int root = geteuid() == 0, dfd = -1, logfd = -1, ep[2] = {-1, -1}, hn;
    int64_t t0 = omni_mono_ms();

    if (egress_config(s, &conf, err) < 0)
        return NULL;
    nginx = s->nginx ? s->nginx : EGRESS_NGINX;
    if (access(nginx, X_OK) < 0) {
        omni_err_set(err, OMNI_E_CONFIG, "egress: nginx not found at %s (install nginx-light)",
                     nginx);
        goto fail;
    }
    if (!s->stream_module && access(EGRESS_STREAM_MODULE, R_OK) < 0) {
        omni_err_set(err, OMNI_E_CONFIG, "egress: %s not found (install libnginx-mod-stream)",
                     EGRESS_STREAM_MODULE);
        goto fail;
    }
    if (root && (s->proxy_uid == 0 || s->proxy_gid == 0)) {
        omni_err_set(err, OMNI_E_USAGE, "egress: the proxy must not run as root (proxy uid/gid)");
        goto fail;
    }
    if (!root && s->client_uid != geteuid()) {
        omni_err_set(err, OMNI_E_USAGE,
                     "egress: not root: the sockets' client must be our own uid %u",
                     (unsigned)geteuid());
        goto fail;
    }
    hosts = malloc(EGRESS_HOSTS_MAX);
    hn = hosts ? egress_hosts_file(s, "127.0.0.1", hosts, EGRESS_HOSTS_MAX) : -1;
    if (hn < 0) {
        omni_err_set(err, OMNI_E_USAGE, "egress: cannot build the sandbox's hosts file");
        goto fail;
    }
    e = calloc(1, sizeof(*e));
    if (!e || !(e->run_dir = strdup(s->run_dir))) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        goto fail;
    }
    e->pid = -1;
    e->client_uid = s->client_uid;
    e->client_gid = s->client_gid;
    snprintf(e->tls, sizeof(e->tls), "%s/" EGRESS_TLS_SOCK, s->run_dir);
    snprintf(e->http, sizeof(e->http), "%s/" EGRESS_HTTP_SOCK, s->run_dir);
    snprintf(e->hosts, sizeof(e->hosts), "%s/" EGRESS_HOSTS, s->run_dir);

    dfd = open_run_dir(s, root, &e->made_dir, err);
    if (dfd < 0)
        goto fail;
    if (write_file_at(dfd, EGRESS_CONF, conf.data, conf.len, 0600, s->proxy_uid, s->proxy_gid,
                      root) < 0 ||
        write_file_at(dfd, EGRESS_HOSTS, hosts, (size_t)hn, 0644, 0, 0, 0) < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: writing into \"%s\": %s", s->run_dir,
                     strerror(errno));
        goto fail;
    }
    if (write_file_at(dfd, EGRESS_LOG, "", 0, 0600, s->proxy_uid, s->proxy_gid, root) < 0 ||
        (logfd = openat(dfd, EGRESS_LOG, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: %s/" EGRESS_LOG ": %s", s->run_dir, strerror(errno));
        goto fail;
    }

    /* everything the child needs, made before fork (the worker has threads) */
    char prefix[4200], confpath[4200];
    snprintf(prefix, sizeof(prefix), "%s/", s->run_dir);
    snprintf(confpath, sizeof(confpath), "%s/" EGRESS_CONF, s->run_dir);
    static char a0[] = "nginx", a_p[] = "-p", a_c[] = "-c", a_e[] = "-e", a_err[] = "stderr";
    char *const argv[] = {a0, a_p, prefix, a_c, confpath, a_e, a_err, NULL};
    if (pipe2(ep, O_CLOEXEC) < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: pipe: %s", strerror(errno));
        goto fail;
    }
    int hi_err = fcntl(ep[1], F_DUPFD_CLOEXEC, 10);
    int hi_log = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
    if (hi_err < 0 || hi_log < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: %s", strerror(errno));
        if (hi_err >= 0)
            close(hi_err);
        if (hi_log >= 0)
            close(hi_log);
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        nginx_child(nginx, argv, hi_log, hi_err, s->run_dir, parent, root, s->proxy_uid,
                    s->proxy_gid);
    int fork_errno = errno;
    close(hi_err);
    close(hi_log);
    close(ep[1]);
    ep[1] = -1;
    if (pid < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: fork: %s", strerror(fork_errno));
        goto fail;
    }
    setpgid(pid, pid); /* no race with the child's own setpgid */
    e->pid = pid;
    int cerr = 0;
    ssize_t r;
    do {
        r = read(ep[0], &cerr, sizeof(cerr));
    } while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof(cerr)) {
        omni_err_set(err, OMNI_E_IO, "egress: cannot start %s: %s", nginx, strerror(cerr));
        goto fail;
    }

    /* wait until both sockets accept, or nginx gives up */
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            char line[320];
            e->pid = -1;
            log_line(s->run_dir, line, sizeof(line));
            omni_err_set(err, OMNI_E_CONFIG, "egress: nginx %s %d at start: %s",
                         WIFEXITED(st) ? "exited" : "killed by signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                         line[0] ? line : "(no message)");
            goto fail;
        }
        int tls_ok = try_connect(e->tls) == 0, http_ok = try_connect(e->http) == 0;
        if (tls_ok && http_ok)
            break;
        if (omni_mono_ms() - t0 >= EGRESS_START_MS) {
            char line[320];
            log_line(s->run_dir, line, sizeof(line));
            omni_err_set(err, OMNI_E_TIMEOUT, "egress: nginx did not listen on %s within %d ms%s%s",
                         !tls_ok ? e->tls : e->http, EGRESS_START_MS, line[0] ? ": " : "", line);
            goto fail;
        }
        omni_sleep_ms(5, NULL);
    }
    if (hand_socket(dfd, EGRESS_TLS_SOCK, root ? s->proxy_uid : geteuid(), s->client_uid,
                    s->client_gid, root) < 0 ||
        hand_socket(dfd, EGRESS_HTTP_SOCK, root ? s->proxy_uid : geteuid(), s->client_uid,
                    s->client_gid, root) < 0) {
        omni_err_set(err, OMNI_E_IO, "egress: cannot give the sockets to uid %u: %s",
                     (unsigned)s->client_uid, strerror(errno));
        goto fail;
    }
    close(ep[0]);
    close(logfd);
    close(dfd);
    buf_release(&conf);
    free(hosts);
    log_debug("egress proxy ready: pid=%d names=%s... dir=%s in %lld ms", (int)pid, s->names[0],
              s->run_dir, (long long)(omni_mono_ms() - t0));
    return e;

fail:
    if (e && e->pid > 0)
        kill_and_reap(e->pid, 0);
    if (ep[0] >= 0)
        close(ep[0]);
    if (ep[1] >= 0)
        close(ep[1]);
    if (logfd >= 0)
        close(logfd);
    if (dfd >= 0) {
        close(dfd);
        cleanup_dir(s->run_dir, e ? e->made_dir : 0);
    }
    if (e)
        free(e->run_dir);
    free(e);
    free(hosts);
    buf_release(&conf);
    return NULL;
}

const char *egress_tls_socket(const struct egress *e)
{
    return e->tls;
}

const char *egress_http_socket(const struct egress *e)
{
    return e->http;
}

const char *egress_hosts_path(const struct egress *e)
{
    return e->hosts;
}

pid_t egress_pid(const struct egress *e)
{
    return e->pid;
}

void egress_stop(struct egress *e)
{
    if (!e)
        return;
    kill_and_reap(e->pid, EGRESS_STOP_MS);
    e->pid = -1;
    cleanup_dir(e->run_dir, e->made_dir);
    free(e->run_dir);
    free(e);
}

/* ---- the sandbox's side ---- */

/*
 * Run by /bin/sh as the sandbox's first process: $1 "cap" or "netns", $2 uid
 * or "-", $3 gid or "-", then the executor's argv. Constant text: nothing of
 * the session goes into it (the arguments are checked by egress_bwrap_argv).
 */
const char EGRESS_RELAY_SCRIPT[] =
    "m=$1 u=$2 g=$3; shift 3\n"
    "d=\n"
    "[ \"$u\" = - ] || d=\"--reuid=$u --regid=$g --clear-groups\"\n"
    "c=\n"
    "[ \"$m\" = cap ] && c='--inh-caps=-all,+net_bind_service "
    "--ambient-caps=-all,+net_bind_service'\n"
    "for p in 443:tls 80:http; do\n"
    "  (" EGRESS_SETPRIV " $d $c --no-new-privs -- " EGRESS_SOCAT " -lp omni-egress"
    " TCP4-LISTEN:${p%:*},bind=127.0.0.1,reuseaddr,fork,max-children=64"
    " UNIX-CONNECT:" EGRESS_SANDBOX_DIR "/${p#*:}.sock </dev/null >/dev/null 2>&1 &)\n"
    "done\n"
    "n=0\n"
    "until [ \"$(/usr/bin/grep -cE ' 0100007F:(01BB|0050) 00000000:0000 0A' /proc/net/tcp)\""
    " = 2 ]; do\n"
    "  n=$((n + 1))\n"
    "  if [ $n -gt 200 ]; then echo 'omni-egress: relays not listening' >&2; break; fi\n"
    "  /usr/bin/sleep 0.01\n"
    "done\n"
    "[ \"$m\" = cap ] || exec \"$@\"\n"
    "exec " EGRESS_SETPRIV " --inh-caps=-net_bind_service --ambient-caps=-net_bind_service"
    " -- \"$@\"\n";

/* v in decimal into out (24 bytes), async-signal-safe. */
static size_t utoa(unsigned long v, char *out)
{
    char tmp[24];
    size_t n = 0, k = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(tmp));
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

static int write_str(const char *path, const char *s, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, s, len);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)len ? 0 : -1;
}

/* "ID ID 1\n" (an id mapped to itself) into map; its length.
 * Async-signal-safe. */
static size_t id_map_line(unsigned long id, char *map)
{
    size_t n = utoa(id, map);
    map[n++] = ' ';
    n += utoa(id, map + n);
    memcpy(map + n, " 1\n", 4);
    return n + 3;
}

int egress_netns_setup(int user)
{
    struct ifreq ifr;
    char map[64];
    size_t n;
    int s, e;

    if (user) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
            return -1;
        n = id_map_line(uid, map);
        if (write_str("/proc/self/uid_map", map, n) < 0 ||
            write_str("/proc/self/setgroups", "deny", 4) < 0)
            return -1;
        n = id_map_line(gid, map);
        if (write_str("/proc/self/gid_map", map, n) < 0)
            return -1;
    } else if (unshare(CLONE_NEWNET) < 0) {
        return -1;
    }
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        goto fail;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        goto fail;
    close(s);
    return write_str("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n", 2);
fail:
    e = errno;
    close(s);
    errno = e;
    return -1;
}

static char **argv_make(const char *const *v, size_t n)
{
    char **a = calloc(n + 1, sizeof(char *));
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(a[i] = strdup(v[i]))) {
            egress_argv_free(a);
            return NULL;
        }
    return a;
}

int egress_bwrap_argv(const struct egress *e, int switch_uid, uid_t uid, gid_t gid, char ***opts,
                      char ***cmd, struct omni_err *err)
{
    static const char *const fs[] = {"--perms", "0755", "--dir", "/run",
                                     "--perms", "0755", "--dir", EGRESS_SANDBOX_DIR};
    char u[24] = "-", g[24] = "-";

    *opts = *cmd = NULL;
    if (!e)
        return omni_err_set(err, OMNI_E_USAGE, "egress: no proxy");
    /* the sandbox sees the host's /usr */
    if (access(EGRESS_SOCAT, X_OK) < 0 || access(EGRESS_SETPRIV, X_OK) < 0)
        return omni_err_set(err, OMNI_E_CONFIG, "egress: the relay needs %s and %s (install socat)",
                            EGRESS_SOCAT, EGRESS_SETPRIV);
    if (switch_uid) {
        if (uid == 0 || gid == 0)
            return omni_err_set(err, OMNI_E_USAGE, "egress: the relay must not run as root");
        if (uid != e->client_uid && gid != e->client_gid)
            return omni_err_set(err, OMNI_E_USAGE,
                                "egress: uid %u may not connect to the proxy (client uid %u "
                                "gid %u)",
                                (unsigned)uid, (unsigned)e->client_uid, (unsigned)e->client_gid);
        snprintf(u, sizeof(u), "%u", (unsigned)uid);
        snprintf(g, sizeof(g), "%u", (unsigned)gid);
    }
    const char *o[22];
    size_t no = 0;
    if (switch_uid) {
        o[no++] = "--cap-add";
        o[no++] = "CAP_NET_BIND_SERVICE";
    }
    for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
        o[no++] = fs[i];
    const char *binds[] = {"--ro-bind", e->tls,   EGRESS_SANDBOX_TLS,
                           "--ro-bind", e->http,  EGRESS_SANDBOX_HTTP,
                           "--ro-bind", e->hosts, "/etc/hosts"};
    for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++)
        o[no++] = binds[i];
    const char *c[] = {
        "/bin/sh", "-c", EGRESS_RELAY_SCRIPT, "omni-egress-relay", switch_uid ? "cap" : "netns",
        u,         g};
    *opts = argv_make(o, no);
    *cmd = argv_make(c, sizeof(c) / sizeof(c[0]));
    if (!*opts || !*cmd) {
        egress_argv_free(*opts);
        egress_argv_free(*cmd);
        *opts = *cmd = NULL;
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    }
    return 0;
}

void egress_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* 1 when the worker's entry a admits the session's name n (both valid). */
static int egress_admits(const char *a, const char *n)
{
    if (strcasecmp(a, n) == 0)
        return 1;
    if (strncmp(a, "*.", 2) != 0)
        return 0;
    const char *dom = a + 1; /* ".d" */
    size_t nl = strlen(n), dl = strlen(dom);
    return nl > dl && strcasecmp(n + nl - dl, dom) == 0;
}

int egress_narrow(const char *const *allowed, const char *requested, char *store, size_t storelen,
                  const char **out, size_t outmax, char *refused, size_t refusedlen)
{
    size_t used = 0, n = 0;
    const char *p = requested ? requested : "";
    if (refusedlen)
        refused[0] = '\0';
    out[0] = NULL;
    while (*p) {
        size_t len = strcspn(p, ", \t");
        char name[EGRESS_NAME_MAX + 1];
        if (len > 0 && len <= EGRESS_NAME_MAX) {
            memcpy(name, p, len);
            name[len] = '\0';
            int ok = egress_name_valid(name);
            for (size_t i = 0; ok && allowed && allowed[i]; i++)
                if (egress_admits(allowed[i], name))
                    ok = 2;
            if (ok == 2 && n + 1 < outmax && used + len + 1 <= storelen) {
                memcpy(store + used, name, len + 1);
                out[n++] = store + used;
                out[n] = NULL;
                used += len + 1;
            } else if (refusedlen && !refused[0]) {
                snprintf(refused, refusedlen, "%s", name);
            }
        } else if (len > 0 && refusedlen && !refused[0]) {
            snprintf(refused, refusedlen, "%.*s", (int)(len > 64 ? 64 : len), p);
        }
        p += len;
        p += strspn(p, ", \t");
    }
    return (int)n;
}
