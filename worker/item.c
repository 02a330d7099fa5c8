/*
 * item — the per-item flow of protocol.md §9.3, teardown included.
 */
#include "worker.h"

#include "creds.h"
#include "toolset.h"

#include "log.h"
#include "timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


const char *wk_end_name(enum wk_end e)
{
    switch (e) {
    case WK_END_NONE: return "none";
    case WK_END_CLEAN: return "clean";
    case WK_END_HB_STOP: return "heartbeat_stop";
    case WK_END_LEASE_LOST: return "lease_lost";
    case WK_END_ASSUMED_LOST: return "lease_assumed_lost";
    case WK_END_REJECTED: return "heartbeat_rejected";
    case WK_END_FATAL: return "fatal";
    case WK_END_SHUTDOWN: return "shutdown";
    }
    return "unknown";
}

int wk_end_is_release(enum wk_end e)
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
        log_kv(LOG_ERROR, force ? "force-stop failed" : "stop failed", "work", work_id, "error",
               err.msg, NULL);
        return -1;
    }
    log_kv(LOG_INFO, force ? "work stopped (force)" : "work stopped", "work", work_id,
           already ? "note" : NULL, "already stopped", NULL);
    return 0;
}

static int workdir_make(const struct wk_config *cfg, const char *session_id, char *out,
                        size_t outlen)
{
    if (mkdir(cfg->workdir, 0700) < 0 && errno != EEXIST) {
        log_error("cannot create workdir \"%s\": %s", cfg->workdir, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(out, outlen, "%s/%s", cfg->workdir, session_id) >= outlen) {
        log_error("workdir path for session \"%s\" is too long", session_id);
        return -1;
    }
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        log_error("cannot create session directory \"%s\": %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

static void workdir_remove(const char *path)
{
    wk_rm_tree_at(AT_FDCWD, path, 0);
}

/* Number of memory_store resources of a session. */
static int memory_stores(const cJSON *session)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(session, "resources"), *it;
    int n = 0;
    cJSON_ArrayForEach(it, res)
    {
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

/* Steps 4-9 for a session item; returns how the run ended. */
static enum wk_end item_session(const struct wk_config *cfg, const struct omni_work *w,
                                const char *base_url, const char *cred, int have_token,
                                struct lease *lease, volatile int *end_flag, int *fatal)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c;
    struct omni_session s;
    char dir[4096];
    enum wk_end end;
    int nmem, nskills;

    c = wk_client_new(cfg, base_url, cred, WK_CALL_TIMEOUT_MS, 0, &err);
    if (!c || omni_session_get(c, w->data_id, &s, &err) < 0) {
        omni_client_free(c);
        log_kv(LOG_ERROR, "cannot retrieve the session", "work", w->id, "session", w->data_id,
               "error", err.msg, NULL);
        *fatal = omni_err_is_fatal(&err);
        /* transient (5xx/429/network after retries): release, do not stop,
         * so the item is delivered again when its lease expires */
        return *fatal ? WK_END_FATAL : WK_END_ASSUMED_LOST;
    }
    omni_client_free(c);
    if (strcmp(s.status, "terminated") == 0) {
        log_kv(LOG_INFO, "session already terminated; nothing to run", "work", w->id, "session",
               w->data_id, NULL);
        omni_session_release(&s);
        return WK_END_CLEAN;
    }
    nmem = memory_stores(s.json);
    nskills = skills_count(s.json);
    if (nmem > 0 && !cfg->no_memory) {
        omni_session_release(&s);
        log_kv(LOG_ERROR,
               "session has memory_store resources, which this worker does not support; "
               "refusing it (run with --no-memory to serve it without memory)",
               "work", w->id, "session", w->data_id, NULL);
        *fatal = 1;
        return WK_END_FATAL;
    }
    if (nmem > 0)
        log_kv(LOG_WARN, "session has memory_store resources; running without memory "
                         "(--no-memory)",
               "session", w->data_id, NULL);
    if (nmem > 0 && !have_token)
        log_kv(LOG_WARN, "no sessions token for this item (memory would need one)", "session",
               w->data_id, NULL);
    if (workdir_make(cfg, w->data_id, dir, sizeof dir) < 0) {
        omni_session_release(&s);
        return WK_END_FATAL;
    }
    /* skills: after the terminated check, before the runner (toolset.md §10) */
    if (nskills > 0)
        skills_install(cfg, base_url, cred, s.json, dir, &wk_abort_now);
    omni_session_release(&s);

    struct toolset_opts to = {0};
    struct toolset *ts;
    to.workdir = dir;
    to.allowed_roots = cfg->allowed_roots[0] ? cfg->allowed_roots : NULL;
    to.readonly_roots = cfg->readonly_roots[0] ? cfg->readonly_roots : NULL;
    to.pass_env = cfg->pass_env;
    to.bash_default_timeout_ms = cfg->bash_default_timeout_ms;
    to.bash_max_timeout_ms = cfg->bash_max_timeout_ms;
    to.tool_timeout_ms = cfg->tool_timeout_ms;
    to.max_file_bytes = cfg->max_file_bytes;
    ts = toolset_new(&to, &err);
    if (!ts) {
        log_kv(LOG_ERROR, "cannot set up the toolset", "session", w->data_id, "error", err.msg,
               NULL);
        end = WK_END_FATAL;
    } else {
        struct runner_opts ro = {0};
        ro.cfg = cfg;
        ro.base_url = base_url;
        ro.cred = cred;
        ro.session_id = w->data_id;
        ro.tools = ts;
        ro.lease = lease;
        ro.end_flag = end_flag;
        end = runner_run(&ro);
        toolset_free(ts);
    }
    /* A lost lease sends the item back to the queue with the session still
     * live: keep its files for whoever serves it next here. */
    if (!cfg->keep_workdir) {
        if (wk_end_is_release(end) || wk_end_is_release(lease_end(lease)))
            log_kv(LOG_INFO, "keeping the session directory: the item returns to the queue",
                   "session", w->data_id, NULL);
        else
            workdir_remove(dir);
    }
    return end;
}

int item_serve(const struct wk_config *cfg, const struct omni_work *w, const char *env_key,
               int *fatal)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *token = NULL, *secret_base = NULL;
    const char *cred, *base_url = cfg->base_url;
    struct omni_client *hb;
    struct lease *lease = NULL;
    volatile int end_flag = 0;
    enum wk_end end = WK_END_NONE;
    const char *env_id = w->environment_id[0] ? w->environment_id : cfg->environment_id;
    int64_t t0 = omni_mono_ms();
    char dur[32];

    *fatal = 0;
    /* 1. the item credential */
    if (w->secret) {
        if (omni_secret_decode(w->secret, &token, &secret_base, &err) < 0) {
            log_kv(LOG_WARN, "work secret unusable; falling back to the environment key", "work",
                   w->id, "error", err.msg, NULL);
            token = secret_base = NULL;
        }
    }
    if (token && secret_base && cfg->honour_secret_base_url)
        base_url = secret_base;
    cred = token ? token : env_key;
    if (!cred) {
        log_kv(LOG_ERROR, "no credential for this item (no sessions token, no environment key)",
               "work", w->id, NULL);
        free(secret_base);
        return -1;
    }
    log_kv(LOG_INFO, "serving work", "work", w->id, "session", w->data_id, "type",
           w->data_type[0] ? w->data_type : "unknown", "credential",
           token ? "sessions token" : "environment key", NULL);

    /* 2. heartbeat at once */
    hb = wk_client_new(cfg, base_url, cred, 0, -1, &err);
    if (hb)
        lease = lease_start(hb, env_id, w->id, &end_flag, &err);
    if (!lease) {
        log_kv(LOG_ERROR, "cannot start the heartbeat", "work", w->id, "error", err.msg, NULL);
        end = WK_END_FATAL;
    } else if (strcmp(w->data_type, "session") != 0) {
        /* 3. non-session work: nothing to run */
        log_kv(LOG_INFO, "non-session work item; stopping it", "work", w->id, "type",
               w->data_type, NULL);
        end = WK_END_CLEAN;
    } else if (!omni_id_valid(w->data_id)) {
        log_kv(LOG_ERROR, "work item has no valid session id", "work", w->id, NULL);
        *fatal = 1;
        end = WK_END_FATAL;
    } else {
        end = item_session(cfg, w, base_url, cred, token != NULL, lease, &end_flag, fatal);
    }

    /* 10. teardown: stop the heartbeat, then stop or release */
    if (lease) {
        lease_stop(lease);
        enum wk_end le = lease_end(lease);
        if (wk_end_is_release(le))
            end = le;
        else if (le != WK_END_NONE && end == WK_END_SHUTDOWN)
            end = le;
    }
    snprintf(dur, sizeof dur, "%lld", (long long)(omni_mono_ms() - t0));
    if (wk_end_is_release(end)) {
        log_kv(LOG_WARN, "lease lost; item released without stopping it", "work", w->id,
               "reason", wk_end_name(end), "duration_ms", dur, NULL);
    } else {
        log_kv(LOG_INFO, "session run ended", "work", w->id, "session", w->data_id, "reason",
               wk_end_name(end), "duration_ms", dur, NULL);
        /* A rejected sessions token cannot stop its item either: fall back
         * to the environment key when we have one. */
        if (item_stop(cfg, base_url, cred, env_id, w->id, 1) < 0 && token && env_key)
            item_stop(cfg, cfg->base_url, env_key, env_id, w->id, 1);
    }
    lease_free(lease);
    omni_key_free(token);
    free(secret_base);
    return end == WK_END_FATAL ? -1 : 0;
}
