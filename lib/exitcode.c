#include "exitcode.h"

int omni_exit_code(const struct omni_err *err)
{
    switch (err->kind) {
    case OMNI_E_NONE:
        return OMNI_EXIT_OK;
    case OMNI_E_USAGE:
        return OMNI_EXIT_USAGE;
    case OMNI_E_CONFIG:
        return OMNI_EXIT_CONFIG;
    case OMNI_E_HTTP:
        if (err->status == 401 || err->status == 403)
            return OMNI_EXIT_CONFIG;
        if (err->status == 404)
            return OMNI_EXIT_NOTFOUND;
        return OMNI_EXIT_FAIL;
    default:
        return OMNI_EXIT_FAIL;
    }
}
