/*
 * egress-try — start the egress proxy (worker/egress.c) for the names on the
 * command line, print where it listens, wait for SIGTERM/SIGINT, stop it.
 * For tests/integration/t5420-egress.t.
 *
 *   egress-try --run-dir DIR [--resolver IP[:PORT]] [--tls-port N] [--http-port N]
 *              [--client UID:GID] [--proxy UID:GID] [--stream-module PATH]
 *              [--bwrap-args PREFIX [--relay-as UID:GID]] [--print-config] NAME...
 *
 * Prints "tls PATH", "http PATH", "hosts PATH", "pid N", "ready_ms N" (one a
 * line, then "ready"); with --bwrap-args, writes PREFIX.opts and PREFIX.cmd,
 * egress_bwrap_argv()'s two lists, NUL-separated (--relay-as: a root
 * worker's sandbox, the relay as UID:GID; without: a user-namespace one).
 * --print-config prints the nginx configuration and exits. Exit 1 with the
 * error on stderr when the proxy does not start; 0 after a clean stop.
 *
 *   egress-try --netns-exec CMD...
 *
 * runs CMD in the network namespace egress_netns_setup() makes (a new user
 * namespace too when not root), as the sandbox's child would run bubblewrap.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/egress.h"
#include "buf.h"
#include "err.h"
#include "timeutil.h"

static int ids(const char *s, uid_t *u, gid_t *g)
{
    unsigned long a, b;
    char *end;
    a = strtoul(s, &end, 10);
    if (end == s || *end != ':')
        return -1;
    b = strtoul(end + 1, &end, 10);
    if (*end)
        return -1;
    *u = (uid_t)a;
    *g = (gid_t)b;
    return 0;
}

static int write_list(const char *prefix, const char *ext, char **v)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.%s", prefix, ext);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; v[i]; i++)
        fwrite(v[i], 1, strlen(v[i]) + 1, f);
    return fclose(f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"run-dir", required_argument, NULL, 'd'},
        {"resolver", required_argument, NULL, 'r'},
        {"tls-port", required_argument, NULL, 't'},
        {"http-port", required_argument, NULL, 'h'},
        {"client", required_argument, NULL, 'c'},
        {"proxy", required_argument, NULL, 'p'},
        {"stream-module", required_argument, NULL, 'm'},
        {"bwrap-args", required_argument, NULL, 'b'},
        {"relay-as", required_argument, NULL, 'a'},
        {"print-config", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    struct egress_spec spec = {0};
    struct omni_err err = OMNI_ERR_INIT;
    const char *bwrap_prefix = NULL;
    uid_t relay_uid = 0;
    gid_t relay_gid = 0;
    int relay_as = 0, print_config = 0, c;

    if (argc > 2 && strcmp(argv[1], "--netns-exec") == 0) {
        if (egress_netns_setup(geteuid() != 0) < 0) {
            perror("egress-try: network namespace");
            return 1;
        }
        execvp(argv[2], argv + 2);
        perror("egress-try: exec");
        return 127;
    }
    spec.client_uid = getuid();
    spec.client_gid = getgid();
    spec.proxy_uid = 65534;
    spec.proxy_gid = 65534;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            spec.run_dir = optarg;
            break;
        case 'r':
            spec.resolver = optarg;
            break;
        case 't':
            spec.upstream_tls_port = atoi(optarg);
            break;
        case 'h':
            spec.upstream_http_port = atoi(optarg);
            break;
        case 'm':
            spec.stream_module = optarg;
            break;
        case 'b':
            bwrap_prefix = optarg;
            break;
        case 'P':
            print_config = 1;
            break;
        case 'c':
            if (ids(optarg, &spec.client_uid, &spec.client_gid) < 0)
                goto usage;
            break;
        case 'p':
            if (ids(optarg, &spec.proxy_uid, &spec.proxy_gid) < 0)
                goto usage;
            break;
        case 'a':
            if (ids(optarg, &relay_uid, &relay_gid) < 0)
                goto usage;
            relay_as = 1;
            break;
        default:
            goto usage;
        }
    }
    if (!spec.run_dir || optind >= argc)
        goto usage;
    spec.names = (const char *const *)(argv + optind);

    if (print_config) {
        struct buf b = BUF_INIT;
        if (egress_config(&spec, &b, &err) < 0) {
            fprintf(stderr, "egress-try: %s\n", err.msg);
            return 1;
        }
        fwrite(b.data, 1, b.len, stdout);
        buf_release(&b);
        return 0;
    }

    /* SIGTERM/SIGINT are taken with sigwait (blocked before any child) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);

    int64_t t0 = omni_mono_us();
    struct egress *e = egress_start(&spec, &err);
    int64_t t1 = omni_mono_us();
    if (!e) {
        fprintf(stderr, "egress-try: %s\n", err.msg);
        return 1;
    }
    if (bwrap_prefix) {
        char **o, **cmd;
        if (egress_bwrap_argv(e, relay_as, relay_uid, relay_gid, &o, &cmd, &err) < 0) {
            fprintf(stderr, "egress-try: %s\n", err.msg);
            egress_stop(e);
            return 1;
        }
        int rc = write_list(bwrap_prefix, "opts", o) | write_list(bwrap_prefix, "cmd", cmd);
        egress_argv_free(o);
        egress_argv_free(cmd);
        if (rc) {
            perror("egress-try: bwrap args");
            egress_stop(e);
            return 1;
        }
    }
    printf("tls %s\nhttp %s\nhosts %s\npid %d\nready_us %lld\nready\n", egress_tls_socket(e),
           egress_http_socket(e), egress_hosts_path(e), (int)egress_pid(e), (long long)(t1 - t0));
    fflush(stdout);

    int sig;
    sigwait(&set, &sig);
    egress_stop(e);
    printf("stopped\n");
    return 0;

usage:
    fprintf(stderr, "usage: egress-try --run-dir DIR [--resolver IP[:PORT]] [--tls-port N] "
                    "[--http-port N] [--client UID:GID] [--proxy UID:GID] [--stream-module P] "
                    "[--bwrap-args PREFIX [--relay-as UID:GID]] [--print-config] NAME...\n");
    return 2;
}
