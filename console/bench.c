/*
 * bench — `omni-console --bench-render N`: render N full frames of every
 * view over a synthetic model (10,000 sessions and 10,000 work items) into a
 * curses screen on /dev/null, and time a refresh's model update (apply +
 * sort). Prints one line per measurement to stdout.
 */
#include "console.h"

#include "alloc.h"
#include "timeutil.h"

#include <curses.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_ENVS 20
#define BENCH_LINES "50"
#define BENCH_COLUMNS "160"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fake_lists(int rows, int64_t now, struct omni_session_list *sl,
                       struct omni_work_list *wl)
{
    static const char *const st[] = {"idle", "running", "rescheduling", "terminated"};
    static const char *const ws[] = {"queued", "starting", "active", "stopping", "stopped"};

    sl->items = omni_xcalloc((size_t)rows, sizeof *sl->items);
    wl->items = omni_xcalloc((size_t)rows, sizeof *wl->items);
    sl->n = wl->n = (size_t)rows;
    for (int i = 0; i < rows; i++) {
        struct omni_session *s = &sl->items[i];
        struct omni_work *w = &wl->items[i];
        snprintf(s->id, sizeof s->id, "sesn_01BENCH%017d", i);
        snprintf(s->status, sizeof s->status, "%s", st[i % 4]);
        snprintf(s->environment_id, sizeof s->environment_id, "env_bench0");
        snprintf(s->title, sizeof s->title, "benchmark session number %d with a title", i);
        s->created_at = now - (int64_t)(i % 3600) * 1000000;
        s->updated_at = s->created_at;
        snprintf(w->id, sizeof w->id, "work_01BENCH%017d", i);
        snprintf(w->environment_id, sizeof w->environment_id, "env_bench0");
        snprintf(w->data_type, sizeof w->data_type, "session");
        snprintf(w->data_id, sizeof w->data_id, "%s", s->id);
        snprintf(w->state, sizeof w->state, "%s", ws[i % 5]);
        w->created_at = s->created_at;
        w->latest_heartbeat_at = i % 7 ? now - 2000000 : 0;
    }
}

static int bench_has_key(const char *env_id, void *ud)
{
    (void)env_id, (void)ud;
    return 1;
}

int con_bench_render(long frames, int rows)
{
    struct con_app a;
    struct omni_environment_list el = {0};
    struct omni_session_list sl = {0};
    struct omni_work_list wl = {0};
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr;
    int64_t now = omni_wall_us();
    double t0, c0, apply_ms;

    if (!out || !in) {
        fprintf(stderr, "omni-console: cannot open /dev/null\n");
        return -1;
    }
    setenv("LINES", BENCH_LINES, 1);
    setenv("COLUMNS", BENCH_COLUMNS, 1);
    scr = newterm(getenv("TERM") && *getenv("TERM") ? NULL : "xterm-256color", out, in);
    if (!scr) {
        fprintf(stderr, "omni-console: cannot initialise a terminal for the benchmark\n");
        fclose(out);
        fclose(in);
        return -1;
    }
    set_term(scr);
    con_app_init(&a);
    a.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    a.color = 1;
    ui_init(&a);

    el.items = omni_xcalloc(BENCH_ENVS, sizeof *el.items);
    el.n = BENCH_ENVS;
    for (int i = 0; i < BENCH_ENVS; i++) {
        snprintf(el.items[i].id, sizeof el.items[i].id, "env_bench%d", i);
        snprintf(el.items[i].name, sizeof el.items[i].name, "bench environment %d", i);
    }
    con_model_apply_envs(&a.m, &el, bench_has_key, NULL, now);
    for (int k = 0; k < CON_SPARK_SAMPLES; k++)
        for (int i = 0; i < BENCH_ENVS; i++) {
            struct omni_stats st = {(k * 7 + i) % 40, i % 3, now - 90000000, i % 4};
            con_model_apply_stats(&a.m, el.items[i].id, &st, NULL, NULL, NULL,
                                  now + (int64_t)k * a.m.spark_step_us);
        }
    fake_lists(rows, now, &sl, &wl);

    /* a refresh's model work: apply both lists and sort them once */
    t0 = now_ms();
    for (long f = 0; f < frames; f++) {
        con_model_apply_sessions(&a.m, "env_bench0", &sl, now);
        con_model_apply_work(&a.m, "env_bench0", &wl, now);
        con_table_view(&a.m.sessions, 0, now);
        con_table_view(&a.m.work, 1, now);
    }
    apply_ms = (now_ms() - t0) / (double)frames;
    printf("model-update rows=%d avg_ms=%.3f\n", rows, apply_ms);

    snprintf(a.env_id, sizeof a.env_id, "env_bench0");
    a.m.envs_at_us = now;
    con_detail_open(&a.m.detail, "sesn_01BENCH00000000000000000000");
    {
        cJSON *ev = cJSON_Parse("{\"type\":\"agent.tool_use\",\"id\":\"x\",\"name\":\"bash\","
                                "\"input\":{\"command\":\"ls -la /tmp\"},"
                                "\"processed_at\":\"2026-01-01T00:00:00Z\"}");
        for (int i = 0; ev && i < CON_DETAIL_LINES; i++) {
            char id[32];
            snprintf(id, sizeof id, "sevt_%d", i);
            cJSON_ReplaceItemInObject(ev, "id", cJSON_CreateString(id));
            con_detail_feed(&a.m.detail, ev);
        }
        cJSON_Delete(ev);
    }
    for (int v = 0; v < CON_VIEW_COUNT; v++) {
        double worst = 0, c1;
        a.view = (enum con_view_id)v;
        a.pos[a.view].cur = (size_t)rows / 2;
        t0 = now_ms();
        c0 = cpu_ms();
        for (long f = 0; f < frames; f++) {
            double s = now_ms(), d;
            clearok(curscr, TRUE); /* full repaint every frame */
            ui_draw(&a);
            d = now_ms() - s;
            if (d > worst)
                worst = d;
        }
        c1 = cpu_ms();
        printf("render view=%s frames=%ld avg_ms=%.3f max_ms=%.3f cpu_ms_per_frame=%.3f\n",
               con_views[a.view]->name, frames, (now_ms() - t0) / (double)frames, worst,
               (c1 - c0) / (double)frames);
    }
    ui_end();
    delscreen(scr);
    fclose(out);
    fclose(in);
    omni_environment_list_release(&el);
    omni_session_list_release(&sl);
    omni_work_list_release(&wl);
    con_app_release(&a);
    return 0;
}
