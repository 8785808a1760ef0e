/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: what the QMP server's files share: the server, the command
 * table's types, argument checking, and the event broadcast.
 *
 *   qmp-server.c    socket, clients, framing, greeting, replies, broadcast
 *   qmp-commands.c  the command table, dispatch, protocol commands
 *   qmp-disk.c      query-disks, set-error-policy, cont, fail-held, retry-now
 *   qmp-fault.c     fault-set, fault-clear, query-faults
 *   qmp-json.c      argument checking and reading, small JSON builders
 *   events.c        disk observers -> QMP events
 */
#ifndef SB_QMP_INTERNAL_H
#define SB_QMP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "control/qmp.h"

struct qmp_client;
struct sb_qmp_events;

struct sb_qmp_server {
	struct sb_loop *loop;
	char *path;                       /* the socket file, removed at free */
	int fd;                           /* listening socket */
	struct sb_watch watch;
	struct sb_timer accept_retry;     /* out of fds: accept again later */
	struct sb_disk **disks;
	size_t ndisks;
	struct sb_qmp_hooks hooks;
	struct sb_defer quit;             /* runs hooks.quit once the reply is out */
	struct sb_defer reap;             /* frees clients closed during a batch */
	TAILQ_HEAD(, qmp_client) clients;
	unsigned nclients;                /* live ones */
	unsigned next_id;                 /* names clients in logs */
	struct sb_qmp_events *events;
};

/* One connection's protocol state, handed to every command. */
struct sb_qmp_conn {
	struct sb_qmp_server *srv;
	bool command_mode;                /* negotiated: commands run, events flow */
};

/* ---- commands (qmp-commands.c) ---- */

enum sb_qmp_arg_type {
	SB_QMP_STR,
	SB_QMP_BOOL,
	SB_QMP_UINT,       /* a non-negative integer */
	SB_QMP_NUMBER,     /* integer or real */
	SB_QMP_DURATION,   /* milliseconds as a number, or a string: "250ms", "2s" */
	SB_QMP_SIZE,       /* bytes as an integer, or a string: "64M" */
	SB_QMP_STR_LIST,
};

struct sb_qmp_arg {
	const char *name;             /* NULL ends a list */
	enum sb_qmp_arg_type type;
	bool required;
};

/* Runs a command whose arguments passed the check: returns its reply value
 * (a new reference), or NULL with *errp set and nothing changed. */
typedef json_t *(*sb_qmp_handler)(struct sb_qmp_conn *conn, json_t *args,
				  struct sb_error **errp);

struct sb_qmp_command {
	const char *name;
	sb_qmp_handler fn;
	const struct sb_qmp_arg *args;   /* NULL: takes no arguments */
};

/* Executes one request object: checks the envelope, the negotiation state
 * and the arguments, then runs the command.  Returns the reply value (new
 * reference) or NULL with *errp set (its class is the QMP error class). */
json_t *sb_qmp_dispatch(struct sb_qmp_conn *conn, json_t *request, struct sb_error **errp);
/* The version object shared by the greeting and query-version. */
json_t *sb_qmp_version_info(void);
const char *sb_qmp_error_class(enum sb_error_class cls);

/* ---- handlers living in their own files ---- */
json_t *sb_qmp_query_disks(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_set_error_policy(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_cont(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_fail_held(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_retry_now(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_fault_set(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_fault_clear(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
json_t *sb_qmp_query_faults(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);

/* The disk named by the "disk" argument; when it is absent, the only disk
 * if there is exactly one.  Returns NULL with *errp set otherwise. */
struct sb_disk *sb_qmp_disk_arg(struct sb_qmp_server *srv, json_t *args, struct sb_error **errp);

/* ---- arguments and values (qmp-json.c) ---- */

/* Checks @args against @spec: no unknown member, no missing required one,
 * every type right.  Returns 0 or -1 with *errp set. */
int sb_qmp_args_check(const struct sb_qmp_arg *spec, json_t *args, struct sb_error **errp);
/* Readers for checked arguments.  An absent argument leaves *out alone
 * (its default) and returns 0; a value out of range returns -1 with *errp. */
const char *sb_qmp_arg_str(json_t *args, const char *name);
bool sb_qmp_arg_bool(json_t *args, const char *name, bool dflt);
int sb_qmp_arg_uint(json_t *args, const char *name, uint64_t max, uint64_t *out,
		    struct sb_error **errp);
int sb_qmp_arg_number(json_t *args, const char *name, double min, double max, double *out,
		      struct sb_error **errp);
int sb_qmp_arg_duration(json_t *args, const char *name, uint64_t *ns, struct sb_error **errp);
int sb_qmp_arg_size(json_t *args, const char *name, uint64_t *bytes, struct sb_error **errp);

/* An integer from an unsigned counter (JSON integers are signed 64-bit). */
json_t *sb_qmp_uint(uint64_t v);
/* Nanoseconds as whole milliseconds. */
json_t *sb_qmp_ms(uint64_t ns);
/* "EIO" for -EIO, null for 0. */
json_t *sb_qmp_errno(int err);

/* ---- events (events.c, qmp-server.c) ---- */

/* Observes every disk of @srv.  Returns NULL with *errp set on failure. */
struct sb_qmp_events *sb_qmp_events_new(struct sb_qmp_server *srv, struct sb_error **errp);
void sb_qmp_events_free(struct sb_qmp_events *ev);
/* Sends event @name with @data (reference stolen) and the time now to every
 * client in command mode. */
void sb_qmp_broadcast(struct sb_qmp_server *srv, const char *name, json_t *data);

#endif
