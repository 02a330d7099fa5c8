#include "model.h"
#include "event.h"
#include "hash.h"

#include "alloc.h"
#include "timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small helpers ------------------------------------------------------ */

void con_sanitize(char *out, size_t outlen, const char *s)
{
    size_t o = 0;

    if (!outlen)
        return;
    if (!s)
        s = "";
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 1 < outlen; p++) {
        unsigned char c = *p;
        if (c < 0x20 || c == 0x7f) {
            c = ' ';
        } else if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* C1 control characters (U+0080..U+009F) */
            p++;
            c = ' ';
        }
        out[o++] = (char)c;
    }
    /* never end inside a UTF-8 sequence */
    if (o > 0 && ((unsigned char)out[o - 1] & 0x80)) {
        size_t start = o;
        while (start > 0 && ((unsigned char)out[start - 1] & 0xc0) == 0x80)
            start--;
        if (start > 0) {
            unsigned char lead = (unsigned char)out[start - 1];
            size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
            if (o - (start - 1) < need)
                o = start - 1;
        }
    }
    out[o] = '\0';
}

char *con_age(int64_t now_us, int64_t t_us, char *out, size_t outlen)
{
    int64_t ms;

    if (!t_us) {
        snprintf(out, outlen, "-");
        return out;
    }
    ms = (now_us - t_us) / 1000;
    if (ms < 1000)
        snprintf(out, outlen, "0s");
    else
        omni_duration_format(ms, out, outlen);
    return out;
}

/* ---- thresholds --------------------------------------------------------- */

/* ---- sparkline ------------------------------------------------------------ */

long con_spark_max(const long *samples, int n, int width)
{
    long max = 0;

    for (int i = n > width ? n - width : 0; i < n; i++)
        if (samples[i] > max)
            max = samples[i];
    return max;
}

void con_id_fit(const char *id, int width, int utf8, char *out, size_t outlen)
{
    const char *us = strchr(id, '_');
    const char *dots = utf8 ? "\xe2\x80\xa6" : "..";
    int len = (int)strlen(id), pre = us ? (int)(us - id) + 1 : 0, dw = utf8 ? 1 : 2, tail;

    if (len <= width || width < 1) {
        con_sanitize(out, outlen, id);
        return;
    }
    if (pre + dw + 4 > width) /* no room for the prefix: the end alone */
        pre = 0;
    tail = width - pre - dw;
    if (tail < 1) {
        snprintf(out, outlen, "%s", id + len - width);
        return;
    }
    snprintf(out, outlen, "%.*s%s%s", pre, id, dots, id + len - tail);
}

int con_sparkline(const long *samples, int n, int width, long scale, int utf8, char *out,
                  size_t outlen)
{
    static const char *const blocks[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
                                          "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
                                          "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ascii[] = " .:-=+*#";
    long max = scale > 0 ? scale : con_spark_max(samples, n, width);
    int first = n > width ? n - width : 0, cells = 0;
    size_t o = 0;

    if (!outlen)
        return 0;
    for (int i = first; i < n; i++) {
        long v = samples[i] < 0 ? 0 : samples[i];
        int lvl = max > 0 ? (int)((v * 7 + max - 1) / max) : 0;
        if (lvl > 7)
            lvl = 7;
        if (utf8) {
            if (o + 4 > outlen)
                break;
            memcpy(out + o, blocks[lvl], 3);
            o += 3;
        } else {
            if (o + 2 > outlen)
                break;
            out[o++] = ascii[lvl];
        }
        cells++;
    }
    out[o] = '\0';
    return cells;
}

int con_env_spark(const struct con_env *e, long *out, int max)
{
    int n = e->nspark < max ? e->nspark : max;
    memcpy(out, e->spark + (e->nspark - n), (size_t)n * sizeof *out);
    return n;
}

/* ---- approvals ---------------------------------------------------------- */

void con_approvals_clear(struct con_approvals *a)
{
    a->n = 0;
    a->ncustom = 0;
}

static void custom_remove(struct con_approvals *a, const char *id)
{
    if (!id)
        return;
    for (int i = 0; i < a->ncustom; i++) {
        if (strcmp(a->custom[i], id) == 0) {
            memmove(a->custom[i], a->custom[i + 1], (size_t)(a->ncustom - i - 1) * OMNI_ID_MAX);
            a->ncustom--;
            return;
        }
    }
}

static void approvals_remove(struct con_approvals *a, const char *id)
{
    if (!id)
        return;
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->held[i].id, id) == 0) {
            memmove(&a->held[i], &a->held[i + 1], (size_t)(a->n - i - 1) * sizeof a->held[0]);
            a->n--;
            return;
        }
    }
}

void con_approvals_feed(struct con_approvals *a, const cJSON *ev)
{
    const char *id, *name;

    switch (omni_event_kind(ev)) {
    case OMNI_EV_AGENT_TOOL_USE:
        id = omni_json_string(ev, "id");
        /* allow runs; deny is resolved server side; ask (or unknown) is held */
        if (!id || !omni_event_is_held(ev))
            return;
        for (int i = 0; i < a->n; i++)
            if (strcmp(a->held[i].id, id) == 0)
                return;
        if (a->n >= CON_HELD_MAX)
            return;
        name = omni_json_string(ev, "name");
        con_sanitize(a->held[a->n].id, sizeof a->held[0].id, id);
        con_sanitize(a->held[a->n].name, sizeof a->held[0].name, name ? name : "?");
        con_tool_input_summary(name, cJSON_GetObjectItemCaseSensitive(ev, "input"),
                               a->held[a->n].input, sizeof a->held[0].input);
        a->n++;
        break;
    case OMNI_EV_AGENT_CUSTOM_TOOL_USE:
        id = omni_json_string(ev, "id");
        if (!id || a->ncustom >= CON_HELD_MAX)
            return;
        for (int i = 0; i < a->ncustom; i++)
            if (strcmp(a->custom[i], id) == 0)
                return;
        con_sanitize(a->custom[a->ncustom++], OMNI_ID_MAX, id);
        break;
    case OMNI_EV_USER_CUSTOM_TOOL_RESULT:
        custom_remove(a, omni_event_answers(ev));
        break;
    case OMNI_EV_USER_TOOL_CONFIRMATION:
    case OMNI_EV_USER_TOOL_RESULT:
    case OMNI_EV_AGENT_TOOL_RESULT:
        approvals_remove(a, omni_event_answers(ev));
        break;
    default:
        /* an interrupt or the session's end settles every held call */
        if (omni_event_cancels_held(omni_event_kind(ev)))
            a->n = 0;
        if (omni_event_ends_session(omni_event_kind(ev)))
            a->ncustom = 0;
        break;
    }
}

/* ---- event summaries ------------------------------------------------------ */

static const char *first_text(const cJSON *content)
{
    const cJSON *b;

    if (cJSON_IsString(content))
        return content->valuestring;
    cJSON_ArrayForEach(b, content) {
        const char *t = omni_json_string(b, "type"), *x = omni_json_string(b, "text");
        if (t && strcmp(t, "text") == 0 && x)
            return x;
    }
    return NULL;
}

void con_tool_input_summary(const char *name, const cJSON *input, char *out, size_t outlen)
{
    const char *gist = omni_tool_input_gist(input);
    char *j;

    out[0] = '\0';
    if (!cJSON_IsObject(input))
        return;
    (void)name;
    if (gist) {
        con_sanitize(out, outlen, gist);
        return;
    }
    j = cJSON_PrintUnformatted(input);
    if (j) {
        con_sanitize(out, outlen, j);
        cJSON_free(j);
    }
}

enum con_line_kind con_event_summary(const cJSON *ev, char *out, size_t outlen)
{
    const char *type = omni_json_string(ev, "type"), *s;
    enum omni_event_kind kind = omni_event_kind_of_type(type);
    enum omni_permission perm;
    char a[CON_LINE_MAX], b[CON_LINE_MAX];
    const cJSON *v;

    if (!type)
        type = "?";
    a[0] = b[0] = '\0';
    switch (kind) {
    case OMNI_EV_AGENT_TOOL_USE:
    case OMNI_EV_AGENT_CUSTOM_TOOL_USE:
    case OMNI_EV_AGENT_MCP_TOOL_USE:
        perm = omni_event_permission(ev);
        con_sanitize(a, sizeof a,
                     omni_json_string(ev, "name") ? omni_json_string(ev, "name") : "?");
        con_tool_input_summary(a, cJSON_GetObjectItemCaseSensitive(ev, "input"), b, sizeof b);
        snprintf(out, outlen, "%s %s: %s%s%s%s",
                 kind == OMNI_EV_AGENT_TOOL_USE          ? "tool"
                 : kind == OMNI_EV_AGENT_CUSTOM_TOOL_USE ? "custom tool"
                                                         : "mcp tool",
                 a, b, perm != OMNI_PERM_ALLOW ? " [" : "",
                 perm != OMNI_PERM_ALLOW ? omni_permission_name(perm) : "",
                 perm != OMNI_PERM_ALLOW ? "]" : "");
        return CON_LK_TOOL;
    case OMNI_EV_USER_TOOL_RESULT:
    case OMNI_EV_USER_CUSTOM_TOOL_RESULT:
    case OMNI_EV_AGENT_TOOL_RESULT: {
        int is_err = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "is_error"));
        con_sanitize(a, sizeof a, first_text(cJSON_GetObjectItemCaseSensitive(ev, "content")));
        snprintf(out, outlen, "%s%s: %s", kind == OMNI_EV_AGENT_TOOL_RESULT ? "server " : "",
                 is_err ? "result ERROR" : "result", a[0] ? a : "(no text)");
        return is_err ? CON_LK_ERROR : CON_LK_RESULT;
    }
    case OMNI_EV_USER_MESSAGE:
    case OMNI_EV_AGENT_MESSAGE:
        con_sanitize(a, sizeof a, first_text(cJSON_GetObjectItemCaseSensitive(ev, "content")));
        snprintf(out, outlen, "%s: %s", kind == OMNI_EV_USER_MESSAGE ? "user" : "agent", a);
        return kind == OMNI_EV_USER_MESSAGE ? CON_LK_USER : CON_LK_AGENT;
    case OMNI_EV_USER_TOOL_CONFIRMATION:
        con_sanitize(a, sizeof a, omni_json_string(ev, "result"));
        con_sanitize(b, sizeof b, omni_event_answers(ev));
        snprintf(out, outlen, "confirmation %s for %s", a, b);
        return CON_LK_USER;
    case OMNI_EV_USER_INTERRUPT:
        snprintf(out, outlen, "interrupt");
        return CON_LK_USER;
    case OMNI_EV_SESSION_ERROR:
        v = cJSON_GetObjectItemCaseSensitive(ev, "error");
        con_sanitize(a, sizeof a,
                     omni_json_string(v, "type") ? omni_json_string(v, "type") : "error");
        con_sanitize(b, sizeof b, omni_json_string(v, "message"));
        snprintf(out, outlen, "session error %s: %s", a, b);
        return CON_LK_ERROR;
    case OMNI_EV_SESSION_STATUS_IDLE:
        v = cJSON_GetObjectItemCaseSensitive(ev, "stop_reason");
        s = omni_json_string(v, "type");
        con_sanitize(a, sizeof a, s ? s : "");
        snprintf(out, outlen, "idle%s%s", a[0] ? " " : "", a);
        return CON_LK_STATUS;
    default:
        break;
    }
    if (strncmp(type, "session.status_", 15) == 0) {
        con_sanitize(a, sizeof a, type + 15);
        snprintf(out, outlen, "%s", a);
        return kind == OMNI_EV_SESSION_STATUS_TERMINATED ? CON_LK_ERROR : CON_LK_STATUS;
    }
    con_sanitize(out, outlen, type);
    return CON_LK_INFO;
}

/* ---- model: environments ------------------------------------------------- */

void con_model_init(struct con_model *m)
{
    memset(m, 0, sizeof *m);
    omni_thresholds_default(&m->th);
    m->spark_step_us = 2000000;
    m->sessions.dirty = m->work.dirty = 1;
    m->work.is_work = 1;
    m->work.sort_col = CON_WC_AGE;
    m->sessions.sort_col = CON_SC_AGE;
}

static void table_release(struct con_table *t)
{
    free(t->rows);
    free(t->idx);
    t->rows = NULL;
    t->idx = NULL;
    t->n = t->cap = t->nidx = 0;
}

void con_model_release(struct con_model *m)
{
    free(m->envs);
    table_release(&m->sessions);
    table_release(&m->work);
    con_detail_close(&m->detail);
    free(m->detail.lines);
    free(m->detail.seen);
    free(m->detail.shown);
    con_doc_release(&m->doc);
    memset(m, 0, sizeof *m);
}

struct con_env *con_model_env(struct con_model *m, const char *env_id)
{
    for (size_t i = 0; i < m->nenvs; i++)
        if (strcmp(m->envs[i].id, env_id) == 0)
            return &m->envs[i];
    return NULL;
}

void con_model_apply_envs(struct con_model *m, const struct omni_environment_list *l,
                          int (*has_key)(const char *env_id, void *ud), void *ud, int64_t now_us)
{
    struct con_env *nenv = omni_xcalloc(l->n, sizeof *nenv);
    size_t k = 0;

    for (size_t i = 0; i < l->n; i++) {
        const struct omni_environment *e = &l->items[i];
        struct con_env *old;
        if (e->archived_at)
            continue;
        old = con_model_env(m, e->id);
        if (old)
            nenv[k] = *old;
        con_sanitize(nenv[k].id, sizeof nenv[k].id, e->id);
        con_sanitize(nenv[k].name, sizeof nenv[k].name, e->name);
        nenv[k].has_key_file = has_key ? has_key(e->id, ud) : 0;
        if (!old) {
            nenv[k].level = OMNI_LEVEL_UNKNOWN;
            snprintf(nenv[k].why, sizeof nenv[k].why, "no stats yet");
        }
        k++;
    }
    free(m->envs);
    m->envs = nenv;
    m->nenvs = k;
    m->capenvs = l->n;
    m->envs_at_us = now_us;
    m->envs_err[0] = '\0';
}

void con_model_envs_error(struct con_model *m, const char *msg)
{
    con_sanitize(m->envs_err, sizeof m->envs_err, msg);
}

void con_model_apply_workers(struct con_model *m, const char *env_id, const struct con_worker *w,
                             int n, int64_t now_us)
{
    struct con_env *e = con_model_env(m, env_id);

    if (!e)
        return;
    if (n > CON_WORKERS_MAX)
        n = CON_WORKERS_MAX;
    for (int i = 0; i < n; i++) {
        e->workers[i] = w[i];
        con_sanitize(e->workers[i].url, sizeof e->workers[i].url, w[i].url);
        con_sanitize(e->workers[i].err, sizeof e->workers[i].err, w[i].err);
    }
    e->nworkers = n;
    e->workers_at_us = now_us;
}

int con_worker_parse(const char *text, size_t len, struct con_worker *w)
{
    static const char *const names[] = {"omni_worker_slots_configured", "omni_worker_slots_busy",
                                        "omni_worker_slots_held"};
    long *vals[] = {&w->configured, &w->busy, &w->held};
    const char *p = text, *end = text + len;
    int found = 0;

    w->configured = w->busy = w->held = -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        for (int k = 0; k < 3; k++) {
            size_t nlen = strlen(names[k]);
            char num[32];
            size_t vl;
            const char *v = p + nlen;
            if ((size_t)(le - p) <= nlen || memcmp(p, names[k], nlen) != 0)
                continue;
            if (*v == '{') { /* labels: skip to the closing brace */
                const char *cb = memchr(v, '}', (size_t)(le - v));
                if (!cb)
                    continue;
                v = cb + 1;
            }
            if (v >= le || (*v != ' ' && *v != '\t'))
                continue;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            vl = (size_t)(le - v);
            if (vl == 0 || vl >= sizeof num)
                continue;
            memcpy(num, v, vl);
            num[vl] = '\0';
            {
                char *e2;
                double d = strtod(num, &e2);
                if (e2 == num || d < 0 || d > 1e9)
                    continue;
                if (*vals[k] < 0)
                    found++;
                *vals[k] = (long)d;
            }
        }
        p = le + 1;
    }
    return found;
}

void con_model_apply_stats(struct con_model *m, const char *env_id, const struct omni_stats *st,
                           const char *errmsg, const struct omni_work_summary *ws,
                           const char *work_err, int64_t now_us)
{
    struct con_env *e = con_model_env(m, env_id);

    if (!e)
        return;
    if (ws)
        e->ws = *ws;
    else
        memset(&e->ws, 0, sizeof e->ws);
    con_sanitize(e->work_err, sizeof e->work_err, work_err ? work_err : "");
    if (!st) {
        con_sanitize(e->err, sizeof e->err, errmsg ? errmsg : "stats failed");
        return;
    }
    e->stats = *st;
    e->have_stats = 1;
    e->stats_at_us = now_us;
    e->err[0] = '\0';
    if (e->nspark == 0 || now_us - e->spark_at_us >= m->spark_step_us) {
        if (e->nspark == CON_SPARK_SAMPLES) {
            memmove(e->spark, e->spark + 1, (CON_SPARK_SAMPLES - 1) * sizeof e->spark[0]);
            e->nspark--;
        }
        e->spark[e->nspark++] = st->depth;
        e->spark_at_us = now_us;
    } else if (st->depth > e->spark[e->nspark - 1]) {
        e->spark[e->nspark - 1] = st->depth;
    }
    e->level = omni_stats_level(&m->th, st, &e->ws, now_us, e->why, sizeof e->why);
}

void con_model_levels(struct con_model *m, int64_t now_us)
{
    for (size_t i = 0; i < m->nenvs; i++) {
        struct con_env *e = &m->envs[i];
        if (e->have_stats)
            e->level = omni_stats_level(&m->th, &e->stats, &e->ws, now_us, e->why, sizeof e->why);
    }
}

/* ---- id hash (old rows by id, for merging refreshes) --------------------- */

struct idmap {
    size_t *slot; /* index + 1, 0 = empty */
    size_t mask;
};

static void idmap_build(struct idmap *im, const void *rows, size_t n, size_t stride)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    im->slot = omni_xcalloc(cap, sizeof *im->slot);
    im->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const char *id = (const char *)rows + i * stride; /* id is the first member */
        size_t h = (size_t)omni_hash_str(id) & im->mask;
        while (im->slot[h])
            h = (h + 1) & im->mask;
        im->slot[h] = i + 1;
    }
}

static long idmap_find(const struct idmap *im, const void *rows, size_t stride, const char *id)
{
    size_t h = (size_t)omni_hash_str(id) & im->mask;
    while (im->slot[h]) {
        size_t i = im->slot[h] - 1;
        if (strcmp((const char *)rows + i * stride, id) == 0)
            return (long)i;
        h = (h + 1) & im->mask;
    }
    return -1;
}

/* ---- sessions and work ---------------------------------------------------- */

void con_table_error(struct con_table *t, const char *msg)
{
    con_sanitize(t->err, sizeof t->err, msg);
}

void con_model_apply_sessions(struct con_model *m, const char *env_id,
                              const struct omni_session_list *l, int64_t now_us)
{
    struct con_table *t = &m->sessions;
    struct con_session *old = t->rows, *rows;
    int same_env = strcmp(t->env_id, env_id) == 0;
    size_t n = l->n < CON_ROWS_MAX ? l->n : CON_ROWS_MAX, k = 0;
    struct idmap im = {0};

    if (same_env && t->n)
        idmap_build(&im, old, t->n, sizeof *old);
    rows = omni_xcalloc(n, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const struct omni_session *s = &l->items[i];
        struct con_session *r = &rows[k];
        long j;
        if (strcmp(s->environment_id, env_id) != 0)
            continue;
        if (im.slot && (j = idmap_find(&im, old, sizeof *old, s->id)) >= 0)
            *r = old[j];
        con_sanitize(r->id, sizeof r->id, s->id);
        con_sanitize(r->status, sizeof r->status, s->status);
        con_sanitize(r->title, sizeof r->title, s->title);
        con_sanitize(r->agent_id, sizeof r->agent_id, s->agent_id);
        r->created_at = s->created_at;
        r->updated_at = s->updated_at;
        k++;
    }
    free(im.slot);
    free(t->rows);
    t->rows = rows;
    t->n = k;
    t->cap = n;
    snprintf(t->env_id, sizeof t->env_id, "%s", env_id);
    t->fetched_at_us = now_us;
    t->err[0] = '\0';
    t->dirty = 1;
}

struct con_session *con_model_session(struct con_model *m, const char *session_id)
{
    struct con_session *rows = m->sessions.rows;
    for (size_t i = 0; i < m->sessions.n; i++)
        if (strcmp(rows[i].id, session_id) == 0)
            return &rows[i];
    return NULL;
}

void con_model_apply_session_events(struct con_model *m, const char *session_id,
                                    const struct omni_event_list *l, int64_t now_us)
{
    struct con_session *s = con_model_session(m, session_id);
    struct con_approvals ap;

    if (!s)
        return;
    con_approvals_clear(&ap);
    s->last_event[0] = '\0';
    s->last_event_at = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct omni_event *ev = &l->items[i];
        con_approvals_feed(&ap, ev->obj);
        /* span.* and usage events are noise in a "last event" column */
        if (!omni_event_is_bookkeeping(ev->type)) {
            con_sanitize(s->last_event, sizeof s->last_event, ev->type);
            s->last_event_at = ev->processed_at;
        }
    }
    s->nheld = ap.n;
    s->ncustom = ap.ncustom;
    if (ap.n)
        s->held = ap.held[0];
    s->events_at_us = now_us;
    s->events_updated_at = s->updated_at;
    m->sessions.dirty = 1;
}

int con_session_events_due(const struct con_session *s, int64_t now_us, int64_t min_age_ms)
{
    if (!s->events_at_us)
        return 1;
    if (s->events_updated_at != s->updated_at)
        return 1;
    if (strcmp(s->status, "terminated") == 0)
        return 0;
    return now_us - s->events_at_us >= min_age_ms * 1000;
}

void con_model_apply_work(struct con_model *m, const char *env_id, const struct omni_work_list *l,
                          int64_t now_us)
{
    struct con_table *t = &m->work;
    size_t n = l->n < CON_ROWS_MAX ? l->n : CON_ROWS_MAX;
    struct con_work *rows = omni_xcalloc(n, sizeof *rows);

    for (size_t i = 0; i < n; i++) {
        const struct omni_work *w = &l->items[i];
        struct con_work *r = &rows[i];
        con_sanitize(r->id, sizeof r->id, w->id);
        con_sanitize(r->state, sizeof r->state, w->state);
        con_sanitize(r->data_type, sizeof r->data_type, w->data_type);
        con_sanitize(r->session_id, sizeof r->session_id, w->data_id);
        r->created_at = w->created_at;
        r->acknowledged_at = w->acknowledged_at;
        r->latest_heartbeat_at = w->latest_heartbeat_at;
        r->stop_requested_at = w->stop_requested_at;
    }
    free(t->rows);
    t->rows = rows;
    t->n = n;
    t->cap = n;
    snprintf(t->env_id, sizeof t->env_id, "%s", env_id);
    t->fetched_at_us = now_us;
    t->err[0] = '\0';
    t->dirty = 1;
}

int con_work_stuck(const struct con_work *w, int64_t now_us, int64_t stuck_ms)
{
    struct omni_work o;

    memcpy(o.state, w->state, sizeof o.state);
    o.created_at = w->created_at;
    o.acknowledged_at = w->acknowledged_at;
    o.latest_heartbeat_at = w->latest_heartbeat_at;
    return omni_work_stuck(&o, now_us, stuck_ms > 0 ? stuck_ms : OMNI_STUCK_MS);
}

struct con_work *con_model_work_for_session(struct con_model *m, const char *session_id)
{
    struct con_work *rows = m->work.rows, *best = NULL;
    for (size_t i = 0; i < m->work.n; i++) {
        struct con_work *w = &rows[i];
        if (strcmp(w->session_id, session_id) != 0 || strcmp(w->state, "stopped") == 0)
            continue;
        if (!best || w->created_at > best->created_at)
            best = w;
    }
    return best;
}

/* ---- filter and sort ------------------------------------------------------ */

void con_table_set_filter(struct con_table *t, const char *filter)
{
    con_sanitize(t->filter, sizeof t->filter, filter ? filter : "");
    t->dirty = 1;
}

void con_table_set_sort(struct con_table *t, int col, int desc)
{
    t->sort_col = col;
    t->sort_desc = desc;
    t->dirty = 1;
}

void con_table_set_only_waiting(struct con_table *t, int on)
{
    t->only_waiting = on;
    t->dirty = 1;
}

struct sort_ctx {
    const struct con_table *t;
    int is_work;
    int64_t now_us;
};

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int sess_cmp(const void *pa, const void *pb, void *ud)
{
    const struct sort_ctx *c = ud;
    const struct con_session *rows = c->t->rows;
    const struct con_session *a = &rows[*(const size_t *)pa], *b = &rows[*(const size_t *)pb];
    int r = 0;

    switch (c->t->sort_col) {
    case CON_SC_STATUS:
        r = strcmp(a->status, b->status);
        break;
    case CON_SC_TITLE:
        r = strcasecmp(a->title, b->title);
        break;
    case CON_SC_AGE: /* youngest first */
        r = -cmp_i64(a->created_at, b->created_at);
        break;
    case CON_SC_EVENT:
        r = -cmp_i64(a->last_event_at, b->last_event_at);
        break;
    case CON_SC_WAIT:
        r = b->nheld - a->nheld;
        if (!r)
            r = b->ncustom - a->ncustom;
        break;
    default:
        break;
    }
    if (!r)
        r = strcmp(a->id, b->id);
    return c->t->sort_desc ? -r : r;
}

static int work_cmp(const void *pa, const void *pb, void *ud)
{
    const struct sort_ctx *c = ud;
    const struct con_work *rows = c->t->rows;
    const struct con_work *a = &rows[*(const size_t *)pa], *b = &rows[*(const size_t *)pb];
    int r = 0;

    switch (c->t->sort_col) {
    case CON_WC_STATE:
        r = strcmp(a->state, b->state);
        break;
    case CON_WC_SESSION:
        r = strcmp(a->session_id, b->session_id);
        break;
    case CON_WC_AGE:
        r = -cmp_i64(a->created_at, b->created_at);
        break;
    case CON_WC_HEARTBEAT:
        r = -cmp_i64(a->latest_heartbeat_at, b->latest_heartbeat_at);
        break;
    case CON_WC_STUCK:
        r = con_work_stuck(b, c->now_us, c->t->stuck_ms) -
            con_work_stuck(a, c->now_us, c->t->stuck_ms);
        break;
    default:
        break;
    }
    if (!r)
        r = strcmp(a->id, b->id);
    return c->t->sort_desc ? -r : r;
}

static int row_matches(const struct con_table *t, size_t i, int is_work)
{
    if (!is_work && t->only_waiting &&
        !con_session_waits_on_person(&((const struct con_session *)t->rows)[i]))
        return 0;
    if (!t->filter[0])
        return 1;
    if (is_work) {
        const struct con_work *w = &((const struct con_work *)t->rows)[i];
        return strcasestr(w->id, t->filter) || strcasestr(w->state, t->filter) ||
               strcasestr(w->session_id, t->filter);
    }
    const struct con_session *s = &((const struct con_session *)t->rows)[i];
    return strcasestr(s->id, t->filter) || strcasestr(s->title, t->filter) ||
           strcasestr(s->status, t->filter) || strcasestr(s->last_event, t->filter);
}

void con_table_view(struct con_table *t, int is_work, int64_t now_us)
{
    struct sort_ctx c = {t, is_work, now_us};

    if (!t->dirty)
        return;
    t->idx = omni_xrealloc(t->idx, (t->n ? t->n : 1) * sizeof *t->idx);
    t->nidx = 0;
    for (size_t i = 0; i < t->n; i++)
        if (row_matches(t, i, is_work))
            t->idx[t->nidx++] = i;
    qsort_r(t->idx, t->nidx, sizeof *t->idx, is_work ? work_cmp : sess_cmp, &c);
    t->dirty = 0;
    t->gen++;
}

const char *con_table_id(const struct con_table *t, size_t i)
{
    if (i >= t->nidx)
        return "";
    return t->is_work ? con_work_at(t, i)->id : con_session_at(t, i)->id;
}

long con_table_find(const struct con_table *t, const char *id)
{
    for (size_t i = 0; i < t->nidx; i++)
        if (strcmp(con_table_id(t, i), id) == 0)
            return (long)i;
    return -1;
}

/* ---- detail ---------------------------------------------------------------- */

void con_detail_open(struct con_detail *d, const char *session_id)
{
    if (!d->lines)
        d->lines = omni_xcalloc(CON_DETAIL_LINES, sizeof *d->lines);
    if (!d->seen)
        d->seen = omni_xcalloc(CON_SEEN_IDS, sizeof *d->seen);
    if (!d->shown)
        d->shown = omni_xcalloc(CON_DETAIL_LINES, sizeof *d->shown);
    if (strcmp(d->session_id, session_id) == 0)
        return;
    snprintf(d->session_id, sizeof d->session_id, "%s", session_id);
    d->head = d->n = 0;
    d->seen_head = d->seen_n = 0;
    d->streaming = 0;
    d->err[0] = '\0';
    d->filter[0] = '\0';
    con_approvals_clear(&d->ap);
    d->gen++;
}

void con_detail_close(struct con_detail *d)
{
    d->session_id[0] = '\0';
    d->head = d->n = 0;
    d->seen_head = d->seen_n = 0;
    d->streaming = 0;
    d->err[0] = '\0';
    d->filter[0] = '\0';
    con_approvals_clear(&d->ap);
    d->gen++;
}

static int detail_seen(struct con_detail *d, const char *id)
{
    for (size_t k = 0; k < d->seen_n; k++) {
        size_t i = (d->seen_head + d->seen_n - 1 - k) % CON_SEEN_IDS;
        if (strcmp(d->seen[i], id) == 0)
            return 1;
    }
    if (d->seen_n == CON_SEEN_IDS) {
        d->seen_head = (d->seen_head + 1) % CON_SEEN_IDS;
        d->seen_n--;
    }
    snprintf(d->seen[(d->seen_head + d->seen_n) % CON_SEEN_IDS], OMNI_ID_MAX, "%s", id);
    d->seen_n++;
    return 0;
}

int con_detail_feed(struct con_detail *d, const cJSON *ev)
{
    const char *id = omni_json_string(ev, "id"), *type = omni_json_string(ev, "type");
    struct con_line *ln;
    int64_t at = 0;

    if (!d->lines || !d->session_id[0])
        return 0;
    if (id && *id && detail_seen(d, id))
        return 0;
    if (omni_event_is_bookkeeping(type))
        return 0;
    con_approvals_feed(&d->ap, ev);
    if (d->n == CON_DETAIL_LINES) {
        d->head = (d->head + 1) % CON_DETAIL_LINES;
        d->n--;
    }
    ln = &d->lines[(d->head + d->n) % CON_DETAIL_LINES];
    con_sanitize(ln->id, sizeof ln->id, id ? id : "");
    omni_json_time(ev, "processed_at", &at, NULL);
    ln->at = at;
    ln->kind = con_event_summary(ev, ln->text, sizeof ln->text);
    d->n++;
    d->gen++;
    return 1;
}

const struct con_line *con_detail_line(const struct con_detail *d, size_t i)
{
    if (i >= d->n)
        return NULL;
    return &d->lines[(d->head + i) % CON_DETAIL_LINES];
}

void con_detail_set_filter(struct con_detail *d, const char *filter)
{
    con_sanitize(d->filter, sizeof d->filter, filter ? filter : "");
    d->gen++;
}

static void detail_index(struct con_detail *d)
{
    if (d->shown_gen == d->gen && d->gen)
        return;
    d->nshown = 0;
    for (size_t i = 0; d->shown && i < d->n; i++) {
        const struct con_line *ln = con_detail_line(d, i);
        if (!d->filter[0] || strcasestr(ln->text, d->filter))
            d->shown[d->nshown++] = i;
    }
    d->shown_gen = d->gen;
}

size_t con_detail_count(struct con_detail *d)
{
    detail_index(d);
    return d->nshown;
}

const struct con_line *con_detail_shown(struct con_detail *d, size_t i)
{
    detail_index(d);
    return i < d->nshown ? con_detail_line(d, d->shown[i]) : NULL;
}

/* ---- one event, in full ------------------------------------------------------ */

void con_doc_release(struct con_doc *d)
{
    free(d->text);
    free(d->starts);
    d->text = NULL;
    d->starts = NULL;
    d->nlines = 0;
}

void con_doc_open(struct con_doc *d, const char *session_id, const char *event_id)
{
    con_doc_release(d);
    con_sanitize(d->session_id, sizeof d->session_id, session_id);
    con_sanitize(d->event_id, sizeof d->event_id, event_id);
    d->err[0] = '\0';
}

void con_doc_set(struct con_doc *d, const char *text, const char *err)
{
    size_t len;

    con_doc_release(d);
    con_sanitize(d->err, sizeof d->err, err ? err : "");
    if (!text)
        return;
    len = strlen(text);
    if (len > CON_DOC_MAX)
        len = CON_DOC_MAX;
    d->text = omni_xmalloc(len + 1);
    memcpy(d->text, text, len);
    d->text[len] = '\0';
    d->starts = omni_xcalloc(CON_DOC_LINES, sizeof *d->starts);
    d->starts[d->nlines++] = 0;
    for (size_t i = 0; i < len && d->nlines < CON_DOC_LINES; i++)
        if (d->text[i] == '\n' && i + 1 < len)
            d->starts[d->nlines++] = i + 1;
}

void con_doc_line(const struct con_doc *d, size_t i, char *out, size_t outlen)
{
    const char *s, *e;
    char tmp[1024];
    size_t n;

    out[0] = '\0';
    if (!d->text || i >= d->nlines)
        return;
    s = d->text + d->starts[i];
    e = strchr(s, '\n');
    n = e ? (size_t)(e - s) : strlen(s);
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    con_sanitize(out, outlen, tmp);
}
