/*
 * session_work — which work item serves a session: the one rule behind
 * `omnictl stop SESSION` and the console's stop of a session row.
 *
 * Only session work whose data_id is the session counts. The newest live
 * item (any state but stopped) wins; when none is live, the newest stopped
 * one, so a stop of a finished session reports "already stopped" instead of
 * failing. Equal created_at times go to the larger id, so the answer does not
 * depend on the order of the list.
 *
 * Caller contract: list the environment's work (it needs the environment
 * key, see profile.h), then ask; the pointer is into the list and lives as
 * long as it. Nothing allocates.
 */
#ifndef OMNI_SESSION_WORK_H
#define OMNI_SESSION_WORK_H

#include "api.h"

const struct omni_work *omni_work_for_session(const struct omni_work_list *wl,
                                              const char *session_id);

#endif
