/* sessions — create, list, show, events [--follow], archive, interrupt, confirm. */
#include "commands.h"
#include "hash.h"
#include "alloc.h"
#include "ctx.h"
#include "event.h"
#include "held.h"
#include "http.h"
#include "timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SES_MAX_METADATA 16
#define SES_MESSAGE_MAX (1024 * 1024)
#define SES_LIST_MAX 1000
#define SES_SUMMARY_MAX 120
#define SES_SEEN_MAX 1000000
#define SES_BACKOFF_MIN_MS 500
#define SES_BACKOFF_MAX_MS 10000

enum {
    OPT_AGENT = CTL_OPT_LONG,
    OPT_ENV,
    OPT_TITLE,
    OPT_METADATA,
    OPT_MESSAGE,
    OPT_MESSAGE_FILE,
    OPT_STATUS,
    OPT_LIMIT,
    OPT_WAITING,
    OPT_FOLLOW,
    OPT_YES,
};

static int bad_id(struct ctl_ctx *ctx, const struct ctl_args *a, const char *what, const char *id)
{
    if (omni_id_valid(id))
        return 0;
    ctx_usage_error(ctx, "%s: invalid %s \"%.80s\"", a->path, what, id);
    return 1;
}

static void kv(struct ctl_ctx *ctx, const char *k, const char *v)
{
    ctx_out(ctx, "%-16s %s\n", k, v && *v ? v : "-");
    ctx_note_id(ctx, v);
}

/* ---- create ----------------------------------------------------------- */

static const struct option create_opts[] = {
    {"agent", required_argument, NULL, OPT_AGENT},
    {"env", required_argument, NULL, OPT_ENV},
    {"title", required_argument, NULL, OPT_TITLE},
    {"metadata", required_argument, NULL, OPT_METADATA},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"message-file", required_argument, NULL, OPT_MESSAGE_FILE},
    {0},
};

static char *read_message_file(const char *path, struct omni_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct buf b = BUF_INIT_MAX(SES_MESSAGE_MAX);
    char chunk[8192];
    size_t n;

    if (!f) {
        omni_err_set(err, OMNI_E_IO, "cannot open message file \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_add(&b, chunk, n) < 0) {
            omni_err_set(err, OMNI_E_USAGE, "message file \"%s\" is larger than %d bytes", path,
                         SES_MESSAGE_MAX);
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (err->kind != OMNI_E_NONE) {
        buf_release(&b);
        return NULL;
    }
    if (memchr(b.data, '\0', b.len)) {
        buf_release(&b);
        omni_err_set(err, OMNI_E_USAGE, "message file \"%s\" holds a NUL byte", path);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

static int create_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_session_create rq = {0};
    struct omni_session s;
    struct omni_client *api;
    const char *md[SES_MAX_METADATA + 2];
    size_t nmd;
    char *msg = NULL;
    int rc;

    rq.agent_id = args_get(a, OPT_AGENT);
    if (!rq.agent_id)
        return ctx_usage_error(ctx, "sessions create: --agent ID is required");
    if (bad_id(ctx, a, "agent id", rq.agent_id))
        return CTL_EXIT_USAGE;
    rq.environment_id = ctx_env(ctx, args_get(a, OPT_ENV), &err);
    if (!rq.environment_id)
        return ctx_fail(ctx, &err);
    rq.title = args_get(a, OPT_TITLE);
    nmd = args_all(a, OPT_METADATA, md, SES_MAX_METADATA + 1);
    if (nmd > SES_MAX_METADATA)
        return ctx_usage_error(ctx, "sessions create: at most %d --metadata pairs",
                               SES_MAX_METADATA);
    for (size_t i = 0; i < nmd; i++) {
        const char *eq = strchr(md[i], '=');
        if (!eq || eq == md[i])
            return ctx_usage_error(ctx, "sessions create: metadata \"%.80s\" is not KEY=VALUE",
                                   md[i]);
    }
    md[nmd] = NULL;
    rq.metadata = nmd ? md : NULL;
    if (args_has(a, OPT_MESSAGE) && args_has(a, OPT_MESSAGE_FILE))
        return ctx_usage_error(ctx, "sessions create: give --message or --message-file, not both");
    rq.message = args_get(a, OPT_MESSAGE);
    if (args_has(a, OPT_MESSAGE_FILE)) {
        msg = read_message_file(args_get(a, OPT_MESSAGE_FILE), &err);
        if (!msg)
            return ctx_fail(ctx, &err);
        rq.message = msg;
    }
    api = ctx_api(ctx, &err);
    if (!api) {
        free(msg);
        return ctx_fail(ctx, &err);
    }
    rc = omni_session_create(api, &rq, &s, &err);
    free(msg);
    if (rc < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        ctx_json(ctx, s.json);
    } else {
        ctx_out(ctx, "%s\n", s.id);
        ctx_note_id(ctx, s.id);
    }
    omni_session_release(&s);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_create = {
    .name = "create",
    .usage = "sessions create --agent ID [--env ENV] [--title TITLE] [--metadata KEY=VALUE ...] "
             "[--message TEXT | --message-file FILE]",
    .summary = "Create a session in an environment and print its id.",
    .longopts = create_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API | CTL_F_CHANGES,
    .exec = create_exec,
};

/* ---- list ---------------------------------------------------------------- */

static const struct option list_opts[] = {
    {"env", required_argument, NULL, OPT_ENV},
    {"status", required_argument, NULL, OPT_STATUS},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"waiting", no_argument, NULL, OPT_WAITING},
    {0},
};

static int list_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    static const char *const statuses[] = {"idle", "running", "rescheduling", "terminated", NULL};
    static const char *const hdr[] = {"SESSION", "STATUS",  "ENVIRONMENT",
                                      "AGENT",   "CREATED", "TITLE"};
    static const char *const hdr_waiting[] = {"SESSION", "STATUS",  "ENVIRONMENT",
                                              "AGENT",   "CREATED", "HELD",
                                              "TITLE",   "UPDATED", "ARCHIVED"};
    static const char *const hdr_wide[] = {"SESSION", "STATUS", "ENVIRONMENT", "AGENT",
                                           "CREATED", "TITLE",  "UPDATED",     "ARCHIVED"};
    int wide = ctx->output == CTL_OUT_WIDE;
    size_t *held;
    int waiting = args_has(a, OPT_WAITING);
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_session_filter f = {0};
    struct omni_session_list l = {0};
    struct omni_client *api;
    const char *lim = args_get(a, OPT_LIMIT);
    int ok = 0;

    f.environment_id = args_get(a, OPT_ENV);
    if (f.environment_id && bad_id(ctx, a, "environment id", f.environment_id))
        return CTL_EXIT_USAGE;
    f.status = args_get(a, OPT_STATUS);
    if (f.status) {
        for (const char *const *s = statuses; *s; s++)
            ok |= strcmp(*s, f.status) == 0;
        if (!ok)
            return ctx_usage_error(ctx,
                                   "sessions list: unknown status \"%.40s\" (idle, running, "
                                   "rescheduling, terminated)",
                                   f.status);
    }
    f.limit = 100;
    if (lim) {
        char *end;
        errno = 0;
        f.limit = strtol(lim, &end, 10);
        if (errno || end == lim || *end || f.limit < 1 || f.limit > SES_LIST_MAX)
            return ctx_usage_error(ctx, "sessions list: --limit \"%.40s\" is not 1..%d", lim,
                                   SES_LIST_MAX);
    }
    if (waiting) {
        /* A held call leaves the session idle (requires_action). */
        if (f.status && strcmp(f.status, "idle") != 0)
            return ctx_usage_error(ctx, "sessions list: --waiting lists idle sessions only");
        f.status = "idle";
    }
    api = ctx_api(ctx, &err);
    if (!api || omni_session_list(api, &f, &l, &err) < 0)
        return ctx_fail(ctx, &err);
    held = omni_xcalloc(l.n ? l.n : 1, sizeof *held);
    if (waiting && held_scan(api, &l, held, ctx->abort, &err) < 0) {
        free(held);
        omni_session_list_release(&l);
        return ctx_fail(ctx, &err);
    }
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "sessions");
        for (size_t i = 0; i < l.n; i++) {
            cJSON *o;
            if (waiting && !held[i])
                continue;
            o = cJSON_Duplicate(l.items[i].json, 1);
            if (waiting && o)
                cJSON_AddNumberToObject(o, "held_calls", (double)held[i]);
            cJSON_AddItemToArray(arr, o);
        }
        ctx_json(ctx, root);
        cJSON_Delete(root);
    } else {
        struct ctl_table t;
        ctl_table_init(&t, (waiting ? 7 : 6) + (wide ? 2 : 0),
                       waiting ? hdr_waiting
                       : wide  ? hdr_wide
                               : hdr);
        for (size_t i = 0; i < l.n; i++) {
            const struct omni_session *s = &l.items[i];
            char created[40], nheld[24], updated[40], archived[40];
            if (waiting && !held[i])
                continue;
            snprintf(nheld, sizeof nheld, "%zu", held[i]);
            const char *row[] = {s->id,
                                 s->status,
                                 s->environment_id,
                                 s->agent_id,
                                 ctl_time(s->created_at, created, sizeof created),
                                 waiting ? nheld : s->title,
                                 waiting ? s->title
                                         : ctl_time(s->updated_at, updated, sizeof updated),
                                 waiting ? ctl_time(s->updated_at, updated, sizeof updated)
                                         : ctl_time(s->archived_at, archived, sizeof archived),
                                 ctl_time(s->archived_at, archived, sizeof archived)};
            ctl_table_row(&t, row, NULL);
        }
        ctl_table_print(ctx, &t);
        ctl_table_release(&t);
    }
    free(held);
    omni_session_list_release(&l);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_list = {
    .name = "list",
    .alias = "ls",
    .usage = "sessions list [--env ENV] [--status STATUS] [--limit N] [--waiting] "
             "[-o table|wide|json] [--watch SECS]",
    .summary = "List sessions (newest first).",
    .longopts = list_opts,
    .min_args = 0,
    .max_args = 0,
    .flags = CTL_F_API | CTL_F_WATCH,
    .exec = list_exec,
};

/* ---- show ------------------------------------------------------------------ */

static int show_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_session s;
    struct omni_client *api;
    char t1[40], t2[40], t3[40];

    if (bad_id(ctx, a, "session id", a->argv[0]))
        return CTL_EXIT_USAGE;
    api = ctx_api(ctx, &err);
    if (!api || omni_session_get(api, a->argv[0], &s, &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON) {
        ctx_json(ctx, s.json);
    } else {
        kv(ctx, "id", s.id);
        kv(ctx, "status", s.status);
        kv(ctx, "environment", s.environment_id);
        kv(ctx, "agent", s.agent_id);
        kv(ctx, "title", s.title);
        kv(ctx, "created", ctl_time(s.created_at, t1, sizeof t1));
        kv(ctx, "updated", ctl_time(s.updated_at, t2, sizeof t2));
        kv(ctx, "archived", ctl_time(s.archived_at, t3, sizeof t3));
    }
    omni_session_release(&s);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_show = {
    .name = "show",
    .usage = "sessions show ID",
    .summary = "Show one session.",
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API,
    .exec = show_exec,
};

/* ---- events ---------------------------------------------------------------- */

/* First text of a content value (string or block list). */
static const char *content_text(const cJSON *content)
{
    const cJSON *b;
    if (cJSON_IsString(content))
        return content->valuestring;
    cJSON_ArrayForEach(b, content) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (cJSON_IsString(t))
            return t->valuestring;
    }
    return NULL;
}

/* Copy s's first line, control characters as blanks, cut on a UTF-8 boundary. */
static void summary_add(char *out, size_t n, const char *s)
{
    size_t len = strlen(out);
    size_t max = n - 1 < SES_SUMMARY_MAX ? n - 1 : SES_SUMMARY_MAX;

    for (; s && *s && *s != '\n' && len < max; s++)
        out[len++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    if (s && *s && *s != '\n' && len >= max) {
        while (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0xC0)
            len--;
        if (len + 3 < n) {
            memcpy(out + len, "...", 3);
            len += 3;
        }
    }
    out[len] = '\0';
}

static void event_summary(const cJSON *ev, const char *type, char *out, size_t n)
{
    enum omni_event_kind kind = omni_event_kind_of_type(type);
    const cJSON *x;
    out[0] = '\0';
    if (omni_event_is_tool_use(kind)) {
        const cJSON *input = cJSON_GetObjectItemCaseSensitive(ev, "input");
        const char *gist = omni_tool_input_gist(input);
        summary_add(out, n, omni_json_string(ev, "name") ? omni_json_string(ev, "name") : "?");
        summary_add(out, n, " ");
        if (gist) {
            summary_add(out, n, gist);
        } else if (input) {
            char *j = cJSON_PrintUnformatted(input);
            summary_add(out, n, j);
            free(j);
        }
    } else if (omni_event_is_tool_result(kind)) {
        x = cJSON_GetObjectItemCaseSensitive(ev, "is_error");
        summary_add(out, n, cJSON_IsTrue(x) ? "error: " : "ok: ");
        summary_add(out, n, content_text(cJSON_GetObjectItemCaseSensitive(ev, "content")));
    } else if (kind == OMNI_EV_USER_TOOL_CONFIRMATION) {
        x = cJSON_GetObjectItemCaseSensitive(ev, "tool_use_id");
        summary_add(out, n, cJSON_IsString(x) ? x->valuestring : "?");
        x = cJSON_GetObjectItemCaseSensitive(ev, "result");
        summary_add(out, n, " ");
        summary_add(out, n, cJSON_IsString(x) ? x->valuestring : "?");
    } else if (kind == OMNI_EV_SESSION_STATUS_IDLE) {
        x = cJSON_GetObjectItemCaseSensitive(ev, "stop_reason");
        x = cJSON_GetObjectItemCaseSensitive(x, "type");
        summary_add(out, n, cJSON_IsString(x) ? x->valuestring : "");
    } else if (kind == OMNI_EV_SESSION_ERROR) {
        x = cJSON_GetObjectItemCaseSensitive(ev, "error");
        x = cJSON_GetObjectItemCaseSensitive(x, "message");
        summary_add(out, n, cJSON_IsString(x) ? x->valuestring : "");
    } else if ((x = cJSON_GetObjectItemCaseSensitive(ev, "content")) != NULL) {
        summary_add(out, n, content_text(x));
    }
}

static void event_print(struct ctl_ctx *ctx, const struct omni_event *ev)
{
    char t[40], sum[SES_SUMMARY_MAX + 8];
    if (ctx->output == CTL_OUT_JSON) {
        ctx_json(ctx, ev->obj);
    } else {
        event_summary(ev->obj, ev->type, sum, sizeof sum);
        ctx_out(ctx, "%-20s  %-28s  %s\n", ctl_time(ev->processed_at, t, sizeof t), ev->type, sum);
        ctx_note_id(ctx, ev->id);
    }
    fflush(ctx->out);
}

/* A set of event ids (open addressing). */
struct seen {
    char **slot;
    size_t cap, n;
};

/* 1 when newly added, 0 when already there (or no room: printed anyway). */
static int seen_add(struct seen *st, const char *id)
{
    size_t i;
    if (!id[0])
        return 1;
    if (st->n * 2 >= st->cap) {
        struct seen bigger = {0};
        if (st->n >= SES_SEEN_MAX)
            return 1;
        bigger.cap = st->cap ? st->cap * 2 : 1024;
        bigger.slot = calloc(bigger.cap, sizeof *bigger.slot);
        if (!bigger.slot)
            return 1;
        for (size_t k = 0; k < st->cap; k++) {
            if (!st->slot[k])
                continue;
            i = omni_hash_str(st->slot[k]) & (bigger.cap - 1);
            while (bigger.slot[i])
                i = (i + 1) & (bigger.cap - 1);
            bigger.slot[i] = st->slot[k];
        }
        free(st->slot);
        bigger.n = st->n;
        *st = bigger;
    }
    i = omni_hash_str(id) & (st->cap - 1);
    while (st->slot[i]) {
        if (strcmp(st->slot[i], id) == 0)
            return 0;
        i = (i + 1) & (st->cap - 1);
    }
    st->slot[i] = strdup(id);
    if (st->slot[i])
        st->n++;
    return 1;
}

static void seen_release(struct seen *st)
{
    for (size_t k = 0; k < st->cap; k++)
        free(st->slot[k]);
    free(st->slot);
    memset(st, 0, sizeof *st);
}

static int is_final(const char *type)
{
    return omni_event_ends_session(omni_event_kind_of_type(type));
}

struct follow {
    struct ctl_ctx *ctx;
    struct omni_client *lister;
    const char *session_id;
    struct seen seen;
    volatile int *abort;
    int done, got_event;
};

/* The stream is open: list history, print what is new. */
static void follow_open(void *ud)
{
    struct follow *f = ud;
    struct omni_event_list l = {0};
    struct omni_err err = OMNI_ERR_INIT;

    if (omni_events_list(f->lister, f->session_id, &l, &err) < 0) {
        if (f->ctx->verbose)
            ctx_error(f->ctx, "events: %s (continuing with the live stream)", err.msg);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (!seen_add(&f->seen, l.items[i].id))
            continue;
        event_print(f->ctx, &l.items[i]);
        if (is_final(l.items[i].type))
            f->done = 1;
    }
    omni_event_list_release(&l);
    if (f->done)
        *f->abort = 1;
}

static int follow_event(struct omni_event *ev, void *ud)
{
    struct follow *f = ud;
    f->got_event = 1;
    if (seen_add(&f->seen, ev->id))
        event_print(f->ctx, ev);
    if (is_final(ev->type)) {
        f->done = 1;
        return 1;
    }
    return 0;
}

static int events_follow(struct ctl_ctx *ctx, struct omni_client *api, const char *sid)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct follow f = {0};
    struct omni_stream_handler h = {0};
    volatile int local_abort = 0;
    long backoff = SES_BACKOFF_MIN_MS;
    int rc = CTL_EXIT_OK;

    f.ctx = ctx;
    f.session_id = sid;
    f.abort = ctx->abort ? ctx->abort : &local_abort;
    f.lister = omni_client_dup(api, &err);
    if (!f.lister)
        return ctx_fail(ctx, &err);
    h.on_event = follow_event;
    h.on_open = follow_open;
    h.ud = &f;
    h.abort = f.abort;
    for (;;) {
        int ended = 0, r;
        omni_err_clear(&err);
        f.got_event = 0;
        r = omni_events_stream(api, sid, &h, &ended, &err);
        if (f.done)
            break;
        if (*f.abort) {
            break;
        }
        if (r < 0 && omni_err_is_fatal(&err)) {
            rc = ctx_fail(ctx, &err);
            break;
        }
        if (ctx->verbose)
            ctx_error(ctx, "events: %s (reconnecting)", r < 0 ? err.msg : "stream ended");
        if (f.got_event)
            backoff = SES_BACKOFF_MIN_MS;
        omni_sleep_ms(backoff, f.abort);
        backoff = backoff * 2 > SES_BACKOFF_MAX_MS ? SES_BACKOFF_MAX_MS : backoff * 2;
    }
    if (f.abort == ctx->abort && f.done)
        *f.abort = 0; /* our own stop, not the user's */
    omni_client_free(f.lister);
    seen_release(&f.seen);
    return rc;
}

static const struct option events_opts[] = {
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {0},
};

static int events_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_event_list l = {0};
    struct omni_client *api;

    if (bad_id(ctx, a, "session id", a->argv[0]))
        return CTL_EXIT_USAGE;
    api = ctx_api(ctx, &err);
    if (!api)
        return ctx_fail(ctx, &err);
    if (args_has(a, OPT_FOLLOW))
        return events_follow(ctx, api, a->argv[0]);
    if (omni_events_list(api, a->argv[0], &l, &err) < 0)
        return ctx_fail(ctx, &err);
    for (size_t i = 0; i < l.n; i++)
        event_print(ctx, &l.items[i]);
    omni_event_list_release(&l);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_events = {
    .name = "events",
    .usage = "sessions events [--follow] ID",
    .summary = "Print a session's events (time, type, summary); --follow streams new ones.",
    .longopts = events_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API,
    .exec = events_exec,
};

/* ---- archive / interrupt / confirm ---------------------------------------- */

static const struct option yes_opts[] = {
    {"yes", no_argument, NULL, OPT_YES},
    {0},
};

static int archive_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *api;

    if (bad_id(ctx, a, "session id", a->argv[0]))
        return CTL_EXIT_USAGE;
    if (!args_has(a, OPT_YES) && !ctx_confirm(ctx, "archive session %s?", a->argv[0])) {
        ctx_error(ctx, "sessions archive: not confirmed, nothing done");
        return CTL_EXIT_FAIL;
    }
    api = ctx_api(ctx, &err);
    if (!api || omni_session_archive(api, a->argv[0], &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON)
        ctx_out(ctx, "{\"id\":\"%s\",\"archived\":true}\n", a->argv[0]);
    else
        ctx_out(ctx, "archived %s\n", a->argv[0]);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_archive = {
    .name = "archive",
    .usage = "sessions archive [--yes] ID",
    .summary = "Archive a session.",
    .longopts = yes_opts,
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API | CTL_F_CHANGES | CTL_F_CONFIRM,
    .exec = archive_exec,
};

static int interrupt_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *api;

    if (bad_id(ctx, a, "session id", a->argv[0]))
        return CTL_EXIT_USAGE;
    api = ctx_api(ctx, &err);
    if (!api || omni_send_interrupt(api, a->argv[0], &err) < 0)
        return ctx_fail(ctx, &err);
    if (ctx->output == CTL_OUT_JSON)
        ctx_out(ctx, "{\"id\":\"%s\",\"interrupted\":true}\n", a->argv[0]);
    else
        ctx_out(ctx, "interrupt sent to %s\n", a->argv[0]);
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_interrupt = {
    .name = "interrupt",
    .usage = "sessions interrupt ID",
    .summary = "Send user.interrupt to a session.",
    .min_args = 1,
    .max_args = 1,
    .flags = CTL_F_API | CTL_F_CHANGES,
    .exec = interrupt_exec,
};

static const struct option confirm_opts[] = {
    {"message", required_argument, NULL, OPT_MESSAGE},
    {0},
};

/* The user.tool_confirmation the server recorded for tool_use_id (after posting). */
static const struct omni_event *confirmation_recorded(const struct omni_event_list *l,
                                                      const char *tool_use_id)
{
    for (size_t i = l->n; i-- > 0;) {
        const char *ans = omni_event_answers(l->items[i].obj);
        if (omni_event_kind(l->items[i].obj) == OMNI_EV_USER_TOOL_CONFIRMATION && ans &&
            strcmp(ans, tool_use_id) == 0)
            return &l->items[i];
    }
    return NULL;
}

/*
 * Before posting, the session's events must show the call held and
 * unanswered: an unknown id is 4 (not found); a call that was never held,
 * is answered already or was settled by an interrupt or the session's end
 * is 2 (the request makes no sense). Then report what the server recorded.
 */
static int confirm_exec(struct ctl_ctx *ctx, const struct ctl_args *a)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_event_list l = {0};
    struct omni_client *api;
    const struct omni_event *rec;
    const char *sid = a->argv[0], *tu = a->argv[1], *verdict = a->argv[2],
               *msg = args_get(a, OPT_MESSAGE);
    char detail[160], ts[40] = "";
    enum held_state hs;
    int allow;

    if (bad_id(ctx, a, "session id", sid) || bad_id(ctx, a, "tool use id", tu))
        return CTL_EXIT_USAGE;
    if (strcmp(verdict, "allow") == 0)
        allow = 1;
    else if (strcmp(verdict, "deny") == 0)
        allow = 0;
    else
        return ctx_usage_error(ctx, "sessions confirm: verdict \"%.20s\" is not allow or deny",
                               verdict);
    if (allow && msg)
        return ctx_usage_error(ctx, "sessions confirm: --message goes with deny");
    api = ctx_api(ctx, &err);
    if (!api || omni_events_list(api, sid, &l, &err) < 0)
        return ctx_fail(ctx, &err);
    hs = held_call_state(&l, tu, detail, sizeof detail);
    omni_event_list_release(&l);
    switch (hs) {
    case HELD_WAITING:
        break;
    case HELD_UNKNOWN:
        ctx_error(ctx, "sessions confirm: no tool call %s in session %s", tu, sid);
        return CTL_EXIT_NOTFOUND;
    case HELD_NOT_HELD:
        ctx_error(ctx, "sessions confirm: %s was not held for confirmation (%s); nothing sent", tu,
                  detail);
        return CTL_EXIT_USAGE;
    case HELD_ANSWERED:
        ctx_error(ctx, "sessions confirm: %s is already answered (%s); nothing sent", tu, detail);
        return CTL_EXIT_USAGE;
    default:
        ctx_error(ctx, "sessions confirm: %s is no longer held (%s); nothing sent", tu, detail);
        return CTL_EXIT_USAGE;
    }
    if (omni_send_confirmation(api, sid, tu, allow, msg, &err) < 0)
        return ctx_fail(ctx, &err);
    /* What the server recorded (best effort: the post itself succeeded). */
    if (omni_events_list(api, sid, &l, &err) == 0 && (rec = confirmation_recorded(&l, tu)))
        snprintf(detail, sizeof detail, "%s", rec->id);
    else
        detail[0] = '\0';
    if (detail[0] && rec->processed_at)
        omni_rfc3339_format(rec->processed_at, ts, sizeof ts, 0);
    omni_event_list_release(&l);
    if (ctx->output == CTL_OUT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", sid);
        cJSON_AddStringToObject(o, "tool_use_id", tu);
        cJSON_AddStringToObject(o, "result", verdict);
        if (detail[0])
            cJSON_AddStringToObject(o, "event_id", detail);
        else
            cJSON_AddNullToObject(o, "event_id");
        if (ts[0])
            cJSON_AddStringToObject(o, "processed_at", ts);
        else
            cJSON_AddNullToObject(o, "processed_at");
        ctx_json(ctx, o);
        cJSON_Delete(o);
    } else if (detail[0]) {
        ctx_out(ctx, "%s %s in %s: the server recorded %s%s%s\n", allow ? "allowed" : "denied", tu,
                sid, detail, ts[0] ? " at " : " (not yet processed)", ts);
    } else {
        ctx_out(ctx, "%s %s in %s: sent (accepted; not yet in the session's events)\n",
                allow ? "allowed" : "denied", tu, sid);
    }
    return CTL_EXIT_OK;
}

static const struct ctl_cmd cmd_confirm = {
    .name = "confirm",
    .usage = "sessions confirm [--message TEXT] ID TOOL-USE-ID allow|deny",
    .summary = "Answer a tool call held for confirmation (allow or deny).",
    .longopts = confirm_opts,
    .min_args = 3,
    .max_args = 3,
    .flags = CTL_F_API | CTL_F_CHANGES,
    .exec = confirm_exec,
};

static const struct ctl_cmd *const sessions_table[] = {
    &cmd_create,  &cmd_list,      &cmd_show,    &cmd_events,
    &cmd_archive, &cmd_interrupt, &cmd_confirm, NULL,
};

const struct ctl_cmd ctl_cmd_sessions = {
    .name = "sessions",
    .alias = "session",
    .usage = "sessions create|list|show|events|archive|interrupt|confirm ...",
    .summary = "Create, inspect and steer sessions.",
    .flags = CTL_F_API,
    .subcmds = sessions_table,
};
