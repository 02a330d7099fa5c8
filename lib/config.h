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
 *     workspace_id = wrkspc_01...      # anthropic-workspace-id on every request
 *
 *     [profile staging]                # or simply [staging]
 *     base_url = http://127.0.0.1:8080
 *
 * Keys outside any section belong to "default". A profile inherits nothing
 * from default except what is not set in it (lookups fall back to
 * [default]). "[profile default]" is [default]; a section may appear several
 * times (its keys merge). Values may be quoted with double quotes (\" and \\
 * escapes inside); "~" and "~/..." expand to $HOME (an error when HOME is
 * unset). A bare value ends at a '#' or ';' that starts it or follows a
 * blank (an inline comment: "a#b" stays whole); lines starting with '#' or ';' are comments. CRLF
 * line ends and a leading UTF-8 BOM are accepted; other control characters are errors.
 *
 * Known keys (anything else is an error, so typos do not pass silently):
 *     base_url        http:// or https:// URL
 *     api_key_file    path of the organisation key file
 *     environment     default environment id
 *     timeout         duration (omni_duration_parse: 30s, 5m, 250ms, 30)
 *     ca_file         extra CA bundle
 *     log_format      text | json
 *     refresh         duration (console refresh interval)
 *     warn_depth crit_depth warn_age crit_age min_workers
 *                     stats thresholds, kept as text (monitoring-plugin ranges)
 *     output          default output format, kept as text
 *     env_key_file.<env_id>   path of that environment's key file
 *     workspace_id    the workspace every request is made in (the
 *                     anthropic-workspace-id header; omni_workspace_id_valid)
 *     worker_metrics.<env_id> metrics URLs of that environment's workers,
 *                     comma-separated (omni-console shows their slots)
 *     x-<anything>    reserved for local use, never checked
 * Values of known keys must not be empty. Key and section names are made of
 * letters, digits, '_', '-' and '.' (at most 128 bytes).
 *
 * A key given twice in one section: the last one wins.
 *
 * Errors name the file and line: "config ~/.config/omni/config:12: ..."; they
 * name the key but never echo a value. More than OMNI_CONFIG_MAX_BYTES of
 * text or OMNI_CONFIG_MAX_ENTRIES distinct entries is an error.
 */
#ifndef OMNI_CONFIG_H
#define OMNI_CONFIG_H

#include "err.h"

#include <stddef.h>

#define OMNI_CONFIG_MAX_BYTES (1024 * 1024)
#define OMNI_CONFIG_MAX_ENTRIES 4096

struct omni_config;

/* $OMNI_CONFIG if set and non-empty, else $XDG_CONFIG_HOME/omni/config, else
 * $HOME/.config/omni/config; NULL when none of them is set. malloc'd. */
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

/* Does the profile exist (as a section)? "default" (and NULL or "") always exists. */
int omni_config_has_profile(const struct omni_config *cfg, const char *profile);
/* Value of key in profile (NULL or "" = default), falling back to [default];
 * NULL if unset. "~/" already expanded. Valid until omni_config_free(). */
const char *omni_config_get(const struct omni_config *cfg, const char *profile, const char *key);
/* Path of the environment key file for env_id in profile (env_key_file.<id>). */
const char *omni_config_env_key_file(const struct omni_config *cfg, const char *profile,
                                     const char *env_id);

#endif
