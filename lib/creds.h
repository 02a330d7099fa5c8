/*
 * creds — credentials: kinds, key files, the work-item secret.
 *
 * Kinds are told by prefix: "sk-ant-api" organisation API key, "sk-ant-oat"
 * environment key, "sk-ant-req" sessions token. Anything else is UNKNOWN
 * (accepted where the caller allows it, e.g. for private deployments).
 *
 * No function here ever puts a key's value into an error message.
 */
#ifndef OMNI_CREDS_H
#define OMNI_CREDS_H

#include "err.h"

#include <stddef.h>

#define OMNI_KEY_MAX 4096
/* Longest work-item secret accepted on the wire (base64 text). */
#define OMNI_SECRET_MAX (64 * 1024)

enum omni_key_kind {
    OMNI_KEY_UNKNOWN = 0,
    OMNI_KEY_ORG,     /* sk-ant-api... */
    OMNI_KEY_ENV,     /* sk-ant-oat... */
    OMNI_KEY_SESSION, /* sk-ant-req... */
};

enum omni_key_kind omni_key_classify(const char *key);
const char *omni_key_kind_name(enum omni_key_kind k); /* "organisation API key", ... */

/*
 * Read a key file: the first line, surrounding whitespace trimmed. Refused
 * (OMNI_E_CONFIG) when the file is readable or writable by group or others,
 * is not a regular file, is empty, is larger than OMNI_KEY_MAX or holds
 * control characters (or whitespace inside the key). Returns a malloc'd
 * string (free it with omni_key_free()) or NULL. The mode error names the
 * path and says to chmod 600.
 */
char *omni_key_read_file(const char *path, struct omni_err *err);

/* Validate a key taken from the environment: non-empty, no whitespace or
 * control characters, at most OMNI_KEY_MAX. `what` names it in errors. */
int omni_key_check(const char *key, const char *what, struct omni_err *err);

/* Overwrite and free a key string. */
void omni_key_free(char *key);

/*
 * Decode a work-item secret (protocol.md §3.4): base64url or standard
 * alphabet, padding optional, JSON object with a non-empty string
 * "sessions_token" and an optional string "api_base_url". Unknown keys are
 * ignored, so is an api_base_url that is not a non-empty string. The token
 * must pass omni_key_check() (it goes into a header). Returns 0 and malloc'd
 * strings (free the token with omni_key_free(); *api_base_url may be NULL;
 * api_base_url itself may be NULL to ignore it), or -1 with an OMNI_E_PARSE
 * error that contains neither the payload nor the token. Longer than
 * OMNI_SECRET_MAX is refused.
 */
int omni_secret_decode(const char *wire, char **sessions_token, char **api_base_url,
                       struct omni_err *err);

/* base64 helpers (used by the secret codec and the simulator). */
/* Encode as base64url without padding. Returns malloc'd string. */
char *omni_base64url_encode(const unsigned char *data, size_t len);
/* Encode as standard base64 with padding. Returns malloc'd string. */
char *omni_base64_encode(const unsigned char *data, size_t len);
/* Decode either alphabet (mixing allowed), padding optional but, when present,
 * at most two '=' completing a group of four; no whitespace. Returns malloc'd
 * bytes (NUL added, *outlen without it), or NULL when malformed. */
unsigned char *omni_base64_decode(const char *s, size_t *outlen);

#endif
