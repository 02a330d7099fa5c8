/*
 * Fuzz omni-sim's input handling that does not need a live connection
 * (sim/sim.h, sim/reply.h): request bodies (sim_body), session metadata checks and
 * patches (simstore_metadata_check/_patch), the fault settings codec
 * (simfaults_parse_json / simfaults_json, as POST /_sim/faults) and scenario
 * names (simagent_scenario_parse). The route matcher (static in sim/server.c)
 * and query parsing (sim/reply.c) are bound to libmicrohttpd, so they are
 * covered by the integration tests, not here.
 *
 * First byte: which function; the rest is the input. Checks: errors are
 * 400 API envelopes; accepted values are in range; the faults codec
 * round-trips; valid metadata patched into {} stays valid.
 */
#include "../../sim/reply.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const char *text, size_t len, int required)
{
    struct sim_req rq;
    struct sim_resp rs;
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    strcpy(rq.request_id, "req_fuzz");
    rq.method = "POST";
    rq.path = "/v1/sessions";
    rq.body = text;
    rq.body_len = len;
    cJSON *j = sim_body(&rq, &rs, required);
    if (j) {
        if (!cJSON_IsObject(j) || rs.status)
            abort();
        cJSON_Delete(j);
    } else {
        if (rs.status != 400 || !rs.body)
            abort();
        cJSON *e = cJSON_Parse(rs.body);
        const cJSON *er = e ? cJSON_GetObjectItemCaseSensitive(e, "error") : NULL;
        if (!cJSON_IsObject(er) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(er, "message")))
            abort();
        cJSON_Delete(e);
    }
    free(rs.body);
}

static void check_faults(const cJSON *j)
{
    struct sim_faults f, g;
    const char *bad = NULL;
    memset(&f, 0, sizeof f);
    if (!cJSON_IsObject(j))
        return;
    if (simfaults_parse_json(&f, j, &bad) < 0) {
        if (!bad)
            abort();
        return;
    }
    if (!(f.p5xx >= 0 && f.p5xx <= 1) || !(f.p429 >= 0 && f.p429 <= 1) || f.latency_ms < 0 ||
        f.jitter_ms < 0 || f.cut_stream_after < 0 || f.sse_error_every < 0 ||
        f.steal_lease_every < 0 || f.retry_after_ms < 0)
        abort();
    /* round trip: what GET /_sim/faults shows parses back to the same settings */
    cJSON *out = simfaults_json(&f, 42);
    if (!out)
        abort();
    memset(&g, 0, sizeof g);
    bad = NULL;
    if (simfaults_parse_json(&g, out, &bad) < 0) {
        /* the output may carry fields the parser does not take (e.g. the seed) */
        cJSON_DeleteItemFromObjectCaseSensitive(out, "seed");
        memset(&g, 0, sizeof g);
        if (simfaults_parse_json(&g, out, &bad) < 0)
            abort();
    }
    if (fabs(g.p5xx - f.p5xx) > 1e-9 || fabs(g.p429 - f.p429) > 1e-9 ||
        g.latency_ms != f.latency_ms || g.jitter_ms != f.jitter_ms ||
        g.cut_stream_after != f.cut_stream_after || g.sse_error_every != f.sse_error_every ||
        g.steal_lease_every != f.steal_lease_every || g.retry_after_ms != f.retry_after_ms)
        abort();
    cJSON_Delete(out);
}

static void check_metadata(const cJSON *j, int patch)
{
    const char *why = simstore_metadata_check(j, patch);
    if (why) {
        if (!*why)
            abort();
        return;
    }
    cJSON *dst = cJSON_CreateObject();
    simstore_metadata_patch(dst, j, patch);
    if (simstore_metadata_check(dst, 0) != NULL)
        abort();
    cJSON_Delete(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    switch (sel % 4) {
    case 0:
        check_body(text, len, sel & 0x10);
        break;
    case 1:
    case 2: {
        cJSON *j = cJSON_ParseWithLength(text, len);
        if (!j)
            return 0;
        if (sel % 4 == 1)
            check_faults(j);
        else
            check_metadata(j, (sel & 0x10) != 0);
        cJSON_Delete(j);
        break;
    }
    default: {
        char *s = strndup(text, len);
        enum sim_scenario scen;
        long n = -1;
        if (!s)
            return 0;
        if (simagent_scenario_parse(s, &scen, &n) == 0) {
            if (n < 0 || n > 100000 || (n > 0 && !strchr(s, ':')))
                abort();
        }
        free(s);
        break;
    }
    }
    return 0;
}
