/*
 * Fuzz the work-secret decoder and the base64 codec. Checks: a decoded token
 * is a valid key and never appears in an error; encode/decode round-trips.
 */
#include "creds.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every error the decoder may give: fixed texts, so nothing of the input leaks. */
static const char *const known_msgs[] = {
    "work secret is empty",
    "work secret is not valid base64",
    "work secret does not decode to JSON",
    "work secret is not a JSON object",
    "work secret has no \"sessions_token\"",
    "work secret \"sessions_token\" is not a string",
    "work secret \"sessions_token\" is empty",
    "work secret \"sessions_token\" is longer than 4096 bytes",
    "work secret \"sessions_token\" contains whitespace or control characters",
    "work secret is longer than 65536 bytes",
};

static void check_failure(const struct omni_err *err, const char *tok, const char *url)
{
    size_t i;

    if (tok || url || err->kind != OMNI_E_PARSE)
        abort();
    for (i = 0; i < sizeof known_msgs / sizeof known_msgs[0]; i++)
        if (strcmp(err->msg, known_msgs[i]) == 0)
            return;
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct omni_err err = OMNI_ERR_INIT;
    char *s = malloc(size + 1), *tok = NULL, *url = NULL, *enc;
    unsigned char *dec;
    size_t n;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    /* the input as a wire secret */
    if (omni_secret_decode(s, &tok, &url, &err) == 0) {
        struct omni_err e2 = OMNI_ERR_INIT;
        if (!tok || omni_key_check(tok, "token", &e2) != 0)
            abort();
        if (url && !*url)
            abort();
    } else {
        check_failure(&err, tok, url);
    }
    omni_key_free(tok);
    free(url);

    /* the input as JSON, wrapped into a wire secret */
    enc = omni_base64url_encode(data, size);
    if (!enc)
        abort();
    tok = url = NULL;
    omni_err_clear(&err);
    if (omni_secret_decode(enc, &tok, &url, &err) == 0) {
        if (!tok || !*tok)
            abort();
    } else {
        check_failure(&err, tok, url);
    }
    omni_key_free(tok);
    free(url);

    /* round trip */
    dec = omni_base64_decode(enc, &n);
    if (!dec || n != size || memcmp(dec, data, size) != 0)
        abort();
    free(dec);
    free(enc);

    /* decode of arbitrary text: output length consistent */
    dec = omni_base64_decode(s, &n);
    if (dec) {
        if (n > strlen(s) * 3 / 4 + 1 || dec[n] != 0)
            abort();
        free(dec);
    }
    free(s);
    return 0;
}
