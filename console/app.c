#include "console.h"

#include <string.h>

#define CON_APP_REFRESH_MS 2000

void con_app_init(struct con_app *a)
{
    memset(a, 0, sizeof *a);
    con_model_init(&a->m);
    a->refresh_ms = CON_APP_REFRESH_MS;
    a->detail_follow = 1;
}

void con_app_release(struct con_app *a)
{
    omni_agent_list_release(&a->agents);
    con_model_release(&a->m);
}
