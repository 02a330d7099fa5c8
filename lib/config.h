/*
 * config — INI configuration with profiles.
 *
 * File: $XDG_CONFIG_HOME/omni/config (default ~/.config/omni/config), or the
 * path in $OMNI_CONFIG. Format:
 *
 *     # comment            ; comment
 *     [default]
 *     base_url = https://api.anthropic.com
 *     api_key_file = ~/.config/omni/org.key
 *     environment = env_01...          # default environment for commands
 *     timeout = 30s
 *     ca_file = /etc/ssl/private-ca.pem
 *     env_key_file.env_01ABC = ~/.config/omni/env_01ABC.key
 *
 *     [profile staging]                # or simply [staging]
 *     base_url = http://127.0.0.1:8080
 *
 * Keys outside any section belong to "default". A profile inherits nothing
 * from default except what is not set in it (lookups fall back to
 * [default]). Values may be quoted with double quotes; "~/" expands to $HOME.
 * Errors name the file and line: "config ~/.config/omni/config:12: ...".
 * Unknown keys are errors (typos must not pass silently), except keys of the
 * form "x-..." reserved for local use.
 */
#ifndef OMNI_CONFIG_H
#define OMNI_CONFIG_H

#include "err.h"

#define OMNI_CONFIG_MAX_BYTES (1024 * 1024)
#define OMNI_CONFIG_MAX_ENTRIES 4096

struct omni_config;

/* Default path, or NULL when neither XDG_CONFIG_HOME nor HOME is set. malloc'd. */
char *omni_config_default_path(void);

/*
 * Load and parse a file. A missing file is not an error when `optional` is
 * set (an empty config is returned). Returns NULL with err on failure.
 */
struct omni_config *omni_config_load(const char *path, int optional, struct omni_err *err);
/* Parse from memory; `name` is used in error messages. */
struct omni_config *omni_config_parse(const char *text, size_t len, const char *name,
                                      struct omni_err *err);
void omni_config_free(struct omni_config *cfg);

/* Does the profile exist (as a section)? "default" always exists. */
int omni_config_has_profile(const struct omni_config *cfg, const char *profile);
/* Value of key in profile, falling back to [default]; NULL if unset. "~/" expanded. */
const char *omni_config_get(const struct omni_config *cfg, const char *profile, const char *key);
/* Path of the environment key file for env_id in profile (env_key_file.<id>). */
const char *omni_config_env_key_file(const struct omni_config *cfg, const char *profile,
                                     const char *env_id);

#endif
