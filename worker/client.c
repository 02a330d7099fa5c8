/*
 * client — build the worker's API clients (see client.h).
 */
#include "client.h"

#include "worker.h"

#include <string.h>

void wk_client_opts_init(struct omni_client_opts *o, const struct wk_config *cfg,
                         const char *base_url, const char *cred, long timeout_ms, int retries)
{
    memset(o, 0, sizeof *o);
    o->base_url = base_url;
    o->auth = OMNI_AUTH_BEARER;
    o->credential = cred;
    o->timeout_ms = timeout_ms;
    o->max_retries = retries;
    o->ca_file = cfg->ca_file;
    o->unix_socket = cfg->api_socket;
    o->workspace_id = cfg->workspace_id;
    o->debug = cfg->http_debug;
}

struct omni_client *wk_client_new(const struct wk_config *cfg, const char *base_url,
                                  const char *cred, long timeout_ms, int retries,
                                  struct omni_err *err)
{
    struct omni_client_opts o;
    wk_client_opts_init(&o, cfg, base_url, cred, timeout_ms, retries);
    return omni_client_new(&o, err);
}
