/*
 * skills — skills served by omni-sim (protocol.md §11, §14 item 12).
 *
 * A skill has an id, a name and a list of versions; each version holds the
 * archive bytes served by .../content. Skills come from --skill DIR (packed
 * at start with libarchive, tar.gz or zip) or from POST /_sim/skills (raw
 * archive bytes, stored as given, so tests can upload hostile archives).
 * The version object is the GA shape plus "version", a numeric string that
 * the older PY0.121 resolver (list + largest numeric) understands.
 * Handlers run with sim->mu held; skills are never freed before shutdown.
 */
#include "reply.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKILLS_PACK_DEPTH 32
#define SKILLS_PACK_ENTRIES 10000
#define SKILLS_PACK_CHUNK (64u * 1024)
#define SKILLS_ID_CHARS 64

struct sim_skill_version {
    char id[SIM_ID_MAX];
    char number[24]; /* numeric version string, strictly increasing */
    int64_t created_us;
    char *data;
    size_t len;
};

struct sim_skill {
    char id[SIM_ID_MAX];
    char *name;
    char *description;
    struct sim_vec versions; /* oldest first */
};

static int64_t skills_last_number; /* guarded by sim->mu */

static struct sim_skill *skills_find(struct sim *sim, const char *id)
{
    for (size_t i = 0; i < sim->skill_list.n; i++) {
        struct sim_skill *k = sim->skill_list.v[i];
        if (strcmp(k->id, id) == 0)
            return k;
    }
    return NULL;
}

static int skills_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > SKILLS_ID_CHARS || n >= SIM_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Add a version (takes ownership of data) to skill id (created when NULL or
 * unknown). Returns the version; *kout is its skill. */
static struct sim_skill_version *skills_put(struct sim *sim, const char *id, const char *name,
                                            const char *description, char *data, size_t len,
                                            struct sim_skill **kout)
{
    struct sim_skill *k = id ? skills_find(sim, id) : NULL;
    if (!k) {
        k = omni_xcalloc(1, sizeof(*k));
        if (id)
            snprintf(k->id, sizeof(k->id), "%s", id);
        else
            simstore_new_id(sim, "skill_", k->id, sizeof(k->id));
        k->name = omni_xstrdup(name);
        k->description = omni_xstrdup(description ? description : "");
        simvec_push(&sim->skill_list, k);
    } else {
        free(k->name);
        k->name = omni_xstrdup(name);
        if (description) {
            free(k->description);
            k->description = omni_xstrdup(description);
        }
    }
    struct sim_skill_version *v = omni_xcalloc(1, sizeof(*v));
    simstore_new_id(sim, "skver_", v->id, sizeof(v->id));
    v->created_us = omni_wall_us();
    int64_t num = v->created_us > skills_last_number ? v->created_us : skills_last_number + 1;
    skills_last_number = num;
    snprintf(v->number, sizeof(v->number), "%lld", (long long)num);
    v->data = data;
    v->len = len;
    if (k->versions.n >= SIM_SKILL_VERSIONS_MAX) {
        struct sim_skill_version *old = k->versions.v[0];
        memmove(k->versions.v, k->versions.v + 1, (k->versions.n - 1) * sizeof(void *));
        k->versions.n--;
        free(old->data);
        free(old);
    }
    simvec_push(&k->versions, v);
    *kout = k;
    return v;
}

/* ---- packing a directory (start-up) ---- */

struct skills_pack {
    struct archive *a;
    struct buf out;
    long entries;
    char *err;
    size_t errlen;
};

static la_ssize_t skills_pack_write(struct archive *a, void *ud, const void *p, size_t n)
{
    struct skills_pack *pk = ud;
    if (buf_add(&pk->out, p, n) < 0) {
        archive_set_error(a, EFBIG, "archive exceeds %u bytes", SIM_SKILL_ARCHIVE_MAX);
        return -1;
    }
    return (la_ssize_t)n;
}

static int skills_pack_header(struct skills_pack *pk, const char *path, const struct stat *st,
                              int dir)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        snprintf(pk->err, pk->errlen, "out of memory");
        return -1;
    }
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, st->st_mode & 07777);
    archive_entry_set_size(e, dir ? 0 : st->st_size);
    archive_entry_set_mtime(e, st->st_mtime, 0);
    int r = archive_write_header(pk->a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) {
        snprintf(pk->err, pk->errlen, "cannot pack '%s': %s", path, archive_error_string(pk->a));
        return -1;
    }
    return 0;
}

static int skills_pack_file(struct skills_pack *pk, int dfd, const char *name, const char *path,
                            const struct stat *st)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(pk->err, pk->errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat fst;
    if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_size != st->st_size ||
        skills_pack_header(pk, path, &fst, 0) < 0) {
        if (!pk->err[0])
            snprintf(pk->err, pk->errlen, "'%s' changed while packing", path);
        close(fd);
        return -1;
    }
    char chunk[SKILLS_PACK_CHUNK];
    off_t left = fst.st_size;
    while (left > 0) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0 || n > left) {
            snprintf(pk->err, pk->errlen, "cannot read '%s': %s", path,
                     n < 0 ? strerror(errno) : "size changed");
            close(fd);
            return -1;
        }
        if (archive_write_data(pk->a, chunk, (size_t)n) != n) {
            snprintf(pk->err, pk->errlen, "cannot pack '%s': %s", path,
                     archive_error_string(pk->a));
            close(fd);
            return -1;
        }
        left -= n;
    }
    close(fd);
    return 0;
}

static int skills_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pack the directory dfd (already opened) as prefix/...; sorted for stable archives. */
static int skills_pack_dir(struct skills_pack *pk, int dfd, const char *prefix, int depth)
{
    if (depth > SKILLS_PACK_DEPTH) {
        snprintf(pk->err, pk->errlen, "'%s' is nested more than %d levels deep", prefix,
                 SKILLS_PACK_DEPTH);
        return -1;
    }
    int dup_fd = dup(dfd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        snprintf(pk->err, pk->errlen, "cannot read directory '%s': %s", prefix, strerror(errno));
        return -1;
    }
    struct sim_vec names = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            simvec_push(&names, omni_xstrdup(de->d_name));
    }
    closedir(d);
    if (names.n)
        qsort(names.v, names.n, sizeof(void *), skills_name_cmp);
    int ret = 0;
    for (size_t i = 0; i < names.n && ret == 0; i++) {
        const char *name = names.v[i];
        char path[4096];
        struct stat st;
        if (++pk->entries > SKILLS_PACK_ENTRIES) {
            snprintf(pk->err, pk->errlen, "more than %d entries", SKILLS_PACK_ENTRIES);
            ret = -1;
        } else if ((size_t)snprintf(path, sizeof(path), "%s/%s", prefix, name) >= sizeof(path)) {
            snprintf(pk->err, pk->errlen, "path under '%s' is too long", prefix);
            ret = -1;
        } else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            snprintf(pk->err, pk->errlen, "cannot stat '%s': %s", path, strerror(errno));
            ret = -1;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char dpath[4100];
            snprintf(dpath, sizeof(dpath), "%s/", path);
            if (sub < 0) {
                snprintf(pk->err, pk->errlen, "cannot open '%s': %s", path, strerror(errno));
                ret = -1;
            } else {
                ret = skills_pack_header(pk, dpath, &st, 1);
                if (ret == 0)
                    ret = skills_pack_dir(pk, sub, path, depth + 1);
                close(sub);
            }
        } else if (S_ISREG(st.st_mode)) {
            ret = skills_pack_file(pk, dfd, name, path, &st);
        } else {
            log_kv(LOG_WARN, "skill entry is not a file or directory; not packed", "path", path,
                   (char *)NULL);
        }
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    simvec_release(&names);
    return ret;
}

int simskills_add_dir(struct sim *sim, const char *dir, int zip, char *err, size_t errlen)
{
    char base[SIM_NAME_MAX + 1];
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    if (len - start == 0 || len - start > SIM_NAME_MAX) {
        snprintf(err, errlen, "skill directory '%s' has no usable base name", dir);
        return -1;
    }
    memcpy(base, dir + start, len - start);
    base[len - start] = '\0';
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        snprintf(err, errlen, "skill directory '%s' has no usable base name", dir);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "cannot open skill directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    struct skills_pack pk;
    memset(&pk, 0, sizeof(pk));
    buf_init(&pk.out, SIM_SKILL_ARCHIVE_MAX);
    pk.err = err;
    pk.errlen = errlen;
    err[0] = '\0';
    pk.a = archive_write_new();
    int r = -1;
    if (!pk.a) {
        snprintf(err, errlen, "out of memory");
    } else if ((zip ? archive_write_set_format_zip(pk.a)
                    : archive_write_set_format_pax_restricted(pk.a)) != ARCHIVE_OK ||
               (!zip && archive_write_add_filter_gzip(pk.a) != ARCHIVE_OK) ||
               archive_write_set_bytes_in_last_block(pk.a, 1) != ARCHIVE_OK ||
               archive_write_open(pk.a, &pk, NULL, skills_pack_write, NULL) != ARCHIVE_OK) {
        snprintf(err, errlen, "cannot start the archive: %s", archive_error_string(pk.a));
    } else {
        struct stat st;
        char top[SIM_NAME_MAX + 2];
        snprintf(top, sizeof(top), "%s/", base);
        if (fstat(dfd, &st) == 0 && skills_pack_header(&pk, top, &st, 1) == 0 &&
            skills_pack_dir(&pk, dfd, base, 0) == 0) {
            if (archive_write_close(pk.a) != ARCHIVE_OK)
                snprintf(err, errlen, "cannot finish the archive: %s", archive_error_string(pk.a));
            else
                r = 0;
        }
    }
    if (pk.a)
        archive_write_free(pk.a);
    close(dfd);
    if (r < 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot pack '%s'", dir);
        buf_release(&pk.out);
        return -1;
    }
    size_t n = 0;
    char *data = buf_detach(&pk.out, &n);
    struct sim_skill *k;
    struct sim_skill_version *v = skills_put(sim, NULL, base, NULL, data, n, &k);
    char bytes[32];
    snprintf(bytes, sizeof(bytes), "%zu", n);
    log_kv(LOG_INFO, "skill provisioned", "name", base, "skill_id", k->id, "version", v->id,
           "format", zip ? "zip" : "tar.gz", "bytes", bytes, (char *)NULL);
    return 0;
}

void simskills_release(struct sim *sim)
{
    for (size_t i = 0; i < sim->skill_list.n; i++) {
        struct sim_skill *k = sim->skill_list.v[i];
        for (size_t j = 0; j < k->versions.n; j++) {
            struct sim_skill_version *v = k->versions.v[j];
            free(v->data);
            free(v);
        }
        simvec_release(&k->versions);
        free(k->name);
        free(k->description);
        free(k);
    }
    simvec_release(&sim->skill_list);
}

/* ---- agent.skills ---- */

const char *simskills_agent_check(cJSON *body)
{
    cJSON *sk = cJSON_GetObjectItemCaseSensitive(body, "skills");
    cJSON *it;
    if (!sk || cJSON_IsNull(sk))
        return NULL;
    if (!cJSON_IsArray(sk))
        return "'skills' must be an array";
    if (cJSON_GetArraySize(sk) > SIM_SKILL_DIRS_MAX)
        return "'skills' holds too many entries (at most 64)";
    cJSON_ArrayForEach(it, sk) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "skill_id");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "version");
        if (!cJSON_IsObject(it))
            return "'skills' entries must be objects";
        if (!cJSON_IsString(t) ||
            (strcmp(t->valuestring, "custom") != 0 && strcmp(t->valuestring, "anthropic") != 0))
            return "skills[].type must be \"custom\" or \"anthropic\"";
        if (!cJSON_IsString(id) || !skills_id_ok(id->valuestring))
            return "skills[].skill_id must be an id of 1-64 characters [A-Za-z0-9_-]";
        if (v && !cJSON_IsNull(v) &&
            (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= SIM_ID_MAX))
            return "skills[].version must be \"latest\" or a version id";
        if (!v || cJSON_IsNull(v)) {
            cJSON_DeleteItemFromObjectCaseSensitive(it, "version");
            cJSON_AddStringToObject(it, "version", "latest");
        }
    }
    return NULL;
}

/* ---- routes ---- */

static int skills_can(struct sim_req *rq, struct sim_resp *rs)
{
    if (rq->cred.kind == CRED_ORG || rq->cred.kind == CRED_ENV ||
        (rq->cred.kind == CRED_TOKEN && rq->cred.work && rq->cred.work->session))
        return 1;
    sim_err(rq, rs, 403, NULL, NULL, "credential is not allowed to read skills");
    return 0;
}

/* The version named v ("latest", an id or a numeric version), NULL + 404. */
static struct sim_skill_version *skills_resolve(struct sim_req *rq, struct sim_resp *rs,
                                                struct sim_skill **kout)
{
    struct sim_skill *k = skills_find(rq->sim, rq->param[0]);
    const char *want = rq->param[1];
    if (!k) {
        sim_err(rq, rs, 404, NULL, NULL, "skill '%.64s' not found", rq->param[0]);
        return NULL;
    }
    *kout = k;
    if (strcmp(want, "latest") == 0 && k->versions.n)
        return k->versions.v[k->versions.n - 1];
    for (size_t i = 0; i < k->versions.n; i++) {
        struct sim_skill_version *v = k->versions.v[i];
        if (strcmp(v->id, want) == 0 || strcmp(v->number, want) == 0)
            return v;
    }
    sim_err(rq, rs, 404, NULL, NULL, "version '%.64s' of skill '%.64s' not found", want, k->id);
    return NULL;
}

static cJSON *skills_version_json(const struct sim_skill *k, const struct sim_skill_version *v)
{
    char ts[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "skill_version");
    cJSON_AddStringToObject(o, "id", v->id);
    cJSON_AddStringToObject(o, "skill_id", k->id);
    cJSON_AddStringToObject(o, "version", v->number);
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "description", k->description);
    cJSON_AddStringToObject(o, "created_at", simstore_ts(v->created_us, ts, sizeof(ts)));
    return o;
}

void simh_skill_version_get(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_skill *k = NULL;
    if (!skills_can(rq, rs))
        return;
    struct sim_skill_version *v = skills_resolve(rq, rs, &k);
    if (v)
        sim_json(rs, 200, skills_version_json(k, v));
}

void simh_skill_versions_list(struct sim_req *rq, struct sim_resp *rs)
{
    if (!skills_can(rq, rs))
        return;
    struct sim_skill *k = skills_find(rq->sim, rq->param[0]);
    if (!k) {
        sim_err(rq, rs, 404, NULL, NULL, "skill '%.64s' not found", rq->param[0]);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (size_t i = k->versions.n; i > 0; i--)
        cJSON_AddItemToArray(data, skills_version_json(k, k->versions.v[i - 1]));
    cJSON_AddFalseToObject(o, "has_more");
    cJSON_AddNullToObject(o, "next_page");
    sim_json(rs, 200, o);
}

void simh_skill_content(struct sim_req *rq, struct sim_resp *rs)
{
    struct sim_skill *k = NULL;
    if (!skills_can(rq, rs))
        return;
    struct sim_skill_version *v = skills_resolve(rq, rs, &k);
    if (!v)
        return;
    char *copy = omni_xcalloc(1, v->len + 1);
    memcpy(copy, v->data, v->len);
    free(rs->body);
    rs->status = 200;
    rs->body = copy;
    rs->body_len = v->len;
    rs->content_type = v->len >= 4 && memcmp(v->data, "PK\003\004", 4) == 0
                           ? "application/zip"
                           : "application/octet-stream";
}

void simh_sim_skills_add(struct sim_req *rq, struct sim_resp *rs)
{
    const char *name = sim_query(rq, "name");
    const char *id = sim_query(rq, "skill_id");
    const char *desc = sim_query(rq, "description");
    if (!name || !*name || strlen(name) > SIM_NAME_MAX) {
        sim_err(rq, rs, 400, NULL, NULL, "query 'name' is required: 1-256 characters");
        return;
    }
    if (id && !skills_id_ok(id)) {
        sim_err(rq, rs, 400, NULL, NULL, "invalid 'skill_id': 1-64 characters [A-Za-z0-9_-]");
        return;
    }
    if (desc && strlen(desc) > SIM_NAME_MAX) {
        sim_err(rq, rs, 400, NULL, NULL, "'description' is longer than 256 characters");
        return;
    }
    if (!rq->body_len) {
        sim_err(rq, rs, 400, NULL, NULL, "request body is empty: expected archive bytes");
        return;
    }
    char *data = omni_xcalloc(1, rq->body_len);
    memcpy(data, rq->body, rq->body_len);
    struct sim_skill *k;
    struct sim_skill_version *v = skills_put(rq->sim, id, name, desc, data, rq->body_len, &k);
    log_kv(LOG_INFO, "skill uploaded", "skill_id", k->id, "version", v->id, (char *)NULL);
    sim_json(rs, 200, skills_version_json(k, v));
}

void simh_sim_skills_list(struct sim_req *rq, struct sim_resp *rs)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (size_t i = 0; i < rq->sim->skill_list.n; i++) {
        struct sim_skill *k = rq->sim->skill_list.v[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "id", k->id);
        cJSON_AddStringToObject(e, "name", k->name);
        cJSON_AddNumberToObject(e, "versions", (double)k->versions.n);
        if (k->versions.n) {
            const struct sim_skill_version *v = k->versions.v[k->versions.n - 1];
            cJSON_AddStringToObject(e, "latest_version", v->id);
            cJSON_AddNumberToObject(e, "bytes", (double)v->len);
        }
        cJSON_AddItemToArray(data, e);
    }
    sim_json(rs, 200, o);
}
