/*
 * Fuzz the API error-envelope parser (lib/http.c). Checks: every field stays
 * NUL-terminated inside its slot; the body is read only up to its length.
 */
#include "err.h"
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct omni_err e = OMNI_ERR_INIT;
    /* an exact-size copy so ASan sees any read past the end */
    char *body = malloc(size ? size : 1);

    if (!body)
        return 0;
    memcpy(body, data, size);
    omni_parse_error_body(body, size, &e);
    if (strnlen(e.type, sizeof e.type) == sizeof e.type ||
        strnlen(e.code, sizeof e.code) == sizeof e.code ||
        strnlen(e.request_id, sizeof e.request_id) == sizeof e.request_id ||
        strnlen(e.msg, sizeof e.msg) == sizeof e.msg)
        abort();
    /* a request id set beforehand is kept */
    omni_err_clear(&e);
    memcpy(e.request_id, "req_keep", 9);
    omni_parse_error_body(body, size, &e);
    if (strcmp(e.request_id, "req_keep") != 0)
        abort();
    free(body);
    return 0;
}
