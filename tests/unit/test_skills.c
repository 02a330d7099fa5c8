/*
 * Unit tests for worker/skills.c: in-process skill archive extraction
 * against archives crafted here with libarchive (tar with several filters,
 * zip), including hostile ones: absolute names, "..", symlinks, hardlinks,
 * devices, fifos, duplicates, oversize and over-count archives.
 *
 * Layout per test: <base>/skills (extraction parent), <base>/outside (must
 * stay empty).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../worker/worker.h"
#include "buf.h"

struct m {
    const char *name;
    char type;        /* f file, d dir, l symlink, h hardlink, c char device, p fifo */
    const char *data; /* file content; link target for l/h */
    int perm;
};

enum fmt { TGZ, TXZ, TBZ2, TAR, ZIP };

static char base[256], skills[300], outside[300];
static int skills_fd = -1;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/omni-skills-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    snprintf(skills, sizeof skills, "%s/skills", base);
    snprintf(outside, sizeof outside, "%s/outside", base);
    if (mkdir(skills, 0700) < 0 || mkdir(outside, 0700) < 0)
        return -1;
    skills_fd = open(skills, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return skills_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    close(skills_fd);
    nftw(base, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static la_ssize_t w_cb(struct archive *a, void *ud, const void *p, size_t n)
{
    (void)a;
    return buf_add(ud, p, n) < 0 ? -1 : (la_ssize_t)n;
}

/* Build an archive in memory; returns a malloc'd buffer. */
static char *mk(enum fmt f, const struct m *ms, size_t n, size_t *len)
{
    struct archive *a = archive_write_new();
    struct buf out = BUF_INIT_MAX(64u * 1024 * 1024);
    assert_non_null(a);
    if (f == ZIP) {
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    } else {
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (f == TGZ)
            assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        else if (f == TXZ)
            assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
        else if (f == TBZ2)
            assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open(a, &out, NULL, w_cb, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        size_t dl = ms[i].type == 'f' && ms[i].data ? strlen(ms[i].data) : 0;
        archive_entry_set_pathname(e, ms[i].name);
        archive_entry_set_perm(e, ms[i].perm ? (mode_t)ms[i].perm : 0644);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_mtime(e, 1700000000, 0);
        switch (ms[i].type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, ms[i].data);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, ms[i].data);
            break;
        case 'c':
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_rdev(e, makedev(1, 3));
            break;
        case 'p':
            archive_entry_set_filetype(e, AE_IFIFO);
            break;
        default:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)dl);
        }
        assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
        if (dl)
            assert_int_equal(archive_write_data(a, ms[i].data, dl), (la_ssize_t)dl);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf_detach(&out, len);
}

static int extract(enum fmt f, const struct m *ms, size_t n, const char *dest,
                   const struct skill_limits *lim, struct skill_stats *st, struct omni_err *err)
{
    size_t len = 0;
    char *data = mk(f, ms, n, &len);
    int r = skills_extract(data, len, skills_fd, dest, lim, st, err);
    free(data);
    return r;
}

static char *path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path(const char *fmt, ...)
{
    static char bufs[4][1024];
    static int k;
    char *p = bufs[k++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, 1024, fmt, ap);
    va_end(ap);
    return p;
}

static int mode_of(const char *p)
{
    struct stat st;
    if (lstat(p, &st) < 0)
        return -1;
    return (int)(st.st_mode & 07777);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void read_file(const char *p, char *out, size_t outlen)
{
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, out, outlen - 1);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
}

/* Nothing written anywhere but a finished destination: no stage left, the
 * outside directory untouched. */
static void assert_clean(int expect_skills_entries)
{
    assert_int_equal(entries(skills), expect_skills_entries);
    assert_int_equal(entries(outside), 0);
    assert_int_equal(entries(base), 2);
}

static const struct m good[] = {
    {"my-skill/", 'd', NULL, 0755},
    {"my-skill/SKILL.md", 'f', "---\nname: my-skill\n---\nhello\n", 0644},
    {"my-skill/scripts/", 'd', NULL, 0777},
    {"my-skill/scripts/run.sh", 'f', "#!/bin/sh\necho run\n", 0755},
    {"my-skill/scripts/owner-x", 'f', "x", 0100},
    {"my-skill/data/private.txt", 'f', "p", 0600},
    {"my-skill/data/suid", 'f', "s", 04755},
    {"my-skill/data/world", 'f', "w", 0666},
};

static void check_good(const char *dest)
{
    char text[256];
    assert_int_equal(mode_of(path("%s/%s", skills, dest)), 0700);
    read_file(path("%s/%s/SKILL.md", skills, dest), text, sizeof text);
    assert_string_equal(text, "---\nname: my-skill\n---\nhello\n");
    assert_int_equal(mode_of(path("%s/%s/SKILL.md", skills, dest)), 0644);
    assert_int_equal(mode_of(path("%s/%s/scripts", skills, dest)), 0700);
    assert_int_equal(mode_of(path("%s/%s/scripts/run.sh", skills, dest)), 0755);
    assert_int_equal(mode_of(path("%s/%s/scripts/owner-x", skills, dest)), 0755);
    assert_int_equal(mode_of(path("%s/%s/data", skills, dest)), 0700);
    assert_int_equal(mode_of(path("%s/%s/data/private.txt", skills, dest)), 0644);
    assert_int_equal(mode_of(path("%s/%s/data/suid", skills, dest)), 0755);
    assert_int_equal(mode_of(path("%s/%s/data/world", skills, dest)), 0644);
    /* the wrapper was stripped */
    assert_false(exists(path("%s/%s/my-skill", skills, dest)));
}

static void test_formats_wrapper_modes(void **state)
{
    static const enum fmt fmts[] = {TGZ, TXZ, TBZ2, TAR, ZIP};
    static const char *const names[] = {"tgz", "txz", "tbz2", "tar", "zip"};
    (void)state;
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct omni_err err = OMNI_ERR_INIT;
        struct skill_stats st;
        int r = extract(fmts[i], good, sizeof good / sizeof good[0], names[i], NULL, &st, &err);
        if (r < 0)
            fail_msg("%s: %s", names[i], err.msg);
        check_good(names[i]);
        assert_int_equal(st.files, 6);
        assert_int_equal(st.skipped, 0);
    }
    assert_clean(5);
}

static void test_no_wrapper(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    (void)state;
    /* a top-level file: nothing stripped */
    static const struct m top[] = {
        {"README", 'f', "r", 0644},
        {"sub/file", 'f', "f", 0644},
    };
    assert_int_equal(extract(TGZ, top, 2, "a", NULL, &st, &err), 0);
    assert_true(exists(path("%s/a/README", skills)));
    assert_true(exists(path("%s/a/sub/file", skills)));
    /* two top-level directories: nothing stripped */
    static const struct m two[] = {
        {"x/one", 'f', "1", 0644},
        {"y/two", 'f', "2", 0644},
    };
    assert_int_equal(extract(ZIP, two, 2, "b", NULL, &st, &err), 0);
    assert_true(exists(path("%s/b/x/one", skills)));
    assert_true(exists(path("%s/b/y/two", skills)));
    /* a lone directory with nothing nested: kept */
    static const struct m lone[] = {{"w/", 'd', NULL, 0755}};
    assert_int_equal(extract(TAR, lone, 1, "c", NULL, &st, &err), 0);
    assert_int_equal(mode_of(path("%s/c/w", skills)), 0700);
    /* "./" prefixes and doubled slashes are normalised; the wrapper still goes */
    static const struct m dots[] = {
        {"./", 'd', NULL, 0755},
        {"./w//f", 'f', "f", 0644},
        {"./w/./g", 'f', "g", 0644},
    };
    assert_int_equal(extract(TAR, dots, 3, "d", NULL, &st, &err), 0);
    assert_true(exists(path("%s/d/f", skills)));
    assert_true(exists(path("%s/d/g", skills)));
    /* a file named like the wrapper: no wrapper */
    static const struct m clash[] = {
        {"w", 'f', "f", 0644},
        {"w2/g", 'f', "g", 0644},
    };
    assert_int_equal(extract(TAR, clash, 2, "e", NULL, &st, &err), 0);
    assert_true(exists(path("%s/e/w", skills)));
    assert_true(exists(path("%s/e/w2/g", skills)));
    assert_clean(5);
}

static void refused(enum fmt f, const struct m *ms, size_t n, const char *want)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    assert_int_equal(extract(f, ms, n, "bad", NULL, &st, &err), -1);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not say \"%s\"", err.msg, want);
    assert_false(exists(path("%s/bad", skills)));
}

static void test_traversal_refused(void **state)
{
    char abs_name[512];
    (void)state;
    snprintf(abs_name, sizeof abs_name, "%s/abs-evil", outside);
    const struct m absm[] = {
        {"sk/ok", 'f', "ok", 0644},
        {abs_name, 'f', "evil", 0644},
    };
    refused(TGZ, absm, 2, "absolute path");
    refused(ZIP, absm, 2, "absolute path");
    static const struct m up[] = {
        {"sk/ok", 'f', "ok", 0644},
        {"../x", 'f', "evil", 0644},
    };
    refused(TGZ, up, 2, "\"..\" component");
    refused(ZIP, up, 2, "\"..\" component");
    static const struct m up2[] = {
        {"sk/ok", 'f', "ok", 0644},
        {"a/../../outside/x", 'f', "evil", 0644},
    };
    refused(TAR, up2, 2, "\"..\" component");
    static const struct m up3[] = {{"sk/..", 'd', NULL, 0755}};
    refused(TAR, up3, 1, "\"..\" component");
    /* even a skipped member with a bad name refuses the archive */
    static const struct m up4[] = {
        {"sk/ok", 'f', "ok", 0644},
        {"../link", 'l', "/etc/passwd", 0777},
    };
    refused(TAR, up4, 2, "\"..\" component");
    assert_false(exists(path("%s/x", base)));
    assert_false(exists(path("%s/x", outside)));
    assert_clean(0);
}

static void test_specials_skipped(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    char text[64];
    (void)state;
    const struct m ms[] = {
        {"sk/real", 'f', "real", 0644},
        {"sk/link", 'l', outside, 0777},            /* symlink to a directory outside */
        {"sk/link/pwn", 'f', "through-link", 0644}, /* would land outside if followed */
        {"sk/passwd", 'l', "/etc/passwd", 0777},
        {"sk/hard", 'h', "sk/real", 0644},
        {"sk/hard-out", 'h', "/etc/passwd", 0644},
        {"sk/null", 'c', NULL, 0666},
        {"sk/fifo", 'p', NULL, 0644},
    };
    if (extract(TGZ, ms, sizeof ms / sizeof ms[0], "s", NULL, &st, &err) < 0)
        fail_msg("%s", err.msg);
    read_file(path("%s/s/real", skills), text, sizeof text);
    assert_string_equal(text, "real");
    assert_false(exists(path("%s/s/passwd", skills)));
    assert_false(exists(path("%s/s/hard", skills)));
    assert_false(exists(path("%s/s/hard-out", skills)));
    assert_false(exists(path("%s/s/null", skills)));
    assert_false(exists(path("%s/s/fifo", skills)));
    /* the symlink was not made, so "link/pwn" is a plain directory inside */
    struct stat lst;
    assert_int_equal(lstat(path("%s/s/link", skills), &lst), 0);
    assert_true(S_ISDIR(lst.st_mode));
    read_file(path("%s/s/link/pwn", skills), text, sizeof text);
    assert_string_equal(text, "through-link");
    assert_int_equal(st.skipped, 6);
    assert_int_equal(st.files, 2);
    /* zip symlink */
    const struct m zs[] = {
        {"z/real", 'f', "real", 0644},
        {"z/link", 'l', "/etc/passwd", 0777},
    };
    if (extract(ZIP, zs, 2, "z", NULL, &st, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(exists(path("%s/z/real", skills)));
    assert_false(exists(path("%s/z/link", skills)));
    assert_int_equal(st.skipped, 1);
    assert_clean(2);
}

static void test_limits(void **state)
{
    struct skill_limits lim;
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    (void)state;
    skills_limits_default(&lim);
    assert_int_equal(lim.max_members, 10000);
    assert_true(lim.max_total == 256ull * 1024 * 1024);

    /* too many members */
    struct m many[6];
    char names[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "w/f%d", i);
        many[i] = (struct m){names[i], 'f', "x", 0644};
    }
    lim.max_members = 5;
    assert_int_equal(extract(TGZ, many, 6, "many", &lim, &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_TOOBIG);
    assert_non_null(strstr(err.msg, "more than 5 members"));
    lim.max_members = 6;
    assert_int_equal(extract(TGZ, many, 6, "many", &lim, &st, &err), 0);
    assert_int_equal(st.files, 6);

    /* too big once expanded: 2 MiB of zeros compresses to a few KiB */
    size_t big = 2u * 1024 * 1024;
    char *zeros = calloc(1, big + 1);
    assert_non_null(zeros);
    memset(zeros, 'a', big);
    const struct m bomb[] = {{"w/zeros", 'f', zeros, 0644}};
    size_t len = 0;
    char *data = mk(TGZ, bomb, 1, &len);
    assert_true(len < big / 16);
    skills_limits_default(&lim);
    lim.max_total = big - 1;
    assert_int_equal(skills_extract(data, len, skills_fd, "bomb", &lim, &st, &err), -1);
    assert_int_equal(err.kind, OMNI_E_TOOBIG);
    assert_false(exists(path("%s/bomb", skills)));
    lim.max_total = big;
    assert_int_equal(skills_extract(data, len, skills_fd, "bomb", &lim, &st, &err), 0);
    assert_true(st.bytes == big);
    free(data);
    free(zeros);

    /* over-long member name */
    char longname[1200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    for (size_t i = 100; i < sizeof longname - 1; i += 100)
        longname[i] = '/';
    const struct m ln[] = {{longname, 'f', "x", 0644}};
    assert_int_equal(extract(TAR, ln, 1, "long", NULL, &st, &err), -1);
    assert_non_null(strstr(err.msg, "longer than 1024"));
    /* over-deep nesting */
    char deep[400] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "d/");
    strcat(deep, "f");
    const struct m dp[] = {{deep, 'f', "x", 0644}};
    assert_int_equal(extract(TAR, dp, 1, "deep", NULL, &st, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deep"));
    assert_clean(2);
}

static void test_collisions(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    char text[64];
    (void)state;
    const struct m a[] = {{"sk/who", 'f', "first", 0644}};
    const struct m b[] = {{"sk/who", 'f', "second", 0644}};
    assert_int_equal(extract(TGZ, a, 1, "same", NULL, &st, &err), 0);
    assert_int_equal(extract(TGZ, b, 1, "same", NULL, &st, &err), -1);
    assert_non_null(strstr(err.msg, "already exists"));
    read_file(path("%s/same/who", skills), text, sizeof text);
    assert_string_equal(text, "first");

    /* a pre-existing symlink as destination is not followed or replaced */
    assert_int_equal(symlink(outside, path("%s/evil", skills)), 0);
    assert_int_equal(extract(TGZ, a, 1, "evil", NULL, &st, &err), -1);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(entries(outside), 0);
    unlink(path("%s/evil", skills));

    /* duplicate member names inside one archive: the first wins */
    const struct m dup[] = {
        {"sk/x", 'f', "one", 0644},
        {"sk/x", 'f', "two", 0644},
    };
    assert_int_equal(extract(TAR, dup, 2, "dup", NULL, &st, &err), 0);
    read_file(path("%s/dup/x", skills), text, sizeof text);
    assert_string_equal(text, "one");
    assert_int_equal(st.skipped, 1);

    /* a file then a member below it: refused, nothing left behind */
    const struct m fd[] = {
        {"sk/a", 'f', "file", 0644},
        {"sk/a/b", 'f', "below", 0644},
    };
    assert_int_equal(extract(TAR, fd, 2, "fd", NULL, &st, &err), -1);
    assert_false(exists(path("%s/fd", skills)));

    /* invalid destinations */
    assert_int_equal(extract(TAR, a, 1, "..", NULL, &st, &err), -1);
    assert_int_equal(extract(TAR, a, 1, "x/y", NULL, &st, &err), -1);
    assert_int_equal(extract(TAR, a, 1, "", NULL, &st, &err), -1);
    assert_clean(2);
}

static void test_garbage(void **state)
{
    struct omni_err err = OMNI_ERR_INIT;
    struct skill_stats st;
    static const char junk[] = "this is not an archive at all, not even close";
    (void)state;
    assert_int_equal(skills_extract(junk, sizeof junk - 1, skills_fd, "j", NULL, &st, &err), -1);
    assert_int_equal(skills_extract("", 0, skills_fd, "j", NULL, &st, &err), -1);
    /* a truncated tar.gz */
    size_t len = 0;
    char *data = mk(TGZ, good, sizeof good / sizeof good[0], &len);
    assert_int_equal(skills_extract(data, len / 2, skills_fd, "t", NULL, &st, &err), -1);
    free(data);
    data = mk(ZIP, good, sizeof good / sizeof good[0], &len);
    assert_int_equal(skills_extract(data, len / 2, skills_fd, "t", NULL, &st, &err), -1);
    free(data);
    assert_clean(0);
}

static void test_dir_name(void **state)
{
    char out[300];
    (void)state;
    assert_int_equal(skills_dir_name("  My Skill \n", "skill_1", out, sizeof out), 0);
    assert_string_equal(out, "My Skill");
    assert_int_equal(skills_dir_name("a/b/c", "skill_1", out, sizeof out), 0);
    assert_string_equal(out, "c");
    assert_int_equal(skills_dir_name("foo/", "skill_1", out, sizeof out), 0);
    assert_string_equal(out, "foo");
    assert_int_equal(skills_dir_name("../../etc", "skill_1", out, sizeof out), 0);
    assert_string_equal(out, "etc");
    static const char *const fallback[] = {"", "  ", ".", "..", "a/..", "/", "//", "x/./"};
    for (size_t i = 0; i < sizeof fallback / sizeof fallback[0]; i++) {
        assert_int_equal(skills_dir_name(fallback[i], "skill_1", out, sizeof out), 0);
        assert_string_equal(out, "skill_1");
    }
    assert_int_equal(skills_dir_name(NULL, "skill_2", out, sizeof out), 0);
    assert_string_equal(out, "skill_2");
    char longname[400];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(skills_dir_name(longname, "skill_3", out, sizeof out), 0);
    assert_string_equal(out, "skill_3");
    assert_int_equal(skills_dir_name("ok", "skill_4", out, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formats_wrapper_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_wrapper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_traversal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_specials_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test(test_dir_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
