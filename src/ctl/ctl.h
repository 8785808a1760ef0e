/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblkctl, the command-line client of the QMP socket:
 * what its files share.
 *
 *   main.c        global options, the command table, help, exit codes
 *   commands.c    the subcommands
 *   qmp-client.c  the QMP connection: connect, negotiate, execute, events
 *   render.c      the status table, event lines, human-readable figures
 */
#ifndef SB_CTL_H
#define SB_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* Exit codes, documented in steadyblkctl(8): scripts rely on them. */
enum ctl_status {
	CTL_CONTINUE = -1,     /* internal: an option was handled, go on parsing */
	CTL_OK = 0,            /* done (also: --watch or events stopped by a signal) */
	CTL_DAEMON_ERROR = 1,  /* the daemon answered with an error */
	CTL_USAGE = 2,         /* bad command line */
	CTL_UNREACHABLE = 3,   /* no daemon: cannot connect, no answer in time, connection lost */
};

/* Set by SIGINT/SIGTERM once ctl_catch_signals() was called. */
extern volatile sig_atomic_t ctl_interrupted;

/* What every command gets: the global options. */
struct ctl_globals {
	const char *socket;        /* --socket, or $STEADYBLK_QMP */
	uint64_t timeout_ns;       /* --timeout: connect and each reply */
};

/* The global options, accepted before and after the command's name; a
 * command lists them last in its getopt_long table, and "s:t:h" in its
 * short options. */
#define CTL_GLOBAL_OPTIONS                                    \
	{ "socket", required_argument, NULL, 's' },           \
	{ "timeout", required_argument, NULL, 't' },          \
	{ "help", no_argument, NULL, 'h' },                   \
	{ NULL, 0, NULL, 0 }

/* ---- the QMP connection (qmp-client.c) ---- */

struct ctl_qmp {
	int fd;
	const char *path;
	uint64_t timeout_ns;
	char *buf;                 /* received, not yet taken: buf[0, len) */
	size_t len, cap;
	json_t *version;           /* the greeting's "version" */
	unsigned next_id;
};

/* Connects to the socket @path, reads the greeting and negotiates, each wait
 * bounded by @timeout_ns.  Returns CTL_OK, or CTL_UNREACHABLE with *errp
 * saying what to do about it. */
enum ctl_status ctl_qmp_connect(struct ctl_qmp *q, const char *path, uint64_t timeout_ns,
				struct sb_error **errp);

/* Runs @cmd with @args (reference stolen; NULL for none) and waits for its
 * reply; events arriving meanwhile are dropped.  CTL_OK: *ret is a new
 * reference to the "return" value.  CTL_DAEMON_ERROR: *errp has the daemon's
 * message.  CTL_UNREACHABLE: the connection failed or timed out. */
enum ctl_status ctl_qmp_execute(struct ctl_qmp *q, const char *cmd, json_t *args, json_t **ret,
				struct sb_error **errp);

/* Waits at most @timeout_ms (-1: no limit) for the next event.  CTL_OK with
 * *event set (a new reference), or with *event NULL when the time ran out or
 * a signal came (see ctl_interrupted).  CTL_UNREACHABLE when the connection
 * is lost: the daemon went away. */
enum ctl_status ctl_qmp_next_event(struct ctl_qmp *q, int timeout_ms, json_t **event,
				   struct sb_error **errp);

void ctl_qmp_close(struct ctl_qmp *q);

/* For the commands that follow the daemon until stopped (--watch, events):
 * SIGINT and SIGTERM set ctl_interrupted and end the current wait, however
 * close to it they come. */
void ctl_catch_signals(void);

/* ---- rendering (render.c) ---- */

/* "850ms", "5.2s", "3m04s", "2h03m". */
void ctl_fmt_ms(uint64_t ms, char *buf, size_t len);
/* "512", "64K", "1.5M", "2G" (powers of 1024, the suffixes the parsers read). */
void ctl_fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* The table of disks (query-disks' return value) for people: a header line
 * and one line per disk. */
void ctl_render_status(FILE *out, json_t *disks);
/* One readable line for one event: local time, disk, name, what it means. */
void ctl_render_event(FILE *out, json_t *event);

/* ---- the subcommands (commands.c) ---- */

/* Each parses its own arguments (argv[0] is its name, getopt is reset) and
 * returns its exit code. */
enum ctl_status ctl_cmd_status(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_events(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_set_policy(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_cont(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_fail_held(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_retry_now(struct ctl_globals *g, int argc, char **argv);
enum ctl_status ctl_cmd_query(struct ctl_globals *g, int argc, char **argv);

/* ---- shared by the commands (main.c) ---- */

/* Prints "steadyblkctl: MESSAGE" to stderr.  Returns @status. */
enum ctl_status ctl_fail(enum ctl_status status, const char *fmt, ...) SB_PRINTF(2, 3);

/* Handles what a command's getopt_long returned when it is not one of the
 * command's own options: a global option (stored in @g), --help (printed:
 * returns CTL_OK), or an error (printed: returns CTL_USAGE).  Returns
 * CTL_CONTINUE when parsing goes on. */
enum ctl_status ctl_common_option(struct ctl_globals *g, char **argv, int c);

/* Call once the options are parsed: a command takes no other argument. */
enum ctl_status ctl_no_arguments(int argc, char **argv);

#endif
