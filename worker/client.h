/*
 * client — the worker's one factory of API clients: every client the
 * worker uses (the poller's, with the environment key; an item's heartbeat,
 * session lookup, event stream, result posts and stops, with its sessions
 * token) is a bearer client built here from the worker's connection options
 * (--ca-file, --api-socket, --http-debug).
 *
 * Caller contract: cred is borrowed (the lib client keeps its own copy, and
 * never logs it); base_url NULL means the default API. timeout_ms bounds
 * each request (0: none, for streams and the heartbeat, which bound their
 * own); retries -1 = none, 0 = the library's default. Returns a client the
 * caller frees with omni_client_free(), or NULL with err set.
 */
#ifndef OMNI_WK_CLIENT_H
#define OMNI_WK_CLIENT_H

struct wk_config;
struct omni_client;
struct omni_client_opts;
struct omni_err;

/* Fill *o as wk_client_new() would, for a caller that sets more (an abort
 * flag, a response cap) before omni_client_new(). */
void wk_client_opts_init(struct omni_client_opts *o, const struct wk_config *cfg,
                         const char *base_url, const char *cred, long timeout_ms, int retries);
struct omni_client *wk_client_new(const struct wk_config *cfg, const char *base_url,
                                  const char *cred, long timeout_ms, int retries,
                                  struct omni_err *err);

#endif
