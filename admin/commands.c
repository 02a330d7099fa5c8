/* The one command table (see the checklist in commands.h). */
#include "commands.h"

const struct ctl_cmd *const ctl_commands[] = {
    &ctl_cmd_stats,      &ctl_cmd_exporter,
    &ctl_cmd_stop,       &ctl_cmd_sessions,
    &ctl_cmd_work,       &ctl_cmd_env,
    &ctl_cmd_agents,     &ctl_cmd_shell,
    &ctl_cmd_completion, &ctl_cmd_help,
    &ctl_cmd_usage_dump, &ctl_cmd_options_dump,
    &ctl_cmd_ids_dump,   NULL,
};
