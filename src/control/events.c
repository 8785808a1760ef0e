/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: disk observers that turn what happens to a disk into QMP
 * events.
 *
 * Every state change becomes exactly one event, in the order it happened:
 * a management layer rebuilds the disk's history from them, so none is ever
 * merged, delayed or dropped.  BLOCK_IO_ERROR, one per backend error, is the
 * only noisy one: like QEMU we send at most one per second per disk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "control/qmp-internal.h"

#define IO_ERROR_INTERVAL_NS SB_NS_PER_SEC

struct disk_events {
	struct sb_disk_observer obs;
	struct sb_disk *disk;
	struct sb_qmp_server *srv;
	uint64_t last_io_error_ns;      /* BLOCK_IO_ERROR rate limit; 0 = never sent */
	uint64_t io_errors_dropped;     /* since the last one sent */
};

struct sb_qmp_events {
	size_t ndisks;
	struct disk_events disks[];
};

static const char *const event_names[SB_EVENT__COUNT] = {
	[SB_EVENT_HUNG] = "DISK_HUNG",
	[SB_EVENT_RECOVERED] = "DISK_RECOVERED",
	[SB_EVENT_TIMED_OUT] = "DISK_TIMED_OUT",
	[SB_EVENT_STOPPED] = "DISK_STOPPED",
	[SB_EVENT_RESUMED] = "DISK_RESUMED",
	[SB_EVENT_FAILED_HELD] = "DISK_FAILED_HELD",
	[SB_EVENT_BACKEND_DOWN] = "BACKEND_DISCONNECTED",
	[SB_EVENT_BACKEND_UP] = "BACKEND_RECONNECTED",
	[SB_EVENT_CLEARED] = "DISK_CLEARED",
	[SB_EVENT_DEGRADED] = "DISK_DEGRADED",
	[SB_EVENT_REPLAYED] = "DISK_REPLAYED",
};

static void on_event(void *opaque, struct sb_disk *disk, const struct sb_disk_event *ev)
{
	struct disk_events *de = opaque;
	json_t *data;

	if ((unsigned)ev->kind >= SB_EVENT__COUNT)
		return;
	data = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
			 "disk", sb_disk_name(disk),
			 "state", sb_disk_state_name(ev->state),
			 "held", sb_qmp_uint(ev->held),
			 "held-bytes", sb_qmp_uint(ev->held_bytes),
			 "oldest-held-age-ms", sb_qmp_ms(ev->oldest_age_ns),
			 "retries", sb_qmp_uint(ev->retries),
			 "last-errno", sb_qmp_errno(ev->err));
	if (data && (ev->kind == SB_EVENT_RECOVERED || ev->kind == SB_EVENT_TIMED_OUT ||
		     ev->kind == SB_EVENT_FAILED_HELD || ev->kind == SB_EVENT_CLEARED)) {
		json_object_set_new(data, "duration-ms", sb_qmp_ms(ev->duration_ns));
		json_object_set_new(data, "requests", sb_qmp_uint(ev->requests));
	}
	if (data && ev->kind == SB_EVENT_REPLAYED) {
		json_object_set_new(data, "writes", sb_qmp_uint(ev->requests));
		json_object_set_new(data, "bytes", sb_qmp_uint(ev->bytes));
	}
	if (!data) {
		sb_err("disk %s: out of memory: event %s lost", sb_disk_name(disk),
		       event_names[ev->kind]);
		return;
	}
	sb_qmp_broadcast(de->srv, event_names[ev->kind], data);
}

static const char *verdict_action(enum sb_verdict v)
{
	switch (v) {
	case SB_VERDICT_IGNORE: return "ignore";
	case SB_VERDICT_STOP: return "stop";
	case SB_VERDICT_RETRY: return "retry";
	case SB_VERDICT_REPORT: break;
	}
	return "report";
}

/* QEMU's BLOCK_IO_ERROR, so that tools watching QEMU understand us. */
static void on_io_error(void *opaque, struct sb_disk *disk, enum sb_op op, int err,
			enum sb_verdict verdict)
{
	struct disk_events *de = opaque;
	uint64_t now = sb_now_ns();
	const char *reason = strerrordesc_np(-err);
	json_t *data;

	if (de->last_io_error_ns && now - de->last_io_error_ns < IO_ERROR_INTERVAL_NS) {
		de->io_errors_dropped++;
		return;
	}
	if (de->io_errors_dropped)
		sb_debug("disk %s: %" PRIu64 " BLOCK_IO_ERROR events rate-limited",
			 sb_disk_name(disk), de->io_errors_dropped);
	de->last_io_error_ns = now;
	de->io_errors_dropped = 0;
	data = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}",
			 "device", sb_disk_name(disk),
			 "node-name", sb_disk_name(disk),
			 "operation", sb_op_is_write(op) ? "write" : "read",
			 "action", verdict_action(verdict),
			 "nospace", err == -ENOSPC,
			 "reason", reason ? reason : "Unknown error");
	if (data)
		sb_qmp_broadcast(de->srv, "BLOCK_IO_ERROR", data);
}

struct sb_qmp_events *sb_qmp_events_new(struct sb_qmp_server *srv, struct sb_error **errp)
{
	struct sb_qmp_events *ev;

	ev = calloc(1, sizeof(*ev) + srv->ndisks * sizeof(ev->disks[0]));
	if (!ev) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	ev->ndisks = srv->ndisks;
	for (size_t i = 0; i < srv->ndisks; i++) {
		struct disk_events *de = &ev->disks[i];

		de->disk = srv->disks[i];
		de->srv = srv;
		de->obs.event = on_event;
		de->obs.io_error = on_io_error;
		de->obs.opaque = de;
		sb_disk_add_observer(de->disk, &de->obs);
	}
	return ev;
}

void sb_qmp_events_free(struct sb_qmp_events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->ndisks; i++)
		sb_disk_remove_observer(ev->disks[i].disk, &ev->disks[i].obs);
	free(ev);
}
