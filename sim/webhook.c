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
#include "creds.h"
#include "event.h"
#include "log.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

/* ---- signing (OpenSSL's HMAC-SHA256) ---- */

long simwebhook_key_decode(const char *whsec, unsigned char *out, size_t max)
{
    size_t n = 0;
    unsigned char *raw;
    long rc = -1;
    if (!whsec || strncmp(whsec, "whsec_", 6) != 0)
        return -1;
    raw = omni_base64_decode(whsec + 6, &n);
    if (raw && n <= max) {
        memcpy(out, raw, n);
        rc = (long)n;
    }
    if (raw) {
        explicit_bzero(raw, n);
        free(raw);
    }
    return rc;
}

int simwebhook_sign(const unsigned char *key, size_t keylen, const char *id, const char *ts,
                    const char *body, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *msg = NULL, *b64 = NULL;
    int rc = -1;
    int len = asprintf(&msg, "%s.%s.%s", id, ts, body); /* Standard Webhooks: id.ts.body */
    if (len >= 0 &&
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, (size_t)len, mac,
             &maclen) &&
        (b64 = omni_base64_encode(mac, maclen)) != NULL) {
        int n = snprintf(out, outlen, "v1,%s", b64);
        rc = n < 0 || (size_t)n >= outlen ? -1 : 0;
    }
    if (len >= 0)
        free(msg);
    free(b64);
    return rc;
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
