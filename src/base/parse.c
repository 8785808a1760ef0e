/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: duration, size and errno-name parsing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/parse.h"

struct unit {
	const char *suffix;
	uint64_t scale;
};

/* Parses "NUMBER[UNIT]" into *out.  Returns 0, -1 with *errp set, or -2
 * (nothing set) for a value above @max, so that the caller says what the
 * maximum is. */
static int parse_scaled(const char *s, const char *what, const struct unit *units,
			size_t nunits, uint64_t max, uint64_t *out, struct sb_error **errp)
{
	char *end;
	uint64_t v;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return sb_error_set(errp, "'%s' is not a %s", s ? s : "", what);
	errno = 0;
	v = strtoull(s, &end, 10);
	for (size_t i = 0; i < nunits; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (errno || (units[i].scale && v > max / units[i].scale))
				return -2;
			*out = v * units[i].scale;
			return *out > max ? -2 : 0;
		}
	}
	return sb_error_set(errp, "'%s' is not a %s (bad unit '%s')", s, what, end);
}

int sb_parse_duration(const char *s, uint64_t *ns, struct sb_error **errp)
{
	static const struct unit units[] = {
		{ "", SB_NS_PER_SEC },          { "s", SB_NS_PER_SEC },
		{ "ms", SB_NS_PER_MS },         { "us", 1000 },
		{ "m", 60 * SB_NS_PER_SEC },    { "min", 60 * SB_NS_PER_SEC },
		{ "h", 3600 * SB_NS_PER_SEC },
	};
	int r = parse_scaled(s, "duration (e.g. 250ms, 2s, 1m)", units,
			     sizeof(units) / sizeof(units[0]), SB_DURATION_MAX_NS, ns, errp);

	if (r == -2)
		return sb_error_set(errp, "'%s' is too long: the maximum is " SB_DURATION_MAX_TEXT,
				    s);
	return r;
}

int sb_parse_size(const char *s, uint64_t *bytes, struct sb_error **errp)
{
	static const struct unit units[] = {
		{ "", 1 },
		{ "k", 1ull << 10 }, { "K", 1ull << 10 },
		{ "M", 1ull << 20 }, { "G", 1ull << 30 }, { "T", 1ull << 40 },
	};
	int r = parse_scaled(s, "size (e.g. 4096, 64k, 512M, 2G)", units,
			     sizeof(units) / sizeof(units[0]), UINT64_MAX, bytes, errp);

	return r == -2 ? sb_error_set(errp, "'%s' is out of range", s) : r;
}

int sb_parse_uint(const char *s, uint64_t max, uint64_t *out, struct sb_error **errp)
{
	static const struct unit units[] = { { "", 1 } };
	uint64_t v;

	int r = parse_scaled(s, "whole number", units, 1, UINT64_MAX, &v, errp);

	if (r == -2)
		return sb_error_set(errp, "'%s' is out of range", s);
	if (r < 0)
		return -1;
	if (v > max)
		return sb_error_set(errp, "'%s' is larger than %" PRIu64, s, max);
	*out = v;
	return 0;
}

void sb_format_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns % SB_NS_PER_SEC == 0)
		snprintf(buf, len, "%" PRIu64 "s", ns / SB_NS_PER_SEC);
	else if (ns % SB_NS_PER_MS == 0)
		snprintf(buf, len, "%" PRIu64 "ms", ns / SB_NS_PER_MS);
	else
		snprintf(buf, len, "%" PRIu64 "us", ns / 1000);
}

int sb_errno_from_name(const char *name)
{
	/* glibc knows every name; ask it rather than keep a table of our own. */
	for (int e = 1; e < 256; e++) {
		const char *n = strerrorname_np(e);
		if (n && strcasecmp(n, name) == 0)
			return e;
	}
	return 0;
}

const char *sb_errno_name(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);
	return n ? n : "E?";
}

char *sb_absolute_path(const char *path)
{
	char cwd[PATH_MAX], *abs;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, path) < 0)
		return NULL;
	return abs;
}
