/*
 * omni-exec's session-thread lanes, driven over the executor protocol
 * (exec_proto.h) as the runner drives it: calls of two threads run at once,
 * each thread has its own shell, a second call for a busy thread is refused,
 * a cancel reaches a call run on a helper thread, and "end" kills a thread's
 * shell and its background job. Needs bin/omni-exec (OMNI_BIN overrides
 * bin/); skipped without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "../../worker/exec_proto.h"
#include "timeutil.h"

static struct {
    pid_t pid;
    int fd;
    char work[64];
    struct buf frame;
} ex;

static int start_exec(void **state)
{
    char bin[4096];
    const char *dir = getenv("OMNI_BIN");
    int sv[2];
    (void)state;
    snprintf(bin, sizeof(bin), "%s/omni-exec", dir && *dir ? dir : "bin");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "# %s not built: skipped\n", bin);
        ex.pid = -1;
        return 0;
    }
    snprintf(ex.work, sizeof(ex.work), "/tmp/omni-lanes.XXXXXX");
    if (!mkdtemp(ex.work) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    ex.pid = fork();
    if (ex.pid == 0) {
        char fdarg[16];
        dup2(sv[1], 3);
        snprintf(fdarg, sizeof(fdarg), "3");
        execl(bin, "omni-exec", "--workdir", ex.work, "--channel-fd", fdarg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    ex.fd = sv[0];
    fcntl(ex.fd, F_SETFL, fcntl(ex.fd, F_GETFL) | O_NONBLOCK);
    buf_init(&ex.frame, XP_FRAME_MAX);
    /* the hello */
    if (xp_read(ex.fd, &ex.frame, 10000, NULL) <= 0 || !strstr(ex.frame.data, "\"ready\""))
        return -1;
    return 0;
}

static int stop_exec(void **state)
{
    char cmd[128];
    (void)state;
    if (ex.pid <= 0)
        return 0;
    close(ex.fd);
    waitpid(ex.pid, NULL, 0);
    buf_release(&ex.frame);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ex.work);
    return system(cmd) == 0 ? 0 : -1;
}

static void send_req(const char *op, int id, const char *thread, const char *command)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "op", op);
    cJSON_AddNumberToObject(m, "id", id);
    if (thread)
        cJSON_AddStringToObject(m, "thread", thread);
    if (command) {
        cJSON *in = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "tool", "bash");
        cJSON_AddStringToObject(in, "command", command);
        cJSON_AddItemToObject(m, "input", in);
    }
    char *s = cJSON_PrintUnformatted(m);
    assert_int_equal(xp_write(ex.fd, s, strlen(s), 5000), 0);
    free(s);
    cJSON_Delete(m);
}

/* The next result: its id, is_error and text (malloc'd). */
static int next_result(int *is_error, char **text)
{
    assert_int_equal(xp_read(ex.fd, &ex.frame, 30000, NULL), 1);
    cJSON *m = cJSON_ParseWithLength(ex.frame.data, ex.frame.len);
    assert_non_null(m);
    assert_string_equal(cJSON_GetObjectItem(m, "op")->valuestring, "result");
    int id = (int)cJSON_GetObjectItem(m, "id")->valuedouble;
    *is_error = cJSON_IsTrue(cJSON_GetObjectItem(m, "is_error"));
    *text = strdup(cJSON_GetObjectItem(m, "text")->valuestring);
    cJSON_Delete(m);
    return id;
}

#define SKIP_WITHOUT_EXEC()                                                                        \
    do {                                                                                           \
        if (ex.pid <= 0)                                                                           \
            skip();                                                                                \
    } while (0)

/* Two threads' two-second calls overlap; results come back as they finish. */
static void test_threads_run_at_once(void **state)
{
    int e1, e2;
    char *t1, *t2;
    (void)state;
    SKIP_WITHOUT_EXEC();
    int64_t t0 = omni_mono_ms();
    send_req("run", 1, NULL, "sleep 2; echo primary");
    send_req("run", 2, "sthr_child", "sleep 2; echo child");
    int a = next_result(&e1, &t1), b = next_result(&e2, &t2);
    int64_t took = omni_mono_ms() - t0;
    assert_false(e1);
    assert_false(e2);
    assert_string_equal(a == 1 ? t1 : t2, "primary");
    assert_string_equal(a == 1 ? t2 : t1, "child");
    assert_true(a + b == 3);
    fprintf(stderr, "# two 2 s calls of two threads took %lld ms\n", (long long)took);
    assert_true(took < 3500); /* one after the other takes 4 s or more */
    free(t1);
    free(t2);
}

/* Each thread has its own shell: directory and variables do not leak across. */
static void test_own_shell_per_thread(void **state)
{
    int e;
    char *t, want[128];
    (void)state;
    SKIP_WITHOUT_EXEC();
    send_req("run", 10, "sthr_a", "cd / && export LANE=a && echo set");
    assert_int_equal(next_result(&e, &t), 10);
    free(t);
    send_req("run", 11, "sthr_b", "echo \"${LANE:-none} $(pwd)\"");
    assert_int_equal(next_result(&e, &t), 11);
    snprintf(want, sizeof(want), "none %s", ex.work);
    assert_string_equal(t, want);
    free(t);
    send_req("run", 12, "sthr_a", "echo \"$LANE $(pwd)\"");
    assert_int_equal(next_result(&e, &t), 12);
    assert_string_equal(t, "a /");
    free(t);
}

/* A second call for a thread with one running is refused, not interleaved;
 * a cancel reaches a call that runs on a helper thread. */
static void test_busy_thread_and_cancel(void **state)
{
    int e, id;
    char *t;
    (void)state;
    SKIP_WITHOUT_EXEC();
    send_req("run", 20, NULL, "sleep 30; echo late");     /* the main thread runs it */
    send_req("run", 21, "sthr_c", "sleep 30; echo late"); /* a helper runs it */
    send_req("run", 22, "sthr_c", "echo must-not-run");   /* sthr_c is busy */
    id = next_result(&e, &t);
    assert_int_equal(id, 22);
    assert_true(e);
    assert_non_null(strstr(t, "another call of this session thread is still running"));
    free(t);
    int64_t t0 = omni_mono_ms();
    send_req("cancel", 21, NULL, NULL);
    id = next_result(&e, &t);
    assert_int_equal(id, 21);
    assert_true(e);
    free(t);
    send_req("cancel", 20, NULL, NULL);
    id = next_result(&e, &t);
    assert_int_equal(id, 20);
    free(t);
    assert_true(omni_mono_ms() - t0 < 10000);
}

/* "end" kills the thread's shell and the job it left in the background. */
static void test_end_kills_thread_shell(void **state)
{
    int e;
    char *t;
    (void)state;
    SKIP_WITHOUT_EXEC();
    send_req("run", 30, "sthr_d", "sleep 300 >/dev/null 2>&1 & echo $!");
    assert_int_equal(next_result(&e, &t), 30);
    pid_t job = (pid_t)atol(t);
    free(t);
    assert_true(job > 0);
    assert_int_equal(kill(job, 0), 0);
    send_req("end", 0, "sthr_d", NULL);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) {
        char p[64];
        struct stat st;
        FILE *f;
        char state_c = 0;
        snprintf(p, sizeof(p), "/proc/%d/stat", (int)job);
        if (stat(p, &st) < 0 || !(f = fopen(p, "r"))) {
            gone = 1;
            break;
        }
        if (fscanf(f, "%*d %*s %c", &state_c) == 1 && state_c == 'Z')
            gone = 1; /* killed, waiting for its parent */
        fclose(f);
        if (!gone)
            omni_sleep_ms(50, NULL);
    }
    assert_true(gone);
    /* the thread's next call gets a new shell */
    send_req("run", 31, "sthr_d", "echo again");
    assert_int_equal(next_result(&e, &t), 31);
    assert_string_equal(t, "again");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_run_at_once),
        cmocka_unit_test(test_own_shell_per_thread),
        cmocka_unit_test(test_busy_thread_and_cancel),
        cmocka_unit_test(test_end_kills_thread_shell),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, start_exec, stop_exec);
}
