/*
 * webhook — session webhook events (SDK 1.16 resources/beta/webhooks.ts)
 * delivered to one loopback endpoint set through POST /_sim/webhooks
 * {"url":"http://127.0.0.1:PORT/...","key":"whsec_..."}. The simulator emits
 * session.requires_action (a session goes idle with stop_reason
 * requires_action) and session.budget_reached (budget:N). Each delivery is
 * signed as Standard Webhooks verify it (the SDK's webhooks.unwrap):
 * webhook-id, webhook-timestamp and webhook-signature "v1,BASE64" of
 * HMAC-SHA256 over "ID.TIMESTAMP.BODY" with the key's decoded bytes.
 * Deliveries go out on their own thread, one attempt each with a 5 s
 * timeout (chosen default: no retries), so a slow endpoint never holds
 * sim->mu. The queue is capped; what does not fit is counted as dropped.
 */
#include "reply.h"

#include "alloc.h"
#include "event.h"
#include "log.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WH_QUEUE_MAX 256
#define WH_URL_MAX 512
#define WH_KEY_MAX 128
#define WH_TIMEOUT_MS 5000L

struct wh_item {
    char id[SIM_ID_MAX];
    char *body;
};

struct sim_webhooks {
    pthread_mutex_t mu; /* guards everything below but the configuration */
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    char url[WH_URL_MAX];
    unsigned char key[WH_KEY_MAX];
    size_t keylen;
    struct wh_item q[WH_QUEUE_MAX];
    size_t head, n;
    long queued, delivered, failed, dropped;
    long requires_action, budget_reached;
};

/* ---- SHA-256 and HMAC (FIPS 180-4, RFC 2104) ---- */

struct wh_sha {
    uint32_t h[8];
    unsigned char blk[64];
    size_t nblk;
    uint64_t total;
};

static const uint32_t wh_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define WH_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void wh_sha_block(struct wh_sha *c, const unsigned char *p)
{
    uint32_t w[64], a, b, cc, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = WH_ROR(w[i - 15], 7) ^ WH_ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = WH_ROR(w[i - 2], 17) ^ WH_ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (WH_ROR(e, 6) ^ WH_ROR(e, 11) ^ WH_ROR(e, 25)) + ((e & f) ^ (~e & g)) +
                      wh_k[i] + w[i];
        uint32_t t2 =
            (WH_ROR(a, 2) ^ WH_ROR(a, 13) ^ WH_ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g, g = f, f = e, e = d + t1, d = cc, cc = b, b = a, a = t1 + t2;
    }
    c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
    c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

static void wh_sha_init(struct wh_sha *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof(iv));
    c->nblk = 0;
    c->total = 0;
}

static void wh_sha_add(struct wh_sha *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->total += n;
    while (n > 0) {
        size_t take = 64 - c->nblk < n ? 64 - c->nblk : n;
        memcpy(c->blk + c->nblk, p, take);
        c->nblk += take;
        p += take;
        n -= take;
        if (c->nblk == 64) {
            wh_sha_block(c, c->blk);
            c->nblk = 0;
        }
    }
}

static void wh_sha_end(struct wh_sha *c, unsigned char out[32])
{
    uint64_t bits = c->total * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    wh_sha_add(c, &pad, 1);
    while (c->nblk != 56)
        wh_sha_add(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    wh_sha_add(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

/* HMAC-SHA256 of the three parts joined by '.' */
static void wh_hmac(const unsigned char *key, size_t keylen, const char *a, const char *b,
                    const char *body, unsigned char out[32])
{
    unsigned char k[64] = {0}, ipad[64], opad[64], inner[32];
    struct wh_sha c;
    if (keylen > 64) {
        wh_sha_init(&c);
        wh_sha_add(&c, key, keylen);
        wh_sha_end(&c, k);
    } else {
        memcpy(k, key, keylen);
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    wh_sha_init(&c);
    wh_sha_add(&c, ipad, 64);
    wh_sha_add(&c, a, strlen(a));
    wh_sha_add(&c, ".", 1);
    wh_sha_add(&c, b, strlen(b));
    wh_sha_add(&c, ".", 1);
    wh_sha_add(&c, body, strlen(body));
    wh_sha_end(&c, inner);
    wh_sha_init(&c);
    wh_sha_add(&c, opad, 64);
    wh_sha_add(&c, inner, 32);
    wh_sha_end(&c, out);
}

static const char wh_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void wh_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = wh_b64[v >> 18 & 63];
        out[o++] = wh_b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? wh_b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? wh_b64[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Standard base64 (padding optional); returns the length or -1. */
static long wh_b64_decode(const char *in, unsigned char *out, size_t max)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        const char *x = strchr(wh_b64, *p);
        if (!x || !*p)
            return -1;
        acc = acc << 6 | (uint32_t)(x - wh_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == max)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

long simwebhook_key_decode(const char *whsec, unsigned char *out, size_t max)
{
    if (!whsec || strncmp(whsec, "whsec_", 6) != 0)
        return -1;
    return wh_b64_decode(whsec + 6, out, max);
}

int simwebhook_sign(const unsigned char *key, size_t keylen, const char *id, const char *ts,
                    const char *body, char *out, size_t outlen)
{
    unsigned char mac[32];
    char b64[48];
    wh_hmac(key, keylen, id, ts, body, mac);
    wh_b64_encode(mac, sizeof(mac), b64);
    int n = snprintf(out, outlen, "v1,%s", b64);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- delivery ---- */

static size_t wh_discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static int wh_deliver(const char *url, const unsigned char *key, size_t keylen,
                      const struct wh_item *it)
{
    char ts[24], sig[64], hid[SIM_ID_MAX + 16], hts[48], hsig[96];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    if (simwebhook_sign(key, keylen, it->id, ts, it->body, sig, sizeof(sig)) < 0)
        return -1;
    snprintf(hid, sizeof(hid), "webhook-id: %s", it->id);
    snprintf(hts, sizeof(hts), "webhook-timestamp: %s", ts);
    snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "content-type: application/json");
    h = curl_slist_append(h, hid);
    h = curl_slist_append(h, hts);
    h = curl_slist_append(h, hsig);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, WH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, WH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wh_discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || status < 200 || status > 299) {
        log_kv(LOG_WARN, "webhook delivery failed", "id", it->id, "error",
               rc != CURLE_OK ? curl_easy_strerror(rc) : "non-2xx answer", (char *)NULL);
        return -1;
    }
    return 0;
}

static void *wh_main(void *arg)
{
    struct sim_webhooks *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->n && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stopping)
            break;
        struct wh_item it = w->q[w->head];
        w->head = (w->head + 1) % WH_QUEUE_MAX;
        w->n--;
        char url[WH_URL_MAX];
        unsigned char key[WH_KEY_MAX];
        size_t keylen = w->keylen;
        memcpy(url, w->url, sizeof(url));
        memcpy(key, w->key, sizeof(key));
        pthread_mutex_unlock(&w->mu);
        int rc = wh_deliver(url, key, keylen, &it);
        free(it.body);
        pthread_mutex_lock(&w->mu);
        if (rc == 0)
            w->delivered++;
        else
            w->failed++;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Loopback http URLs only: the simulator never sends anything off the host. */
static int wh_url_ok(const char *u)
{
    static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:",
                                     "http://localhost/", "http://[::1]:",     "http://[::1]/"};
    if (strlen(u) >= WH_URL_MAX || strpbrk(u, " \r\n@"))
        return 0;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(u, ok[i], strlen(ok[i])) == 0)
            return 1;
    return 0;
}

/* POST /_sim/webhooks {"url","key"}: set the endpoint (and start the sender). */
void simh_sim_webhooks_set(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim *sim = rq->sim;
    cJSON *b = sim_body(rq, rs, 1);
    if (!b)
        return;
    const char *url = omni_json_string(b, "url");
    const char *key = omni_json_string(b, "key");
    unsigned char kb[WH_KEY_MAX];
    long kl = -1;
    if (!url || !wh_url_ok(url)) {
        sim_err(rq, rs, 400, NULL, NULL,
                "'url' must be an http:// URL on loopback (127.0.0.1, localhost or [::1])");
    } else if ((kl = simwebhook_key_decode(key, kb, sizeof(kb))) < 16) {
        sim_err(rq, rs, 400, NULL, NULL,
                "'key' must be whsec_ followed by base64 of 16 to %d bytes", WH_KEY_MAX);
    }
    if (rs->status) {
        cJSON_Delete(b);
        return;
    }
    if (!sim->webhooks) {
        sim->webhooks = omni_xcalloc(1, sizeof(*sim->webhooks));
        pthread_mutex_init(&sim->webhooks->mu, NULL);
        pthread_cond_init(&sim->webhooks->cv, NULL);
    }
    struct sim_webhooks *w = sim->webhooks;
    pthread_mutex_lock(&w->mu);
    snprintf(w->url, sizeof(w->url), "%s", url);
    memcpy(w->key, kb, (size_t)kl);
    w->keylen = (size_t)kl;
    if (!w->started && pthread_create(&w->thread, NULL, wh_main, w) == 0)
        w->started = 1;
    pthread_mutex_unlock(&w->mu);
    log_kv(LOG_INFO, "webhook endpoint set", "url", url, (char *)NULL);
    cJSON_Delete(b);
    sim_json(rs, 200, simwebhook_report(sim));
}

void simwebhook_session(struct sim *sim, struct sim_session *s, const char *type)
{
    struct sim_webhooks *w = sim->webhooks;
    if (!w)
        return;
    char id[SIM_ID_MAX], ts[40];
    simstore_new_id(sim, "wevt_", id, sizeof(id));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "event");
    cJSON_AddStringToObject(o, "created_at", simstore_ts(omni_wall_us(), ts, sizeof(ts)));
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "type", type);
    cJSON_AddStringToObject(d, "id", s->id);
    cJSON_AddStringToObject(d, "organization_id", "org_omnisim");
    cJSON_AddStringToObject(d, "workspace_id", "wrkspc_omnisim");
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body)
        omni_oom();
    pthread_mutex_lock(&w->mu);
    if (strcmp(type, "session.requires_action") == 0)
        w->requires_action++;
    else if (strcmp(type, "session.budget_reached") == 0)
        w->budget_reached++;
    if (w->n == WH_QUEUE_MAX) {
        w->dropped++;
        free(body);
    } else {
        struct wh_item *it = &w->q[(w->head + w->n) % WH_QUEUE_MAX];
        snprintf(it->id, sizeof(it->id), "%s", id);
        it->body = body;
        w->n++;
        w->queued++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

cJSON *simwebhook_report(struct sim *sim)
{
    struct sim_webhooks *w = sim->webhooks;
    cJSON *o = cJSON_CreateObject();
    if (!w) {
        cJSON_AddNullToObject(o, "url");
        return o;
    }
    pthread_mutex_lock(&w->mu);
    cJSON_AddStringToObject(o, "url", w->url);
    cJSON_AddNumberToObject(o, "queued", (double)w->queued);
    cJSON_AddNumberToObject(o, "delivered", (double)w->delivered);
    cJSON_AddNumberToObject(o, "failed", (double)w->failed);
    cJSON_AddNumberToObject(o, "dropped", (double)w->dropped);
    cJSON *bt = cJSON_AddObjectToObject(o, "by_type");
    cJSON_AddNumberToObject(bt, "session.requires_action", (double)w->requires_action);
    cJSON_AddNumberToObject(bt, "session.budget_reached", (double)w->budget_reached);
    pthread_mutex_unlock(&w->mu);
    return o;
}

void simwebhook_stop(struct sim *sim)
{
    struct sim_webhooks *w = sim->webhooks;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    int started = w->started;
    pthread_mutex_unlock(&w->mu);
    if (started)
        pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->n; i++)
        free(w->q[(w->head + i) % WH_QUEUE_MAX].body);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    sim->webhooks = NULL;
}
