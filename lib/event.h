/*
 * event — the session event vocabulary every program reads the same way.
 *
 * The worker (what to run, what is answered), the console and omnictl (what
 * is held, what a line means) and the simulator (what a posted event does)
 * ask these functions instead of comparing type strings themselves, so a
 * rule such as "an unrecognised permission holds the call" is written once.
 *
 * Caller contract: pass the event object as parsed from the API (any shape is
 * accepted: a missing or non-string field reads as absent). Nothing here
 * allocates, and every returned string points into the event or is static.
 */
#ifndef OMNI_EVENT_H
#define OMNI_EVENT_H

#include <cjson/cJSON.h>

/* X(kind, wire type) for every event type the programs act on. */
#define OMNI_EVENT_TYPES(X)                                                                        \
    X(OMNI_EV_USER_MESSAGE, "user.message")                                                        \
    X(OMNI_EV_USER_INTERRUPT, "user.interrupt")                                                    \
    X(OMNI_EV_USER_TOOL_CONFIRMATION, "user.tool_confirmation")                                    \
    X(OMNI_EV_USER_TOOL_RESULT, "user.tool_result")                                                \
    X(OMNI_EV_USER_CUSTOM_TOOL_RESULT, "user.custom_tool_result")                                  \
    X(OMNI_EV_USER_DEFINE_OUTCOME, "user.define_outcome")                                          \
    X(OMNI_EV_SYSTEM_MESSAGE, "system.message")                                                    \
    X(OMNI_EV_AGENT_MESSAGE, "agent.message")                                                      \
    X(OMNI_EV_AGENT_TOOL_USE, "agent.tool_use")                                                    \
    X(OMNI_EV_AGENT_CUSTOM_TOOL_USE, "agent.custom_tool_use")                                      \
    X(OMNI_EV_AGENT_MCP_TOOL_USE, "agent.mcp_tool_use")                                            \
    X(OMNI_EV_AGENT_TOOL_RESULT, "agent.tool_result")                                              \
    X(OMNI_EV_AGENT_MCP_TOOL_RESULT, "agent.mcp_tool_result")                                      \
    X(OMNI_EV_SESSION_STATUS_RUNNING, "session.status_running")                                    \
    X(OMNI_EV_SESSION_STATUS_IDLE, "session.status_idle")                                          \
    X(OMNI_EV_SESSION_STATUS_RESCHEDULED, "session.status_rescheduled")                            \
    X(OMNI_EV_SESSION_STATUS_TERMINATED, "session.status_terminated")                              \
    X(OMNI_EV_SESSION_THREAD_STATUS_IDLE, "session.thread_status_idle")                            \
    X(OMNI_EV_SESSION_THREAD_STATUS_TERMINATED, "session.thread_status_terminated")                \
    X(OMNI_EV_SESSION_DELETED, "session.deleted")                                                  \
    X(OMNI_EV_SESSION_ERROR, "session.error")                                                      \
    X(OMNI_EV_SESSION_USAGE, "session.usage")

// clang-format off: the list expands inside the enum
enum omni_event_kind {
    OMNI_EV_OTHER = 0, /* absent, unknown or not acted on (span.*, future types) */
#define OMNI_EV_ENUM(kind, name) kind,
    OMNI_EVENT_TYPES(OMNI_EV_ENUM)
#undef OMNI_EV_ENUM
        OMNI_EV_KINDS
};
// clang-format on

/* What evaluated_permission says about a tool call. */
enum omni_permission {
    OMNI_PERM_ALLOW = 0, /* "allow", or absent/null: runs */
    OMNI_PERM_ASK,       /* "ask": held until a user.tool_confirmation */
    OMNI_PERM_DENY,      /* "deny": never runs, answered server side */
    OMNI_PERM_UNKNOWN,   /* any other value: held, like ask (fail closed) */
};

/* A string member of o, or NULL when o is not an object or the member is absent or not a string. */
const char *omni_json_string(const cJSON *o, const char *key);

enum omni_event_kind omni_event_kind_of_type(const char *type);
enum omni_event_kind omni_event_kind(const cJSON *ev);
/* The wire type of a kind ("" for OMNI_EV_OTHER). */
const char *omni_event_type_name(enum omni_event_kind kind);

/* agent.tool_use, agent.custom_tool_use or agent.mcp_tool_use. */
int omni_event_is_tool_use(enum omni_event_kind kind);
/* A result that answers a tool call (user, agent, custom or MCP tool result). */
int omni_event_is_tool_result(enum omni_event_kind kind);
/* The session is over: session.status_terminated or session.deleted. */
int omni_event_ends_session(enum omni_event_kind kind);
/* span.* and session.usage: bookkeeping that says nothing about progress. */
int omni_event_is_bookkeeping(const char *type);

/* The event settles every call still held for a confirmation: an interrupt
 * (the turn ends; a held call is no longer to be run, approved or denied) or
 * the end of the session. */
int omni_event_cancels_held(enum omni_event_kind kind);

/* The tool-use id a result or a confirmation refers to (tool_use_id, or
 * custom_tool_use_id for a custom tool result); NULL for other events. */
const char *omni_event_answers(const cJSON *ev);

/* The input field that best says what a tool call does (command, file_path,
 * path, pattern, query or url, the first present), or NULL. */
const char *omni_tool_input_gist(const cJSON *input);

enum omni_permission omni_event_permission(const cJSON *ev);
const char *omni_permission_name(enum omni_permission p);
/* An agent.tool_use waiting for a confirmation (permission ask or unknown). */
int omni_event_is_held(const cJSON *ev);

#endif
