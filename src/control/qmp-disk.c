/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP commands that look at and steer disks: query-disks,
 * set-error-policy, cont, fail-held, retry-now. */
#include <inttypes.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"
#include "control/qmp-internal.h"
#include "exports/nbd/server.h"

/* "disk0, disk1": the names to choose from, for error messages. */
static void disk_names(const struct sb_qmp_server *srv, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < srv->ndisks && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					sb_disk_name(srv->disks[i]));
}

struct sb_disk *sb_qmp_disk_arg(struct sb_qmp_server *srv, json_t *args, struct sb_error **errp)
{
	const char *name = sb_qmp_arg_str(args, "disk");
	char names[256];

	if (!name && srv->ndisks == 1)
		return srv->disks[0];
	for (size_t i = 0; name && i < srv->ndisks; i++)
		if (strcmp(sb_disk_name(srv->disks[i]), name) == 0)
			return srv->disks[i];
	disk_names(srv, names, sizeof(names));
	if (!name)
		sb_error_set(errp, "Parameter 'disk' is missing: this daemon serves %zu disks (%s)",
			     srv->ndisks, names);
	else
		sb_error_set_class(errp, SB_ERR_NOT_FOUND, "Disk '%s' not found (this daemon serves: %s)",
				   name, names);
	return NULL;
}

static json_t *errset_json(const struct sb_errset *set)
{
	json_t *list = json_array();

	for (int e = 1; list && e < SB_ERRSET_MAX; e++)
		if (sb_errset_has(set, e))
			json_array_append_new(list, json_string(sb_errno_name(e)));
	return list;
}

static json_t *policy_json(const struct sb_policy *p)
{
	json_t *actions = json_object();

	for (int op = 0; actions && op < SB_OP_COUNT; op++)
		json_object_set_new(actions, sb_op_name(op), json_string(sb_action_name(p->action[op])));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}",
			 "rerror", sb_action_name(p->action[SB_OP_READ]),
			 "werror", sb_action_name(p->action[SB_OP_WRITE]),
			 "actions", actions,
			 "retry-interval-ms", sb_qmp_ms(p->retry_interval_ns),
			 "retry-max-interval-ms", sb_qmp_ms(p->retry_max_interval_ns),
			 "retry-timeout-ms", sb_qmp_ms(p->retry_timeout_ns),
			 "retry-then", sb_action_name(p->retry_then),
			 "retry-errors", errset_json(&p->retry_errors),
			 "max-held-requests", sb_qmp_uint(p->max_held_requests),
			 "max-held-bytes", sb_qmp_uint(p->max_held_bytes));
}

/* {"read": N, ..., "write-zeroes": N, "total": N} */
static json_t *per_op_json(const uint64_t *v)
{
	json_t *o = json_object();
	uint64_t total = 0;

	for (int op = 0; o && op < SB_OP_COUNT; op++) {
		json_object_set_new(o, sb_op_name(op), sb_qmp_uint(v[op]));
		total += v[op];
	}
	if (o)
		json_object_set_new(o, "total", sb_qmp_uint(total));
	return o;
}

/* {"EIO": 12, "ENOSPC": 1}: only the errors seen. */
static json_t *errors_json(const struct sb_disk_stats *st)
{
	json_t *o = json_object();

	for (int e = 1; o && e < SB_ERRNO_STATS; e++) {
		uint64_t n = st->errors_by_errno[e];

		if (n)
			json_object_set_new(o, sb_errno_name(e), sb_qmp_uint(n));
	}
	if (o && st->errors_by_errno[0])
		json_object_set_new(o, "other", sb_qmp_uint(st->errors_by_errno[0]));
	return o;
}

static json_t *counters_json(const struct sb_disk_stats *st)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "requests", per_op_json(st->requests),
			 "bytes", per_op_json(st->bytes),
			 "errors", sb_qmp_uint(st->errors),
			 "errors-by-errno", errors_json(st),
			 "retries", sb_qmp_uint(st->retries),
			 "hangs", sb_qmp_uint(st->hangs),
			 "hang-time-ms", sb_qmp_ms(st->hang_total_ns),
			 "timeouts", sb_qmp_uint(st->timeouts),
			 "replays", sb_qmp_uint(st->replays),
			 "replayed-writes", sb_qmp_uint(st->replayed_writes),
			 "replayed-bytes", sb_qmp_uint(st->replayed_bytes),
			 "own-flushes", sb_qmp_uint(st->own_flushes),
			 "parked-writes", sb_qmp_uint(st->parked),
			 "last-errno", sb_qmp_errno(st->last_err));
}

/* The unflushed-write log, or null when it is off. */
static json_t *unflushed_json(const struct sb_disk_info *info)
{
	if (!info->log_on)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:b}", "writes", sb_qmp_uint(info->unflushed),
			 "bytes", sb_qmp_uint(info->unflushed_bytes),
			 "limit", sb_qmp_uint(info->unflushed_limit),
			 "replaying", info->replaying);
}

/* The exports of one disk, each with its clients: built from the NBD
 * server's views, which arrive export by export, then client by client. */
struct exports_walk {
	struct sb_disk *disk;
	json_t *list;                   /* [{"name", "uri", "read-only", "clients"}] */
	json_t *by_index;               /* the server's exports by index (null: another disk's) */
};

static void walk_export(void *opaque, const struct sb_nbd_export_view *e)
{
	struct exports_walk *w = opaque;
	json_t *o = NULL;

	if (e->disk == w->disk) {
		o = json_pack("{s:s, s:s, s:b, s:[]}", "name", e->name, "uri", e->uri,
			      "read-only", e->read_only, "clients");
		if (o)
			json_array_append(w->list, o);
	}
	json_array_append_new(w->by_index, o ? o : json_null());
}

static void walk_client(void *opaque, const struct sb_nbd_client_view *c)
{
	struct exports_walk *w = opaque;
	json_t *e = NULL;

	if (c->export_index >= 0)
		e = json_array_get(w->by_index, (size_t)c->export_index);
	if (json_is_object(e))
		json_array_append_new(json_object_get(e, "clients"),
				      json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)c->id,
						"name", c->name, "pending", sb_qmp_uint(c->pending),
						"inflight", sb_qmp_uint(c->inflight)));
}

static json_t *exports_json(const struct sb_nbd_server *nbd, struct sb_disk *disk)
{
	struct exports_walk w = { .disk = disk, .list = json_array(), .by_index = json_array() };

	if (nbd && w.list && w.by_index) {
		sb_nbd_server_foreach_export(nbd, walk_export, &w);
		sb_nbd_server_foreach_client(nbd, walk_client, &w);
	}
	json_decref(w.by_index);
	return w.list;
}

/* The backend's own view of its connection (network backends), or null. */
static json_t *backend_state_json(struct sb_backend *be)
{
	const char *text = be->ops->describe_state ? be->ops->describe_state(be) : NULL;
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;

	return v ? v : json_null();
}

static json_t *disk_json(struct sb_qmp_server *srv, struct sb_disk *disk)
{
	struct sb_backend *be = sb_disk_backend(disk);
	struct sb_disk_info info;

	sb_disk_info(disk, &info);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:b, s:o}, s:o, s:o, s:o, s:o, s:o, s:o, "
			 "s:o, s:o, s:o, s:o}",
			 "name", sb_disk_name(disk),
			 "state", sb_disk_state_name(info.state),
			 "backend", "name", be->name, "driver", be->ops->name,
			 "connected", be->connected, "state", backend_state_json(be),
			 "exports", exports_json(srv->hooks.nbd, disk),
			 "clients", sb_qmp_uint(info.sessions),
			 "policy", policy_json(sb_disk_policy(disk)),
			 "counters", counters_json(sb_disk_stats(disk)),
			 "held", sb_qmp_uint(info.held),
			 "held-bytes", sb_qmp_uint(info.held_bytes),
			 "oldest-held-age-ms", sb_qmp_ms(info.oldest_age_ns),
			 "hang-age-ms", sb_qmp_ms(info.hang_age_ns),
			 "inflight", sb_qmp_uint(info.inflight),
			 "unflushed", unflushed_json(&info));
}

json_t *sb_qmp_query_disks(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_qmp_server *srv = conn->srv;
	json_t *list = json_array();

	for (size_t i = 0; list && i < srv->ndisks; i++) {
		json_t *d = disk_json(srv, srv->disks[i]);
		if (!d || json_array_append_new(list, d) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	if (!list)
		sb_error_set(errp, "out of memory");
	return list;
}

static int action_arg(json_t *args, const char *name, enum sb_action *out, struct sb_error **errp)
{
	const char *s = sb_qmp_arg_str(args, name);

	if (s && sb_action_parse(s, out, errp) < 0) {
		sb_error_prefix(errp ? *errp : NULL, "Parameter '%s'", name);
		return -1;
	}
	return 0;
}

static int errset_arg(json_t *args, const char *name, struct sb_errset *out,
		      struct sb_error **errp)
{
	json_t *list = json_object_get(args, name), *v;
	size_t i;

	if (!list)
		return 0;
	sb_errset_clear(out);
	json_array_foreach(list, i, v) {
		int e = sb_errno_from_name(json_string_value(v));
		if (!e || e >= SB_ERRSET_MAX)
			return sb_error_set(errp, "Parameter '%s': '%s' is not an errno name (e.g. EIO)",
					    name, json_string_value(v));
		sb_errset_add(out, e);
	}
	return 0;
}

json_t *sb_qmp_set_error_policy(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_disk *disk = sb_qmp_disk_arg(conn->srv, args, errp);
	enum sb_action rerror, werror;
	uint64_t max_held_requests;
	struct sb_policy p;

	if (!disk)
		return NULL;
	/* Start from the policy in force: only what is named changes. */
	p = *sb_disk_policy(disk);
	rerror = p.action[SB_OP_READ];
	werror = p.action[SB_OP_WRITE];
	max_held_requests = p.max_held_requests;
	if (action_arg(args, "rerror", &rerror, errp) < 0 ||
	    action_arg(args, "werror", &werror, errp) < 0 ||
	    action_arg(args, "retry-then", &p.retry_then, errp) < 0 ||
	    sb_qmp_arg_duration(args, "retry-interval", &p.retry_interval_ns, errp) < 0 ||
	    sb_qmp_arg_duration(args, "retry-max-interval", &p.retry_max_interval_ns, errp) < 0 ||
	    sb_qmp_arg_duration(args, "retry-timeout", &p.retry_timeout_ns, errp) < 0 ||
	    errset_arg(args, "retry-errors", &p.retry_errors, errp) < 0 ||
	    sb_qmp_arg_uint(args, "max-held-requests", UINT32_MAX, &max_held_requests, errp) < 0 ||
	    sb_qmp_arg_size(args, "max-held-bytes", &p.max_held_bytes, errp) < 0)
		return NULL;
	if (json_object_get(args, "rerror"))
		sb_policy_set_rerror(&p, rerror);
	if (json_object_get(args, "werror"))
		sb_policy_set_werror(&p, werror);
	p.max_held_requests = (uint32_t)max_held_requests;

	if (sb_disk_set_policy(disk, &p, errp) < 0)
		return NULL;
	sb_info("disk %s: error policy changed: rerror=%s werror=%s", sb_disk_name(disk),
		sb_action_name(p.action[SB_OP_READ]), sb_action_name(p.action[SB_OP_WRITE]));
	return json_object();
}

json_t *sb_qmp_cont(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_disk *disk = sb_qmp_disk_arg(conn->srv, args, errp);

	if (!disk || sb_disk_cont(disk, errp) < 0)
		return NULL;
	return json_object();
}

json_t *sb_qmp_fail_held(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_disk *disk = sb_qmp_disk_arg(conn->srv, args, errp);

	if (!disk)
		return NULL;
	return json_pack("{s:o}", "failed", sb_qmp_uint(sb_disk_fail_held(disk)));
}

json_t *sb_qmp_retry_now(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_disk *disk = sb_qmp_disk_arg(conn->srv, args, errp);

	if (!disk || sb_disk_retry_now(disk, errp) < 0)
		return NULL;
	return json_object();
}
