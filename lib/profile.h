/*
 * profile — how the ops-machine programs (omnictl, omni-console) find their
 * settings and keys, written once so both always agree.
 *
 *   profile   --profile, else $OMNI_PROFILE, else "default"; it must exist
 *             in the config unless it is "default";
 *   base URL  --base-url, else $ANTHROPIC_BASE_URL, else the profile's
 *             base_url, else OMNI_DEFAULT_BASE_URL;
 *   workspace --workspace, else $ANTHROPIC_WORKSPACE_ID, else the profile's
 *             workspace_id, else none (omni_workspace_pick); sent as the
 *             anthropic-workspace-id header by every client made from it;
 *   timeout   --timeout, else the profile's timeout (a duration; a bad one is
 *             a config error), else the program's default;
 *   org key   $ANTHROPIC_API_KEY, else the profile's api_key_file (mode 600);
 *             an environment or session key is refused;
 *   env key   the profile's env_key_file.<environment id> (mode 600); an
 *             organisation or session key is refused.
 *
 * Caller contract: fill struct omni_profile_args (NULL/0 = not given) and call
 * omni_profile_load() once; the struct omni_profile is then read-only and may
 * be shared by threads until omni_profile_release(). Keys returned are
 * malloc'd: free them with omni_key_free() as soon as a client holds them.
 * Errors are OMNI_E_CONFIG (OMNI_E_USAGE for a bad flag), one line naming the
 * file, key or variable to fix, never a key.
 */
#ifndef OMNI_PROFILE_H
#define OMNI_PROFILE_H

#include "config.h"
#include "err.h"
#include "http.h"

#define OMNI_PROFILE_NAME_MAX 128

struct omni_profile_args {
    const char *prog;        /* "omnictl": names the program in messages */
    const char *profile;     /* --profile */
    const char *base_url;    /* --base-url */
    const char *workspace;   /* --workspace */
    long timeout_ms;         /* --timeout (> 0) */
    long default_timeout_ms; /* when neither flag nor config sets one */
};

struct omni_profile {
    const char *prog;
    char *name;              /* the resolved profile */
    struct omni_config *cfg; /* never NULL once loaded (empty without a file) */
    char *cfg_path;          /* NULL when no config location is known */
    const char *base_url;    /* points into the args, the environment, cfg or a constant */
    long timeout_ms;
    const char *workspace_id; /* NULL: none; points into the args, the environment or cfg */
};

int omni_profile_load(struct omni_profile *p, const struct omni_profile_args *a,
                      struct omni_err *err);
void omni_profile_release(struct omni_profile *p);

/* The profile's value for key (falling back to [default]), or NULL. */
const char *omni_profile_get(const struct omni_profile *p, const char *key);
/* Where the config is, for messages ("~/.config/omni/config" when unknown). */
const char *omni_profile_path(const struct omni_profile *p);

char *omni_profile_org_key(const struct omni_profile *p, struct omni_err *err);
/* The key file path for env_id, or NULL when the profile has none. */
const char *omni_profile_env_key_file(const struct omni_profile *p, const char *env_id);
char *omni_profile_env_key(const struct omni_profile *p, const char *env_id, struct omni_err *err);

/* Client options from the profile: base URL, timeouts, CA file, credential.
 * The caller may then set user_agent, retries, abort and debug. */
void omni_profile_client_opts(const struct omni_profile *p, enum omni_auth auth, const char *key,
                              struct omni_client_opts *o);

#endif
