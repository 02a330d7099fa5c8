/*
 * client — build the worker's API clients (see client.h).
 */
#include "client.h"

#include "worker.h"

struct omni_client *wk_client_new(const struct wk_config *cfg, const char *base_url,
                                  const char *cred, long timeout_ms, int retries,
                                  struct omni_err *err)
{
    struct omni_client_opts o = {0};
    o.base_url = base_url;
    o.auth = OMNI_AUTH_BEARER;
    o.credential = cred;
    o.timeout_ms = timeout_ms;
    o.max_retries = retries;
    o.ca_file = cfg->ca_file;
    o.unix_socket = cfg->api_socket;
    o.debug = cfg->http_debug;
    return omni_client_new(&o, err);
}
