#include "console.h"

#include "timeutil.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define UI_ESCDELAY_MS 25

static int ui_on;

enum { PAIR_OK = 1, PAIR_WARN, PAIR_CRIT, PAIR_DIM, PAIR_HEAD, PAIR_TOOL, PAIR_USER, PAIR_BAR };

void ui_init(struct con_app *a)
{
    if (a->color && has_colors()) {
        start_color();
        use_default_colors();
        init_pair(PAIR_OK, COLOR_GREEN, -1);
        init_pair(PAIR_WARN, COLOR_YELLOW, -1);
        init_pair(PAIR_CRIT, COLOR_RED, -1);
        init_pair(PAIR_DIM, COLOR_BLUE, -1);
        init_pair(PAIR_HEAD, COLOR_BLACK, COLOR_CYAN);
        init_pair(PAIR_TOOL, COLOR_CYAN, -1);
        init_pair(PAIR_USER, COLOR_MAGENTA, -1);
        init_pair(PAIR_BAR, COLOR_BLACK, COLOR_WHITE);
    } else {
        a->color = 0;
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    set_escdelay(UI_ESCDELAY_MS);
    ui_on = 1;
}

void ui_end(void)
{
    if (ui_on) {
        ui_on = 0;
        endwin();
    }
}

int ui_active(void)
{
    return ui_on;
}

unsigned ui_attr(const struct con_app *a, enum con_attr k)
{
    if (!a->color) {
        switch (k) {
        case CON_A_CRIT:
        case CON_A_ERR:
            return A_BOLD | A_UNDERLINE;
        case CON_A_WARN:
            return A_BOLD;
        case CON_A_DIM:
            return A_DIM;
        case CON_A_HEAD:
        case CON_A_SEL:
        case CON_A_STATUS_BAR:
            return A_REVERSE;
        default:
            return A_NORMAL;
        }
    }
    switch (k) {
    case CON_A_OK:
        return COLOR_PAIR(PAIR_OK);
    case CON_A_WARN:
        return COLOR_PAIR(PAIR_WARN) | A_BOLD;
    case CON_A_CRIT:
    case CON_A_ERR:
        return COLOR_PAIR(PAIR_CRIT) | A_BOLD;
    case CON_A_DIM:
        return COLOR_PAIR(PAIR_DIM);
    case CON_A_HEAD:
        return COLOR_PAIR(PAIR_HEAD);
    case CON_A_SEL:
        return A_REVERSE;
    case CON_A_TOOL:
        return COLOR_PAIR(PAIR_TOOL);
    case CON_A_USER:
        return COLOR_PAIR(PAIR_USER);
    case CON_A_STATUS_BAR:
        return COLOR_PAIR(PAIR_BAR);
    default:
        return A_NORMAL;
    }
}

unsigned ui_level_attr(const struct con_app *a, enum omni_level l)
{
    switch (l) {
    case OMNI_LEVEL_OK:
        return ui_attr(a, CON_A_OK);
    case OMNI_LEVEL_WARN:
        return ui_attr(a, CON_A_WARN);
    case OMNI_LEVEL_CRIT:
        return ui_attr(a, CON_A_CRIT);
    default:
        return ui_attr(a, CON_A_DIM);
    }
}

const char *ui_sort_mark(const struct con_app *a, const struct con_table *t)
{
    if (a->utf8)
        return t->sort_desc ? "\xe2\x96\xb2" : "\xe2\x96\xbc";
    return t->sort_desc ? "^" : "v";
}

void ui_head(char *line, size_t cap, const struct con_app *a, const struct con_table *t, int col,
             const char *name, int w, int right)
{
    char label[64];
    size_t l = strlen(line);
    int pad;

    snprintf(label, sizeof label, "%s%s", name, t->sort_col == col ? ui_sort_mark(a, t) : "");
    pad = w - ui_width(label);
    if (pad < 0)
        pad = 0;
    if (l < cap)
        snprintf(line + l, cap - l, "%*s%s%*s ", right ? pad : 0, "", label, right ? 0 : pad, "");
}

char *ui_clock(const struct con_app *a, int64_t us, char *out, size_t outlen)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;

    if (!us)
        snprintf(out, outlen, "--:--:--");
    else if (a->local_time)
        strftime(out, outlen, "%H:%M:%S %Z", localtime_r(&t, &tm));
    else
        strftime(out, outlen, "%H:%M:%SZ", gmtime_r(&t, &tm));
    return out;
}

int ui_width(const char *s)
{
    mbstate_t st;
    size_t left = strlen(s);
    int w = 0;

    memset(&st, 0, sizeof st);
    while (left > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, left, &st);
        int cw;
        if (k == (size_t)-1 || k == (size_t)-2) {
            memset(&st, 0, sizeof st);
            k = 1;
            cw = 1;
        } else if (k == 0) {
            break;
        } else {
            cw = wcwidth(wc);
            if (cw < 0)
                cw = 1;
        }
        w += cw;
        s += k;
        left -= k;
    }
    return w;
}

void ui_put(int y, int x, int width, const char *s, int pad)
{
    mbstate_t st;
    int used = 0;
    wchar_t wbuf[512];
    int nw = 0;
    size_t left;

    if (width <= 0 || y < 0 || y >= LINES || x >= COLS)
        return;
    if (x + width > COLS)
        width = COLS - x;
    memset(&st, 0, sizeof st);
    left = strlen(s);
    while (left > 0 && nw < (int)(sizeof wbuf / sizeof wbuf[0]) - 1) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, left, &st);
        int w;
        if (k == (size_t)-1 || k == (size_t)-2) {
            wc = L'?';
            k = 1;
            memset(&st, 0, sizeof st);
        } else if (k == 0) {
            break;
        }
        w = wcwidth(wc);
        if (w < 0) {
            wc = L'?';
            w = 1;
        }
        if (used + w > width)
            break;
        wbuf[nw++] = wc;
        used += w;
        s += k;
        left -= k;
    }
    wbuf[nw] = L'\0';
    mvaddnwstr(y, x, wbuf, nw);
    if (pad)
        for (; used < width; used++)
            addch(' ');
}

void ui_clamp(struct con_cursor *c, size_t count, int rows)
{
    if (rows < 1)
        rows = 1;
    if (count == 0) {
        c->cur = c->top = 0;
        return;
    }
    if (c->cur >= count)
        c->cur = count - 1;
    if (c->cur < c->top)
        c->top = c->cur;
    if (c->cur >= c->top + (size_t)rows)
        c->top = c->cur - (size_t)rows + 1;
    if (c->top + (size_t)rows > count)
        c->top = count > (size_t)rows ? count - (size_t)rows : 0;
}

void ui_vtext(char *out, size_t outlen, const char *fmt, va_list ap)
{
    char tmp[CON_MSG_MAX];

    vsnprintf(tmp, sizeof tmp, fmt, ap);
    con_sanitize(out, outlen, tmp);
}

void ui_status(struct con_app *a, int is_err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vtext(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_err = is_err;
    a->status_ms = omni_mono_ms();
}

static void draw_header(struct con_app *a)
{
    char line[512], age[32];
    const char *env = "";
    int64_t fresh = a->m.envs_at_us;
    int stale;

    if (con_views[a->view]->in_env && a->env_id[0]) {
        struct con_env *e = con_model_env(&a->m, a->env_id);
        env = e && e->name[0] ? e->name : a->env_id;
    }
    stale = !fresh || (a->now_us - fresh) / 1000 > 3 * a->refresh_ms;
    attrset(ui_attr(a, CON_A_HEAD));
    snprintf(line, sizeof line, " omni-console  %s%s%s", con_views[a->view]->name,
             env[0] ? (a->utf8 ? " \xc2\xb7 " : " - ") : "", env);
    ui_put(0, 0, COLS, line, 1);
    if (fresh)
        snprintf(line, sizeof line, "%s%s %s ", a->readonly ? "READONLY  " : "",
                 stale ? "stale, updated" : "updated", con_age(a->now_us, fresh, age, sizeof age));
    else
        snprintf(line, sizeof line, "%s%s ", a->readonly ? "READONLY  " : "",
                 a->m.envs_err[0] ? "no data" : "loading...");
    if ((int)strlen(line) < COLS - 30) {
        if (stale)
            attrset(ui_attr(a, CON_A_HEAD) | A_BOLD);
        ui_put(0, COLS - (int)strlen(line), (int)strlen(line), line, 0);
    }
    attrset(A_NORMAL);
}

static void draw_status(struct con_app *a, int y)
{
    char line[CON_INPUT_MAX + CON_MSG_MAX];
    int64_t now = omni_mono_ms();

    move(y, 0);
    clrtoeol();
    switch (a->prompt) {
    case CON_PROMPT_FILTER:
        snprintf(line, sizeof line, "filter: %s_", a->input);
        attrset(A_BOLD);
        ui_put(y, 0, COLS, line, 1);
        break;
    case CON_PROMPT_MESSAGE:
        snprintf(line, sizeof line, "first message (Enter to create, Esc to cancel): %s_",
                 a->input);
        attrset(A_BOLD);
        ui_put(y, 0, COLS, line, 1);
        break;
    case CON_PROMPT_CONFIRM:
        snprintf(line, sizeof line, "%s [y/N] ", a->confirm_text);
        attrset(ui_attr(a, CON_A_WARN));
        ui_put(y, 0, COLS, line, 1);
        break;
    case CON_PROMPT_AGENT:
        attrset(A_BOLD);
        ui_put(y, 0, COLS, "pick an agent: Up/Down, Enter to choose, Esc to cancel", 1);
        break;
    case CON_PROMPT_NONE:
        if (a->status_ms && now - a->status_ms < CON_STATUS_TTL_MS) {
            attrset(a->status_err ? ui_attr(a, CON_A_ERR) : A_BOLD);
            ui_put(y, 0, COLS, a->status, 1);
        } else if (a->readonly) {
            attrset(ui_attr(a, CON_A_DIM));
            ui_put(y, 0, COLS, "read-only mode: actions are off", 1);
        } else if (a->m.envs_err[0]) {
            attrset(ui_attr(a, CON_A_ERR));
            ui_put(y, 0, COLS, a->m.envs_err, 1);
        }
        break;
    }
    attrset(A_NORMAL);
}

static void draw_box(int y, int x, int h, int w)
{
    for (int r = 0; r < h; r++) {
        move(y + r, x);
        for (int c = 0; c < w; c++)
            addch(' ');
    }
    mvaddch(y, x, ACS_ULCORNER);
    mvaddch(y, x + w - 1, ACS_URCORNER);
    mvaddch(y + h - 1, x, ACS_LLCORNER);
    mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
    mvhline(y, x + 1, ACS_HLINE, w - 2);
    mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
    mvvline(y + 1, x, ACS_VLINE, h - 2);
    mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
}

/* The help: every key; the lines marked HELP_ACT (keys that act) are left
 * out under --readonly. */
#define HELP_ACT "\001"
static const char *const help_lines[] = {
    "omni-console keys",
    "",
    "Up/Down j/k  move        PgUp/PgDn  page      g/G  top/bottom",
    "Enter        drill down  Esc/h/Left back       w    work items",
    "/            filter (in a session: search its events)",
    "< >          sort column r    reverse sort",
    "R or F5      refresh now                       ?    this help",
    "p            only the sessions waiting on a person (! : a held call), or all",
    "",
    HELP_ACT "s  stop (graceful: the session's work item is asked to stop)",
    HELP_ACT "S  force stop",
    HELP_ACT "i  interrupt the session",
    HELP_ACT "a  approve the held tool call    d  deny it",
    HELP_ACT "   s S i a d ask y/N first, naming the session and the call",
    HELP_ACT "n  new session (pick an agent, type the first message)",
    "q  quit",
    "",
    "--readonly turns every action off. Press any key to close.",
};

static void draw_help(struct con_app *a)
{
    const char *shown[sizeof help_lines / sizeof help_lines[0]];
    int n = 0, w = 0, h, y, x;

    for (size_t i = 0; i < sizeof help_lines / sizeof help_lines[0]; i++) {
        const char *l = help_lines[i];
        if (l[0] == HELP_ACT[0]) {
            if (a->readonly)
                continue;
            l++;
        }
        shown[n++] = l;
    }
    if (a->readonly)
        shown[n - 1] = "read-only mode: actions are off. Press any key to close.";
    for (int i = 0; i < n; i++) /* the box fits its text: frame and margin a side */
        if (ui_width(shown[i]) + 4 > w)
            w = ui_width(shown[i]) + 4;
    if (w > COLS)
        w = COLS;
    h = n + 2 > LINES ? LINES : n + 2;
    y = (LINES - h) / 2;
    x = (COLS - w) / 2;
    if (w < 10 || h < 3)
        return;
    attrset(A_NORMAL);
    draw_box(y, x, h, w);
    for (int i = 0; i < n && i < h - 2; i++) {
        attrset(i == 0 ? A_BOLD : A_NORMAL);
        ui_put(y + 1 + i, x + 2, w - 4, shown[i], 0);
    }
    attrset(A_NORMAL);
}

static void draw_agents(struct con_app *a)
{
    int n = (int)a->agents.n;
    int w = COLS - 4 < 70 ? COLS - 4 : 70;
    int rows = n > LINES - 8 ? LINES - 8 : n;
    int h = rows + 2, y, x;
    struct con_cursor c = {a->agent_cur, 0};

    if (rows < 1 || w < 20)
        return;
    y = (LINES - h) / 2;
    x = (COLS - w) / 2;
    ui_clamp(&c, a->agents.n, rows);
    draw_box(y, x, h, w);
    for (int i = 0; i < rows; i++) {
        size_t k = c.top + (size_t)i;
        char line[OMNI_NAME_MAX + OMNI_ID_MAX + 8], name[OMNI_NAME_MAX];
        if (k >= a->agents.n)
            break;
        con_sanitize(name, sizeof name, a->agents.items[k].name);
        snprintf(line, sizeof line, "%-24s %s", name, a->agents.items[k].id);
        attrset(k == a->agent_cur ? ui_attr(a, CON_A_SEL) : A_NORMAL);
        ui_put(y + 1 + i, x + 1, w - 2, line, 1);
    }
    attrset(A_NORMAL);
}

void ui_draw(struct con_app *a)
{
    const struct con_view_class *v = con_views[a->view];
    int body = LINES - 3;

    a->now_us = omni_wall_us();
    erase();
    if (LINES < 5 || COLS < 20) {
        ui_put(0, 0, COLS, "terminal too small", 0);
        refresh();
        return;
    }
    draw_header(a);
    con_app_track(a);
    v->draw(a, 1, body, COLS);
    draw_status(a, LINES - 2);
    attrset(ui_attr(a, CON_A_STATUS_BAR));
    {
        char hints[256];
        snprintf(hints, sizeof hints, " %s%s%s  ? help  q quit", v->hints,
                 v->actions && !a->readonly ? "  " : "",
                 v->actions && !a->readonly ? v->actions : "");
        ui_put(LINES - 1, 0, COLS, hints, 1);
    }
    attrset(A_NORMAL);
    if (a->prompt == CON_PROMPT_AGENT)
        draw_agents(a);
    if (a->help)
        draw_help(a);
    refresh();
}
