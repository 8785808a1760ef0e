/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblkctl's commands: status (and --watch), events,
 * set-policy, cont, fail-held, retry-now, query.
 *
 * Option values are read with the daemon's own parsers (durations, sizes,
 * actions, errno lists), so a value the daemon's command line takes is
 * taken here, and one it refuses is refused here, before anything is sent.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/parse.h"
#include "core/policy.h"
#include "core/policy-options.h"
#include "ctl/ctl.h"

#define DEFAULT_INTERVAL_NS SB_NS_PER_SEC

/* Connects; on failure prints why and closes. */
static enum ctl_status open_qmp(const struct ctl_globals *g, struct ctl_qmp *q)
{
	SB_AUTOERR struct sb_error *err = NULL;
	enum ctl_status st;

	if (!g->socket)
		return ctl_fail(CTL_USAGE, "which daemon? Give --socket PATH (its --qmp socket) "
				"or set STEADYBLK_QMP");
	st = ctl_qmp_connect(q, g->socket, g->timeout_ns, &err);
	if (st != CTL_OK) {
		ctl_qmp_close(q);
		return ctl_fail(st, "%s", err->msg);
	}
	return CTL_OK;
}

/* Runs @cmd; on failure prints the daemon's message (or why it cannot be
 * reached) prefixed with @what. */
static enum ctl_status run(struct ctl_qmp *q, const char *what, const char *cmd, json_t *args,
			   json_t **ret)
{
	SB_AUTOERR struct sb_error *err = NULL;
	enum ctl_status st = ctl_qmp_execute(q, cmd, args, ret, &err);

	if (st != CTL_OK)
		ctl_fail(st, "%s: %s", what, err->msg);
	return st;
}

/* A string member of @o, or @dflt. */
static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

/* {"disk": NAME} or {} when no disk was named. */
static json_t *disk_args(const char *disk)
{
	return disk ? json_pack("{s:s}", "disk", disk) : json_object();
}

/* The disk a command acts on, as query-disks shows it: the one named, or
 * the only one.  NULL (not an error: the daemon will say) otherwise. */
static json_t *find_disk(json_t *disks, const char *name)
{
	size_t i;
	json_t *d;

	if (!name)
		return json_array_size(disks) == 1 ? json_array_get(disks, 0) : NULL;
	json_array_foreach(disks, i, d)
		if (strcmp(str_or(d, "name", ""), name) == 0)
			return d;
	return NULL;
}

/* ---- status ---- */

/* One frame of status --watch: on a terminal it overwrites the previous
 * one in place (cursor home, each line cleared to its end, the rest of the
 * screen cleared); elsewhere frames follow each other, a blank line apart. */
static void watch_frame(struct ctl_qmp *q, json_t *disks, uint64_t interval_ns, bool tty)
{
	char *text = NULL, when[16], every[24];
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
	ctl_fmt_ms(interval_ns / SB_NS_PER_MS, every, sizeof(every));
	fprintf(f, "%s at %s, %s (every %s; Ctrl-C quits)\n\n",
		str_or(q->version, "package", "steadyblk"),
		q->path, when, every);
	ctl_render_status(f, disks);
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	if (!tty) {
		printf("%s\n", text);
	} else {
		fputs("\033[H", stdout);
		for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1)
			printf("%.*s\033[K\n", (int)(nl - line), line);
		fputs("\033[J", stdout);
	}
	fflush(stdout);
	free(text);
}

static enum ctl_status watch(struct ctl_qmp *q, uint64_t interval_ns)
{
	SB_AUTOERR struct sb_error *err = NULL;
	bool tty = isatty(STDOUT_FILENO);
	enum ctl_status st = CTL_OK;

	ctl_catch_signals();
	if (tty)
		fputs("\033[2J", stdout);
	while (!ctl_interrupted) {
		uint64_t next = sb_now_ns() + interval_ns;
		json_t *disks, *ev = NULL;

		if ((st = run(q, "status", "query-disks", NULL, &disks)) != CTL_OK)
			break;
		watch_frame(q, disks, interval_ns, tty);
		json_decref(disks);
		/* Sleep until the next refresh, but wake for an event: the
		 * screen then shows the change at once. */
		while (!ev && !ctl_interrupted) {
			uint64_t now = sb_now_ns();

			if (now >= next)
				break;
			int ms = (int)((next - now) / SB_NS_PER_MS) + 1;

			st = ctl_qmp_next_event(q, ms, &ev, &err);
			if (st != CTL_OK)
				return ctl_fail(st, "status: %s", err->msg);
		}
		json_decref(ev);
	}
	return st;
}

enum ctl_status ctl_cmd_status(struct ctl_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		CTL_GLOBAL_OPTIONS,
	};
	SB_AUTOERR struct sb_error *err = NULL;
	uint64_t interval_ns = DEFAULT_INTERVAL_NS;
	bool watching = false, interval_set = false;
	enum ctl_status st;
	struct ctl_qmp q;
	json_t *disks;
	int c;

	while ((c = getopt_long(argc, argv, "+:wi:s:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			watching = true;
			break;
		case 'i':
			if (sb_parse_duration(optarg, &interval_ns, &err) < 0)
				return ctl_fail(CTL_USAGE, "status: --interval: %s", err->msg);
			if (interval_ns < 100 * SB_NS_PER_MS || interval_ns > 3600 * SB_NS_PER_SEC)
				return ctl_fail(CTL_USAGE, "status: --interval: from 100ms to 1h");
			interval_set = true;
			break;
		default:
			if ((st = ctl_common_option(g, argv, c)) != CTL_CONTINUE)
				return st;
		}
	}
	if ((st = ctl_no_arguments(argc, argv)) != CTL_CONTINUE)
		return st;
	if (interval_set && !watching)
		return ctl_fail(CTL_USAGE, "status: --interval goes with --watch");
	if ((st = open_qmp(g, &q)) != CTL_OK)
		return st;
	if (watching) {
		st = watch(&q, interval_ns);
	} else if ((st = run(&q, "status", "query-disks", NULL, &disks)) == CTL_OK) {
		ctl_render_status(stdout, disks);
		json_decref(disks);
	}
	ctl_qmp_close(&q);
	return st;
}

/* ---- events ---- */

enum ctl_status ctl_cmd_events(struct ctl_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		CTL_GLOBAL_OPTIONS,
	};
	SB_AUTOERR struct sb_error *err = NULL;
	enum ctl_status st;
	struct ctl_qmp q;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "+:js:t:h", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if ((st = ctl_common_option(g, argv, c)) != CTL_CONTINUE)
			return st;
	}
	if ((st = ctl_no_arguments(argc, argv)) != CTL_CONTINUE)
		return st;
	if ((st = open_qmp(g, &q)) != CTL_OK)
		return st;
	ctl_catch_signals();
	/* Said once the stream is followed: nothing is missed from here on. */
	fprintf(stderr, "steadyblkctl: following the events of %s (Ctrl-C stops)\n", q.path);
	while (!ctl_interrupted) {
		json_t *ev;

		st = ctl_qmp_next_event(&q, -1, &ev, &err);
		if (st != CTL_OK) {
			ctl_fail(st, "events: %s", err->msg);
			break;
		}
		if (!ev)
			continue;
		if (json) {
			char *text = json_dumps(ev, JSON_ENSURE_ASCII);
			if (text)
				puts(text);
			free(text);
		} else {
			ctl_render_event(stdout, ev);
		}
		fflush(stdout);
		json_decref(ev);
	}
	ctl_qmp_close(&q);
	return st;
}

/* ---- set-policy ---- */

/* One policy option into its QMP argument, checked with the daemon's own
 * parser.  Returns 0 or -1 with *errp set. */
static int policy_arg(json_t *args, const char *name, int c, const char *arg,
		      struct sb_error **errp)
{
	char text[32];
	enum sb_action a;
	struct sb_errset set;
	uint64_t v;
	json_t *list;

	switch (c) {
	case SB_OPT_RERROR:
	case SB_OPT_WERROR:
	case SB_OPT_RETRY_THEN:
		if (sb_action_parse(arg, &a, errp) < 0)
			return -1;
		if (c == SB_OPT_RETRY_THEN && a != SB_ACTION_REPORT && a != SB_ACTION_STOP)
			return sb_error_set(errp, "'%s' must be report or stop", arg);
		return json_object_set_new(args, name, json_string(sb_action_name(a)));
	case SB_OPT_RETRY_INTERVAL:
	case SB_OPT_RETRY_MAX_INTERVAL:
	case SB_OPT_RETRY_TIMEOUT:
		if (sb_parse_duration(arg, &v, errp) < 0)
			return -1;
		/* QMP reads a bare number as milliseconds: send the unit. */
		sb_format_duration(v, text, sizeof(text));
		return json_object_set_new(args, name, json_string(text));
	case SB_OPT_RETRY_ERRORS:
		if (sb_errset_parse(arg, &set, errp) < 0)
			return -1;
		list = json_array();
		for (int e = 1; list && e < SB_ERRSET_MAX; e++)
			if (sb_errset_has(&set, e))
				json_array_append_new(list, json_string(sb_errno_name(e)));
		return json_object_set_new(args, name, list);
	case SB_OPT_MAX_HELD_REQUESTS:
		if (sb_parse_uint(arg, UINT32_MAX, &v, errp) < 0)
			return -1;
		return json_object_set_new(args, name, json_integer((json_int_t)v));
	case SB_OPT_MAX_HELD_BYTES:
		if (sb_parse_size(arg, &v, errp) < 0)
			return -1;
		if (v > INT64_MAX)
			return sb_error_set(errp, "'%s' is out of range", arg);
		return json_object_set_new(args, name, json_integer((json_int_t)v));
	}
	return -1;
}

/* A "...-ms" member of @p as the daemon's options write it: "250ms", "2s". */
static const char *ms_option(json_t *p, const char *key, char *buf, size_t len)
{
	sb_format_duration((uint64_t)json_integer_value(json_object_get(p, key)) * SB_NS_PER_MS,
			   buf, len);
	return buf;
}

/* "rerror=report werror=retry retry-interval=1s ...": the policy in force. */
static void print_policy(const char *disk, json_t *p)
{
	char a[32], b[32], c[32];
	json_t *errs = json_object_get(p, "retry-errors"), *e;
	size_t i;

	printf("%s: rerror=%s werror=%s retry-interval=%s retry-max-interval=%s "
	       "retry-timeout=%s retry-then=%s retry-errors=", disk, str_or(p, "rerror", "?"),
	       str_or(p, "werror", "?"), ms_option(p, "retry-interval-ms", a, sizeof(a)),
	       ms_option(p, "retry-max-interval-ms", b, sizeof(b)),
	       ms_option(p, "retry-timeout-ms", c, sizeof(c)), str_or(p, "retry-then", "?"));
	json_array_foreach(errs, i, e)
		printf("%s%s", i ? "," : "", json_string_value(e));
	printf(" max-held-requests=%" JSON_INTEGER_FORMAT " max-held-bytes=%" JSON_INTEGER_FORMAT
	       "\n", json_integer_value(json_object_get(p, "max-held-requests")),
	       json_integer_value(json_object_get(p, "max-held-bytes")));
}

enum ctl_status ctl_cmd_set_policy(struct ctl_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		SB_POLICY_LONG_OPTIONS,
		CTL_GLOBAL_OPTIONS,
	};
	json_t *args = json_object(), *ret, *disks, *d;
	const char *disk = NULL;
	enum ctl_status st;
	struct ctl_qmp q;
	int c, idx;

	if (!args)
		return ctl_fail(CTL_USAGE, "out of memory");
	while ((c = getopt_long(argc, argv, "+:d:s:t:h", opts, &idx)) != -1) {
		SB_AUTOERR struct sb_error *err = NULL;

		if (c == 'd') {
			disk = optarg;
		} else if (c >= SB_OPT_RERROR && c < SB_OPT_POLICY_END) {
			if (policy_arg(args, opts[idx].name, c, optarg, &err) < 0) {
				st = ctl_fail(CTL_USAGE, "set-policy: --%s: %s", opts[idx].name,
					      err ? err->msg : "out of memory");
				goto out;
			}
		} else if ((st = ctl_common_option(g, argv, c)) != CTL_CONTINUE) {
			goto out;
		}
	}
	if ((st = ctl_no_arguments(argc, argv)) != CTL_CONTINUE)
		goto out;
	if (!json_object_size(args)) {
		st = ctl_fail(CTL_USAGE, "set-policy: nothing to change (see set-policy --help)");
		goto out;
	}
	if ((st = open_qmp(g, &q)) != CTL_OK)
		goto out;
	if (disk)
		json_object_set_new(args, "disk", json_string(disk));
	st = run(&q, "set-policy", "set-error-policy", json_incref(args), &ret);
	json_decref(ret);
	/* Show the policy now in force, as a confirmation. */
	if (st == CTL_OK && (st = run(&q, "set-policy", "query-disks", NULL, &disks)) == CTL_OK) {
		if ((d = find_disk(disks, disk)))
			print_policy(str_or(d, "name", "disk"), json_object_get(d, "policy"));
		json_decref(disks);
	}
	ctl_qmp_close(&q);
out:
	json_decref(args);
	return st;
}

/* ---- cont, fail-held, retry-now, query ---- */

/* The options of a command that acts on one disk: --disk and the globals. */
static enum ctl_status disk_options(struct ctl_globals *g, int argc, char **argv,
				    const char **disk)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		CTL_GLOBAL_OPTIONS,
	};
	enum ctl_status st;
	int c;

	*disk = NULL;
	while ((c = getopt_long(argc, argv, "+:d:s:t:h", opts, NULL)) != -1) {
		if (c == 'd')
			*disk = optarg;
		else if ((st = ctl_common_option(g, argv, c)) != CTL_CONTINUE)
			return st;
	}
	return ctl_no_arguments(argc, argv);
}

/* Connects and looks the disk up first, to name it (and see its state) in
 * the confirmation.  On CTL_OK, *disks holds query-disks' answer and *d
 * the disk in it, or NULL when the daemon is left to say which is meant. */
static enum ctl_status disk_command_start(struct ctl_globals *g, struct ctl_qmp *q,
					  const char *what, const char *disk, json_t **disks,
					  json_t **d)
{
	enum ctl_status st = open_qmp(g, q);

	if (st != CTL_OK)
		return st;
	if ((st = run(q, what, "query-disks", NULL, disks)) != CTL_OK) {
		ctl_qmp_close(q);
		return st;
	}
	*d = find_disk(*disks, disk);
	return CTL_OK;
}


/* What a disk command says once the daemon accepted it: @d is the disk as
 * query-disks described it just before, @ret the command's reply. */
typedef void (*disk_report_fn)(json_t *d, json_t *ret);

static void report_cont(json_t *d, json_t *ret)
{
	printf("%s: resumed, re-issuing %" JSON_INTEGER_FORMAT " held requests\n",
	       str_or(d, "name", "disk"), json_integer_value(json_object_get(d, "held")));
}

static void report_fail_held(json_t *d, json_t *ret)
{
	json_int_t n = json_integer_value(json_object_get(ret, "failed"));

	printf("%s: %" JSON_INTEGER_FORMAT " held %s failed\n", str_or(d, "name", "disk"), n,
	       n == 1 ? "request" : "requests");
}

static void report_retry_now(json_t *d, json_t *ret)
{
	const char *state = str_or(d, "state", "?");

	if (strcmp(state, "hung") == 0)
		printf("%s: probing now\n", str_or(d, "name", "disk"));
	else
		printf("%s: %s, nothing to probe\n", str_or(d, "name", "disk"), state);
}

/* cont, fail-held, retry-now: one QMP command on one disk. */
static enum ctl_status disk_command(struct ctl_globals *g, int argc, char **argv,
				    const char *cmd, disk_report_fn report)
{
	const char *disk;
	json_t *disks, *d, *ret;
	enum ctl_status st;
	struct ctl_qmp q;

	if ((st = disk_options(g, argc, argv, &disk)) != CTL_CONTINUE)
		return st;
	if ((st = disk_command_start(g, &q, cmd, disk, &disks, &d)) != CTL_OK)
		return st;
	if ((st = run(&q, cmd, cmd, disk_args(disk), &ret)) == CTL_OK) {
		report(d, ret);
		json_decref(ret);
	}
	json_decref(disks);
	ctl_qmp_close(&q);
	return st;
}

enum ctl_status ctl_cmd_cont(struct ctl_globals *g, int argc, char **argv)
{
	return disk_command(g, argc, argv, "cont", report_cont);
}

enum ctl_status ctl_cmd_fail_held(struct ctl_globals *g, int argc, char **argv)
{
	return disk_command(g, argc, argv, "fail-held", report_fail_held);
}

enum ctl_status ctl_cmd_retry_now(struct ctl_globals *g, int argc, char **argv)
{
	return disk_command(g, argc, argv, "retry-now", report_retry_now);
}

enum ctl_status ctl_cmd_query(struct ctl_globals *g, int argc, char **argv)
{
	static const struct option opts[] = { CTL_GLOBAL_OPTIONS };
	enum ctl_status st;
	struct ctl_qmp q;
	json_t *disks;
	int c;

	while ((c = getopt_long(argc, argv, "+:s:t:h", opts, NULL)) != -1)
		if ((st = ctl_common_option(g, argv, c)) != CTL_CONTINUE)
			return st;
	if ((st = ctl_no_arguments(argc, argv)) != CTL_CONTINUE)
		return st;
	if ((st = open_qmp(g, &q)) != CTL_OK)
		return st;
	if ((st = run(&q, "query", "query-disks", NULL, &disks)) == CTL_OK) {
		char *text = json_dumps(disks, JSON_INDENT(2));

		if (text)
			puts(text);
		free(text);
		json_decref(disks);
	}
	ctl_qmp_close(&q);
	return st;
}
