#include "creds.h"
#include "file.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *prefix;
    enum omni_key_kind kind;
} key_prefixes[] = {
    {"sk-ant-api", OMNI_KEY_ORG},
    {"sk-ant-oat", OMNI_KEY_ENV},
    {"sk-ant-req", OMNI_KEY_SESSION},
};

enum omni_key_kind omni_key_classify(const char *key)
{
    if (!key)
        return OMNI_KEY_UNKNOWN;
    for (size_t i = 0; i < sizeof key_prefixes / sizeof key_prefixes[0]; i++)
        if (strncmp(key, key_prefixes[i].prefix, strlen(key_prefixes[i].prefix)) == 0)
            return key_prefixes[i].kind;
    return OMNI_KEY_UNKNOWN;
}

const char *omni_key_kind_name(enum omni_key_kind k)
{
    switch (k) {
    case OMNI_KEY_ORG:
        return "organisation API key";
    case OMNI_KEY_ENV:
        return "environment key";
    case OMNI_KEY_SESSION:
        return "sessions token";
    case OMNI_KEY_UNKNOWN:
        break;
    }
    return "unknown key";
}

/* Bytes allowed inside a key: printable ASCII without space, or any byte >= 0x80. */
static int key_byte_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static int key_bytes_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!key_byte_ok((unsigned char)s[i]))
            return 0;
    return 1;
}

static void wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}

void omni_key_free(char *key)
{
    if (key) {
        wipe(key, strlen(key));
        free(key);
    }
}

int omni_key_check(const char *key, const char *what, struct omni_err *err)
{
    size_t n;

    if (!what)
        what = "key";
    if (!key || !*key)
        return omni_err_set(err, OMNI_E_CONFIG, "%s is empty", what);
    n = strnlen(key, OMNI_KEY_MAX + 1);
    if (n > OMNI_KEY_MAX)
        return omni_err_set(err, OMNI_E_CONFIG, "%s is longer than %d bytes", what, OMNI_KEY_MAX);
    if (!key_bytes_ok(key, n))
        return omni_err_set(err, OMNI_E_CONFIG, "%s contains whitespace or control characters",
                            what);
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

char *omni_key_read_file(const char *path, struct omni_err *err)
{
    size_t len = 0, start, end;
    char *raw, *key = NULL;

    raw = omni_file_read(path, "key file", OMNI_KEY_MAX, OMNI_FILE_PRIVATE, &len, err);
    if (!raw)
        return NULL;
    /* First line, surrounding whitespace trimmed. */
    end = 0;
    while (end < len && raw[end] != '\n')
        end++;
    start = 0;
    while (start < end && is_space(raw[start]))
        start++;
    while (end > start && is_space(raw[end - 1]))
        end--;
    if (end == start) {
        omni_err_set(err, OMNI_E_CONFIG, "key file \"%s\" is empty", path);
        goto out;
    }
    if (!key_bytes_ok(raw + start, end - start)) {
        omni_err_set(err, OMNI_E_CONFIG,
                     "key file \"%s\" holds whitespace or control characters inside the key", path);
        goto out;
    }
    key = malloc(end - start + 1);
    if (!key) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        goto out;
    }
    memcpy(key, raw + start, end - start);
    key[end - start] = '\0';
out:
    omni_file_wipe(raw, len);
    return key;
}

/* ---- base64 ------------------------------------------------------------ */

/* alpha: the 64 digits; pad: '=' to a multiple of four. */
static char *b64_encode(const unsigned char *data, size_t len, const char *alpha, int pad)
{
    size_t n, o = 0;
    char *out;

    if (len > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    n = (len + 2) / 3 * 4;
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        size_t rem = len - i;
        if (rem > 1)
            v |= (uint32_t)data[i + 1] << 8;
        if (rem > 2)
            v |= data[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (rem > 1)
            out[o++] = alpha[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (rem > 2)
            out[o++] = alpha[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *omni_base64url_encode(const unsigned char *data, size_t len)
{
    return b64_encode(data, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                      0);
}

char *omni_base64_encode(const unsigned char *data, size_t len)
{
    return b64_encode(data, len, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                      1);
}

/* Value of a base64 digit in either alphabet, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

unsigned char *omni_base64_decode(const char *s, size_t *outlen)
{
    size_t len = strlen(s), digits = len, pad = 0, o = 0;
    uint32_t acc = 0;
    int nacc = 0;
    unsigned char *out;

    while (digits > 0 && s[digits - 1] == '=') {
        digits--;
        pad++;
    }
    /* At most two '=', and only to complete a group of four. */
    if (pad > 2 || digits % 4 == 1 || (pad && (digits + pad) % 4 != 0))
        return NULL;
    out = malloc(digits / 4 * 3 + 3);
    if (!out)
        return NULL;
    for (size_t i = 0; i < digits; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            wipe(out, o);
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (++nacc == 4) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
            nacc = 0;
        }
    }
    if (nacc == 2) {
        out[o++] = (unsigned char)(acc >> 4);
    } else if (nacc == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

/* ---- work-item secret --------------------------------------------------- */

/* Overwrite every string of a parsed tree before it is freed. */
static void json_wipe(cJSON *j)
{
    for (; j; j = j->next) {
        if (j->valuestring)
            wipe(j->valuestring, strlen(j->valuestring));
        if (j->string)
            wipe(j->string, strlen(j->string));
        json_wipe(j->child);
    }
}

int omni_secret_decode(const char *wire, char **sessions_token, char **api_base_url,
                       struct omni_err *err)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0, wlen;
    cJSON *root = NULL, *tok, *url;
    int ret = -1;

    *sessions_token = NULL;
    if (api_base_url)
        *api_base_url = NULL;
    if (!wire || !*wire)
        return omni_err_set(err, OMNI_E_PARSE, "work secret is empty");
    wlen = strnlen(wire, OMNI_SECRET_MAX + 1);
    if (wlen > OMNI_SECRET_MAX)
        return omni_err_set(err, OMNI_E_PARSE, "work secret is longer than %d bytes",
                            OMNI_SECRET_MAX);
    raw = omni_base64_decode(wire, &rawlen);
    if (!raw)
        return omni_err_set(err, OMNI_E_PARSE, "work secret is not valid base64");
    root = cJSON_ParseWithLength((const char *)raw, rawlen);
    if (!root) {
        omni_err_set(err, OMNI_E_PARSE, "work secret does not decode to JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        omni_err_set(err, OMNI_E_PARSE, "work secret is not a JSON object");
        goto out;
    }
    tok = cJSON_GetObjectItemCaseSensitive(root, "sessions_token");
    if (!tok) {
        omni_err_set(err, OMNI_E_PARSE, "work secret has no \"sessions_token\"");
        goto out;
    }
    if (!cJSON_IsString(tok) || !tok->valuestring) {
        omni_err_set(err, OMNI_E_PARSE, "work secret \"sessions_token\" is not a string");
        goto out;
    }
    if (!tok->valuestring[0]) {
        omni_err_set(err, OMNI_E_PARSE, "work secret \"sessions_token\" is empty");
        goto out;
    }
    if (omni_key_check(tok->valuestring, "work secret \"sessions_token\"", err) < 0) {
        err->kind = OMNI_E_PARSE;
        goto out;
    }
    *sessions_token = strdup(tok->valuestring);
    if (!*sessions_token) {
        omni_err_set(err, OMNI_E_IO, "out of memory");
        goto out;
    }
    url = cJSON_GetObjectItemCaseSensitive(root, "api_base_url");
    if (api_base_url && cJSON_IsString(url) && url->valuestring && url->valuestring[0]) {
        *api_base_url = strdup(url->valuestring);
        if (!*api_base_url) {
            omni_key_free(*sessions_token);
            *sessions_token = NULL;
            omni_err_set(err, OMNI_E_IO, "out of memory");
            goto out;
        }
    }
    ret = 0;
out:
    if (root) {
        json_wipe(root);
        cJSON_Delete(root);
    }
    wipe(raw, rawlen);
    free(raw);
    return ret;
}
