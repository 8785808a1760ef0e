/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the fault-injection filter: run-time rules, the trigger file
 * (watched with inotify) and the rule parser both share.
 *
 *   disk --submit--> fault filter ---- no rule hits ----> inner backend
 *     ^                  |                                     |
 *     |                  | a rule hits: submit returns         |
 *     |                  v -errno, no completion follows       |
 *     +------------------------ completions, connection -------+
 *                               changes, forwarded unchanged
 *
 * With no rule enabled and no trigger file present, submit costs one test of
 * a flag; a daemon started without fault injection has no filter at all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/fault.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/parse.h"

#define RATE_ALWAYS 1000000u      /* rate_ppm of 100% */
#define FILE_MAX_RULES 32
#define FILE_MAX_BYTES (64 * 1024)
#define RULE_MAX_CHARS 256
#define RULE_FORMAT "OP ERRNO [RATE%%] [START-END]" /* for format strings */
#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		    IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct file_rule {
	enum sb_op op;                /* SB_OP_COUNT = every operation */
	struct sb_fault_rule rule;
};

struct sb_fault {
	struct sb_backend be;         /* what the disk sees */
	struct sb_backend *inner;
	struct sb_loop *loop;
	bool active;                  /* some rule is on: the fast path tests only this */
	uint64_t rng;                 /* xorshift64 state for the rate draws */
	struct sb_fault_rule rules[SB_OP_COUNT]; /* run-time rules (management socket) */
	uint64_t injected[SB_OP_COUNT];

	/* The trigger file. */
	char *path;                   /* absolute; NULL without a trigger file */
	const char *base;             /* its name in its directory, inside path */
	int ino_fd;                   /* inotify on the directory, or -1 */
	struct sb_watch ino_watch;
	bool present;                 /* the file exists: file_rules apply */
	char *text;                   /* the content file_rules came from */
	struct file_rule file_rules[FILE_MAX_RULES];
	unsigned nfile_rules;
};

static const char *const op_names[SB_OP_COUNT + 1] = {
	[SB_OP_READ] = "read", [SB_OP_WRITE] = "write", [SB_OP_FLUSH] = "flush",
	[SB_OP_TRIM] = "trim", [SB_OP_ZERO] = "zero",   [SB_OP_BLOCK_STATUS] = "block-status",
	[SB_OP_CACHE] = "cache", [SB_OP_COUNT] = "all",
};

/* ---- rules: parsing and formatting ---- */

int sb_fault_parse_op(const char *s, enum sb_op *out, struct sb_error **errp)
{
	for (unsigned op = 0; op <= SB_OP_COUNT; op++) {
		if (strcmp(s, op_names[op]) == 0) {
			*out = (enum sb_op)op;
			return 0;
		}
	}
	if (strcmp(s, "write-zeroes") == 0) { /* the name query-disks uses */
		*out = SB_OP_ZERO;
		return 0;
	}
	return sb_error_set(errp, "'%s' is not an operation (read, write, flush, trim, zero, block-status, cache, all)", s);
}

/* "50%", "0.5%", "100%": a percentage with up to four decimals, into
 * millionths. */
static int parse_rate(const char *s, uint32_t *ppm, struct sb_error **errp)
{
	uint64_t v = 0;
	unsigned digits = 0, decimals = 0;
	bool dot = false;
	const char *p;

	for (p = s; *p && *p != '%'; p++) {
		if (*p == '.' && !dot && digits) {
			dot = true;
			continue;
		}
		if (!isdigit((unsigned char)*p) || decimals == 4 || ++digits > 12)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
		decimals += dot;
	}
	if (!digits || *p != '%' || p[1])
		goto bad;
	for (; decimals < 4; decimals++)
		v *= 10;
	if (v > RATE_ALWAYS)
		return sb_error_set(errp, "rate '%s' is above 100%%", s);
	*ppm = (uint32_t)v;
	return 0;
bad:
	return sb_error_set(errp, "'%s' is not a rate (a percentage such as 50%% or 0.5%%)", s);
}

/* "START-END" in bytes or with a unit (4096, 64k, 1M), END excluded;
 * "START-" runs to the end of the disk.  Modifies @s. */
static int parse_range(char *s, uint64_t *start, uint64_t *end, struct sb_error **errp)
{
	char *dash = strchr(s, '-');

	*dash = '\0';
	if (sb_parse_size(s, start, errp) < 0)
		goto bad;
	*end = UINT64_MAX;
	if (dash[1] && sb_parse_size(dash + 1, end, errp) < 0)
		goto bad;
	if (*start >= *end)
		return sb_error_set(errp, "offset range '%s-%s' is empty (START must be below END)",
				    s, dash + 1);
	return 0;
bad:
	if (errp)
		sb_error_prefix(*errp, "offset range START-END");
	return -1;
}

int sb_fault_parse_rule(const char *line, enum sb_op *op_out,
			struct sb_fault_rule *rule, struct sb_error **errp)
{
	char buf[RULE_MAX_CHARS], *tok[4], *save = NULL, *t;
	struct sb_fault_rule r = {
		.enabled = true, .rate_ppm = RATE_ALWAYS, .offset_end = UINT64_MAX,
	};
	bool have_rate = false, have_range = false;
	unsigned n = 0;
	enum sb_op op;
	int e;

	if (strlen(line) >= sizeof(buf))
		return sb_error_set(errp, "rule is longer than %zu characters", sizeof(buf) - 1);
	strcpy(buf, line);
	for (t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == SB_ARRAY_SIZE(tok))
			return sb_error_set(errp, "unexpected '%s' (the format is " RULE_FORMAT ")", t);
		tok[n++] = t;
	}
	if (n == 0)
		return sb_error_set(errp, "empty rule (the format is " RULE_FORMAT ")");
	if (sb_fault_parse_op(tok[0], &op, errp) < 0)
		return -1;
	if (n == 1)
		return sb_error_set(errp, "'%s' needs an errno name, e.g. '%s EIO'", tok[0], tok[0]);
	e = sb_errno_from_name(tok[1]);
	if (!e)
		return sb_error_set(errp, "'%s' is not an errno name (e.g. EIO, ENOSPC, ESHUTDOWN)",
				    tok[1]);
	r.err = -e;
	for (unsigned i = 2; i < n; i++) {
		if (strchr(tok[i], '%')) {
			if (have_rate)
				return sb_error_set(errp, "rate '%s' given twice", tok[i]);
			have_rate = true;
			if (parse_rate(tok[i], &r.rate_ppm, errp) < 0)
				return -1;
		} else if (strchr(tok[i], '-')) {
			if (have_range)
				return sb_error_set(errp, "offset range '%s' given twice", tok[i]);
			have_range = true;
			if (parse_range(tok[i], &r.offset_start, &r.offset_end, errp) < 0)
				return -1;
		} else {
			return sb_error_set(errp, "'%s' is neither a rate (50%%) nor an offset range (0-1M)",
					    tok[i]);
		}
	}
	*op_out = op;
	*rule = r;
	return 0;
}

void sb_fault_format_rule(enum sb_op op, const struct sb_fault_rule *rule,
			  char *buf, size_t len)
{
	char rate[24], range[48] = "";
	unsigned frac = rule->rate_ppm % 10000;

	if (frac) {
		int n = snprintf(rate, sizeof(rate), "%u.%04u", rule->rate_ppm / 10000, frac);
		while (rate[n - 1] == '0') /* 12.5000 -> 12.5 */
			rate[--n] = '\0';
	} else {
		snprintf(rate, sizeof(rate), "%u", rule->rate_ppm / 10000);
	}
	if (rule->offset_end != UINT64_MAX)
		snprintf(range, sizeof(range), " %" PRIu64 "-%" PRIu64,
			 rule->offset_start, rule->offset_end);
	else if (rule->offset_start)
		snprintf(range, sizeof(range), " %" PRIu64 "-", rule->offset_start);
	snprintf(buf, len, "%s %s %s%%%s", (unsigned)op <= SB_OP_COUNT ? op_names[op] : "?",
		 sb_errno_name(rule->err), rate, range);
}

/* ---- the decision ---- */

static bool rule_touches(const struct sb_fault_rule *r, const struct sb_request *req)
{
	uint64_t last;

	if (r->offset_start == 0 && r->offset_end == UINT64_MAX)
		return true;
	if (req->op == SB_OP_FLUSH)
		return false;
	last = req->offset + (req->length ? req->length - 1 : 0);
	return req->offset < r->offset_end && last >= r->offset_start;
}

static bool rule_hits(struct sb_fault *f, const struct sb_fault_rule *r,
		      const struct sb_request *req)
{
	if (!r->enabled || !rule_touches(r, req) || r->rate_ppm == 0)
		return false;
	if (r->rate_ppm >= RATE_ALWAYS)
		return true;
	/* xorshift64: cheap, and random enough to spread failures. */
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng % RATE_ALWAYS < r->rate_ppm;
}

/* The -errno to inject into @req, or 0.  Run-time rules come first, then the
 * trigger file's in file order. */
static int fault_decide(struct sb_fault *f, const struct sb_request *req)
{
	if (rule_hits(f, &f->rules[req->op], req))
		return f->rules[req->op].err;
	if (!f->present)
		return 0;
	for (unsigned i = 0; i < f->nfile_rules; i++) {
		const struct file_rule *fr = &f->file_rules[i];
		if ((fr->op == req->op || fr->op == SB_OP_COUNT) && rule_hits(f, &fr->rule, req))
			return fr->rule.err;
	}
	return 0;
}

static void fault_update_active(struct sb_fault *f)
{
	f->active = f->present;
	for (unsigned op = 0; op < SB_OP_COUNT; op++)
		f->active |= f->rules[op].enabled;
}

/* ---- the backend ---- */

static int fault_submit(struct sb_backend *be, struct sb_request *req)
{
	struct sb_fault *f = SB_CONTAINER_OF(be, struct sb_fault, be);

	if (SB_UNLIKELY(f->active)) {
		int err = fault_decide(f, req);
		if (err) {
			f->injected[req->op]++;
			sb_debug("backend %s: injected %s into %s of %" PRIu32 " bytes at %" PRIu64,
				 be->name, sb_errno_name(err), sb_op_name(req->op),
				 req->length, req->offset);
			return err;
		}
	}
	return sb_backend_submit(f->inner, req);
}

static void fault_kick(struct sb_backend *be)
{
	struct sb_fault *f = SB_CONTAINER_OF(be, struct sb_fault, be);

	if (f->inner->ops->kick)
		f->inner->ops->kick(f->inner);
}

static const char *fault_describe_state(struct sb_backend *be)
{
	struct sb_fault *f = SB_CONTAINER_OF(be, struct sb_fault, be);

	return f->inner->ops->describe_state ? f->inner->ops->describe_state(f->inner) : NULL;
}

static void fault_close(struct sb_backend *be)
{
	struct sb_fault *f = SB_CONTAINER_OF(be, struct sb_fault, be);

	if (f->ino_fd >= 0) {
		sb_loop_watch_del(f->loop, &f->ino_watch);
		close(f->ino_fd);
	}
	sb_backend_close(f->inner);
	free(f->text);
	free(f->path);
	free(be->name);
	free(f);
}

static const struct sb_backend_ops fault_ops = {
	.name = "fault",
	.submit = fault_submit,
	.close = fault_close,
	.kick = fault_kick,
	.describe_state = fault_describe_state,
};

static void fault_inner_complete(void *opaque, struct sb_request *req, int err)
{
	struct sb_fault *f = opaque;

	sb_backend_complete(&f->be, req, err);
}

static void fault_inner_connection(void *opaque, bool up, int err)
{
	struct sb_fault *f = opaque;

	sb_backend_set_connected(&f->be, up, err);
}

static void fault_inner_cache_lost(void *opaque, const char *why)
{
	struct sb_fault *f = opaque;

	sb_backend_cache_lost(&f->be, why);
}

/* ---- the trigger file ---- */

/* Reads the whole (small) file at @path into a new string.  Returns 0, or
 * -errno (-ENOENT when it does not exist). */
static int read_small_file(const char *path, char **out)
{
	SB_AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	size_t len = 0;
	ssize_t n;
	char *text;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > FILE_MAX_BYTES)
		return -EFBIG;
	if (!(text = malloc(FILE_MAX_BYTES + 1)))
		return -ENOMEM;
	/* Read to the end rather than trust st_size: a writer may be at work. */
	while (len < FILE_MAX_BYTES && (n = read(fd, text + len, FILE_MAX_BYTES - len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	*out = text;
	return 0;
}

/* Parses @text (the file's content, kept for comparison) into file_rules.
 * A bad line is logged with its number and skipped. */
static void trigger_parse(struct sb_fault *f, const char *text)
{
	unsigned lineno = 0, nlines = 0;
	const char *p = text;

	f->nfile_rules = 0;
	while (*p) {
		const char *line_start = p, *eol = strchrnul(p, '\n');
		const char *hash = memchr(p, '#', (size_t)(eol - p));
		size_t len = (size_t)((hash ? hash : eol) - p); /* without the comment */
		SB_AUTOERR struct sb_error *err = NULL;
		char line[RULE_MAX_CHARS];
		struct file_rule fr;

		lineno++;
		p = *eol ? eol + 1 : eol;
		if (len >= sizeof(line)) {
			sb_warn("backend %s: fault file %s:%u: longer than %zu characters, line ignored",
				f->be.name, f->path, lineno, sizeof(line) - 1);
			nlines++;
			continue;
		}
		memcpy(line, line_start, len);
		line[len] = '\0';
		if (!line[strspn(line, " \t\r")])
			continue; /* blank or a comment */
		nlines++;
		if (sb_fault_parse_rule(line, &fr.op, &fr.rule, &err) < 0)
			sb_warn("backend %s: fault file %s:%u: %s, line ignored", f->be.name,
				f->path, lineno, err->msg);
		else if (f->nfile_rules == FILE_MAX_RULES)
			sb_warn("backend %s: fault file %s:%u: more than %d rules, line ignored",
				f->be.name, f->path, lineno, FILE_MAX_RULES);
		else
			f->file_rules[f->nfile_rules++] = fr;
	}
	if (nlines == 0) /* the file's existence is the outage: "all EIO" */
		f->file_rules[f->nfile_rules++] = (struct file_rule){
			.op = SB_OP_COUNT,
			.rule = { .enabled = true, .err = -EIO, .rate_ppm = RATE_ALWAYS,
				  .offset_end = UINT64_MAX },
		};
}

static void trigger_set_absent(struct sb_fault *f, const char *why)
{
	if (f->present)
		sb_info("backend %s: fault file %s %s, its rules no longer apply",
			f->be.name, f->path, why);
	f->present = false;
	f->nfile_rules = 0;
	free(f->text);
	f->text = NULL;
	fault_update_active(f);
}

/* Reads the trigger file again and applies it; a rewrite that changes
 * nothing changes nothing, so its warnings are not repeated. */
static void trigger_reload(struct sb_fault *f)
{
	char *text = NULL, buf[RULE_MAX_CHARS];
	int r = read_small_file(f->path, &text);

	if (r == -ENOENT) {
		trigger_set_absent(f, "removed");
		return;
	}
	if (r < 0) {
		sb_warn("backend %s: cannot read fault file %s: %s; it exists, so every "
			"operation fails with EIO", f->be.name, f->path, strerror(-r));
		if (!(text = strdup("")))
			return;
	}
	if (f->present && strcmp(f->text, text) == 0) {
		free(text);
		return;
	}
	trigger_parse(f, text);
	sb_info("backend %s: fault file %s %s, rules in force: %u", f->be.name, f->path,
		f->present ? "changed" : "present", f->nfile_rules);
	for (unsigned i = 0; i < f->nfile_rules; i++) {
		sb_fault_format_rule(f->file_rules[i].op, &f->file_rules[i].rule, buf, sizeof(buf));
		sb_info("backend %s: fault rule: %s", f->be.name, buf);
	}
	free(f->text);
	f->text = text;
	f->present = true;
	fault_update_active(f);
}

static void trigger_stop_watching(struct sb_fault *f)
{
	sb_loop_watch_del(f->loop, &f->ino_watch);
	close(f->ino_fd);
	f->ino_fd = -1;
}

static void trigger_event(void *opaque, uint32_t events)
{
	struct sb_fault *f = opaque;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool ours = false, gone = false;
	ssize_t n;

	while ((n = read(f->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				gone = true;
			else if ((ev->mask & IN_Q_OVERFLOW) || (ev->len && !strcmp(ev->name, f->base)))
				ours = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (gone) {
		sb_warn("backend %s: the directory of fault file %s was removed or renamed; "
			"the file is no longer watched", f->be.name, f->path);
		trigger_stop_watching(f);
		trigger_set_absent(f, "is gone");
	} else if (ours) {
		trigger_reload(f);
	}
}

static int trigger_open(struct sb_fault *f, const char *file, struct sb_error **errp)
{
	const char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;
	SB_AUTOFREE char *dir = NULL;
	char real[PATH_MAX];
	int r;

	if (!*base)
		return sb_error_set(errp, "fault file '%s' names a directory", file);
	dir = slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) : strdup(".");
	if (!dir)
		return sb_error_set(errp, "out of memory");
	/* Absolute, so a later chdir of the daemon changes nothing. */
	if (!realpath(dir, real))
		return sb_error_set(errp, "fault file %s: directory %s: %s", file, dir,
				    strerror(errno));
	if (asprintf(&f->path, "%s/%s", strcmp(real, "/") ? real : "", base) < 0) {
		f->path = NULL;
		return sb_error_set(errp, "out of memory");
	}
	f->base = strrchr(f->path, '/') + 1;
	f->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ino_fd < 0)
		return sb_error_set(errp, "fault file %s: inotify: %s", file, strerror(errno));
	if (inotify_add_watch(f->ino_fd, real, DIR_EVENTS) < 0)
		return sb_error_set(errp, "fault file %s: cannot watch %s: %s", file, real,
				    strerror(errno));
	sb_watch_init(&f->ino_watch, f->ino_fd, trigger_event, f);
	if ((r = sb_loop_watch_add(f->loop, &f->ino_watch, EPOLLIN)) < 0)
		return sb_error_set(errp, "fault file %s: %s", file, strerror(-r));
	/* Watch first, then read: a file created in between is not missed. */
	trigger_reload(f);
	return 0;
}

/* ---- public API ---- */

int sb_fault_wrap(struct sb_loop *loop, struct sb_backend *inner,
		  const char *trigger_file, struct sb_backend **out,
		  struct sb_error **errp)
{
	struct sb_fault *f = calloc(1, sizeof(*f));

	if (!f || asprintf(&f->be.name, "fault:%s", inner->name) < 0) {
		free(f);
		sb_backend_close(inner);
		return sb_error_set(errp, "fault filter: out of memory");
	}
	f->be.ops = &fault_ops;
	f->be.size = inner->size;
	f->be.caps = inner->caps;
	f->be.block_min = inner->block_min;
	f->be.block_pref = inner->block_pref;
	f->be.block_max = inner->block_max;
	f->be.ctx_size = inner->ctx_size; /* requests pass through untouched */
	f->be.connected = inner->connected;
	f->inner = inner;
	f->loop = loop;
	f->ino_fd = -1;
	f->rng = sb_now_ns() | 1;
	for (unsigned op = 0; op < SB_OP_COUNT; op++) /* off, with what "on" would mean */
		f->rules[op] = (struct sb_fault_rule){ .err = -EIO, .rate_ppm = RATE_ALWAYS,
						       .offset_end = UINT64_MAX };
	inner->up = (struct sb_backend_upcalls){
		.complete = fault_inner_complete,
		.connection = fault_inner_connection,
		.cache_lost = fault_inner_cache_lost,
		.opaque = f,
	};
	if (trigger_file && trigger_open(f, trigger_file, errp) < 0) {
		fault_close(&f->be);
		return -1;
	}
	*out = &f->be;
	return 0;
}

struct sb_fault *sb_fault_from_backend(struct sb_backend *be)
{
	return be && be->ops == &fault_ops ? SB_CONTAINER_OF(be, struct sb_fault, be) : NULL;
}

void sb_fault_set(struct sb_fault *f, enum sb_op op, const struct sb_fault_rule *rule)
{
	char buf[RULE_MAX_CHARS];

	if (op == SB_OP_COUNT) {
		for (unsigned i = 0; i < SB_OP_COUNT; i++)
			f->rules[i] = *rule;
	} else {
		f->rules[op] = *rule;
	}
	fault_update_active(f);
	sb_fault_format_rule(op, rule, buf, sizeof(buf));
	sb_info("backend %s: run-time fault rule %s: %s", f->be.name,
		rule->enabled ? "on" : "off", buf);
}

void sb_fault_get(const struct sb_fault *f, enum sb_op op, struct sb_fault_rule *out)
{
	*out = f->rules[op];
}

void sb_fault_clear(struct sb_fault *f)
{
	for (unsigned op = 0; op < SB_OP_COUNT; op++)
		f->rules[op].enabled = false;
	fault_update_active(f);
	sb_info("backend %s: run-time fault rules cleared", f->be.name);
}

uint64_t sb_fault_injected(const struct sb_fault *f, enum sb_op op)
{
	uint64_t sum = 0;

	if (op != SB_OP_COUNT)
		return f->injected[op];
	for (unsigned i = 0; i < SB_OP_COUNT; i++)
		sum += f->injected[i];
	return sum;
}

const char *sb_fault_trigger_file(const struct sb_fault *f)
{
	return f->path;
}

bool sb_fault_trigger_active(const struct sb_fault *f)
{
	return f->present;
}
