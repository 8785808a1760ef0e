/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP command table, request dispatch, and the protocol's
 * own commands (qmp_capabilities, query-version, query-commands, quit).
 *
 * Every command is listed once, below, with the arguments it accepts; the
 * reference for each is docs/qmp.md.
 */
#include <stdio.h>
#include <string.h>

#include "control/qmp-internal.h"

static json_t *qmp_capabilities(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
static json_t *query_version(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
static json_t *query_commands(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);
static json_t *quit(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp);

/* "disk" may be left out when the daemon serves exactly one disk. */
#define DISK_ARG { "disk", SB_QMP_STR, false }

static const struct sb_qmp_command commands[] = {
	{ "qmp_capabilities", qmp_capabilities,
	  (const struct sb_qmp_arg[]){ { "enable", SB_QMP_STR_LIST, false }, { NULL } } },
	{ "query-version", query_version, NULL },
	{ "query-commands", query_commands, NULL },
	{ "quit", quit, NULL },
	{ "query-disks", sb_qmp_query_disks, NULL },
	{ "set-error-policy", sb_qmp_set_error_policy,
	  (const struct sb_qmp_arg[]){
		  DISK_ARG,
		  { "rerror", SB_QMP_STR, false },
		  { "werror", SB_QMP_STR, false },
		  { "retry-interval", SB_QMP_DURATION, false },
		  { "retry-max-interval", SB_QMP_DURATION, false },
		  { "retry-timeout", SB_QMP_DURATION, false },
		  { "retry-then", SB_QMP_STR, false },
		  { "retry-errors", SB_QMP_STR_LIST, false },
		  { "max-held-requests", SB_QMP_UINT, false },
		  { "max-held-bytes", SB_QMP_SIZE, false },
		  { NULL } } },
	{ "cont", sb_qmp_cont, (const struct sb_qmp_arg[]){ DISK_ARG, { NULL } } },
	{ "fail-held", sb_qmp_fail_held, (const struct sb_qmp_arg[]){ DISK_ARG, { NULL } } },
	{ "retry-now", sb_qmp_retry_now, (const struct sb_qmp_arg[]){ DISK_ARG, { NULL } } },
	{ "fault-set", sb_qmp_fault_set,
	  (const struct sb_qmp_arg[]){
		  DISK_ARG,
		  { "op", SB_QMP_STR, true },
		  { "errno", SB_QMP_STR, false },
		  { "rate", SB_QMP_NUMBER, false },
		  { "offset-start", SB_QMP_UINT, false },
		  { "offset-end", SB_QMP_UINT, false },
		  { "enabled", SB_QMP_BOOL, false },
		  { NULL } } },
	{ "fault-clear", sb_qmp_fault_clear, (const struct sb_qmp_arg[]){ DISK_ARG, { NULL } } },
	{ "query-faults", sb_qmp_query_faults, (const struct sb_qmp_arg[]){ DISK_ARG, { NULL } } },
};

static const struct sb_qmp_command *command_find(const char *name)
{
	for (size_t i = 0; i < SB_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

const char *sb_qmp_error_class(enum sb_error_class cls)
{
	switch (cls) {
	case SB_ERR_NOT_FOUND: return "DeviceNotFound";
	case SB_ERR_NO_COMMAND: return "CommandNotFound";
	case SB_ERR_GENERIC: break;
	}
	return "GenericError";
}

/* The envelope: {"execute": NAME, "arguments": {...}, "id": ANY}. */
static const char *request_check(json_t *req, json_t **args, struct sb_error **errp)
{
	const char *key;
	json_t *v;

	if (!json_is_object(req)) {
		sb_error_set(errp, "QMP input must be a JSON object");
		return NULL;
	}
	json_object_foreach(req, key, v) {
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			sb_error_set(errp, "QMP input member '%s' is unexpected", key);
			return NULL;
		}
	}
	v = json_object_get(req, "execute");
	if (!v) {
		sb_error_set(errp, "QMP input lacks member 'execute'");
		return NULL;
	}
	if (!json_is_string(v)) {
		sb_error_set(errp, "QMP input member 'execute' must be a string");
		return NULL;
	}
	*args = json_object_get(req, "arguments");
	if (*args && !json_is_object(*args)) {
		sb_error_set(errp, "QMP input member 'arguments' must be an object");
		return NULL;
	}
	return json_string_value(v);
}

json_t *sb_qmp_dispatch(struct sb_qmp_conn *conn, json_t *request, struct sb_error **errp)
{
	const struct sb_qmp_command *cmd;
	json_t *args = NULL, *ret;
	const char *name;

	if (!(name = request_check(request, &args, errp)))
		return NULL;
	cmd = command_find(name);
	/* Until negotiation, QMP answers every other command as unknown. */
	if (!conn->command_mode && strcmp(name, "qmp_capabilities") != 0) {
		sb_error_set_class(errp, SB_ERR_NO_COMMAND,
				   "Expecting capabilities negotiation with 'qmp_capabilities'");
		return NULL;
	}
	if (!cmd) {
		sb_error_set_class(errp, SB_ERR_NO_COMMAND, "The command %s has not been found", name);
		return NULL;
	}
	if (args) {
		json_incref(args);
	} else if (!(args = json_object())) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	ret = NULL;
	if (sb_qmp_args_check(cmd->args, args, errp) == 0)
		ret = cmd->fn(conn, args, errp);
	json_decref(args);
	return ret;
}

json_t *sb_qmp_version_info(void)
{
	unsigned major = 0, minor = 0, micro = 0;

	sscanf(SB_VERSION, "%u.%u.%u", &major, &minor, &micro);
	return json_pack("{s:{s:i, s:i, s:i}, s:s}",
			 "qemu", "micro", micro, "minor", minor, "major", major,
			 "package", "steadyblk " SB_VERSION);
}

static json_t *qmp_capabilities(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	json_t *enable = json_object_get(args, "enable");

	if (conn->command_mode) {
		sb_error_set_class(errp, SB_ERR_NO_COMMAND,
				   "Capabilities negotiation is already complete, command ignored");
		return NULL;
	}
	/* The greeting offers no capability (no out-of-band execution). */
	if (json_array_size(enable)) {
		sb_error_set(errp, "Capability '%s' not available",
			     json_string_value(json_array_get(enable, 0)));
		return NULL;
	}
	conn->command_mode = true;
	return json_object();
}

static json_t *query_version(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	return sb_qmp_version_info();
}

static json_t *query_commands(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < SB_ARRAY_SIZE(commands); i++)
		json_array_append_new(list, json_pack("{s:s}", "name", commands[i].name));
	return list;
}

static json_t *quit(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_qmp_server *srv = conn->srv;

	if (!srv->hooks.quit) {
		sb_error_set(errp, "quit is not available in this daemon");
		return NULL;
	}
	/* Deferred: the reply goes out first, as QEMU's does. */
	sb_loop_defer(srv->loop, &srv->quit);
	return json_object();
}
