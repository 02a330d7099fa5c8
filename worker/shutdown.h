/*
 * shutdown — the worker's stop requests: two flags that only signal
 * handlers set, read by every layer (poll loop, item flow, runner).
 *
 *   first SIGTERM/SIGINT   drain: claim nothing more, let a running tool
 *                          call finish within --drain-timeout
 *   second signal          hard stop: cancel the call, end the session now
 *   SIGHUP (child/run)     the poller that started us is gone: hard stop
 *   SIGHUP (poll)          re-read the environment key file (a reload; the
 *                          poller takes the request with wk_reload_take())
 *
 * Caller contract: main() calls wk_signals_install() once at start-up
 * (handlers without SA_RESTART, so blocking waits wake up), and
 * wk_signals_orphan() too in a process a poller started. Everything else
 * only reads, through the accessors below; the flag pointers are for APIs
 * that take a `volatile int *abort` (omni_sleep_ms, omni_work_poll, ...).
 * Nothing ever clears a stop flag; the reload request is taken (cleared) by
 * the poller.
 */
#ifndef OMNI_WK_SHUTDOWN_H
#define OMNI_WK_SHUTDOWN_H

/* Install the SIGTERM/SIGINT handlers and ignore SIGPIPE. */
void wk_signals_install(void);
/* Also stop at once on SIGHUP (the parent-death signal of a child). */
void wk_signals_orphan(void);

/* In poll mode: SIGHUP asks for a reload instead. */
void wk_signals_reload(void);
/* 1 when a SIGHUP came since the last call (and clear it). */
int wk_reload_take(void);

/* 1 once a first stop signal came: drain. */
int wk_shutdown_requested(void);
/* 1 once a second signal (or SIGHUP) came: stop now. */
int wk_hard_stop_requested(void);
/* The same two flags as abort flags. */
volatile int *wk_shutdown_flag(void);
volatile int *wk_hard_stop_flag(void);

#endif
