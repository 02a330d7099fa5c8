/*
 * Fuzz the INI config parser. Checks: errors name the file and a line;
 * accepted configs answer lookups consistently.
 */
#include "config.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"base_url",   "api_key_file",   "environment", "timeout",
                                       "log_format", "env_key_file.e", "x-a",         "nope"};
    static const char *const profiles[] = {NULL, "default", "a", "p", "staging", "profile"};
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_config *cfg;

    setenv("HOME", "/home/fuzz", 0);
    cfg = omni_config_parse((const char *)data, size, "fuzz.conf", &err);
    if (!cfg) {
        if (err.kind == OMNI_E_NONE || strncmp(err.msg, "config fuzz.conf:", 17) != 0)
            abort();
        return 0;
    }
    for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const char *v = omni_config_get(cfg, profiles[p], keys[k]);
            const char *d = omni_config_get(cfg, NULL, keys[k]);
            if (v && strlen(v) > size + strlen("/home/fuzz"))
                abort();
            /* no value in the profile's own section: falls back to default */
            if (!omni_config_has_profile(cfg, profiles[p]) && (v != d))
                abort();
        }
        (void)omni_config_env_key_file(cfg, profiles[p], "e");
    }
    if (omni_config_get(cfg, NULL, "nope"))
        abort();
    omni_config_free(cfg);
    return 0;
}
