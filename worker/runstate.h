/*
 * runstate — the session runner's pure state machine: routing, de-duplication,
 * confirmations, ownership, idle readiness and the result cache
 * (protocol.md §8.5–§8.9, §9.6). No I/O except log lines; the runner feeds it
 * events and asks it what to run next.
 *
 * Caller steps:
 *   1. rstate_new(owns, ud): owns(ud, name) says whether the worker's toolset
 *      registers a tool name (§8.8).
 *   2. After each stream (re)open: rstate_reconcile_begin(), then
 *      rstate_reconcile_add() for every history event in list order, then
 *      rstate_reconcile_end(ok) (ok = 0 when listing failed part way).
 *   3. Every live stream event: rstate_live().
 *   4. rstate_next() hands out the next call to run (or to re-post from the
 *      cache); the caller owns it and MUST report it with rstate_done().
 *      With rstate_set_max_inflight(n > 1), up to n calls are out at once,
 *      never two of one session thread (a thread's calls run in order, as
 *      SDK 1.16's maxConcurrentCalls); rstate_take_ended_thread() names each
 *      thread that terminated, so the runner can stop its call and shell.
 *   5. rstate_idle_ready() / rstate_ended() drive the idle countdown and the
 *      end of the run.
 *
 * Guarantees: a call id is handed out at most once at a time; an id with a
 * known result (posted by us, by someone else, or answered server-side) is
 * never handed out; an id whose post failed is handed out again only with its
 * cached result (rs_call.cached), never to be re-executed; `ask` / unknown
 * permission calls are held until a verdict, and an interrupt or the
 * session's end (omni_event_cancels_held) settles every call then held: it is
 * never run and a later confirmation for it does nothing; deny posts nothing; names not
 * owned are left alone (not marked answered); calls of a terminated thread are
 * dropped.
 */
#ifndef OMNI_RUNSTATE_H
#define OMNI_RUNSTATE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define RS_NO_OUTPUT "(no output)"
#define RS_MAX_IDS 200000         /* distinct ids tracked per session run */
#define RS_ENDED_THREADS_MAX 4096 /* terminated threads waiting for the runner */

struct rs_result {
    int is_error;
    char *text;
};

struct rs_call {
    char *id;
    char *name;
    char *thread;                   /* session_thread_id or NULL */
    cJSON *input;                   /* owned; an empty object when absent */
    int custom;                     /* agent.custom_tool_use -> user.custom_tool_result */
    int gated;                      /* released by a confirmation */
    const struct rs_result *cached; /* set: re-post this, do not execute */
};

enum rs_outcome {
    RS_POSTED = 0,  /* the result is on the server: answered */
    RS_POST_FAILED, /* transient failure: cache the result, re-post later */
    RS_GAVE_UP,     /* permanent failure: mark answered, never retry */
    RS_ABANDONED,   /* not run (shutdown): forget, leave unanswered */
};

typedef int (*rs_owns_fn)(void *ud, const char *name);

struct rstate;

struct rstate *rstate_new(rs_owns_fn owns, void *ud);
void rstate_free(struct rstate *rs);

void rstate_reconcile_begin(struct rstate *rs);
void rstate_reconcile_add(struct rstate *rs, const cJSON *ev);
void rstate_reconcile_end(struct rstate *rs, int ok);

void rstate_live(struct rstate *rs, const cJSON *ev);

/* How many calls may be out at once (default 1); only while none is. 0 or -1. */
int rstate_set_max_inflight(struct rstate *rs, size_t n);
/* Next call to run or re-post (caller owns it), NULL when none is ready:
 * the oldest queued call whose thread has none in flight, while fewer than
 * the maximum are out. */
struct rs_call *rstate_next(struct rstate *rs);
/* Report a call handed out by rstate_next(); res is copied when caching. */
void rstate_done(struct rstate *rs, const struct rs_call *c, enum rs_outcome how,
                 const struct rs_result *res);
/* 1 when the thread (NULL: the primary, never) has terminated. */
int rstate_thread_ended(const struct rstate *rs, const char *thread);
/* 1 when the session no longer takes the result of call c, handed out and
 * running: answered elsewhere, its thread terminated, or (a child thread)
 * its thread's turn ended. The runner stops it and posts nothing. */
int rstate_unwanted(const struct rstate *rs, const struct rs_call *c);
/* A thread that terminated since the last call (malloc'd, caller frees), or NULL. */
char *rstate_take_ended_thread(struct rstate *rs);
void rs_call_free(struct rs_call *c);

/* 1 when the turn has ended and nothing is queued, running or held; *gen
 * changes each time a new idle event arms the countdown. */
int rstate_idle_ready(const struct rstate *rs, unsigned *gen);
/* 1 after session.status_terminated or session.deleted. */
int rstate_ended(const struct rstate *rs);
size_t rstate_held(const struct rstate *rs);
size_t rstate_queued(const struct rstate *rs);
/* Calls waiting on a person while nothing else is to be done: held for a
 * confirmation, or left for another client (a custom tool); 0 while a call
 * is queued or running or after the session ended. */
size_t rstate_waiting(const struct rstate *rs);
/* 1 when the id has a known result. */
int rstate_answered(const struct rstate *rs, const char *id);

/* Result event for posting (§8.3): text normalised, is_error always sent. */
cJSON *rstate_result_event(const char *id, int custom, int is_error, const char *text);

#endif
