#include "session_work.h"

#include <string.h>

static int newer(const struct omni_work *a, const struct omni_work *b)
{
    if (!b)
        return 1;
    if (a->created_at != b->created_at)
        return a->created_at > b->created_at;
    return strcmp(a->id, b->id) > 0;
}

const struct omni_work *omni_work_for_session(const struct omni_work_list *wl,
                                              const char *session_id)
{
    const struct omni_work *live = NULL, *stopped = NULL;

    if (!session_id || !*session_id)
        return NULL;
    for (size_t i = 0; i < wl->n; i++) {
        const struct omni_work *w = &wl->items[i];

        if (strcmp(w->data_type, "session") != 0 || strcmp(w->data_id, session_id) != 0)
            continue;
        if (strcmp(w->state, "stopped") == 0) {
            if (newer(w, stopped))
                stopped = w;
        } else if (newer(w, live)) {
            live = w;
        }
    }
    return live ? live : stopped;
}
