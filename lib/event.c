#include "event.h"

#include <string.h>

static const char *const type_names[OMNI_EV_KINDS] = {[OMNI_EV_OTHER] = "",
#define OMNI_EV_NAME(kind, name) [kind] = name,
                                                      OMNI_EVENT_TYPES(OMNI_EV_NAME)
#undef OMNI_EV_NAME
};

const char *omni_json_string(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

enum omni_event_kind omni_event_kind_of_type(const char *type)
{
    if (!type || !*type)
        return OMNI_EV_OTHER;
    for (int k = OMNI_EV_OTHER + 1; k < OMNI_EV_KINDS; k++)
        if (strcmp(type, type_names[k]) == 0)
            return (enum omni_event_kind)k;
    return OMNI_EV_OTHER;
}

enum omni_event_kind omni_event_kind(const cJSON *ev)
{
    return omni_event_kind_of_type(omni_json_string(ev, "type"));
}

const char *omni_event_type_name(enum omni_event_kind kind)
{
    return kind > OMNI_EV_OTHER && kind < OMNI_EV_KINDS ? type_names[kind] : "";
}

int omni_event_is_tool_use(enum omni_event_kind kind)
{
    return kind == OMNI_EV_AGENT_TOOL_USE || kind == OMNI_EV_AGENT_CUSTOM_TOOL_USE ||
           kind == OMNI_EV_AGENT_MCP_TOOL_USE;
}

int omni_event_is_tool_result(enum omni_event_kind kind)
{
    return kind == OMNI_EV_USER_TOOL_RESULT || kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT ||
           kind == OMNI_EV_AGENT_TOOL_RESULT || kind == OMNI_EV_AGENT_MCP_TOOL_RESULT;
}

int omni_event_ends_session(enum omni_event_kind kind)
{
    return kind == OMNI_EV_SESSION_STATUS_TERMINATED || kind == OMNI_EV_SESSION_DELETED;
}

int omni_event_is_bookkeeping(const char *type)
{
    return type && (strncmp(type, "span.", 5) == 0 || strcmp(type, "session.usage") == 0);
}

int omni_event_cancels_held(enum omni_event_kind kind)
{
    return kind == OMNI_EV_USER_INTERRUPT || omni_event_ends_session(kind);
}

const char *omni_event_answers(const cJSON *ev)
{
    switch (omni_event_kind(ev)) {
    case OMNI_EV_USER_TOOL_RESULT:
    case OMNI_EV_AGENT_TOOL_RESULT:
    case OMNI_EV_AGENT_MCP_TOOL_RESULT:
    case OMNI_EV_USER_TOOL_CONFIRMATION:
        return omni_json_string(ev, "tool_use_id");
    case OMNI_EV_USER_CUSTOM_TOOL_RESULT:
        return omni_json_string(ev, "custom_tool_use_id");
    default:
        return NULL;
    }
}

const char *omni_tool_input_gist(const cJSON *input)
{
    static const char *const keys[] = {"command", "file_path", "path", "pattern", "query", "url"};

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = omni_json_string(input, keys[i]);
        if (v)
            return v;
    }
    return NULL;
}

enum omni_permission omni_event_permission(const cJSON *ev)
{
    const cJSON *p =
        cJSON_IsObject(ev) ? cJSON_GetObjectItemCaseSensitive(ev, "evaluated_permission") : NULL;

    if (!p || cJSON_IsNull(p))
        return OMNI_PERM_ALLOW;
    if (!cJSON_IsString(p))
        return OMNI_PERM_UNKNOWN;
    if (strcmp(p->valuestring, "allow") == 0)
        return OMNI_PERM_ALLOW;
    if (strcmp(p->valuestring, "ask") == 0)
        return OMNI_PERM_ASK;
    if (strcmp(p->valuestring, "deny") == 0)
        return OMNI_PERM_DENY;
    return OMNI_PERM_UNKNOWN;
}

const char *omni_permission_name(enum omni_permission p)
{
    switch (p) {
    case OMNI_PERM_ALLOW:
        return "allow";
    case OMNI_PERM_ASK:
        return "ask";
    case OMNI_PERM_DENY:
        return "deny";
    default:
        return "unknown";
    }
}

int omni_event_is_held(const cJSON *ev)
{
    enum omni_permission p;

    if (omni_event_kind(ev) != OMNI_EV_AGENT_TOOL_USE)
        return 0;
    p = omni_event_permission(ev);
    return p == OMNI_PERM_ASK || p == OMNI_PERM_UNKNOWN;
}
