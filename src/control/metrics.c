/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the metrics endpoint: disks' state and counters in the
 * Prometheus text exposition format (0.0.4), served at /metrics.
 *
 * Gauges and counters are read from the disks at scrape time, so scraping
 * costs the data path nothing.  The one figure a disk does not keep, the
 * distribution of hang durations, is observed here from the disk's events:
 * a hang starts with the first event that finds the disk not healthy and
 * ends with the first that finds it healthy again (DISK_RECOVERED,
 * DISK_TIMED_OUT, DISK_FAILED_HELD, DISK_CLEARED or DISK_RESUMED), whose
 * duration, when it carries one, is the one observed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/log.h"
#include "base/parse.h"
#include "control/http.h"
#include "control/metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of the hang duration buckets, in seconds (+Inf follows). */
static const double hang_buckets[] = { 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300 };
#define NBUCKETS SB_ARRAY_SIZE(hang_buckets)

struct disk_metrics {
	struct sb_disk_observer obs;
	struct sb_disk *disk;
	uint64_t hang_start_ns;           /* the current hang's first event; 0 if none */
	uint64_t hangs_in[NBUCKETS + 1];  /* observations per bucket, not cumulated */
	uint64_t hang_count;
	uint64_t hang_sum_ns;
	struct sb_disk_info info;         /* snapshot for the scrape being written */
};

struct sb_metrics {
	struct sb_http_server *http;
	size_t ndisks;
	struct disk_metrics disks[];
};

/* ---- the hang histogram ---- */

static bool carries_duration(enum sb_disk_event_kind k)
{
	return k == SB_EVENT_RECOVERED || k == SB_EVENT_TIMED_OUT || k == SB_EVENT_FAILED_HELD ||
	       k == SB_EVENT_CLEARED;
}

static void observe_hang(struct disk_metrics *dm, uint64_t ns)
{
	size_t b = 0;

	while (b < NBUCKETS && (double)ns / SB_NS_PER_SEC > hang_buckets[b])
		b++;
	dm->hangs_in[b]++;
	dm->hang_count++;
	dm->hang_sum_ns += ns;
}

static void on_event(void *opaque, struct sb_disk *disk, const struct sb_disk_event *ev)
{
	struct disk_metrics *dm = opaque;
	uint64_t now = sb_now_ns();

	if (ev->state != SB_DISK_HEALTHY) {
		if (!dm->hang_start_ns)
			dm->hang_start_ns = now;
		return;
	}
	if (!dm->hang_start_ns)
		return; /* e.g. a backend reconnect while healthy */
	observe_hang(dm, carries_duration(ev->kind) ? ev->duration_ns : now - dm->hang_start_ns);
	dm->hang_start_ns = 0;
}

/* ---- the text format ---- */

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* NAME{disk="D"  -- the caller adds further labels and "} VALUE". */
static void series(FILE *out, const char *name, const struct sb_disk *disk)
{
	fprintf(out, "%s{disk=\"", name);
	label_value(out, sb_disk_name(disk));
	fputc('"', out);
}

static void sample_u64(FILE *out, const char *name, const struct sb_disk *disk, uint64_t v)
{
	series(out, name, disk);
	fprintf(out, "} %" PRIu64 "\n", v);
}

static void sample_seconds(FILE *out, const char *name, const struct sb_disk *disk, uint64_t ns)
{
	series(out, name, disk);
	fprintf(out, "} %.9g\n", (double)ns / SB_NS_PER_SEC);
}

static void write_state(FILE *out, const struct sb_metrics *m)
{
	static const enum sb_disk_state states[] = {
		SB_DISK_HEALTHY, SB_DISK_DEGRADED, SB_DISK_HUNG, SB_DISK_RECOVERING,
		SB_DISK_STOPPED,
	};

	family(out, "steadyblk_disk_state", "gauge",
	       "1 for the state the disk is in (healthy, degraded, hung, recovering, stopped), 0 for the others.");
	for (size_t i = 0; i < m->ndisks; i++) {
		for (size_t s = 0; s < SB_ARRAY_SIZE(states); s++) {
			series(out, "steadyblk_disk_state", m->disks[i].disk);
			fprintf(out, ",state=\"%s\"} %d\n", sb_disk_state_name(states[s]),
				m->disks[i].info.state == states[s]);
		}
	}
}

enum info_field { HELD, HELD_BYTES, OLDEST_AGE, INFLIGHT, CLIENTS, UNFLUSHED_BYTES };

static void write_info_gauge(FILE *out, const struct sb_metrics *m, const char *name,
			     enum info_field f, const char *help)
{
	family(out, name, "gauge", help);
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct sb_disk *disk = m->disks[i].disk;
		const struct sb_disk_info *info = &m->disks[i].info;

		switch (f) {
		case HELD: sample_u64(out, name, disk, info->held); break;
		case HELD_BYTES: sample_u64(out, name, disk, info->held_bytes); break;
		case OLDEST_AGE: sample_seconds(out, name, disk, info->oldest_age_ns); break;
		case INFLIGHT: sample_u64(out, name, disk, info->inflight); break;
		case CLIENTS: sample_u64(out, name, disk, info->sessions); break;
		case UNFLUSHED_BYTES: sample_u64(out, name, disk, info->unflushed_bytes); break;
		}
	}
}

static void write_connected(FILE *out, const struct sb_metrics *m)
{
	family(out, "steadyblk_backend_connected", "gauge",
	       "1 while the backend is connected (always 1 for a local file), 0 while it is not.");
	for (size_t i = 0; i < m->ndisks; i++) {
		struct sb_disk *disk = m->disks[i].disk;

		bool up = sb_disk_backend(disk)->connected;

		sample_u64(out, "steadyblk_backend_connected", disk, up);
	}
}

/* Counters per operation: requests or bytes. */
static void write_per_op(FILE *out, const struct sb_metrics *m, const char *name, bool bytes,
			 const char *help)
{
	family(out, name, "counter", help);
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct sb_disk *disk = m->disks[i].disk;
		const struct sb_disk_stats *st = sb_disk_stats(disk);

		for (int op = 0; op < SB_OP_COUNT; op++) {
			series(out, name, disk);
			fprintf(out, ",op=\"%s\"} %" PRIu64 "\n", sb_op_name(op),
				bytes ? st->bytes[op] : st->requests[op]);
		}
	}
}

static void write_errors(FILE *out, const struct sb_metrics *m)
{
	family(out, "steadyblk_errors_total", "counter",
	       "Backend errors seen (each failed attempt), by errno; errno=\"other\" for rare ones.");
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct sb_disk *disk = m->disks[i].disk;
		const struct sb_disk_stats *st = sb_disk_stats(disk);

		for (int e = 0; e < SB_ERRNO_STATS; e++) {
			if (!st->errors_by_errno[e])
				continue;
			series(out, "steadyblk_errors_total", disk);
			fprintf(out, ",errno=\"%s\"} %" PRIu64 "\n", e ? sb_errno_name(e) : "other",
				st->errors_by_errno[e]);
		}
	}
}

enum stat_field { RETRIES, HANGS, TIMEOUTS, REPLAYS, REPLAYED_BYTES, OWN_FLUSHES };

static uint64_t stat_value(const struct sb_disk_stats *st, enum stat_field f)
{
	switch (f) {
	case RETRIES: return st->retries;
	case HANGS: return st->hangs;
	case TIMEOUTS: return st->timeouts;
	case REPLAYS: return st->replays;
	case REPLAYED_BYTES: return st->replayed_bytes;
	case OWN_FLUSHES: return st->own_flushes;
	}
	return 0;
}

static void write_counter(FILE *out, const struct sb_metrics *m, const char *name,
			  enum stat_field f, const char *help)
{
	family(out, name, "counter", help);
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct sb_disk *disk = m->disks[i].disk;

		sample_u64(out, name, disk, stat_value(sb_disk_stats(disk), f));
	}
}

static void write_hang_histogram(FILE *out, const struct sb_metrics *m)
{
	const char *name = "steadyblk_hang_duration_seconds";

	family(out, name, "histogram",
	       "How long finished hangs lasted, from the first held request to the end.");
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct disk_metrics *dm = &m->disks[i];
		uint64_t cumulated = 0;

		for (size_t b = 0; b <= NBUCKETS; b++) {
			char le[16] = "+Inf";

			if (b < NBUCKETS)
				snprintf(le, sizeof(le), "%g", hang_buckets[b]);
			cumulated += dm->hangs_in[b];
			series(out, "steadyblk_hang_duration_seconds_bucket", dm->disk);
			fprintf(out, ",le=\"%s\"} %" PRIu64 "\n", le, cumulated);
		}
		sample_seconds(out, "steadyblk_hang_duration_seconds_sum", dm->disk,
			       dm->hang_sum_ns);
		sample_u64(out, "steadyblk_hang_duration_seconds_count", dm->disk,
			   dm->hang_count);
	}
}

int sb_metrics_write(struct sb_metrics *m, FILE *out)
{
	/* One snapshot per disk: the families of a scrape agree with each other. */
	for (size_t i = 0; i < m->ndisks; i++)
		sb_disk_info(m->disks[i].disk, &m->disks[i].info);
	family(out, "steadyblk_build_info", "gauge", "Always 1; the version in a label.");
	fprintf(out, "steadyblk_build_info{version=\"%s\"} 1\n", SB_VERSION);
	write_state(out, m);
	write_info_gauge(out, m, "steadyblk_held_requests", HELD,
			 "Requests waiting on the disk: held after a failure, or queued behind held ones.");
	write_info_gauge(out, m, "steadyblk_held_bytes", HELD_BYTES,
			 "Payload bytes of the held requests.");
	write_info_gauge(out, m, "steadyblk_oldest_held_age_seconds", OLDEST_AGE,
			 "How long the oldest held request has waited; 0 if none.");
	write_info_gauge(out, m, "steadyblk_inflight_requests", INFLIGHT,
			 "Requests at the backend now.");
	write_connected(out, m);
	write_info_gauge(out, m, "steadyblk_clients", CLIENTS,
			 "Clients connected to the disk's exports.");
	write_per_op(out, m, "steadyblk_requests_total", false,
		     "Requests received, by operation.");
	write_per_op(out, m, "steadyblk_bytes_total", true,
		     "Bytes of the requests received, by operation.");
	write_errors(out, m);
	write_counter(out, m, "steadyblk_retries_total", RETRIES,
		      "Held requests sent to the backend again (probes and releases).");
	write_counter(out, m, "steadyblk_hangs_total", HANGS,
		      "Times the disk left the healthy state (hung or stopped).");
	write_counter(out, m, "steadyblk_timeouts_total", TIMEOUTS,
		      "Held requests failed because their retry-timeout passed.");
	write_info_gauge(out, m, "steadyblk_unflushed_bytes", UNFLUSHED_BYTES,
			 "Bytes of acknowledged writes kept until the backend's next flush.");
	write_counter(out, m, "steadyblk_replays_total", REPLAYS,
		      "Times the kept writes were written again after a possible cache loss.");
	write_counter(out, m, "steadyblk_replayed_bytes_total", REPLAYED_BYTES,
		      "Bytes written again by replays.");
	write_counter(out, m, "steadyblk_own_flushes_total", OWN_FLUSHES,
		      "Flushes steadyblk sent by itself to empty its unflushed-write log.");
	write_hang_histogram(out, m);
	return ferror(out) ? -1 : 0;
}

/* ---- the endpoint ---- */

static void serve(void *opaque, const char *path, struct sb_http_response *resp)
{
	struct sb_metrics *m = opaque;
	FILE *out;
	int r;

	resp->body = NULL;
	if (strcmp(path, "/metrics") != 0) {
		resp->status = 404;
		resp->content_type = "text/plain; charset=utf-8";
		resp->body = strdup("Not Found: the metrics are at /metrics\n");
		resp->len = resp->body ? strlen(resp->body) : 0;
		return;
	}
	resp->status = 200;
	resp->content_type = CONTENT_TYPE;
	out = open_memstream(&resp->body, &resp->len);
	if (!out)
		return;
	r = sb_metrics_write(m, out);
	if (fclose(out) != 0 || r < 0) {
		free(resp->body);
		resp->body = NULL;
	}
}

struct sb_metrics *sb_metrics_new(struct sb_loop *loop, const char *addr,
				  struct sb_disk *const *disks, size_t ndisks,
				  struct sb_error **errp)
{
	struct sb_metrics *m = calloc(1, sizeof(*m) + ndisks * sizeof(m->disks[0]));

	if (!m) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	m->http = sb_http_server_new(loop, addr, serve, m, errp);
	if (!m->http) {
		free(m);
		return NULL;
	}
	m->ndisks = ndisks;
	for (size_t i = 0; i < ndisks; i++) {
		struct disk_metrics *dm = &m->disks[i];

		dm->disk = disks[i];
		dm->obs.event = on_event;
		dm->obs.opaque = dm;
		sb_disk_add_observer(dm->disk, &dm->obs);
	}
	return m;
}

const char *sb_metrics_where(const struct sb_metrics *m)
{
	return sb_http_server_where(m->http);
}

void sb_metrics_free(struct sb_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ndisks; i++)
		sb_disk_remove_observer(m->disks[i].disk, &m->disks[i].obs);
	sb_http_server_free(m->http);
	free(m);
}
