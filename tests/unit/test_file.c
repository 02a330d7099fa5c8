/* Unit tests for lib/file.c: the private-file mode rule (Kubernetes secret
 * volumes: 0440, owner root, group the pod's fsGroup) and the reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "file.h"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A gid that is neither the effective gid nor a supplementary group. */
static gid_t foreign_gid(void)
{
    for (gid_t g = 64000; g > 1000; g--)
        if (!omni_file_in_group(g))
            return g;
    return (gid_t)-1;
}

static int check(unsigned mode, uid_t uid, gid_t gid, struct omni_err *err)
{
    struct stat st;

    memset(&st, 0, sizeof st);
    st.st_mode = S_IFREG | mode;
    st.st_uid = uid;
    st.st_gid = gid;
    omni_err_clear(err);
    return omni_file_mode_check("/k8s/secret/key", "key file", &st, err);
}

static void expect_ok(unsigned mode, uid_t uid, gid_t gid)
{
    struct omni_err err = OMNI_ERR_INIT;

    if (check(mode, uid, gid, &err) != 0) {
        print_error("mode %04o uid %u gid %u refused: %s\n", mode, (unsigned)uid, (unsigned)gid,
                    err.msg);
        fail();
    }
}

static void expect_refused(unsigned mode, gid_t gid, const char *part)
{
    struct omni_err err = OMNI_ERR_INIT;

    if (check(mode, geteuid(), gid, &err) == 0) {
        print_error("mode %04o gid %u accepted\n", mode, (unsigned)gid);
        fail();
    }
    assert_int_equal(err.kind, OMNI_E_CONFIG);
    assert_null(strchr(err.msg, '\n'));
    assert_non_null(strstr(err.msg, "/k8s/secret/key"));
    if (!strstr(err.msg, part)) {
        print_error("message \"%s\" lacks \"%s\"\n", err.msg, part);
        fail();
    }
}

static void test_mode_rule(void **state)
{
    gid_t own = getegid(), other = foreign_gid();

    assert_true(other != (gid_t)-1);
    expect_ok(0600, geteuid(), own);
    expect_ok(0400, geteuid(), other);
    /* owned by another uid: only the mode and the group count */
    expect_ok(0400, geteuid() + 1000, other);
    expect_ok(0440, geteuid() + 1000, own);
    expect_ok(0640, geteuid() + 1000, own);
    expect_ok(0440, geteuid(), own);

    expect_refused(0440, other, "chown :GROUP");
    expect_refused(0640, other, "chmod 600");
    expect_refused(0444, own, "accessible by others");
    expect_refused(0604, own, "chmod 600");
    expect_refused(0401, own, "accessible by others");
    expect_refused(0460, own, "writable or executable by its group");
    expect_refused(0660, own, "chmod 600");
    expect_refused(0610, own, "writable or executable by its group");
    expect_refused(0777, own, "chmod 600");
}

/* A supplementary group counts as the process's own (fsGroup is one). */
static void test_supplementary_group(void **state)
{
    gid_t groups[64];
    int n = getgroups(64, groups);

    for (int i = 0; i < n; i++) {
        assert_true(omni_file_in_group(groups[i]));
        expect_ok(0440, geteuid() + 1000, groups[i]);
    }
}

/* The reader itself, on a real 0440 file of our own group and a 0444 one. */
static void test_read_0440(void **state)
{
    char dir[] = "/tmp/omni-test-file-XXXXXX", path[128];
    struct omni_err err = OMNI_ERR_INIT;
    size_t len = 0;
    char *buf;
    int fd;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/key", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\n", 7), 7);
    close(fd);
    assert_int_equal(chown(path, (uid_t)-1, getegid()), 0);
    assert_int_equal(chmod(path, 0440), 0);
    buf = omni_file_read(path, "key file", 4096, OMNI_FILE_PRIVATE, &len, &err);
    assert_non_null(buf);
    assert_int_equal(len, 7);
    omni_file_wipe(buf, len);

    assert_int_equal(chmod(path, 0444), 0);
    buf = omni_file_read(path, "key file", 4096, OMNI_FILE_PRIVATE, &len, &err);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "chmod 600"));

    /* without OMNI_FILE_PRIVATE the mode does not matter */
    buf = omni_file_read(path, "config", 4096, 0, &len, &err);
    assert_non_null(buf);
    omni_file_wipe(buf, len);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_rule),
        cmocka_unit_test(test_supplementary_group),
        cmocka_unit_test(test_read_0440),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
