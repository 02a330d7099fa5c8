/*
 * exitcode — the exit statuses of every program (omnictl, omni-console,
 * omni-worker, omni-sim): the same fault gives the same code everywhere, and
 * each man page's EXIT STATUS lists this table.
 *
 *   0  success
 *   1  runtime failure: the network, a timeout, a 5xx, a job that failed
 *   2  usage: a bad command line (option, argument, value)
 *   3  configuration or credentials: a bad config file; a key that is
 *      missing, readable by others, of the wrong kind, or refused by the API
 *      (401/403)
 *   4  not found: the API answered 404 for the object named
 *   5  omni-worker run only: the item's lease was lost and it was left alone
 *
 * `omnictl stats -o nagios` exits with the monitoring-plugin codes instead
 * (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), as Nagios requires.
 *
 * Caller contract: map a library error with omni_exit_code(); exit only in
 * a program's main (library code returns errors).
 */
#ifndef OMNI_EXITCODE_H
#define OMNI_EXITCODE_H

#include "err.h"

enum omni_exit {
    OMNI_EXIT_OK = 0,
    OMNI_EXIT_FAIL = 1,
    OMNI_EXIT_USAGE = 2,
    OMNI_EXIT_CONFIG = 3,
    OMNI_EXIT_NOTFOUND = 4,
    OMNI_EXIT_RELEASED = 5,
};

/* The exit status for an error: usage 2; config, 401 and 403 3; 404 4; else 1. */
int omni_exit_code(const struct omni_err *err);

#endif
