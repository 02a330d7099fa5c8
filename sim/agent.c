/*
 * agent — the scripted agent. A turn starts on user.message: status_running,
 * then batches of tool calls (each batch: agent.tool_use events followed by
 * session.status_idle requires_action), waiting for their results; at the
 * end agent.message and status_idle end_turn. Results are checked against
 * what the scenario expects; duplicates, wrong kinds and unconfirmed runs are
 * counted for /_sim/report. Called with sim->mu held.
 *
 * Scenarios (session metadata "sim_scenario"): bash-once (default),
 * six-tools, ask, deny, custom, idle, burst:N, long-bash:SECONDS,
 * busy:SECONDS, noop-read:N, cmd:N, and for SDK 1.16's behaviour threads:N,
 * threads-ask, big-bash, big-read and budget:N.
 *
 * Threads (threads:N, threads-ask): the primary thread spawns child threads
 * (session.thread_created, session.thread_status_running) and the calls of
 * one batch are spread over the threads; each thread's
 * session.thread_status_idle lists its own open calls, the session's
 * session.status_idle lists every open call. A child's calls and status
 * events are cross-posted to the session's stream with session_thread_id.
 */
#include "sim.h"
#include "event.h"

#include "alloc.h"

#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_CALLS_PER_BATCH SIM_BURST_MAX
#define AGENT_NOOP_READ_MAX 100000
#define AGENT_CMD_MAX 32      /* cmd:N, metadata sim_cmd_1 .. sim_cmd_N */
#define AGENT_BIG_LINES 20000 /* big-bash: seq 1 N prints 108,894 characters */
#define AGENT_THREAD_TAG "omni-sim-thread-call"

struct agent_spec {
    const char *name;
    cJSON *input;
    char expect[256];
    int has_expect;
    int exact;
    int custom;
    int ask;
    int deny;
    char *raw_input; /* cmd:N input_raw: sent verbatim instead of input */
    int thread;      /* 0: the primary thread, k: the k-th child */
    int allow_error; /* the tool's refusal (is_error) is the expected answer */
};

int simagent_scenario_parse(const char *text, enum sim_scenario *scen, long *n)
{
    static const struct {
        const char *name;
        enum sim_scenario scen;
        long max; /* 0: takes no argument */
    } tab[] = {
        {"bash-once", SCEN_BASH_ONCE, 0},
        {"six-tools", SCEN_SIX_TOOLS, 0},
        {"ask", SCEN_ASK, 0},
        {"custom", SCEN_CUSTOM, 0},
        {"idle", SCEN_IDLE, 0},
        {"deny", SCEN_DENY, 0},
        {"burst", SCEN_BURST, SIM_BURST_MAX},
        {"long-bash", SCEN_LONG_BASH, SIM_SECONDS_MAX},
        {"busy", SCEN_BUSY, SIM_SECONDS_MAX},
        {"noop-read", SCEN_NOOP_READ, AGENT_NOOP_READ_MAX},
        {"cmd", SCEN_CMD, AGENT_CMD_MAX},
        {"threads", SCEN_THREADS, SIM_THREADS_MAX},
        {"threads-ask", SCEN_THREADS_ASK, 0},
        {"big-bash", SCEN_BIG_BASH, 0},
        {"big-read", SCEN_BIG_READ, 0},
        {"budget", SCEN_BUDGET, SIM_BURST_MAX},
    };
    const char *colon = strchr(text, ':');
    size_t nl = colon ? (size_t)(colon - text) : strlen(text);
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strlen(tab[i].name) != nl || strncmp(text, tab[i].name, nl) != 0)
            continue;
        if (!tab[i].max) {
            if (colon)
                return -1;
            *scen = tab[i].scen;
            *n = 0;
            return 0;
        }
        if (!colon || !colon[1])
            return -1;
        char *end = NULL;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > tab[i].max)
            return -1;
        *scen = tab[i].scen;
        *n = v;
        return 0;
    }
    return -1;
}

static cJSON *agent_input1(const char *k, const char *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, k, v);
    return o;
}

/*
 * cmd:N, call b: metadata "sim_cmd_<b+1>" is a bash command, or a JSON object
 * {"name":TOOL,"input":{...},"ask":true|false} for any tool ("input_raw":
 * JSON text instead of "input" is sent verbatim, so a test can send what a
 * C string cannot hold, such as \u0000). Nothing is expected of the result:
 * tests read it from the session's events.
 */
static int agent_cmd_spec(const struct sim_session *s, int b, struct agent_spec *sp)
{
    char key[32];
    snprintf(key, sizeof(key), "sim_cmd_%d", b + 1);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->metadata, key);
    if (!cJSON_IsString(v))
        return 0;
    if (v->valuestring[0] != '{') {
        sp->name = "bash";
        sp->input = agent_input1("command", v->valuestring);
        return 1;
    }
    cJSON *spec = cJSON_Parse(v->valuestring);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(spec, "name");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(spec, "input");
    static const char *const tools[] = {"bash", "read", "write", "edit", "glob", "grep"};
    for (size_t i = 0; cJSON_IsString(name) && i < sizeof(tools) / sizeof(tools[0]); i++)
        if (strcmp(name->valuestring, tools[i]) == 0)
            sp->name = tools[i];
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(spec, "input_raw");
    if (sp->name && cJSON_IsString(raw)) {
        cJSON *check = cJSON_Parse(raw->valuestring);
        if (cJSON_IsObject(check)) {
            sp->input = cJSON_CreateObject();
            sp->raw_input = omni_xstrdup(raw->valuestring);
        } else {
            sp->name = NULL;
        }
        cJSON_Delete(check);
    } else if (sp->name) {
        sp->input = cJSON_IsObject(input) ? cJSON_Duplicate(input, 1) : cJSON_CreateObject();
        sp->ask = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "ask"));
    }
    cJSON_Delete(spec);
    return sp->name ? 1 : 0;
}

static void agent_six_file(const struct sim_session *s, char *out, size_t outlen)
{
    size_t l = strlen(s->id);
    snprintf(out, outlen, "omni-sim-six-%s-%d.txt", s->id + (l > 12 ? l - 12 : 0), s->turn);
}

static cJSON *agent_view_range(cJSON *input, long from, long to)
{
    cJSON *vr = cJSON_AddArrayToObject(input, "view_range");
    cJSON_AddItemToArray(vr, cJSON_CreateNumber((double)from));
    cJSON_AddItemToArray(vr, cJSON_CreateNumber((double)to));
    return input;
}

/*
 * The 1.16 scenarios. big-bash: a bash call whose output (seq 1 20000,
 * 108,894 characters) is above the 30,000-character cut, so its result must
 * name the file that holds the rest ("... saved to: PATH — use read with
 * view_range ..."); then a read of that file's last lines with view_range.
 * big-read: a 120,000-byte file (seq -w 1 20000) read without view_range,
 * answered by the read tool's refusal (above 110,000 bytes), then with one.
 * threads:N: N threads each run one "sleep 1" bash call at once; each call
 * prints its own start and end time so the report can say whether they ran
 * at the same time. threads-ask: a child thread's call held for a
 * confirmation, which names only the call's id. budget:N: one bash call per
 * batch until N calls used the session's budget.
 */
static int agent_batch_116(struct sim_session *s, int b, struct agent_spec *sp)
{
    char f[128], text[256];
    size_t l = strlen(s->id);
    snprintf(f, sizeof(f), "omni-sim-big-%s-%d.txt", s->id + (l > 12 ? l - 12 : 0), s->turn);
    switch (s->scen) {
    case SCEN_THREADS:
        if (b > 0)
            return 0;
        for (long i = 0; i < s->scen_n; i++) {
            memset(&sp[i], 0, sizeof(sp[i]));
            snprintf(text, sizeof(text),
                     "s=$(date +%%s.%%N); sleep 1; echo \"" AGENT_THREAD_TAG
                     " %ld start=$s end=$(date +%%s.%%N)\"",
                     i);
            sp[i].name = "bash";
            sp[i].input = agent_input1("command", text);
            snprintf(sp[i].expect, sizeof(sp[i].expect), AGENT_THREAD_TAG " %ld start=", i);
            sp[i].has_expect = 1;
            sp[i].thread = (int)i;
        }
        return (int)s->scen_n;
    case SCEN_THREADS_ASK:
        if (b > 0)
            return 0;
        sp->name = "bash";
        sp->input = agent_input1("command", "echo approved-in-thread");
        snprintf(sp->expect, sizeof(sp->expect), "approved-in-thread");
        sp->has_expect = 1;
        sp->ask = 1;
        sp->thread = 1;
        return 1;
    case SCEN_BIG_BASH:
        if (b == 0) {
            snprintf(text, sizeof(text), "seq 1 %d", AGENT_BIG_LINES);
            sp->name = "bash";
            sp->input = agent_input1("command", text);
            snprintf(sp->expect, sizeof(sp->expect), "saved to: ");
            sp->has_expect = 1;
            return 1;
        }
        if (b > 1 || !s->saved_output[0])
            return 0;
        sp->name = "read";
        sp->input = agent_view_range(agent_input1("file_path", s->saved_output),
                                     AGENT_BIG_LINES - 9, AGENT_BIG_LINES);
        snprintf(sp->expect, sizeof(sp->expect), "%d\n%d", AGENT_BIG_LINES - 1, AGENT_BIG_LINES);
        sp->has_expect = 1;
        return 1;
    case SCEN_BIG_READ:
        sp->has_expect = 1;
        if (b == 0) {
            snprintf(text, sizeof(text), "seq -w 1 %d > %s && wc -c < %s", AGENT_BIG_LINES, f, f);
            sp->name = "bash";
            sp->input = agent_input1("command", text);
            snprintf(sp->expect, sizeof(sp->expect), "%d", AGENT_BIG_LINES * 6);
        } else if (b == 1) {
            sp->name = "read";
            sp->input = agent_input1("file_path", f);
            snprintf(sp->expect, sizeof(sp->expect), "is %d bytes, exceeds 110000-byte limit",
                     AGENT_BIG_LINES * 6);
            sp->allow_error = 1;
        } else if (b == 2) {
            sp->name = "read";
            sp->input = agent_view_range(agent_input1("file_path", f), 100, 102);
            snprintf(sp->expect, sizeof(sp->expect), "00100\n00101\n00102");
        } else {
            return 0;
        }
        return 1;
    case SCEN_BUDGET: /* without end: the budget stops it (agent_run) */
        snprintf(text, sizeof(text), "echo budget-call-%d", b + 1);
        sp->name = "bash";
        sp->input = agent_input1("command", text);
        snprintf(sp->expect, sizeof(sp->expect), "budget-call-%d", b + 1);
        sp->has_expect = 1;
        return 1;
    default:
        return 0;
    }
}

/* Fill specs for batch b of the current turn; returns how many (0 = turn done). */
static int agent_batch(struct sim_session *s, int b, struct agent_spec *sp)
{
    char f[128], text[256];
    memset(sp, 0, sizeof(*sp));
    switch (s->scen) {
    case SCEN_IDLE:
        return 0;
    case SCEN_THREADS:
    case SCEN_THREADS_ASK:
    case SCEN_BIG_BASH:
    case SCEN_BIG_READ:
    case SCEN_BUDGET:
        return agent_batch_116(s, b, sp);
    case SCEN_CMD:
        return b < s->scen_n ? agent_cmd_spec(s, b, sp) : 0;
    case SCEN_BASH_ONCE:
    case SCEN_ASK:
    case SCEN_DENY:
        if (b > 0)
            return 0;
        sp->name = "bash";
        if (s->scen == SCEN_BASH_ONCE) {
            sp->input = agent_input1("command", "echo hello from omni-sim");
            snprintf(sp->expect, sizeof(sp->expect), "hello from omni-sim");
        } else if (s->scen == SCEN_ASK) {
            sp->input = agent_input1("command", "echo approved-by-operator");
            snprintf(sp->expect, sizeof(sp->expect), "approved-by-operator");
            sp->ask = 1;
        } else {
            sp->input = agent_input1("command", "echo this-must-not-run");
            sp->deny = 1;
        }
        sp->has_expect = s->scen != SCEN_DENY;
        return 1;
    case SCEN_CUSTOM:
        if (b > 0)
            return 0;
        sp->name = "sim_lookup";
        sp->input = agent_input1("order_id", "A-42");
        sp->custom = 1;
        return 1;
    case SCEN_BURST:
        if (b > 0)
            return 0;
        for (long i = 0; i < s->scen_n; i++) {
            memset(&sp[i], 0, sizeof(sp[i]));
            snprintf(text, sizeof(text), "echo burst-%ld-done", i);
            sp[i].name = "bash";
            sp[i].input = agent_input1("command", text);
            snprintf(sp[i].expect, sizeof(sp[i].expect), "burst-%ld-done", i);
            sp[i].has_expect = 1;
        }
        return (int)s->scen_n;
    case SCEN_LONG_BASH:
    case SCEN_BUSY:
        if (b > 0)
            return 0;
        sp->name = "bash";
        if (s->scen == SCEN_LONG_BASH) {
            snprintf(text, sizeof(text), "sleep %ld; echo long-bash-done", s->scen_n);
            snprintf(sp->expect, sizeof(sp->expect), "long-bash-done");
        } else {
            snprintf(text, sizeof(text), "sleep %ld", s->scen_n);
        }
        sp->input = agent_input1("command", text);
        cJSON_AddNumberToObject(sp->input, "timeout_ms", (double)(s->scen_n + 60) * 1000);
        sp->has_expect = 1;
        return 1;
    case SCEN_NOOP_READ:
        if (b > s->scen_n)
            return 0;
        snprintf(f, sizeof(f), "omni-sim-noop-%s.txt", s->id);
        if (b == 0) {
            sp->name = "write";
            sp->input = agent_input1("file_path", f);
            cJSON_AddStringToObject(sp->input, "content", "x\n");
            snprintf(sp->expect, sizeof(sp->expect), "wrote");
        } else {
            sp->name = "read";
            sp->input = agent_input1("file_path", f);
            snprintf(sp->expect, sizeof(sp->expect), "x\n");
            sp->exact = 1;
        }
        sp->has_expect = 1;
        return 1;
    case SCEN_SIX_TOOLS:
        agent_six_file(s, f, sizeof(f));
        sp->has_expect = 1;
        switch (b) {
        case 0:
            sp->name = "write";
            sp->input = agent_input1("file_path", f);
            snprintf(text, sizeof(text), "alpha %s\nbeta\n", s->id);
            cJSON_AddStringToObject(sp->input, "content", text);
            snprintf(sp->expect, sizeof(sp->expect), "wrote");
            return 1;
        case 1:
            sp->name = "read";
            sp->input = agent_input1("file_path", f);
            snprintf(sp->expect, sizeof(sp->expect), "alpha %s\nbeta\n", s->id);
            sp->exact = 1;
            return 1;
        case 2:
            sp->name = "edit";
            sp->input = agent_input1("file_path", f);
            cJSON_AddStringToObject(sp->input, "old_string", "beta");
            cJSON_AddStringToObject(sp->input, "new_string", "gamma");
            snprintf(sp->expect, sizeof(sp->expect), "edited");
            return 1;
        case 3: {
            size_t l = strlen(s->id);
            snprintf(text, sizeof(text), "omni-sim-six-%s-*.txt", s->id + (l > 12 ? l - 12 : 0));
            sp->name = "glob";
            sp->input = agent_input1("pattern", text);
            snprintf(sp->expect, sizeof(sp->expect), "%s", f);
            return 1;
        }
        case 4:
            sp->name = "grep";
            sp->input = agent_input1("pattern", "gam+a");
            cJSON_AddStringToObject(sp->input, "path", f);
            snprintf(sp->expect, sizeof(sp->expect), "gamma");
            return 1;
        case 5:
            sp->name = "bash";
            snprintf(text, sizeof(text), "cat %s", f);
            sp->input = agent_input1("command", text);
            snprintf(sp->expect, sizeof(sp->expect), "alpha %s\ngamma", s->id);
            return 1;
        default:
            return 0;
        }
    }
    return 0;
}

static void agent_emit_simple(struct sim *sim, struct sim_session *s, const char *type)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", type);
    simstore_event_append(sim, s, ev, NULL);
}

static void agent_emit_idle(struct sim *sim, struct sim_session *s, int requires_action)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "session.status_idle");
    cJSON *sr = cJSON_AddObjectToObject(ev, "stop_reason");
    if (requires_action) {
        cJSON_AddStringToObject(sr, "type", "requires_action");
        cJSON *ids = cJSON_AddArrayToObject(sr, "event_ids");
        for (size_t i = s->batch_start; i < s->batch_start + s->batch_len; i++) {
            struct sim_call *c = s->calls[i];
            if (!c->answered && !c->cancelled)
                cJSON_AddItemToArray(ids, cJSON_CreateString(c->id));
        }
    } else {
        cJSON_AddStringToObject(sr, "type", "end_turn");
    }
    cJSON_AddNullToObject(ev, "stop_details");
    simstore_event_append(sim, s, ev, NULL);
    if (requires_action)
        simwebhook_session(sim, s, "session.requires_action");
}

/* A session with child threads: are there any, and does th have open calls. */
static int agent_multi(const struct sim_session *s)
{
    return s->nthreads > 1;
}

static int agent_thread_open(const struct sim_session *s, const struct sim_thread *th)
{
    for (size_t i = 0; i < s->ncalls; i++)
        if (s->calls[i]->thread == th && !s->calls[i]->answered && !s->calls[i]->cancelled)
            return 1;
    return 0;
}

/* The k-th live child thread of s, spawned (session.thread_created, then its
 * session.thread_status_running) when there is none yet; the primary when
 * SIM_THREADS_MAX threads exist. */
static struct sim_thread *agent_child(struct sim *sim, struct sim_session *s, int k)
{
    int seen = 0;
    for (int i = 1; i < s->nthreads; i++)
        if (!s->threads[i]->archived_us && ++seen == k)
            return s->threads[i];
    char name[64];
    snprintf(name, sizeof(name), "omni-sim-subagent-%d", s->nthreads);
    if (!agent_multi(s))
        simthread_status(sim, s->threads[0], "running", NULL);
    struct sim_thread *th = simthread_new(sim, s, 0, name);
    if (!th)
        return s->threads[0];
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "session.thread_created");
    cJSON_AddStringToObject(ev, "session_thread_id", th->id);
    cJSON_AddStringToObject(ev, "agent_name", th->agent_name);
    cJSON_AddNullToObject(ev, "workflow_run_id");
    simstore_event_append(sim, s, ev, NULL);
    simthread_status(sim, th, "running", NULL);
    return th;
}

/* A child thread's message at the end of its work (its own stream only). */
static void agent_thread_message(struct sim *sim, struct sim_thread *th)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "agent.message");
    cJSON *content = cJSON_AddArrayToObject(ev, "content");
    cJSON *blk = cJSON_CreateObject();
    cJSON_AddStringToObject(blk, "type", "text");
    cJSON_AddStringToObject(blk, "text", "sub-agent finished");
    cJSON_AddItemToArray(content, blk);
    simthread_event(sim, th, ev, NULL, 0);
}

static void agent_deny_result(struct sim *sim, struct sim_session *s, struct sim_call *c,
                              const char *why)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "user.tool_result");
    cJSON_AddStringToObject(ev, "tool_use_id", c->id);
    cJSON_AddTrueToObject(ev, "is_error");
    cJSON *content = cJSON_AddArrayToObject(ev, "content");
    cJSON *blk = cJSON_CreateObject();
    cJSON_AddStringToObject(blk, "type", "text");
    cJSON_AddStringToObject(blk, "text", why);
    cJSON_AddItemToArray(content, blk);
    simstore_event_append(sim, s, ev, NULL);
    c->denied = 1;
    c->answered = 1;
}

static struct sim_call *agent_add_call(struct sim_session *s)
{
    if (s->ncalls == s->callcap) {
        size_t nc = s->callcap ? s->callcap * 2 : 16;
        s->calls = omni_xreallocarray(s->calls, nc, sizeof(*s->calls));
        s->callcap = nc;
    }
    struct sim_call *c = omni_xcalloc(1, sizeof(*c));
    s->calls[s->ncalls++] = c;
    return c;
}

static void agent_start_turn(struct sim *sim, struct sim_session *s);

/* Emit batches from s->batch on, until one needs answers or the turn ends. */
static void agent_run(struct sim *sim, struct sim_session *s)
{
    static struct agent_spec specs[AGENT_CALLS_PER_BATCH];
    for (;;) {
        if (s->scen == SCEN_BUDGET && s->budget_used >= s->scen_n) {
            /* the budget is spent: the turn stops with budget_reached */
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "type", "session.status_idle");
            cJSON *sr = cJSON_AddObjectToObject(ev, "stop_reason");
            cJSON_AddStringToObject(sr, "type", "budget_reached");
            cJSON_AddNullToObject(ev, "stop_details");
            simstore_event_append(sim, s, ev, NULL);
            s->budget_reached = 1;
            s->turn_active = 0;
            s->turns_completed++;
            s->pending_msgs = 0;
            simwebhook_session(sim, s, "session.budget_reached");
            return;
        }
        int n = agent_batch(s, s->batch, specs);
        if (n == 0) {
            cJSON *ev = cJSON_CreateObject();
            char text[160];
            cJSON_AddStringToObject(ev, "type", "agent.message");
            cJSON *content = cJSON_AddArrayToObject(ev, "content");
            cJSON *blk = cJSON_CreateObject();
            cJSON_AddStringToObject(blk, "type", "text");
            snprintf(text, sizeof(text), "scenario %s finished (turn %d)", s->scen_text, s->turn);
            cJSON_AddStringToObject(blk, "text", text);
            cJSON_AddItemToArray(content, blk);
            simstore_event_append(sim, s, ev, NULL);
            if (agent_multi(s))
                simthread_status(sim, s->threads[0], "idle", "end_turn");
            agent_emit_idle(sim, s, 0);
            s->turn_active = 0;
            s->turns_completed++;
            if (s->pending_msgs > 0) {
                s->pending_msgs--;
                agent_start_turn(sim, s);
            }
            return;
        }
        s->batch_start = s->ncalls;
        s->batch_len = (size_t)n;
        int need = 0;
        /* threads first: every spawned thread runs before any call is made */
        struct sim_thread *used[SIM_THREADS_MAX] = {0};
        for (int i = 0; i < n; i++) {
            int k = specs[i].thread % SIM_THREADS_MAX;
            if (k > 0 && !used[k])
                used[k] = agent_child(sim, s, k);
        }
        for (int i = 0; i < n; i++) {
            struct agent_spec *sp = &specs[i];
            struct sim_thread *th =
                sp->thread > 0 ? used[sp->thread % SIM_THREADS_MAX] : s->threads[0];
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "type",
                                    sp->custom ? "agent.custom_tool_use" : "agent.tool_use");
            cJSON_AddStringToObject(ev, "name", sp->name);
            if (sp->raw_input) {
                cJSON_Delete(sp->input);
                sp->input = cJSON_CreateRaw(sp->raw_input);
                free(sp->raw_input);
                sp->raw_input = NULL;
            }
            cJSON_AddItemToObject(ev, "input", sp->input);
            if (!sp->custom) {
                const char *perm = sp->ask ? "ask" : sp->deny ? "deny" : "allow";
                cJSON_AddStringToObject(ev, "evaluated_permission", perm);
                cJSON *evl = cJSON_AddObjectToObject(ev, "evaluation");
                cJSON_AddStringToObject(evl, "type",
                                        sp->ask    ? "always_ask"
                                        : sp->deny ? "auto"
                                                   : "always_allow");
            }
            struct sim_event *e =
                simthread_event(sim, th, ev, (s->index % 2) ? "toolu_" : "sevt_", 1);
            struct sim_call *c = agent_add_call(s);
            c->thread = th;
            c->emitted_us = e->processed_us;
            c->allow_error = sp->allow_error;
            s->budget_used++;
            snprintf(c->id, sizeof(c->id), "%s", e->id);
            snprintf(c->name, sizeof(c->name), "%s", sp->name);
            c->custom = sp->custom;
            c->turn = s->turn;
            c->ask = sp->ask;
            c->deny = sp->deny;
            c->expect_exact = sp->exact;
            if (sp->has_expect)
                c->expect = omni_xstrdup(sp->expect);
            s->calls_emitted++;
            sim->ctr.tool_calls_emitted++;
            if (sp->deny)
                agent_deny_result(sim, s, c, "tool use denied by permission policy");
            else
                need = 1;
        }
        if (need) {
            for (int k = 0; k < SIM_THREADS_MAX; k++)
                if (used[k] && !used[k]->primary && agent_thread_open(s, used[k]))
                    simthread_status(sim, used[k], "idle", "requires_action");
            if (agent_multi(s) && agent_thread_open(s, s->threads[0]))
                simthread_status(sim, s->threads[0], "idle", "requires_action");
            agent_emit_idle(sim, s, 1);
            return;
        }
        agent_emit_simple(sim, s, "session.status_running");
        s->batch++;
    }
}

static void agent_start_turn(struct sim *sim, struct sim_session *s)
{
    s->turn_active = 1;
    s->turn++;
    s->batch = 0;
    s->batch_start = s->ncalls;
    s->batch_len = 0;
    agent_emit_simple(sim, s, "session.status_running");
    if (agent_multi(s))
        simthread_status(sim, s->threads[0], "running", NULL);
    agent_run(sim, s);
}

/* After call c (NULL: some calls) of the current batch resolved: the
 * thread of c runs on (a child ends its work), then the turn continues or
 * the rest is re-announced. */
static void agent_batch_check(struct sim *sim, struct sim_session *s, struct sim_call *c)
{
    if (!s->turn_active)
        return;
    struct sim_thread *th = c ? c->thread : NULL;
    if (th && agent_multi(s) && !th->archived_us) {
        if (agent_thread_open(s, th)) {
            simthread_status(sim, th, "idle", "requires_action");
        } else {
            if (strcmp(th->status, "running") != 0) /* a confirmation may have made it run */
                simthread_status(sim, th, "running", NULL);
            if (!th->primary) {
                agent_thread_message(sim, th);
                simthread_status(sim, th, "idle", "end_turn");
            }
        }
    }
    size_t open = 0;
    for (size_t i = s->batch_start; i < s->batch_start + s->batch_len; i++)
        if (!s->calls[i]->answered && !s->calls[i]->cancelled)
            open++;
    if (open) {
        agent_emit_idle(sim, s, 1);
        return;
    }
    agent_emit_simple(sim, s, "session.status_running");
    s->batch++;
    agent_run(sim, s);
}

static void agent_result_text(const cJSON *ev, struct buf *out)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "content");
    if (cJSON_IsString(c)) {
        buf_adds(out, c->valuestring);
        return;
    }
    const cJSON *blk;
    cJSON_ArrayForEach(blk, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "type");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (cJSON_IsString(t) && strcmp(t->valuestring, "text") == 0 && cJSON_IsString(x))
            buf_adds(out, x->valuestring);
    }
}

/*
 * threads:N: once every call of the batch told its start and end (the
 * "start=S end=E" its command printed, seconds of the worker's clock), the
 * calls overlapped when the latest start is before the earliest end.
 */
static void agent_overlap(struct sim_session *s)
{
    double max_from = 0, min_to = 0;
    for (size_t i = s->batch_start; i < s->batch_start + s->batch_len; i++) {
        const struct sim_call *c = s->calls[i];
        if (c->ran_from <= 0 || c->ran_to <= 0)
            return;
        if (i == s->batch_start || c->ran_from > max_from)
            max_from = c->ran_from;
        if (i == s->batch_start || c->ran_to < min_to)
            min_to = c->ran_to;
    }
    s->overlap_known = 1;
    s->overlap_ms = (min_to - max_from) * 1000.0;
    s->overlapped = s->batch_len > 1 && max_from < min_to;
}

/* What a matched result tells: the saved-output file of big-bash, the run
 * times of threads:N. */
static void agent_note_result(struct sim_session *s, struct sim_call *c, const char *text)
{
    if (s->scen == SCEN_BIG_BASH && strcmp(c->name, "bash") == 0) {
        const char *p = strstr(text, "saved to: ");
        if (p) {
            p += strlen("saved to: ");
            size_t n = strcspn(p, " \n\t");
            if (n > 0 && n < sizeof(s->saved_output))
                snprintf(s->saved_output, sizeof(s->saved_output), "%.*s", (int)n, p);
        }
    } else if (s->scen == SCEN_THREADS) {
        const char *p = strstr(text, AGENT_THREAD_TAG);
        const char *st = p ? strstr(p, "start=") : NULL;
        const char *en = p ? strstr(p, "end=") : NULL;
        if (st && en) {
            c->ran_from = strtod(st + 6, NULL);
            c->ran_to = strtod(en + 4, NULL);
        }
        agent_overlap(s);
    }
}

static void agent_on_result(struct sim *sim, struct sim_session *s, struct sim_call *c,
                            const cJSON *ev)
{
    c->results++;
    s->results_received++;
    sim->ctr.results_received++;
    if (c->answered) {
        if (c->denied) {
            s->protocol_errors++;
            sim->ctr.protocol_errors++;
            simreport_mismatch(sim, s, "result posted for denied call %s", c->id);
        } else {
            s->duplicate_results++;
            sim->ctr.duplicate_results++;
        }
        return;
    }
    if (c->ask && !c->confirmed) {
        s->protocol_errors++;
        sim->ctr.protocol_errors++;
        simreport_mismatch(sim, s, "call %s (ask) ran before its confirmation", c->id);
    }
    c->answered = 1;
    c->result_us = omni_wall_us();
    if (c->cancelled)
        return;
    if (c->expect) {
        struct buf text = BUF_INIT_MAX(SIM_BODY_MAX);
        agent_result_text(ev, &text);
        const cJSON *ie = cJSON_GetObjectItemCaseSensitive(ev, "is_error");
        int bad = (cJSON_IsTrue(ie) && !c->allow_error) ||
                  (c->expect_exact ? strcmp(text.data, c->expect) != 0
                                   : strstr(text.data, c->expect) == NULL);
        if (bad) {
            s->result_mismatches++;
            sim->ctr.result_mismatches++;
            simreport_mismatch(sim, s, "%s %s: expected %s\"%.80s\"%s, got \"%.200s\"", c->name,
                               c->id, c->expect_exact ? "" : "text containing ", c->expect,
                               cJSON_IsTrue(ie) ? " (is_error true)" : "", text.data);
        }
        agent_note_result(s, c, text.data);
        buf_release(&text);
    }
    agent_batch_check(sim, s, c);
}

static void agent_wrong_kind(struct sim *sim, struct sim_session *s, struct sim_call *c)
{
    s->protocol_errors++;
    sim->ctr.protocol_errors++;
    simreport_mismatch(sim, s, "wrong result kind for %s %s (needs %s)", c->name, c->id,
                       c->custom ? "user.custom_tool_result" : "user.tool_result");
}

static struct sim_call *agent_find(struct sim_session *s, const cJSON *ev, const char *field)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, field);
    if (!cJSON_IsString(id))
        return NULL;
    for (size_t i = s->ncalls; i > 0; i--)
        if (strcmp(s->calls[i - 1]->id, id->valuestring) == 0)
            return s->calls[i - 1];
    return NULL;
}

/*
 * An interrupt or the session's end (omni_event_cancels_held): the turn is
 * over and every call still open is cancelled — a held (ask) call will never
 * run, so confirming it afterwards is refused (events.c) and a result posted
 * for it is a protocol error. protocol.md does not say what the real API does
 * with a held call on an interrupt; this is the simulator's chosen default.
 */
static void agent_cancel_open(struct sim_session *s)
{
    for (size_t i = 0; i < s->ncalls; i++)
        if (!s->calls[i]->answered)
            s->calls[i]->cancelled = 1;
    s->turn_active = 0;
    s->pending_msgs = 0;
}

void simagent_on_event(struct sim *sim, struct sim_session *s, const cJSON *ev)
{
    enum omni_event_kind kind = omni_event_kind(ev);
    if (s->archived_us || s->deleted)
        return;
    struct sim_call *c;
    if (kind == OMNI_EV_USER_MESSAGE) {
        if (s->turn_active)
            s->pending_msgs++;
        else
            agent_start_turn(sim, s);
    } else if (omni_event_cancels_held(kind)) {
        /* user.interrupt (the session's end comes through simagent_on_terminated);
         * one naming a child thread interrupts that thread alone */
        struct sim_thread *th = simthread_get(s, omni_json_string(ev, "session_thread_id"));
        if (th && !th->primary) {
            for (size_t i = 0; i < s->ncalls; i++)
                if (s->calls[i]->thread == th && !s->calls[i]->answered)
                    s->calls[i]->cancelled = 1;
            if (!th->archived_us && strcmp(th->status, "terminated") != 0)
                simthread_status(sim, th, "idle", "end_turn");
            agent_batch_check(sim, s, NULL);
            return;
        }
        int was_active = s->turn_active;
        agent_cancel_open(s);
        if (was_active)
            agent_emit_idle(sim, s, 0);
    } else if (kind == OMNI_EV_USER_TOOL_RESULT) {
        if ((c = agent_find(s, ev, "tool_use_id")) != NULL) {
            if (c->custom)
                agent_wrong_kind(sim, s, c);
            else
                agent_on_result(sim, s, c, ev);
        }
    } else if (kind == OMNI_EV_USER_CUSTOM_TOOL_RESULT) {
        if ((c = agent_find(s, ev, "custom_tool_use_id")) != NULL) {
            if (!c->custom)
                agent_wrong_kind(sim, s, c);
            else
                agent_on_result(sim, s, c, ev);
        }
    } else if (kind == OMNI_EV_USER_TOOL_CONFIRMATION) {
        c = agent_find(s, ev, "tool_use_id");
        if (!c || !c->ask || c->answered || c->confirmed || c->cancelled)
            return;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(ev, "result");
        if (cJSON_IsString(r) && strcmp(r->valuestring, "allow") == 0) {
            c->confirmed = 1;
            if (agent_multi(s) && c->thread)
                simthread_status(sim, c->thread, "running", NULL);
            agent_emit_simple(sim, s, "session.status_running");
        } else {
            const cJSON *dm = cJSON_GetObjectItemCaseSensitive(ev, "deny_message");
            agent_deny_result(sim, s, c,
                              cJSON_IsString(dm) ? dm->valuestring : "tool use denied by user");
            agent_batch_check(sim, s, c);
        }
    }
}

void simagent_on_terminated(struct sim *sim, struct sim_session *s)
{
    agent_cancel_open(s);
    for (int i = 1; i < s->nthreads; i++) {
        struct sim_thread *th = s->threads[i];
        if (!th->archived_us && strcmp(th->status, "terminated") != 0)
            simthread_status(sim, th, "terminated", NULL);
    }
}

void simagent_on_thread_archived(struct sim *sim, struct sim_session *s, struct sim_thread *th)
{
    int open = 0;
    for (size_t i = 0; i < s->ncalls; i++) {
        struct sim_call *c = s->calls[i];
        if (c->thread == th && !c->answered && !c->cancelled) {
            c->cancelled = 1;
            open = 1;
        }
    }
    if (open)
        agent_batch_check(sim, s, NULL);
}
