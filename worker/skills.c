/*
 * skills — download the agent's skills and unpack them in-process
 * (protocol.md §11, toolset.md §10 "C worker", §15 item 14).
 *
 * For each session.agent.skills entry: resolve the version (GA route,
 * "latest" allowed), download its content (capped) and extract it with
 * libarchive into <workdir>/skills/<dir>. Extraction never lets an archive
 * choose where bytes land:
 *   - pass 1 lists every member: absolute names, ".." components, over-long
 *     names or too many members refuse the whole archive; symlinks,
 *     hardlinks, devices, fifos and sockets are skipped (logged);
 *   - a single top-level wrapper directory shared by every kept member is
 *     stripped when at least one member is nested under it;
 *   - pass 2 writes regular files and directories only, each with
 *     openat(O_NOFOLLOW|O_EXCL|O_CREAT) relative to a fresh staging
 *     directory fd, directories 0700, files 0755 when any x bit was set
 *     else 0644, owners ignored, total bytes capped;
 *   - the staging directory is renamed into place with RENAME_NOREPLACE, so
 *     a directory the worker did not create is never overwritten.
 * A failing skill is logged and removed; the others and the session go on.
 */
#include "worker.h"

#include "client.h"

#include "log.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SK_CHUNK (64u * 1024)
#define SK_STAGE_TRIES 16
#define SK_SKIP_LOGS 20 /* skipped members logged one by one per archive */

struct sk_member {
    char *path; /* normalised: components joined by '/', no "." or empty ones */
    int type;   /* 'f' file, 'd' directory, 's' skipped */
    int exec;   /* any execute bit recorded */
};

struct sk_scan {
    struct sk_member *m;
    size_t n;
    size_t strip; /* bytes of the wrapper prefix ("wrap/") to drop; 0 = none */
};

void skills_limits_default(struct skill_limits *lim)
{
    lim->max_members = WK_SKILL_MEMBERS_MAX;
    lim->max_total = WK_SKILL_TOTAL_MAX;
    lim->max_name = WK_SKILL_NAME_MAX;
}

int skills_dir_name(const char *name, const char *skill_id, char *out, size_t outlen)
{
    const char *s = name ? name : "";
    size_t len;
    const char *base;

    while (*s && isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    while (len > 1 && s[len - 1] == '/')
        len--;
    base = s + len;
    while (base > s && base[-1] != '/')
        base--;
    len = (size_t)(s + len - base);
    if (len == 0 || len > NAME_MAX || (len == 1 && base[0] == '.') ||
        (len == 2 && base[0] == '.' && base[1] == '.') || memchr(base, '/', len)) {
        base = skill_id;
        len = strlen(skill_id);
    }
    if (len == 0 || len >= outlen || len > NAME_MAX)
        return -1;
    memcpy(out, base, len);
    out[len] = '\0';
    return 0;
}

/* ---- archive reading ---- */

static struct archive *sk_reader(const void *data, size_t len, struct omni_err *err)
{
    struct archive *a = archive_read_new();
    if (!a) {
        omni_err_set(err, OMNI_E_IO, "cannot start the archive reader: out of memory");
        return NULL;
    }
    /* formats and filters read in-process only (no external programs) */
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_format_zip(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
        archive_read_support_filter_xz(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
        omni_err_set(err, OMNI_E_IO, "archive reader lacks in-process support: %s",
                     archive_error_string(a) ? archive_error_string(a) : "unknown");
        archive_read_free(a);
        return NULL;
    }
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        omni_err_set(err, OMNI_E_PARSE, "not a zip or tar archive: %s",
                     archive_error_string(a) ? archive_error_string(a) : "unknown format");
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* Next header; 1 = got one, 0 = end, -1 = error (err set). */
static int sk_next(struct archive *a, struct archive_entry **e, struct omni_err *err)
{
    int r = archive_read_next_header(a, e);
    if (r == ARCHIVE_EOF)
        return 0;
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
        return 1;
    omni_err_set(err, OMNI_E_PARSE, "cannot read the archive: %s",
                 archive_error_string(a) ? archive_error_string(a) : "corrupt archive");
    return -1;
}

/* A copy of an archive-chosen name safe to log: control bytes become '?'. */
static const char *sk_show(const char *raw, char *out, size_t outlen)
{
    size_t i = 0;
    for (; raw[i] && i + 1 < outlen; i++)
        out[i] = (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? '?' : raw[i];
    out[i] = '\0';
    return out;
}

static const char *sk_entry_name(struct archive_entry *e)
{
    const char *p = archive_entry_pathname(e);
    return p ? p : archive_entry_pathname_utf8(e);
}

/* Normalise a member name into out (malloc'd). Refuses absolute names, ".."
 * components, over-long names and components, deep nesting. An empty
 * result (e.g. "./") gives out = "". */
static int sk_normalise(const char *raw, const struct skill_limits *lim, char **out,
                        struct omni_err *err)
{
    size_t len = strlen(raw), depth = 0, o = 0;
    char *res, shown[201];
    const char *p = raw;

    *out = NULL;
    if (len == 0)
        return omni_err_set(err, OMNI_E_PARSE, "archive member with an empty name");
    if (len > lim->max_name)
        return omni_err_set(err, OMNI_E_PARSE, "archive member name longer than %zu bytes",
                            lim->max_name);
    if (raw[0] == '/')
        return omni_err_set(err, OMNI_E_PARSE, "archive member \"%s\" has an absolute path",
                            sk_show(raw, shown, sizeof shown));
    res = malloc(len + 1);
    if (!res)
        return omni_err_set(err, OMNI_E_IO, "out of memory");
    while (*p) {
        const char *c = p;
        size_t cl;
        while (*p && *p != '/')
            p++;
        cl = (size_t)(p - c);
        if (*p == '/')
            p++;
        if (cl == 0 || (cl == 1 && c[0] == '.'))
            continue;
        if (cl == 2 && c[0] == '.' && c[1] == '.') {
            free(res);
            return omni_err_set(err, OMNI_E_PARSE, "archive member \"%s\" has a \"..\" component",
                                sk_show(raw, shown, sizeof shown));
        }
        if (cl > NAME_MAX || ++depth > WK_SKILL_DEPTH_MAX) {
            free(res);
            return omni_err_set(err, OMNI_E_PARSE,
                                "archive member \"%s\" has an over-long component or is "
                                "nested too deep",
                                sk_show(raw, shown, sizeof shown));
        }
        if (o)
            res[o++] = '/';
        memcpy(res + o, c, cl);
        o += cl;
    }
    res[o] = '\0';
    *out = res;
    return 0;
}

static const char *sk_type_name(struct archive_entry *e)
{
    if (archive_entry_hardlink(e))
        return "hardlink";
    switch (archive_entry_filetype(e)) {
    case AE_IFLNK:
        return "symlink";
    case AE_IFCHR:
        return "character device";
    case AE_IFBLK:
        return "block device";
    case AE_IFIFO:
        return "fifo";
    case AE_IFSOCK:
        return "socket";
    default:
        return "special file";
    }
}

static void sk_scan_release(struct sk_scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->m[i].path);
    free(s->m);
    memset(s, 0, sizeof(*s));
}

/* Wrapper: every kept member is the directory W or under W/, and at least
 * one is under W/. */
static void sk_find_wrapper(struct sk_scan *s)
{
    const char *w = NULL;
    size_t wl = 0;
    int nested = 0;

    for (size_t i = 0; i < s->n; i++) {
        const struct sk_member *m = &s->m[i];
        const char *slash;
        size_t fl;
        if (m->type == 's' || !m->path[0])
            continue;
        slash = strchr(m->path, '/');
        fl = slash ? (size_t)(slash - m->path) : strlen(m->path);
        if (!slash && m->type != 'd')
            return; /* a top-level file: no wrapper */
        if (!w) {
            w = m->path;
            wl = fl;
        } else if (fl != wl || memcmp(w, m->path, fl) != 0) {
            return;
        }
        if (slash)
            nested = 1;
    }
    if (w && nested)
        s->strip = wl + 1;
}

static int sk_scan(const void *data, size_t len, const struct skill_limits *lim, struct sk_scan *s,
                   struct skill_stats *st, struct omni_err *err)
{
    struct archive *a = sk_reader(data, len, err);
    struct archive_entry *e;
    size_t cap = 0;
    int r;

    memset(s, 0, sizeof(*s));
    if (!a)
        return -1;
    while ((r = sk_next(a, &e, err)) == 1) {
        const char *raw = sk_entry_name(e);
        struct sk_member m = {NULL, 's', 0};
        char shown[201];
        int ft = (int)archive_entry_filetype(e);
        if (s->n >= lim->max_members) {
            omni_err_set(err, OMNI_E_TOOBIG, "archive has more than %zu members", lim->max_members);
            r = -1;
            break;
        }
        if (!raw) {
            omni_err_set(err, OMNI_E_PARSE, "archive member with an unreadable name");
            r = -1;
            break;
        }
        if (s->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct sk_member *nm;
            if (nc > lim->max_members)
                nc = lim->max_members;
            nm = realloc(s->m, nc * sizeof(*nm));
            if (!nm) {
                omni_err_set(err, OMNI_E_IO, "out of memory");
                r = -1;
                break;
            }
            s->m = nm;
            cap = nc;
        }
        if (sk_normalise(raw, lim, &m.path, err) < 0) {
            r = -1;
            break;
        }
        if (ft == AE_IFDIR && !archive_entry_hardlink(e)) {
            m.type = 'd';
        } else if (ft == AE_IFREG && !archive_entry_hardlink(e) && !archive_entry_symlink(e)) {
            m.type = 'f';
            m.exec = (archive_entry_perm(e) & 0111) != 0;
        } else {
            if (st->skipped < SK_SKIP_LOGS)
                log_kv(LOG_WARN, "skill archive member skipped: not a regular file or directory",
                       "member", sk_show(m.path, shown, sizeof shown), "type", sk_type_name(e),
                       NULL);
            else if (st->skipped == SK_SKIP_LOGS)
                log_kv(LOG_WARN, "skill archive: further skipped members are not logged", NULL);
            st->skipped++;
        }
        s->m[s->n++] = m;
    }
    archive_read_free(a);
    if (r < 0) {
        sk_scan_release(s);
        return -1;
    }
    sk_find_wrapper(s);
    return 0;
}

/* ---- writing ---- */

/* Open (creating 0700 as needed) the directory rel[0..len) under root.
 * Returns an fd to close, or -1 with err. */
static int sk_open_dirs(int root, const char *rel, size_t len, struct omni_err *err)
{
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    size_t i = 0;

    if (cur < 0)
        return omni_err_set(err, OMNI_E_IO, "cannot duplicate a directory fd: %s", strerror(errno));
    while (i < len) {
        char comp[NAME_MAX + 1];
        size_t j = i;
        int nfd;
        while (j < len && rel[j] != '/')
            j++;
        if (j - i > NAME_MAX) {
            close(cur);
            return omni_err_set(err, OMNI_E_PARSE, "over-long path component");
        }
        memcpy(comp, rel + i, j - i);
        comp[j - i] = '\0';
        if (mkdirat(cur, comp, 0700) < 0 && errno != EEXIST) {
            omni_err_set(err, OMNI_E_IO, "cannot create directory \"%.*s\": %s", (int)j, rel,
                         strerror(errno));
            close(cur);
            return -1;
        }
        nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0) {
            omni_err_set(err, OMNI_E_IO, "cannot open directory \"%.*s\": %s", (int)j, rel,
                         strerror(errno));
            close(cur);
            return -1;
        }
        close(cur);
        cur = nfd;
        if (fchmod(cur, 0700) < 0) {
            omni_err_set(err, OMNI_E_IO, "cannot set the mode of \"%.*s\": %s", (int)j, rel,
                         strerror(errno));
            close(cur);
            return -1;
        }
        i = j < len ? j + 1 : j;
    }
    return cur;
}

static int sk_write_file(struct archive *a, int stage, const char *rel, int exec,
                         const struct skill_limits *lim, struct skill_stats *st,
                         struct omni_err *err)
{
    const char *slash = strrchr(rel, '/');
    const char *leaf = slash ? slash + 1 : rel;
    int dfd = sk_open_dirs(stage, rel, slash ? (size_t)(slash - rel) : 0, err);
    int fd, ret = 0;
    char chunk[SK_CHUNK];

    if (dfd < 0)
        return -1;
    fd = openat(dfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        char shown[201];
        if (st->skipped < SK_SKIP_LOGS)
            log_kv(LOG_WARN, "skill archive member skipped: duplicate name", "member",
                   sk_show(rel, shown, sizeof shown), NULL);
        st->skipped++;
        close(dfd);
        return 0;
    }
    if (fd < 0) {
        omni_err_set(err, OMNI_E_IO, "cannot create \"%.200s\": %s", rel, strerror(errno));
        close(dfd);
        return -1;
    }
    for (;;) {
        la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));
        if (n == 0)
            break;
        if (n < 0) {
            ret = omni_err_set(err, OMNI_E_PARSE, "cannot read \"%.200s\" from the archive: %s",
                               rel, archive_error_string(a) ? archive_error_string(a) : "?");
            break;
        }
        if ((uint64_t)n > lim->max_total - st->bytes) {
            ret = omni_err_set(err, OMNI_E_TOOBIG, "archive expands to more than %llu bytes",
                               (unsigned long long)lim->max_total);
            break;
        }
        st->bytes += (uint64_t)n;
        for (la_ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                ret = omni_err_set(err, OMNI_E_IO, "cannot write \"%.200s\": %s", rel,
                                   w < 0 ? strerror(errno) : "short write");
                break;
            }
            off += w;
        }
        if (ret < 0)
            break;
    }
    if (ret == 0 && fchmod(fd, exec ? 0755 : 0644) < 0)
        ret = omni_err_set(err, OMNI_E_IO, "cannot set the mode of \"%.200s\": %s", rel,
                           strerror(errno));
    if (close(fd) < 0 && ret == 0)
        ret = omni_err_set(err, OMNI_E_IO, "cannot write \"%.200s\": %s", rel, strerror(errno));
    close(dfd);
    if (ret == 0)
        st->files++;
    return ret;
}

static int sk_extract_pass(const void *data, size_t len, int stage, const struct sk_scan *s,
                           const struct skill_limits *lim, struct skill_stats *st,
                           struct omni_err *err)
{
    struct archive *a = sk_reader(data, len, err);
    struct archive_entry *e;
    size_t i = 0;
    int r;

    if (!a)
        return -1;
    while ((r = sk_next(a, &e, err)) == 1) {
        const struct sk_member *m;
        const char *rel;
        if (i >= s->n) {
            r = omni_err_set(err, OMNI_E_PARSE, "archive changed between passes");
            break;
        }
        m = &s->m[i++];
        if (m->type == 's' || !m->path[0])
            continue;
        if (s->strip && strlen(m->path) < s->strip)
            continue; /* the wrapper directory itself */
        rel = m->path + s->strip;
        if (!rel[0])
            continue;
        if (m->type == 'd') {
            int fd = sk_open_dirs(stage, rel, strlen(rel), err);
            if (fd < 0) {
                r = -1;
                break;
            }
            close(fd);
            st->dirs++;
        } else if (sk_write_file(a, stage, rel, m->exec, lim, st, err) < 0) {
            r = -1;
            break;
        }
    }
    archive_read_free(a);
    if (r == 0 && i != s->n)
        r = omni_err_set(err, OMNI_E_PARSE, "archive changed between passes");
    return r < 0 ? -1 : 0;
}

/* mkdtemp relative to a directory fd. */
static int sk_make_stage(int parent, char *name, size_t namelen, struct omni_err *err)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int t = 0; t < SK_STAGE_TRIES; t++) {
        unsigned char rnd[8];
        char suf[9];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return omni_err_set(err, OMNI_E_IO, "getrandom failed: %s", strerror(errno));
        for (size_t i = 0; i < sizeof rnd; i++)
            suf[i] = al[rnd[i] % (sizeof al - 1)];
        suf[8] = '\0';
        snprintf(name, namelen, ".skill-stage-%s", suf);
        if (mkdirat(parent, name, 0700) == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    return omni_err_set(err, OMNI_E_IO, "cannot create a staging directory: %s", strerror(errno));
}

static int sk_extract(const void *data, size_t len, int parent_fd, const char *dest,
                      const struct skill_limits *lim, struct skill_stats *st, struct omni_err *err)
{
    struct skill_limits def;
    struct sk_scan s;
    struct stat dst;
    char stage[64];
    int sfd, r;

    if (!lim) {
        skills_limits_default(&def);
        lim = &def;
    }
    memset(st, 0, sizeof(*st));
    if (!dest[0] || strchr(dest, '/') || strcmp(dest, ".") == 0 || strcmp(dest, "..") == 0)
        return omni_err_set(err, OMNI_E_USAGE, "invalid skill directory name \"%.200s\"", dest);
    if (fstatat(parent_fd, dest, &dst, AT_SYMLINK_NOFOLLOW) == 0)
        return omni_err_set(err, OMNI_E_IO,
                            "skill directory \"%.200s\" already exists; not overwritten", dest);
    if (!lim->max_members || lim->max_members > SIZE_MAX / sizeof(struct sk_member))
        return omni_err_set(err, OMNI_E_USAGE, "invalid member cap");
    if (sk_scan(data, len, lim, &s, st, err) < 0)
        return -1;
    if (sk_make_stage(parent_fd, stage, sizeof stage, err) < 0) {
        sk_scan_release(&s);
        return -1;
    }
    sfd = openat(parent_fd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd >= 0 && fchmod(sfd, 0700) < 0) {
        close(sfd);
        sfd = -1;
    }
    if (sfd < 0) {
        omni_err_set(err, OMNI_E_IO, "cannot open the staging directory: %s", strerror(errno));
        wk_rm_tree_at(parent_fd, stage, 0);
        sk_scan_release(&s);
        return -1;
    }
    r = sk_extract_pass(data, len, sfd, &s, lim, st, err);
    close(sfd);
    sk_scan_release(&s);
    if (r == 0 && renameat2(parent_fd, stage, parent_fd, dest, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            r = omni_err_set(err, OMNI_E_IO,
                             "skill directory \"%.200s\" already exists; not overwritten", dest);
        else
            r = omni_err_set(err, OMNI_E_IO, "cannot move the skill into \"%.200s\": %s", dest,
                             strerror(errno));
    }
    if (r < 0)
        wk_rm_tree_at(parent_fd, stage, 0);
    return r;
}

int skills_extract(const void *data, size_t len, int parent_fd, const char *dest,
                   const struct skill_limits *lim, struct skill_stats *st, struct omni_err *err)
{
    int r = sk_extract(data, len, parent_fd, dest, lim, st, err);
    if (r < 0) /* messages quote archive- and server-chosen names */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    return r;
}

/* ---- download ---- */

static struct omni_client *sk_client(const struct wk_config *cfg, const char *base_url,
                                     const char *cred, long timeout_ms, volatile int *abort,
                                     struct omni_err *err)
{
    struct omni_client_opts o;
    wk_client_opts_init(&o, cfg, base_url, cred, timeout_ms, 0);
    o.abort = abort;
    o.max_response = WK_SKILL_DOWNLOAD_MAX;
    return omni_client_new(&o, err);
}

/* GET /v1/skills/{id}/versions/{version}: the concrete version id and name. */
static int sk_resolve(struct omni_client *c, const char *skill_id, const char *version, char *vid,
                      size_t vidlen, char *name, size_t namelen, struct omni_err *err)
{
    struct buf path = BUF_INIT_MAX(1024);
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct omni_request rq = {0};
    cJSON *j = NULL;
    int ret = -1;

    if (buf_adds(&path, "/v1/skills") < 0 || omni_path_add(&path, skill_id) < 0 ||
        buf_adds(&path, "/versions") < 0 || omni_path_add(&path, version) < 0) {
        buf_release(&path);
        return omni_err_set(err, OMNI_E_USAGE, "skill path too long");
    }
    rq.method = "GET";
    rq.path = path.data;
    rq.beta = ""; /* GA route */
    if (omni_client_do(c, &rq, &rs, err) == 0) {
        j = cJSON_ParseWithLength(rs.body.data, rs.body.len);
        if (!cJSON_IsObject(j))
            omni_err_set(err, OMNI_E_PARSE, "GET %s: response is not a JSON object", path.data);
        else if (omni_json_str(j, "id", vid, vidlen, 1, err) < 0 ||
                 omni_json_str(j, "name", name, namelen, 0, err) < 0)
            omni_err_prefix(err, "GET %s", path.data);
        else if (!omni_id_valid(vid))
            omni_err_set(err, OMNI_E_PARSE, "GET %s: invalid version id", path.data);
        else
            ret = 0;
    }
    cJSON_Delete(j);
    omni_response_release(&rs);
    buf_release(&path);
    return ret;
}

static int sk_download(struct omni_client *c, const char *skill_id, const char *vid,
                       struct omni_response *rs, struct omni_err *err)
{
    static const char *const hdrs[] = {"Accept: application/binary", NULL};
    struct buf path = BUF_INIT_MAX(1024);
    struct omni_request rq = {0};
    int ret;

    if (buf_adds(&path, "/v1/skills") < 0 || omni_path_add(&path, skill_id) < 0 ||
        buf_adds(&path, "/versions") < 0 || omni_path_add(&path, vid) < 0 ||
        buf_adds(&path, "/content") < 0) {
        buf_release(&path);
        return omni_err_set(err, OMNI_E_USAGE, "skill path too long");
    }
    rq.method = "GET";
    rq.path = path.data;
    rq.beta = "";
    rq.headers = hdrs;
    ret = omni_client_do(c, &rq, rs, err);
    buf_release(&path);
    return ret;
}

/* One skill entry; returns 0 when installed. */
static int sk_install_one(struct omni_client *c, int skills_fd, const cJSON *entry, size_t idx,
                          const char *session_id)
{
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(entry, "skill_id");
    const cJSON *jver = cJSON_GetObjectItemCaseSensitive(entry, "version");
    const cJSON *jtype = cJSON_GetObjectItemCaseSensitive(entry, "type");
    const char *version =
        cJSON_IsString(jver) && jver->valuestring[0] ? jver->valuestring : "latest";
    const char *type = cJSON_IsString(jtype) ? jtype->valuestring : "custom";
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_response rs = OMNI_RESPONSE_INIT;
    struct skill_stats st;
    struct stat dst;
    char vid[OMNI_ID_MAX], name[OMNI_NAME_MAX], dir[NAME_MAX + 1], idxs[24];
    char files[24], bytes[24], skipped[24];

    snprintf(idxs, sizeof idxs, "%zu", idx);
    if (!cJSON_IsString(jid) || !omni_id_valid(jid->valuestring) ||
        strlen(version) >= OMNI_ID_MAX) {
        log_kv(LOG_WARN, "skill entry without a valid skill_id or version; skipped", "session",
               session_id, "index", idxs, NULL);
        return -1;
    }
    if (sk_resolve(c, jid->valuestring, version, vid, sizeof vid, name, sizeof name, &err) < 0)
        goto fail;
    if (skills_dir_name(name, jid->valuestring, dir, sizeof dir) < 0) {
        omni_err_set(&err, OMNI_E_PARSE, "no usable directory name");
        goto fail;
    }
    if (fstatat(skills_fd, dir, &dst, AT_SYMLINK_NOFOLLOW) == 0) {
        omni_err_set(&err, OMNI_E_IO, "skill directory \"%s\" already exists; not overwritten",
                     dir);
        goto fail;
    }
    if (sk_download(c, jid->valuestring, vid, &rs, &err) < 0)
        goto fail;
    if (skills_extract(rs.body.data, rs.body.len, skills_fd, dir, NULL, &st, &err) < 0)
        goto fail;
    omni_response_release(&rs);
    snprintf(files, sizeof files, "%zu", st.files);
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)st.bytes);
    snprintf(skipped, sizeof skipped, "%zu", st.skipped);
    log_kv(LOG_INFO, "skill installed", "session", session_id, "skill", jid->valuestring, "type",
           type, "version", vid, "dir", dir, "files", files, "bytes", bytes, "skipped", skipped,
           NULL);
    return 0;
fail:
    omni_response_release(&rs);
    log_kv(LOG_WARN, "skill not installed", "session", session_id, "skill", jid->valuestring,
           "type", type, "version", version, "error", err.msg, NULL);
    return -1;
}

int skills_install(const struct wk_config *cfg, const char *base_url, const char *cred,
                   const cJSON *session, const char *workdir, volatile int *abort)
{
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(session, "agent");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(agent, "skills");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(session, "id");
    const char *session_id = cJSON_IsString(sid) ? sid->valuestring : "?";
    struct omni_err err = OMNI_ERR_INIT;
    struct omni_client *c;
    const cJSON *it;
    char path[4096];
    int wfd, sfd, ok = 0;
    size_t idx = 0;

    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return 0;
    wfd = open(workdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (wfd < 0 || (mkdirat(wfd, "skills", 0700) < 0 && errno != EEXIST) ||
        (sfd = openat(wfd, "skills", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        snprintf(path, sizeof path, "%s/skills", workdir);
        log_kv(LOG_WARN, "cannot create the skills directory; skills not installed", "path", path,
               "error", strerror(errno), NULL);
        if (wfd >= 0)
            close(wfd);
        return -1;
    }
    close(wfd);
    c = sk_client(cfg, base_url, cred, WK_SKILL_TIMEOUT_MS, abort, &err);
    if (!c) {
        log_kv(LOG_WARN, "cannot set up the skills client; skills not installed", "error", err.msg,
               NULL);
        close(sfd);
        return -1;
    }
    cJSON_ArrayForEach(it, list) {
        if (abort && *abort)
            break;
        if (idx >= WK_SKILLS_MAX) {
            log_kv(LOG_WARN, "too many skills; the rest are not installed", "session", session_id,
                   NULL);
            break;
        }
        if (sk_install_one(c, sfd, it, idx++, session_id) == 0)
            ok++;
    }
    omni_client_free(c);
    close(sfd);
    return ok;
}
