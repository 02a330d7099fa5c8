/*
 * Every typed API response parser: the first byte picks the kind of body,
 * the rest is the body. A malformed body must give an error, never a crash,
 * a leak or undefined behaviour.
 */
#include "api.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct omni_err err = OMNI_ERR_INIT;

    if (size < 1)
        return 0;
    enum omni_body_kind kind = (enum omni_body_kind)(data[0] % OMNI_BODY_KIND_COUNT);
    omni_api_parse_body(kind, (const char *)data + 1, size - 1, &err);
    return 0;
}
