#include "profile.h"

#include "creds.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

#define PROFILE_TIMEOUT_MAX_MS 86400000L

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int omni_profile_load(struct omni_profile *p, const struct omni_profile_args *a,
                      struct omni_err *err)
{
    const char *name = nonempty(a->profile) ? a->profile : nonempty(getenv("OMNI_PROFILE"));
    const char *t;
    int64_t ms;

    memset(p, 0, sizeof *p);
    p->prog = a->prog ? a->prog : "omni";
    if (!name)
        name = "default";
    if (strlen(name) > OMNI_PROFILE_NAME_MAX)
        return omni_err_set(err, a->profile ? OMNI_E_USAGE : OMNI_E_CONFIG,
                            "profile name is longer than %d bytes", OMNI_PROFILE_NAME_MAX);
    p->name = strdup(name);
    if (!p->name)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    p->cfg_path = omni_config_default_path();
    p->cfg = p->cfg_path ? omni_config_load(p->cfg_path, 1, err)
                         : omni_config_parse("", 0, "(none)", err);
    if (!p->cfg)
        goto fail;
    if (!omni_config_has_profile(p->cfg, p->name)) {
        omni_err_set(err, OMNI_E_CONFIG, "profile \"%.64s\" not found in %s", p->name,
                     p->cfg_path ? p->cfg_path : "the configuration (no config file)");
        goto fail;
    }
    p->base_url = nonempty(a->base_url);
    if (!p->base_url)
        p->base_url = nonempty(getenv("ANTHROPIC_BASE_URL"));
    if (!p->base_url)
        p->base_url = nonempty(omni_profile_get(p, "base_url"));
    if (!p->base_url)
        p->base_url = OMNI_DEFAULT_BASE_URL;
    if (omni_workspace_pick(a->workspace, omni_profile_get(p, "workspace_id"), &p->workspace_id,
                            err) < 0)
        goto fail;
    p->timeout_ms = a->default_timeout_ms > 0 ? a->default_timeout_ms : OMNI_DEFAULT_TIMEOUT_MS;
    if (a->timeout_ms > 0) {
        p->timeout_ms = a->timeout_ms;
    } else if ((t = omni_profile_get(p, "timeout")) != NULL) {
        if (omni_duration_parse(t, &ms) < 0 || ms <= 0 || ms > PROFILE_TIMEOUT_MAX_MS) {
            omni_err_set(err, OMNI_E_CONFIG,
                         "config key \"timeout\" (\"%.40s\") is not a duration of 1 ms to 24 h", t);
            goto fail;
        }
        p->timeout_ms = (long)ms;
    }
    return 0;
fail:
    omni_profile_release(p);
    return -1;
}

void omni_profile_release(struct omni_profile *p)
{
    omni_config_free(p->cfg);
    free(p->cfg_path);
    free(p->name);
    memset(p, 0, sizeof *p);
}

const char *omni_profile_get(const struct omni_profile *p, const char *key)
{
    return p->cfg ? omni_config_get(p->cfg, p->name, key) : NULL;
}

const char *omni_profile_path(const struct omni_profile *p)
{
    return p->cfg_path ? p->cfg_path : "~/.config/omni/config";
}

char *omni_profile_org_key(const struct omni_profile *p, struct omni_err *err)
{
    const char *env_key = getenv("ANTHROPIC_API_KEY"), *file, *from;
    enum omni_key_kind kind;
    char *key;

    if (env_key && *env_key) {
        from = "ANTHROPIC_API_KEY";
        if (omni_key_check(env_key, from, err) < 0)
            return NULL;
        key = strdup(env_key);
        if (!key) {
            omni_err_set(err, OMNI_E_IO, "out of memory");
            return NULL;
        }
    } else {
        file = omni_profile_get(p, "api_key_file");
        if (!file) {
            omni_err_set(err, OMNI_E_CONFIG,
                         "no organisation API key: set ANTHROPIC_API_KEY or add "
                         "\"api_key_file = PATH\" to [%s] in %s",
                         p->name, omni_profile_path(p));
            return NULL;
        }
        from = "api_key_file";
        key = omni_key_read_file(file, err);
        if (!key)
            return NULL;
    }
    kind = omni_key_classify(key);
    if (kind == OMNI_KEY_ENV || kind == OMNI_KEY_SESSION) {
        omni_key_free(key);
        omni_err_set(err, OMNI_E_CONFIG,
                     "%s holds an %s, not an organisation API key: %s runs on the ops machine "
                     "with the organisation key; environment keys belong on the worker host",
                     from, omni_key_kind_name(kind), p->prog);
        return NULL;
    }
    return key;
}

const char *omni_profile_env_key_file(const struct omni_profile *p, const char *env_id)
{
    return p->cfg ? omni_config_env_key_file(p->cfg, p->name, env_id) : NULL;
}

char *omni_profile_env_key(const struct omni_profile *p, const char *env_id, struct omni_err *err)
{
    const char *file = omni_profile_env_key_file(p, env_id);
    enum omni_key_kind kind;
    char *key;

    if (!file) {
        omni_err_set(err, OMNI_E_CONFIG,
                     "no environment key for \"%s\": add \"env_key_file.%s = PATH\" to [%s] in "
                     "%s (key file mode 600)",
                     env_id, env_id, p->name, omni_profile_path(p));
        return NULL;
    }
    key = omni_key_read_file(file, err);
    if (!key)
        return NULL;
    kind = omni_key_classify(key);
    if (kind == OMNI_KEY_ORG || kind == OMNI_KEY_SESSION) {
        omni_key_free(key);
        omni_err_set(err, OMNI_E_CONFIG, "key file \"%s\" holds an %s, not an environment key",
                     file, omni_key_kind_name(kind));
        return NULL;
    }
    return key;
}

void omni_profile_client_opts(const struct omni_profile *p, enum omni_auth auth, const char *key,
                              struct omni_client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->base_url = p->base_url;
    o->auth = auth;
    o->credential = key;
    o->timeout_ms = p->timeout_ms;
    o->connect_timeout_ms = p->timeout_ms < OMNI_DEFAULT_CONNECT_TIMEOUT_MS
                                ? p->timeout_ms
                                : OMNI_DEFAULT_CONNECT_TIMEOUT_MS;
    o->ca_file = omni_profile_get(p, "ca_file");
    o->workspace_id = p->workspace_id;
}
