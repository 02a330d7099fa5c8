/*
 * held — which tool calls of a session wait on a person, from its events
 * (lib/event.h rules): an agent.tool_use held for a confirmation stays held
 * until a result or confirmation answers it, or an interrupt or the end of
 * the session cancels every held call. Used by `sessions confirm` (check
 * before posting), `sessions list --waiting` and the stats waiting count.
 */
#ifndef OMNICTL_HELD_H
#define OMNICTL_HELD_H

#include "api.h"

#include <stddef.h>

enum held_state {
    HELD_UNKNOWN = 0, /* no tool call with that id in the session */
    HELD_NOT_HELD,    /* the call ran or was refused without asking */
    HELD_WAITING,     /* held, unanswered: a confirmation is wanted */
    HELD_ANSWERED,    /* already confirmed, denied or given a result */
    HELD_CANCELLED,   /* an interrupt or the session's end settled it */
};

/* The state of tool call id; detail gets a short text ("allow at ..."). */
enum held_state held_call_state(const struct omni_event_list *l, const char *id, char *detail,
                                size_t n);
/* Tool calls held and unanswered now. */
size_t held_count(const struct omni_event_list *l);

#endif
