/* held — tool calls waiting on a person, from a session's events. */
#include "held.h"

#include "alloc.h"
#include "event.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of the call whose agent.tool_use is l->items[at] (held or not). */
static enum held_state settle(const struct omni_event_list *l, size_t at, char *detail, size_t n)
{
    const char *id = l->items[at].id;
    char ts[40];

    for (size_t i = at + 1; i < l->n; i++) {
        const cJSON *ev = l->items[i].obj;
        enum omni_event_kind k = omni_event_kind(ev);
        const char *ans = omni_event_answers(ev);

        if (ans && strcmp(ans, id) == 0) {
            const char *res = omni_json_string(ev, "result");
            omni_rfc3339_format(l->items[i].processed_at, ts, sizeof ts, 0);
            snprintf(detail, n, "%s%s%s at %s", l->items[i].type, res ? " " : "", res ? res : "",
                     l->items[i].processed_at ? ts : "?");
            return HELD_ANSWERED;
        }
        if (omni_event_cancels_held(k)) {
            omni_rfc3339_format(l->items[i].processed_at, ts, sizeof ts, 0);
            snprintf(detail, n, "settled by %s at %s", l->items[i].type,
                     l->items[i].processed_at ? ts : "?");
            return HELD_CANCELLED;
        }
    }
    snprintf(detail, n, "held since %s",
             omni_rfc3339_format(l->items[at].processed_at, ts, sizeof ts, 0));
    return HELD_WAITING;
}

enum held_state held_call_state(const struct omni_event_list *l, const char *id, char *detail,
                                size_t n)
{
    detail[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const cJSON *ev = l->items[i].obj;
        if (!omni_event_is_tool_use(omni_event_kind(ev)) || strcmp(l->items[i].id, id) != 0)
            continue;
        if (!omni_event_is_held(ev)) {
            snprintf(detail, n, "permission %s", omni_permission_name(omni_event_permission(ev)));
            return HELD_NOT_HELD;
        }
        return settle(l, i, detail, n);
    }
    return HELD_UNKNOWN;
}

size_t held_count(const struct omni_event_list *l)
{
    size_t held = 0;
    char d[8];

    for (size_t i = 0; i < l->n; i++)
        if (omni_event_is_held(l->items[i].obj) && settle(l, i, d, sizeof d) == HELD_WAITING)
            held++;
    return held;
}

int held_scan(struct omni_client *c, const struct omni_session_list *l, size_t *counts,
              volatile int *cancel, struct omni_err *err)
{
    for (size_t i = 0; i < l->n; i++) {
        struct omni_event_list ev = {0};

        counts[i] = 0;
        if (strcmp(l->items[i].status, "idle") != 0)
            continue;
        if (cancel && *cancel)
            return omni_err_set(err, OMNI_E_ABORTED, "aborted");
        if (omni_events_list(c, l->items[i].id, &ev, err) < 0)
            return -1;
        counts[i] = held_count(&ev);
        omni_event_list_release(&ev);
    }
    return 0;
}

long held_sessions_in_env(struct omni_client *c, const char *env, long *calls, volatile int *cancel,
                          struct omni_err *err)
{
    struct omni_session_filter f = {0};
    struct omni_session_list l = {0};
    size_t *counts;
    long n = 0;

    if (calls)
        *calls = 0;
    f.environment_id = env;
    f.status = "idle";
    f.limit = HELD_SCAN_MAX;
    f.fields_only = 1;
    if (omni_session_list(c, &f, &l, err) < 0)
        return -1;
    counts = omni_xcalloc(l.n ? l.n : 1, sizeof *counts);
    if (held_scan(c, &l, counts, cancel, err) < 0) {
        n = -1;
    } else {
        for (size_t i = 0; i < l.n; i++) {
            n += counts[i] > 0;
            if (calls)
                *calls += (long)counts[i];
        }
    }
    free(counts);
    omni_session_list_release(&l);
    return n;
}
