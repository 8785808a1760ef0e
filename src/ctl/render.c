/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblkctl's output for people: the status table, one
 * line per event, durations and sizes in a form that reads at a glance. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "ctl/ctl.h"

void ctl_fmt_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (ms < 60 * 1000)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, ms % 1000 / 100);
	else if (ms < 3600 * 1000)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", ms / 3600000, ms / 60000 % 60);
}

void ctl_fmt_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char suffix[] = "KMGT";
	double v = (double)bytes;
	int i = -1;

	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else if (v < 10 && v != (double)(uint64_t)v)
		snprintf(buf, len, "%.1f%c", v, suffix[i]);
	else
		snprintf(buf, len, "%.0f%c", v, suffix[i]);
}

static uint64_t jint(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static const char *jstr(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* ---- the status table ---- */

enum { COL_DISK, COL_STATE, COL_HELD, COL_BYTES, COL_OLDEST, COL_RETRIES, COL_ERRORS,
       COL_LAST, COL_BACKEND, COL_CLIENTS, NCOLS };

#define CELL 48

static const struct {
	const char *title;
	bool right;                       /* numbers line up on the right */
} columns[NCOLS] = {
	[COL_DISK] = { "DISK", false },        [COL_STATE] = { "STATE", false },
	[COL_HELD] = { "HELD", true },         [COL_BYTES] = { "BYTES", true },
	[COL_OLDEST] = { "OLDEST", true },     [COL_RETRIES] = { "RETRIES", true },
	[COL_ERRORS] = { "ERRORS", true },     [COL_LAST] = { "LAST-ERROR", false },
	[COL_BACKEND] = { "BACKEND", false },  [COL_CLIENTS] = { "CLIENTS", true },
};

static void disk_cells(json_t *d, char (*cell)[CELL])
{
	json_t *counters = json_object_get(d, "counters");
	json_t *backend = json_object_get(d, "backend");
	uint64_t hang_ms = jint(d, "hang-age-ms");
	char age[24];

	snprintf(cell[COL_DISK], CELL, "%s", jstr(d, "name", "?"));
	if (hang_ms) {
		ctl_fmt_ms(hang_ms, age, sizeof(age));
		snprintf(cell[COL_STATE], CELL, "%s %s", jstr(d, "state", "?"), age);
	} else {
		snprintf(cell[COL_STATE], CELL, "%s", jstr(d, "state", "?"));
	}
	snprintf(cell[COL_HELD], CELL, "%" PRIu64, jint(d, "held"));
	ctl_fmt_bytes(jint(d, "held-bytes"), cell[COL_BYTES], CELL);
	if (jint(d, "held"))
		ctl_fmt_ms(jint(d, "oldest-held-age-ms"), cell[COL_OLDEST], CELL);
	else
		snprintf(cell[COL_OLDEST], CELL, "-");
	snprintf(cell[COL_RETRIES], CELL, "%" PRIu64, jint(counters, "retries"));
	snprintf(cell[COL_ERRORS], CELL, "%" PRIu64, jint(counters, "errors"));
	snprintf(cell[COL_LAST], CELL, "%s", jstr(counters, "last-errno", "-"));
	snprintf(cell[COL_BACKEND], CELL, "%s %s", jstr(backend, "driver", "?"),
		 json_is_false(json_object_get(backend, "connected")) ? "disconnected"
								      : "connected");
	snprintf(cell[COL_CLIENTS], CELL, "%" PRIu64, jint(d, "clients"));
}

void ctl_render_status(FILE *out, json_t *disks)
{
	size_t rows = json_array_size(disks) + 1;
	char (*cells)[NCOLS][CELL] = calloc(rows, sizeof(*cells));
	int width[NCOLS] = { 0 };

	if (!cells) {
		fprintf(out, "(out of memory)\n");
		return;
	}
	for (int c = 0; c < NCOLS; c++)
		snprintf(cells[0][c], CELL, "%s", columns[c].title);
	for (size_t r = 1; r < rows; r++)
		disk_cells(json_array_get(disks, r - 1), cells[r]);
	for (size_t r = 0; r < rows; r++)
		for (int c = 0; c < NCOLS; c++)
			width[c] = SB_MAX(width[c], (int)strlen(cells[r][c]));
	for (size_t r = 0; r < rows; r++) {
		for (int c = 0; c < NCOLS; c++) {
			bool last = c + 1 == NCOLS;

			/* The last column is not padded: no trailing blanks. */
			if (columns[c].right)
				fprintf(out, "%*s", width[c], cells[r][c]);
			else
				fprintf(out, "%-*s", last ? 0 : width[c], cells[r][c]);
			fputs(last ? "" : "  ", out);
		}
		fputc('\n', out);
	}
	free(cells);
}

/* ---- events ---- */

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* What a disk state event means, in words. */
static void describe(FILE *out, const char *name, json_t *data)
{
	uint64_t held = jint(data, "held"), n = jint(data, "requests");
	const char *err = jstr(data, "last-errno", "none");
	char bytes[24], dur[24];

	ctl_fmt_bytes(jint(data, "held-bytes"), bytes, sizeof(bytes));
	ctl_fmt_ms(jint(data, "duration-ms"), dur, sizeof(dur));
	if (strcmp(name, "DISK_HUNG") == 0)
		fprintf(out, "holding %" PRIu64 " %s (%s), last error %s", held,
			plural(held, "request", "requests"), bytes, err);
	else if (strcmp(name, "DISK_RECOVERED") == 0)
		fprintf(out, "recovered after %s: %" PRIu64 " held %s completed, %" PRIu64 " %s",
			dur, n, plural(n, "request", "requests"), jint(data, "retries"),
			plural(jint(data, "retries"), "retry", "retries"));
	else if (strcmp(name, "DISK_TIMED_OUT") == 0)
		fprintf(out, "%" PRIu64 " held %s timed out after %s, failed with %s; %" PRIu64
			" still held", n, plural(n, "request", "requests"), dur, err, held);
	else if (strcmp(name, "DISK_STOPPED") == 0)
		fprintf(out, "stopped: %" PRIu64 " %s held (%s), last error %s; "
			"'steadyblkctl cont' resumes it", held, plural(held, "request", "requests"),
			bytes, err);
	else if (strcmp(name, "DISK_RESUMED") == 0)
		fprintf(out, "resumed: re-issuing %" PRIu64 " %s", held,
			plural(held, "request", "requests"));
	else if (strcmp(name, "DISK_FAILED_HELD") == 0)
		fprintf(out, "gave up after %s: %" PRIu64 " held %s failed with %s", dur, n,
			plural(n, "request", "requests"), err);
	else if (strcmp(name, "DISK_CLEARED") == 0)
		fprintf(out, "nothing held any more after %s: %" PRIu64 " held %s dropped or "
			"failed", dur, n, plural(n, "request", "requests"));
	else if (strcmp(name, "BACKEND_DISCONNECTED") == 0)
		fprintf(out, "backend disconnected, last error %s", err);
	else if (strcmp(name, "BACKEND_RECONNECTED") == 0)
		fprintf(out, "backend reconnected");
	else if (strcmp(name, "BLOCK_IO_ERROR") == 0)
		fprintf(out, "%s error: %s (action %s)", jstr(data, "operation", "?"),
			jstr(data, "reason", "?"), jstr(data, "action", "?"));
	else {
		char *text = json_dumps(data, JSON_COMPACT);
		fputs(text ? text : "", out);
		free(text);
	}
}

void ctl_render_event(FILE *out, json_t *event)
{
	json_t *data = json_object_get(event, "data");
	json_t *ts = json_object_get(event, "timestamp");
	const char *name = jstr(event, "event", "?");
	const char *disk = jstr(data, "disk", jstr(data, "device", "-"));
	time_t sec = (time_t)jint(ts, "seconds");
	char when[32] = "?";
	struct tm tm;

	if (localtime_r(&sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(out, "%s.%03d %s %s: ", when, (int)(jint(ts, "microseconds") / 1000), disk, name);
	describe(out, name, data);
	fputc('\n', out);
}
