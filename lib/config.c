#include "config.h"
#include "file.h"
#include "http.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_DEFAULT "default"
#define CONFIG_ENV_KEY_PREFIX "env_key_file."
#define CONFIG_WORKER_METRICS_PREFIX "worker_metrics."
#define CONFIG_NAME_MAX 128 /* section and key names */

struct config_entry {
    const char *section; /* one of omni_config.sections */
    char *key;
    char *value;
};

struct omni_config {
    struct config_entry *e;
    size_t n, alloc;
    char **sections;
    size_t nsections, asections;
};

enum config_check {
    CHECK_NONE,
    CHECK_NONEMPTY,
    CHECK_URL,
    CHECK_DURATION,
    CHECK_LOG_FORMAT,
    CHECK_WORKSPACE
};

static const struct {
    const char *key;
    enum config_check check;
} config_keys[] = {
    {"base_url", CHECK_URL},           {"api_key_file", CHECK_NONEMPTY},
    {"environment", CHECK_NONEMPTY},   {"timeout", CHECK_DURATION},
    {"ca_file", CHECK_NONEMPTY},       {"log_format", CHECK_LOG_FORMAT},
    {"refresh", CHECK_DURATION},       {"warn_depth", CHECK_NONEMPTY},
    {"crit_depth", CHECK_NONEMPTY},    {"warn_age", CHECK_NONEMPTY},
    {"crit_age", CHECK_NONEMPTY},      {"min_workers", CHECK_NONEMPTY},
    {"output", CHECK_NONEMPTY},        {"stuck_after", CHECK_DURATION},
    {"workspace_id", CHECK_WORKSPACE},
};

/* Parse state for one text. */
struct config_parse {
    struct omni_config *cfg;
    const char *name;
    int line;
    const char *section; /* points into cfg->sections */
    struct omni_err *err;
};

static int config_error(struct config_parse *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int config_error(struct config_parse *ps, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return omni_err_set(ps->err, OMNI_E_CONFIG, "config %s:%d: %s", ps->name, ps->line, msg);
}

static void config_oom(struct omni_err *err)
{
    omni_err_set(err, OMNI_E_IO, "out of memory");
}

static struct omni_config *config_new(void)
{
    return calloc(1, sizeof(struct omni_config));
}

void omni_config_free(struct omni_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->e[i].key);
        free(cfg->e[i].value);
    }
    for (size_t i = 0; i < cfg->nsections; i++)
        free(cfg->sections[i]);
    free(cfg->e);
    free(cfg->sections);
    free(cfg);
}

static const char *config_profile_name(const char *profile)
{
    return profile && *profile ? profile : CONFIG_DEFAULT;
}

static const char *config_find_section(const struct omni_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nsections; i++)
        if (strcmp(cfg->sections[i], name) == 0)
            return cfg->sections[i];
    return NULL;
}

static const char *config_add_section(struct omni_config *cfg, const char *name)
{
    const char *s = config_find_section(cfg, name);

    if (s)
        return s;
    if (cfg->nsections == cfg->asections) {
        size_t n = cfg->asections ? cfg->asections * 2 : 8;
        char **p = realloc(cfg->sections, n * sizeof *p);
        if (!p)
            return NULL;
        cfg->sections = p;
        cfg->asections = n;
    }
    cfg->sections[cfg->nsections] = strdup(name);
    if (!cfg->sections[cfg->nsections])
        return NULL;
    return cfg->sections[cfg->nsections++];
}

static struct config_entry *config_find(const struct omni_config *cfg, const char *section,
                                        const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].section, section) == 0 && strcmp(cfg->e[i].key, key) == 0)
            return &cfg->e[i];
    return NULL;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > CONFIG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i]))
            return 0;
    return 1;
}

/* Known key? Returns its check, or -1 when unknown. */
static int config_key_check(const char *key)
{
    size_t plen = strlen(CONFIG_ENV_KEY_PREFIX);

    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
        if (strcmp(key, config_keys[i].key) == 0)
            return (int)config_keys[i].check;
    if (strncmp(key, CONFIG_ENV_KEY_PREFIX, plen) == 0 && key[plen] && !strchr(key + plen, '.'))
        return CHECK_NONEMPTY;
    plen = strlen(CONFIG_WORKER_METRICS_PREFIX);
    if (strncmp(key, CONFIG_WORKER_METRICS_PREFIX, plen) == 0 && key[plen] &&
        !strchr(key + plen, '.'))
        return CHECK_NONEMPTY;
    if (strncmp(key, "x-", 2) == 0 && key[2])
        return CHECK_NONE;
    return -1;
}

/* "[default]", "[profile NAME]" or "[NAME]", then optional comment. */
static int config_section_line(struct config_parse *ps, const char *s, size_t n)
{
    const char *close = memchr(s, ']', n);
    const char *a, *b, *rest;
    char name[CONFIG_NAME_MAX + 1];

    if (!close)
        return config_error(ps, "section header without \"]\"");
    for (rest = close + 1; rest < s + n && is_blank(*rest); rest++)
        ;
    if (rest < s + n && *rest != '#' && *rest != ';')
        return config_error(ps, "text after section header");
    a = s + 1;
    b = close;
    while (a < b && is_blank(*a))
        a++;
    while (b > a && is_blank(b[-1]))
        b--;
    if (b - a > 8 && memcmp(a, "profile", 7) == 0 && is_blank(a[7])) {
        a += 8;
        while (a < b && is_blank(*a))
            a++;
    }
    if (!valid_name(a, (size_t)(b - a)))
        return config_error(ps, "invalid section name (letters, digits, '_', '-', '.')");
    memcpy(name, a, (size_t)(b - a));
    name[b - a] = '\0';
    ps->section = config_add_section(ps->cfg, name);
    if (!ps->section) {
        config_oom(ps->err);
        return -1;
    }
    return 0;
}

/* The value part: quoted or bare, then optional comment. Fills *out (malloc'd). */
static int config_value(struct config_parse *ps, const char *s, size_t n, char **out)
{
    const char *end = s + n;
    char *v, *o;

    *out = NULL;
    v = malloc(n + 1);
    if (!v) {
        config_oom(ps->err);
        return -1;
    }
    o = v;
    if (s < end && *s == '"') {
        const char *p = s + 1;
        for (; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
                p++;
            *o++ = *p;
        }
        if (p == end) {
            free(v);
            config_error(ps, "unterminated quoted value");
            return -1;
        }
        for (p++; p < end && is_blank(*p); p++)
            ;
        if (p < end && *p != '#' && *p != ';') {
            free(v);
            config_error(ps, "text after quoted value");
            return -1;
        }
    } else {
        /* A comment starts at '#' or ';' first or preceded by a blank. */
        const char *p = s;
        for (; p < end; p++)
            if ((*p == '#' || *p == ';') && (p == s || is_blank(p[-1])))
                break;
        while (p > s && is_blank(p[-1]))
            p--;
        memcpy(v, s, (size_t)(p - s));
        o = v + (p - s);
    }
    *o = '\0';
    *out = v;
    return 0;
}

/* "~" and "~/..." become $HOME and $HOME/.... */
static int config_expand(struct config_parse *ps, char **value)
{
    const char *home;
    char *v = *value, *x;
    size_t hl, rest;

    if (!(v[0] == '~' && (v[1] == '\0' || v[1] == '/')))
        return 0;
    home = getenv("HOME");
    if (!home || !*home)
        return config_error(ps, "cannot expand \"~\": HOME is not set");
    hl = strlen(home);
    while (hl > 1 && home[hl - 1] == '/')
        hl--;
    rest = strlen(v + 1);
    x = malloc(hl + rest + 1);
    if (!x) {
        config_oom(ps->err);
        return -1;
    }
    memcpy(x, home, hl);
    memcpy(x + hl, v + 1, rest + 1);
    free(v);
    *value = x;
    return 0;
}

static int config_check_value(struct config_parse *ps, const char *key, int check, const char *v)
{
    int64_t ms;
    enum log_format lf;

    if (check == CHECK_NONE)
        return 0;
    if (!*v)
        return config_error(ps, "empty value for \"%s\"", key);
    switch (check) {
    case CHECK_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return config_error(ps, "\"%s\" must start with http:// or https://", key);
        break;
    case CHECK_DURATION:
        if (omni_duration_parse(v, &ms) < 0)
            return config_error(ps, "\"%s\" is not a duration (e.g. 30s, 5m, 250ms)", key);
        break;
    case CHECK_LOG_FORMAT:
        if (log_format_parse(v, &lf) < 0)
            return config_error(ps, "\"%s\" must be \"text\" or \"json\"", key);
        break;
    case CHECK_WORKSPACE:
        if (!omni_workspace_id_valid(v))
            return config_error(ps,
                                "\"%s\" is not a workspace id (letters, digits, '_' and '-', "
                                "at most %d bytes)",
                                key, OMNI_WORKSPACE_ID_MAX);
        break;
    default:
        break;
    }
    return 0;
}

static int config_set(struct config_parse *ps, const char *key, char *value)
{
    struct omni_config *cfg = ps->cfg;
    struct config_entry *e = config_find(cfg, ps->section, key);

    if (e) { /* the same key again in a section: the last one wins */
        free(e->value);
        e->value = value;
        return 0;
    }
    if (cfg->n >= OMNI_CONFIG_MAX_ENTRIES) {
        free(value);
        return config_error(ps, "more than %d entries", OMNI_CONFIG_MAX_ENTRIES);
    }
    if (cfg->n == cfg->alloc) {
        size_t n = cfg->alloc ? cfg->alloc * 2 : 16;
        struct config_entry *p = realloc(cfg->e, n * sizeof *p);
        if (!p) {
            free(value);
            config_oom(ps->err);
            return -1;
        }
        cfg->e = p;
        cfg->alloc = n;
    }
    e = &cfg->e[cfg->n];
    e->section = ps->section;
    e->key = strdup(key);
    if (!e->key) {
        free(value);
        config_oom(ps->err);
        return -1;
    }
    e->value = value;
    cfg->n++;
    return 0;
}

static int config_key_line(struct config_parse *ps, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n), *k_end, *v;
    char key[CONFIG_NAME_MAX + 1];
    char *value;
    int check;

    if (!eq)
        return config_error(ps, "expected \"key = value\" or \"[section]\"");
    k_end = eq;
    while (k_end > s && is_blank(k_end[-1]))
        k_end--;
    if (k_end == s)
        return config_error(ps, "missing key before \"=\"");
    if (!valid_name(s, (size_t)(k_end - s)))
        return config_error(ps, "invalid key name (letters, digits, '_', '-', '.')");
    memcpy(key, s, (size_t)(k_end - s));
    key[k_end - s] = '\0';
    check = config_key_check(key);
    if (check < 0)
        return config_error(ps, "unknown key \"%s\"", key);
    for (v = eq + 1; v < s + n && is_blank(*v); v++)
        ;
    if (config_value(ps, v, (size_t)(s + n - v), &value) < 0)
        return -1;
    if (config_expand(ps, &value) < 0 || config_check_value(ps, key, check, value) < 0) {
        free(value);
        return -1;
    }
    return config_set(ps, key, value);
}

static int config_line(struct config_parse *ps, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return config_error(ps, "control character in line");
    while (n > 0 && is_blank(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    if (n == 0 || *s == '#' || *s == ';')
        return 0;
    if (*s == '[')
        return config_section_line(ps, s, n);
    return config_key_line(ps, s, n);
}

struct omni_config *omni_config_parse(const char *text, size_t len, const char *name,
                                      struct omni_err *err)
{
    struct config_parse ps;
    const char *p, *end;

    if (!text) {
        text = "";
        len = 0;
    }
    p = text;
    end = text + len;

    ps.name = name ? name : "(config)";
    ps.line = 0;
    ps.err = err;
    if (len > OMNI_CONFIG_MAX_BYTES) {
        omni_err_set(err, OMNI_E_CONFIG, "config %s: larger than %d bytes", ps.name,
                     OMNI_CONFIG_MAX_BYTES);
        return NULL;
    }
    ps.cfg = config_new();
    if (!ps.cfg) {
        config_oom(err);
        return NULL;
    }
    ps.section = config_add_section(ps.cfg, CONFIG_DEFAULT);
    if (!ps.section) {
        config_oom(err);
        goto fail;
    }
    /* Skip a UTF-8 byte order mark. */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);

        ps.line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (config_line(&ps, p, n) < 0)
            goto fail;
        p = nl ? nl + 1 : end;
    }
    return ps.cfg;
fail:
    omni_config_free(ps.cfg);
    return NULL;
}

struct omni_config *omni_config_load(const char *path, int optional, struct omni_err *err)
{
    struct omni_config *cfg;
    size_t len = 0;
    char *text = omni_file_read(path, "config", OMNI_CONFIG_MAX_BYTES,
                                optional ? OMNI_FILE_OPTIONAL : 0, &len, err);

    if (!text) {
        if (err->kind == OMNI_E_NONE) /* optional and absent */
            return omni_config_parse("", 0, path, err);
        return NULL;
    }
    cfg = omni_config_parse(text, len, path, err);
    free(text);
    return cfg;
}

char *omni_config_default_path(void)
{
    const char *env = getenv("OMNI_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = NULL;

    if (env && *env)
        return strdup(env);
    if (xdg && *xdg) {
        if (asprintf(&p, "%s/omni/config", xdg) < 0)
            return NULL;
    } else if (home && *home) {
        if (asprintf(&p, "%s/.config/omni/config", home) < 0)
            return NULL;
    }
    return p;
}

int omni_config_has_profile(const struct omni_config *cfg, const char *profile)
{
    const char *name = config_profile_name(profile);

    if (strcmp(name, CONFIG_DEFAULT) == 0)
        return 1;
    return cfg && config_find_section(cfg, name) != NULL;
}

const char *omni_config_get(const struct omni_config *cfg, const char *profile, const char *key)
{
    const char *name = config_profile_name(profile);
    const struct config_entry *e;

    if (!cfg || !key)
        return NULL;
    e = config_find(cfg, name, key);
    if (!e && strcmp(name, CONFIG_DEFAULT) != 0)
        e = config_find(cfg, CONFIG_DEFAULT, key);
    return e ? e->value : NULL;
}

const char *omni_config_env_key_file(const struct omni_config *cfg, const char *profile,
                                     const char *env_id)
{
    char key[CONFIG_NAME_MAX + 1];
    int n;

    if (!env_id || !*env_id)
        return NULL;
    n = snprintf(key, sizeof key, "%s%s", CONFIG_ENV_KEY_PREFIX, env_id);
    if (n < 0 || (size_t)n >= sizeof key)
        return NULL;
    return omni_config_get(cfg, profile, key);
}
