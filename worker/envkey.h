/*
 * envkey — the environment key's intake rules, shared by start-up (main.c)
 * and the poller's re-read on SIGHUP or after a 401 (poller.c): a key file
 * must be private (0600/0400, a regular file), the value must be usable in a
 * header, and an organisation API key is refused. The value is never logged.
 *
 * Caller contract: free a returned key with omni_key_free().
 */
#ifndef OMNI_WK_ENVKEY_H
#define OMNI_WK_ENVKEY_H

#include "err.h"

/* Check a key (from a file or ANTHROPIC_ENVIRONMENT_KEY): 0, or -1 with err
 * (OMNI_E_CONFIG). A key that is not recognisably an environment key is
 * accepted with a warning. */
int wk_env_key_check(const char *key, struct omni_err *err);
/* Read and check the key file: the key, or NULL with err (OMNI_E_CONFIG). */
char *wk_env_key_read(const char *path, struct omni_err *err);

#endif
