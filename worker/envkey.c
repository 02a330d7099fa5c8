/*
 * envkey — the environment key's intake rules (see envkey.h).
 */
#include "envkey.h"

#include "creds.h"
#include "log.h"

#include <stddef.h>

int wk_env_key_check(const char *key, struct omni_err *err)
{
    enum omni_key_kind kind;

    if (omni_key_check(key, "the environment key", err) < 0)
        return -1;
    kind = omni_key_classify(key);
    if (kind == OMNI_KEY_ORG)
        return omni_err_set(err, OMNI_E_CONFIG,
                            "refusing to run: the environment key given is an organisation API "
                            "key; use the environment's own key");
    if (kind != OMNI_KEY_ENV)
        log_warn("the environment key does not look like an environment key (%s); using it "
                 "anyway",
                 omni_key_kind_name(kind));
    return 0;
}

char *wk_env_key_read(const char *path, struct omni_err *err)
{
    char *k = omni_key_read_file(path, err);
    if (k && wk_env_key_check(k, err) < 0) {
        omni_key_free(k);
        return NULL;
    }
    return k;
}
