/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP commands of the fault-injection filter: fault-set,
 * fault-clear, query-faults.  They need a disk whose backend is wrapped in
 * the filter (the daemon's --fault-injection or --fault-file). */
#include <errno.h>
#include <string.h>

#include "backends/fault.h"
#include "base/parse.h"
#include "control/qmp-internal.h"

#define PPM_PER_PERCENT 10000u

static struct sb_fault *fault_arg(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_disk *disk = sb_qmp_disk_arg(conn->srv, args, errp);
	struct sb_fault *f;

	if (!disk)
		return NULL;
	f = sb_fault_from_backend(sb_disk_backend(disk));
	if (!f)
		sb_error_set(errp, "Disk '%s' has no fault filter: start steadyblk with "
			     "--fault-injection", sb_disk_name(disk));
	return f;
}

json_t *sb_qmp_fault_set(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	const char *errname = sb_qmp_arg_str(args, "errno");
	struct sb_fault_rule rule = { .offset_end = UINT64_MAX };
	struct sb_fault *f;
	double rate = 100;
	enum sb_op op = SB_OP_COUNT;
	int e = EIO;

	if (!(f = fault_arg(conn, args, errp)))
		return NULL;
	if (sb_fault_parse_op(sb_qmp_arg_str(args, "op"), &op, errp) < 0) {
		sb_error_prefix(errp ? *errp : NULL, "Parameter 'op'");
		return NULL;
	}
	if (errname && !(e = sb_errno_from_name(errname))) {
		sb_error_set(errp, "Parameter 'errno': '%s' is not an errno name (e.g. EIO)", errname);
		return NULL;
	}
	if (sb_qmp_arg_number(args, "rate", 0, 100, &rate, errp) < 0 ||
	    sb_qmp_arg_uint(args, "offset-start", UINT64_MAX, &rule.offset_start, errp) < 0 ||
	    sb_qmp_arg_uint(args, "offset-end", UINT64_MAX, &rule.offset_end, errp) < 0)
		return NULL;
	if (rule.offset_end <= rule.offset_start) {
		sb_error_set(errp, "offset-end must be greater than offset-start");
		return NULL;
	}
	rule.enabled = sb_qmp_arg_bool(args, "enabled", true);
	rule.err = -e;
	rule.rate_ppm = (uint32_t)(rate * PPM_PER_PERCENT + 0.5);

	sb_fault_set(f, op, &rule); /* SB_OP_COUNT: every operation */
	return json_object();
}

json_t *sb_qmp_fault_clear(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	struct sb_fault *f;

	if (!(f = fault_arg(conn, args, errp)))
		return NULL;
	sb_fault_clear(f);
	return json_object();
}

static json_t *rate_json(uint32_t ppm)
{
	if (ppm % PPM_PER_PERCENT == 0)
		return json_integer(ppm / PPM_PER_PERCENT);
	return json_real((double)ppm / PPM_PER_PERCENT);
}

json_t *sb_qmp_query_faults(struct sb_qmp_conn *conn, json_t *args, struct sb_error **errp)
{
	const char *trigger;
	struct sb_fault *f;
	json_t *list;

	if (!(f = fault_arg(conn, args, errp)))
		return NULL;
	if (!(list = json_array()))
		return NULL;
	for (int op = 0; op < SB_OP_COUNT; op++) {
		struct sb_fault_rule r;

		sb_fault_get(f, op, &r);
		json_array_append_new(list, json_pack(
			"{s:s, s:b, s:o, s:o, s:o, s:o, s:o}",
			"op", sb_op_name(op),
			"enabled", r.enabled,
			"errno", sb_qmp_errno(r.err),
			"rate", rate_json(r.rate_ppm),
			"offset-start", sb_qmp_uint(r.offset_start),
			"offset-end", r.offset_end == UINT64_MAX ? json_null()
								 : sb_qmp_uint(r.offset_end),
			"injected", sb_qmp_uint(sb_fault_injected(f, op))));
	}
	trigger = sb_fault_trigger_file(f);
	return json_pack("{s:o, s:b, s:o}",
			 "trigger-file", trigger ? json_string(trigger) : json_null(),
			 "trigger-active", sb_fault_trigger_active(f),
			 "rules", list);
}
