/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the daemon's pieces that main.c wires together. */
#ifndef SB_DAEMON_H
#define SB_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/* ---- captive.c: --run CMD ---- */

/* Starts `sh -c CMD` with $uri set to @uri (and $nbd_uri too), the signal
 * mask cleared.  Returns its pid, or -1 with *errp set. */
pid_t sb_captive_start(const char *cmd, const char *uri, struct sb_error **errp);

/* ---- daemonising ---- */

/* Forks: the parent waits until the child calls sb_daemon_ready() (exit 0)
 * or exits (with the child's status).  Returns in the child only. */
void sb_daemon_fork(void);
/* In the child: detach from the terminal and release the waiting parent. */
void sb_daemon_ready(void);

/* Writes @path atomically with our pid.  Returns 0 or -1 with *errp set. */
int sb_pidfile_write(const char *path, struct sb_error **errp);

#endif
