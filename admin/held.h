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

/* Held calls of each session of l (counts[i]; a session not idle has none:
 * a held call leaves its session idle, requires_action). 0, or -1 with err. */
int held_scan(struct omni_client *c, const struct omni_session_list *l, size_t *counts,
              volatile int *cancel, struct omni_err *err);
/* Sessions of env waiting on a person (held calls), among its newest
 * HELD_SCAN_MAX idle sessions; *calls (may be NULL) gets the held calls.
 * -1 with err. */
#define HELD_SCAN_MAX 200
long held_sessions_in_env(struct omni_client *c, const char *env, long *calls, volatile int *cancel,
                          struct omni_err *err);

#endif
