/*
 * item — the per-item flow of protocol.md §9.3, teardown included.
 */
#include "worker.h"

#include "metrics.h"

#include "client.h"
#include "shutdown.h"

#include "confine.h"
#include "egress.h"
#include "creds.h"

#include "log.h"
#include "timeutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *wk_end_name(enum wk_end e)
{
    switch (e) {
    case WK_END_NONE:
        return "none";
    case WK_END_CLEAN:
        return "clean";
    case WK_END_HB_STOP:
        return "heartbeat_stop";
    case WK_END_LEASE_LOST:
        return "lease_lost";
    case WK_END_LEASE_STOPPED:
        return "lease_ended_stopped";
    case WK_END_ASSUMED_LOST:
        return "lease_assumed_lost";
    case WK_END_REJECTED:
        return "heartbeat_rejected";
    case WK_END_FATAL:
        return "fatal";
    case WK_END_SHUTDOWN:
        return "shutdown";
    }
    return "unknown";
}

int wk_end_is_release(enum wk_end e)
{
    return e == WK_END_LEASE_LOST || e == WK_END_ASSUMED_LOST || e == WK_END_LEASE_STOPPED;
}

int wk_end_requeues(enum wk_end e)
{
    return e == WK_END_LEASE_LOST || e == WK_END_ASSUMED_LOST;
}

int item_stop(const struct wk_config *cfg, const char *base_url, const char *cred,
              const char *env_id, const char *work_id, int force)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c = wk_client_new(cfg, base_url, cred, WK_STOP_TIMEOUT_MS, 0, &err);
    int already = 0, r = -1;

    if (c)
        r = omni_work_stop(c, env_id, work_id, force, &already, &err);
    omni_client_free(c);
    if (r < 0) {
        wm_http_error(&err);
        log_kv(LOG_ERROR, force ? "force-stop failed" : "stop failed", "work", work_id, "error",
               err.msg, NULL);
        return -1;
    }
    wm_inc(WM_ITEM_STOPPED);
    log_kv(LOG_INFO, force ? "work stopped (force)" : "work stopped", "work", work_id,
           already ? "note" : NULL, "already stopped", NULL);
    return 0;
}

/* Number of memory_store resources of a session. */
static int memory_stores(const cJSON *session)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(session, "resources"), *it;
    int n = 0;
    cJSON_ArrayForEach(it, res) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "memory_store") == 0)
            n++;
    }
    return n;
}

static int skills_count(const cJSON *session)
{
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(session, "agent");
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(agent, "skills");
    return cJSON_IsArray(sk) ? cJSON_GetArraySize(sk) : 0;
}

/* Steps 4-9 for a session item, its sandbox already started; returns how
 * the run ended. */
static enum wk_end item_session_run(struct wk_item_ctx *ic)
{
    const struct wk_config *cfg = ic->cfg;
    const struct omni_work *w = ic->w;
    struct confine *cf = ic->cf;
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c;
    struct omni_session s;
    int nmem, nskills;

    c = wk_client_new(cfg, ic->base_url, ic->cred, WK_CALL_TIMEOUT_MS, 0, &err);
    if (!c || omni_session_get(c, w->data_id, &s, &err) < 0) {
        omni_client_free(c);
        log_kv(LOG_ERROR, "cannot retrieve the session", "work", w->id, "session", w->data_id,
               "error", err.msg, NULL);
        ic->fatal = omni_err_is_fatal(&err);
        /* transient (5xx/429/network after retries): release, do not stop,
         * so the item is delivered again when its lease expires */
        return ic->fatal ? WK_END_FATAL : WK_END_ASSUMED_LOST;
    }
    omni_client_free(c);
    if (strcmp(s.status, "terminated") == 0) {
        log_kv(LOG_INFO, "session already terminated; nothing to run", "work", w->id, "session",
               w->data_id, NULL);
        omni_session_release(&s);
        return WK_END_CLEAN;
    }
    if (!cf->ex) {
        /* an egress allow-list: the sandbox starts only now, with the
         * session's own list (its metadata may narrow the worker's) */
        const char *names[WK_LIST_MAX + 1];
        char store[4096], refused[80];
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(s.json, "metadata"), WK_EGRESS_METADATA);
        const char *const *use = NULL;
        if (cJSON_IsString(md)) {
            int n = egress_narrow(cfg->egress_names, md->valuestring, store, sizeof(store), names,
                                  WK_LIST_MAX + 1, refused, sizeof(refused));
            if (refused[0])
                log_kv(LOG_WARN, "session asks for egress the worker does not allow; left out",
                       "session", w->data_id, "name", refused, NULL);
            log_kv(LOG_INFO, "session egress allow-list", "session", w->data_id, "names",
                   n ? md->valuestring : "(none)", NULL);
            use = names;
        }
        if (confine_start(cfg, w->data_id, use, cf, &err) < 0) {
            log_kv(LOG_ERROR, "cannot start the session's sandbox", "session", w->data_id, "error",
                   err.msg, NULL);
            omni_session_release(&s);
            return WK_END_FATAL;
        }
    }
    nmem = memory_stores(s.json);
    nskills = skills_count(s.json);
    if (nmem > 0 && !cfg->no_memory) {
        omni_session_release(&s);
        log_kv(LOG_ERROR,
               "session has memory_store resources, which this worker does not support; "
               "refusing it (run with --no-memory to serve it without memory)",
               "work", w->id, "session", w->data_id, NULL);
        ic->fatal = 1;
        return WK_END_FATAL;
    }
    if (nmem > 0)
        log_kv(LOG_WARN,
               "session has memory_store resources; running without memory "
               "(--no-memory)",
               "session", w->data_id, NULL);
    if (nmem > 0 && !ic->have_token)
        log_kv(LOG_WARN, "no sessions token for this item (memory would need one)", "session",
               w->data_id, NULL);
    /* skills: after the terminated check, before the runner (toolset.md §10);
     * no call of the session has run yet */
    if (nskills > 0 &&
        skills_install(cfg, ic->base_url, ic->cred, s.json, cf->dir, wk_hard_stop_flag()) >= 0)
        confine_give(cf, "skills"); /* made by us (root): the session's uid must read them */
    omni_session_release(&s);
    return runner_run(ic);
}

/* A session item in its sandbox, which starts first: its start (mostly the
 * kernel's namespace and cgroup set-up) overlaps the session lookup and the
 * runner's own start. */
static enum wk_end item_session(struct wk_item_ctx *ic)
{
    const struct wk_config *cfg = ic->cfg;
    const char *sid = ic->w->data_id;
    struct omni_err err = OMNI_ERR_INIT;
    struct confine cf;
    enum wk_end end;
    int64_t c0 = omni_mono_us();

    int rc = confine_open(cfg, sid, &cf, &err);
    if (rc < 0) {
        log_kv(LOG_ERROR, "cannot prepare the session's sandbox", "session", sid, "error", err.msg,
               NULL);
        /* busy: keep the directory (someone else's) and leave the item to
         * come back; otherwise the item fails */
        confine_close(&cf, rc == -2);
        return rc == -2 ? WK_END_ASSUMED_LOST : WK_END_FATAL;
    }
    ic->cf = &cf;
    char cus[32];
    snprintf(cus, sizeof cus, "%lld", (long long)(omni_mono_us() - c0));
    log_kv(LOG_DEBUG, "session directory, identity and cgroup ready", "session", sid, "setup_us",
           cus, NULL);
    /* (with an egress allow-list the session's own list is needed first:
     * item_session_run starts the sandbox after the lookup) */
    if (!cfg->egress_names[0] && confine_start(cfg, sid, NULL, &cf, &err) < 0) {
        log_kv(LOG_ERROR, "cannot start the session's sandbox", "session", sid, "error", err.msg,
               NULL);
        end = WK_END_FATAL;
    } else {
        end = item_session_run(ic);
    }
    /* A lost lease sends the item back to the queue with the session still
     * live: keep its files for whoever serves it next here. */
    int keep = cfg->keep_workdir;
    /* (omni-worker run serves one item: nobody would sweep a kept tmpfs) */
    if (!keep && !(cfg->single_item && cf.mounted) &&
        (wk_end_requeues(end) || wk_end_requeues(lease_end(ic->lease)))) {
        log_kv(LOG_INFO, "keeping the session directory: the item returns to the queue", "session",
               sid, NULL);
        keep = 1;
    }
    ic->cf = NULL;
    confine_close(&cf, keep);
    return end;
}

/* "scheme://host:port" of an http(s) URL, lower-cased, default port filled in. */
static int url_origin(const char *url, char *out, size_t outlen)
{
    const char *scheme, *port, *rest;
    if (strncasecmp(url, "https://", 8) == 0)
        scheme = "https", port = "443", rest = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        scheme = "http", port = "80", rest = url + 7;
    else
        return -1;
    size_t hp = strcspn(rest, "/?#"); /* host[:port] */
    if (hp == 0 || memchr(rest, '@', hp))
        return -1;
    size_t host = hp;
    if (rest[0] == '[') {
        const char *rb = memchr(rest, ']', hp);
        if (!rb)
            return -1;
        host = (size_t)(rb - rest) + 1;
    } else {
        host = strcspn(rest, ":/?#");
    }
    if (host < hp) {
        if (rest[host] != ':' || host + 1 == hp)
            return -1;
        port = rest + host + 1;
    }
    int n = snprintf(out, outlen, "%s://%.*s:%.*s", scheme, (int)host, rest,
                     host < hp ? (int)(hp - host - 1) : (int)strlen(port), port);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/*
 * The secret's api_base_url is followed only to the configured API's origin
 * (or one the operator allowed): the sessions token goes wherever it points.
 */
static int secret_url_allowed(const struct wk_config *cfg, const char *url)
{
    char want[512], got[512];
    if (url_origin(url, got, sizeof got) < 0)
        return 0;
    if (url_origin(cfg->base_url ? cfg->base_url : OMNI_DEFAULT_BASE_URL, want, sizeof want) == 0 &&
        strcmp(want, got) == 0)
        return 1;
    for (int i = 0; cfg->secret_url_allow[i]; i++)
        if (url_origin(cfg->secret_url_allow[i], want, sizeof want) == 0 && strcmp(want, got) == 0)
            return 1;
    return 0;
}

/* omni_worker_sessions_served_total's outcome for how a run ended. */
static enum wm_counter item_end_counter(enum wk_end end)
{
    switch (end) {
    case WK_END_CLEAN:
        return WM_SESS_COMPLETED;
    case WK_END_HB_STOP:
    case WK_END_SHUTDOWN:
    case WK_END_LEASE_STOPPED: /* stopped elsewhere, not taken */
        return WM_SESS_STOPPED;
    case WK_END_LEASE_LOST:
    case WK_END_ASSUMED_LOST:
        return WM_SESS_RELEASED;
    default:
        return WM_SESS_FAILED;
    }
}

enum item_outcome item_serve(const struct wk_config *cfg, const struct omni_work *w,
                             const char *env_key)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *token = NULL, *secret_base = NULL;
    struct wk_item_ctx ic = {0};
    struct omni_client *hb;
    enum wk_end end = WK_END_NONE;
    enum item_outcome out = ITEM_DONE;
    int64_t t0 = omni_mono_ms();
    char dur[32];

    ic.cfg = cfg;
    ic.w = w;
    ic.env_id = w->environment_id[0] ? w->environment_id : cfg->environment_id;
    ic.base_url = cfg->base_url;
    /* 1. the item credential: its sessions token; the environment key only
     * where the operator gave it to this process (omni-worker run) */
    if (w->secret && omni_secret_decode(w->secret, &token, &secret_base, &err) < 0) {
        log_kv(LOG_WARN, "work secret unusable", "work", w->id, "error", err.msg, NULL);
        token = secret_base = NULL;
    }
    if (token && secret_base && cfg->honour_secret_base_url) {
        if (secret_url_allowed(cfg, secret_base))
            ic.base_url = secret_base;
        else
            log_kv(LOG_WARN,
                   "ignoring the work secret's api_base_url: not the configured API's "
                   "origin (allow one with --secret-base-url-allow)",
                   "work", w->id, NULL);
    }
    ic.cred = token ? token : env_key;
    ic.have_token = token != NULL;
    if (!ic.cred) {
        log_kv(LOG_ERROR,
               "work item has no usable sessions token; not serving it (the "
               "environment key never leaves the poller)",
               "work", w->id, NULL);
        free(secret_base);
        return ITEM_NEEDS_STOP;
    }
    log_kv(LOG_INFO, "serving work", "work", w->id, "session", w->data_id, "type",
           w->data_type[0] ? w->data_type : "unknown", "credential",
           token ? "sessions token" : "environment key", NULL);

    /* 2. heartbeat at once */
    hb = wk_client_new(cfg, ic.base_url, ic.cred, 0, -1, &err);
    if (hb)
        ic.lease = lease_start(hb, ic.env_id, w->id, &ic.end_flag, &err);
    if (!ic.lease) {
        log_kv(LOG_ERROR, "cannot start the heartbeat", "work", w->id, "error", err.msg, NULL);
        end = WK_END_FATAL;
    } else if (strcmp(w->data_type, "session") != 0) {
        /* 3. non-session work: nothing to run */
        log_kv(LOG_INFO, "non-session work item; stopping it", "work", w->id, "type", w->data_type,
               NULL);
        end = WK_END_CLEAN;
    } else if (!omni_id_valid(w->data_id)) {
        log_kv(LOG_ERROR, "work item has no valid session id", "work", w->id, NULL);
        ic.fatal = 1;
        end = WK_END_FATAL;
    } else {
        end = item_session(&ic);
    }

    /* 10. teardown: stop the heartbeat, then stop or release */
    if (ic.lease) {
        lease_stop(ic.lease);
        enum wk_end le = lease_end(ic.lease);
        if (wk_end_is_release(le))
            end = le;
        else if (le != WK_END_NONE && end == WK_END_SHUTDOWN)
            end = le;
    }
    snprintf(dur, sizeof dur, "%lld", (long long)(omni_mono_ms() - t0));
    wm_inc(item_end_counter(end));
    if (wk_end_is_release(end)) {
        wm_inc(WM_ITEM_LEASE_LOST);
        log_kv(LOG_WARN,
               end == WK_END_LEASE_STOPPED
                   ? "lease ended: the item was stopped elsewhere; released without stopping it"
                   : "lease lost; item released without stopping it",
               "work", w->id, "reason", wk_end_name(end), "duration_ms", dur, NULL);
        out = ITEM_RELEASED;
    } else {
        log_kv(LOG_INFO, "session run ended", "work", w->id, "session", w->data_id, "reason",
               wk_end_name(end), "duration_ms", dur, NULL);
        if (end == WK_END_FATAL)
            out = ic.fatal ? ITEM_POISON : ITEM_FAILED;
        /* A rejected sessions token cannot stop its item either: the
         * environment key can, where this process has it; else the poller. */
        if (item_stop(cfg, ic.base_url, ic.cred, ic.env_id, w->id, 1) < 0) {
            if (token && env_key)
                item_stop(cfg, cfg->base_url, env_key, ic.env_id, w->id, 1);
            else if (token)
                out = ITEM_NEEDS_STOP;
        }
    }
    lease_free(ic.lease);
    omni_key_free(token);
    free(secret_base);
    return out;
}
