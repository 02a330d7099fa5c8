/*
 * shutdown — the signal-set stop flags (see shutdown.h).
 */
#include "shutdown.h"

#include <signal.h>
#include <string.h>

_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t must be an int");

static volatile sig_atomic_t shutdown_req;  /* first SIGTERM/SIGINT: drain */
static volatile sig_atomic_t hard_stop_req; /* second signal: stop now */
static volatile sig_atomic_t reload_req;    /* SIGHUP (poll): re-read the key file */

static void on_signal(int sig)
{
    (void)sig;
    if (shutdown_req)
        hard_stop_req = 1;
    shutdown_req = 1;
}

/* SIGHUP: the poller that started us is gone (its parent-death signal):
 * stop now, as after a second SIGTERM. */
static void on_orphaned(int sig)
{
    (void)sig;
    shutdown_req = 1;
    hard_stop_req = 1;
}

/* Install fn for sig with flags (no SA_RESTART: blocking waits wake up). */
static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

void wk_signals_orphan(void)
{
    handle(SIGHUP, on_orphaned, 0);
}

static void on_reload(int sig)
{
    (void)sig;
    reload_req = 1;
}

void wk_signals_reload(void)
{
    handle(SIGHUP, on_reload, SA_RESTART); /* a reload interrupts nothing */
}

int wk_reload_take(void)
{
    int r = reload_req;
    reload_req = 0;
    return r;
}

void wk_signals_install(void)
{
    handle(SIGTERM, on_signal, 0);
    handle(SIGINT, on_signal, 0);
    signal(SIGPIPE, SIG_IGN);
}

int wk_shutdown_requested(void)
{
    return shutdown_req;
}

int wk_hard_stop_requested(void)
{
    return hard_stop_req;
}

volatile int *wk_shutdown_flag(void)
{
    return (volatile int *)&shutdown_req;
}

volatile int *wk_hard_stop_flag(void)
{
    return (volatile int *)&hard_stop_req;
}
