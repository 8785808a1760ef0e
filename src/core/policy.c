/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the error policy's decision table, deadlines and backoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/loop.h"
#include "base/parse.h"
#include "core/policy.h"

static const char *const action_names[] = {
	[SB_ACTION_REPORT] = "report", [SB_ACTION_IGNORE] = "ignore",
	[SB_ACTION_STOP] = "stop",     [SB_ACTION_ENOSPC] = "enospc",
	[SB_ACTION_RETRY] = "retry",
};

const char *sb_op_name(enum sb_op op)
{
	static const char *const names[] = {
		[SB_OP_READ] = "read", [SB_OP_WRITE] = "write", [SB_OP_FLUSH] = "flush",
		[SB_OP_TRIM] = "trim", [SB_OP_ZERO] = "write-zeroes",
		[SB_OP_BLOCK_STATUS] = "block-status", [SB_OP_CACHE] = "cache",
	};
	return (unsigned)op < SB_OP_COUNT ? names[op] : "?";
}

const char *sb_action_name(enum sb_action a)
{
	return (unsigned)a < sizeof(action_names) / sizeof(action_names[0])
		       ? action_names[a] : "?";
}

int sb_action_parse(const char *s, enum sb_action *out, struct sb_error **errp)
{
	for (unsigned i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum sb_action)i;
			return 0;
		}
	}
	return sb_error_set(errp, "'%s' is not an action (report, ignore, stop, enospc, retry)", s);
}

void sb_errset_clear(struct sb_errset *s)
{
	memset(s, 0, sizeof(*s));
}

void sb_errset_add(struct sb_errset *s, int err)
{
	unsigned e = (unsigned)(err < 0 ? -err : err);
	if (e < SB_ERRSET_MAX)
		s->bits[e / 64] |= UINT64_C(1) << (e % 64);
}

bool sb_errset_has(const struct sb_errset *s, int err)
{
	unsigned e = (unsigned)(err < 0 ? -err : err);
	return e < SB_ERRSET_MAX && (s->bits[e / 64] >> (e % 64)) & 1;
}

void sb_errset_default(struct sb_errset *s)
{
	/* Transient: a later attempt can succeed.  EINVAL, EROFS, EOPNOTSUPP,
	 * EFBIG, EOVERFLOW, EPERM ... are left out: no retry fixes them. */
	static const int transient[] = {
		EIO, ETIMEDOUT, ECONNRESET, ECONNABORTED, ECONNREFUSED, ENOTCONN,
		ESHUTDOWN, EPIPE, EAGAIN, ENOMEM, ENOSPC, ENETDOWN, ENETUNREACH,
		ENETRESET, EHOSTDOWN, EHOSTUNREACH, ENOLINK, EBUSY, EINTR, ENOENT,
		EDQUOT, ENOBUFS, ESTALE, EREMOTEIO,
	};
	sb_errset_clear(s);
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		sb_errset_add(s, transient[i]);
}

int sb_errset_parse(const char *list, struct sb_errset *out, struct sb_error **errp)
{
	struct sb_errset set;
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return sb_error_set(errp, "out of memory");
	sb_errset_clear(&set);
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int e = sb_errno_from_name(tok);
		if (!e) {
			uint64_t n;
			if (sb_parse_uint(tok, SB_ERRSET_MAX - 1, &n, NULL) < 0 || n == 0) {
				sb_error_set(errp, "'%s' is not an errno name (e.g. EIO, ETIMEDOUT)", tok);
				free(copy);
				return -1;
			}
			e = (int)n;
		}
		sb_errset_add(&set, e);
	}
	free(copy);
	*out = set;
	return 0;
}

void sb_errset_format(const struct sb_errset *s, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int e = 1; e < SB_ERRSET_MAX; e++) {
		if (!sb_errset_has(s, e))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", sb_errno_name(e));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void sb_policy_init(struct sb_policy *p)
{
	memset(p, 0, sizeof(*p));
	for (int op = 0; op < SB_OP_COUNT; op++)
		p->action[op] = SB_ACTION_REPORT;
	p->retry_interval_ns = 1 * SB_NS_PER_SEC;
	p->retry_max_interval_ns = 30 * SB_NS_PER_SEC;
	p->retry_timeout_ns = 0;
	p->retry_then = SB_ACTION_REPORT;
	sb_errset_default(&p->retry_errors);
	p->max_held_requests = 1024;
	p->max_held_bytes = 256u << 20;
}

void sb_policy_set_rerror(struct sb_policy *p, enum sb_action a)
{
	for (int op = 0; op < SB_OP_COUNT; op++)
		if (!sb_op_is_write(op))
			p->action[op] = a;
}

void sb_policy_set_werror(struct sb_policy *p, enum sb_action a)
{
	for (int op = 0; op < SB_OP_COUNT; op++)
		if (sb_op_is_write(op))
			p->action[op] = a;
}

/* The parsers cap what they read; checking again here also covers a policy
 * built any other way, so that the deadline arithmetic cannot wrap. */
static int duration_ok(uint64_t ns, const char *name, struct sb_error **errp)
{
	if (ns > SB_DURATION_MAX_NS)
		return sb_error_set(errp, "%s must be at most " SB_DURATION_MAX_TEXT, name);
	return 0;
}

int sb_policy_validate(const struct sb_policy *p, struct sb_error **errp)
{
	if (duration_ok(p->retry_interval_ns, "retry-interval", errp) < 0 ||
	    duration_ok(p->retry_max_interval_ns, "retry-max-interval", errp) < 0 ||
	    duration_ok(p->retry_timeout_ns, "retry-timeout", errp) < 0)
		return -1;
	if (p->retry_then != SB_ACTION_REPORT && p->retry_then != SB_ACTION_STOP)
		return sb_error_set(errp, "retry-then must be report or stop, not %s",
				    sb_action_name(p->retry_then));
	if (p->retry_interval_ns < SB_NS_PER_MS)
		return sb_error_set(errp, "retry-interval must be at least 1ms");
	if (p->retry_max_interval_ns < p->retry_interval_ns)
		return sb_error_set(errp, "retry-max-interval must not be shorter than retry-interval");
	if (p->max_held_requests == 0)
		return sb_error_set(errp, "max-held-requests must be at least 1");
	if (p->max_held_bytes == 0)
		return sb_error_set(errp, "max-held-bytes must be at least 1");
	return 0;
}

enum sb_verdict sb_policy_decide(const struct sb_policy *p, enum sb_op op, int err)
{
	switch (p->action[op]) {
	case SB_ACTION_IGNORE:
		return SB_VERDICT_IGNORE;
	case SB_ACTION_STOP:
		return SB_VERDICT_STOP;
	case SB_ACTION_ENOSPC:
		return err == -ENOSPC ? SB_VERDICT_STOP : SB_VERDICT_REPORT;
	case SB_ACTION_RETRY:
		return sb_errset_has(&p->retry_errors, err) ? SB_VERDICT_RETRY
							    : SB_VERDICT_REPORT;
	case SB_ACTION_REPORT:
	default:
		return SB_VERDICT_REPORT;
	}
}

enum sb_verdict sb_policy_timeout_verdict(const struct sb_policy *p)
{
	return p->retry_then == SB_ACTION_STOP ? SB_VERDICT_STOP : SB_VERDICT_REPORT;
}

bool sb_policy_expired(const struct sb_policy *p, uint64_t held_since_ns, uint64_t now_ns)
{
	/* A difference, not a sum: nothing to wrap, whatever the values. */
	return p->retry_timeout_ns && held_since_ns && now_ns >= held_since_ns &&
	       now_ns - held_since_ns >= p->retry_timeout_ns;
}

static uint64_t backoff_from(const struct sb_policy *p, uint64_t d, unsigned attempt,
			     uint64_t *rng)
{
	uint64_t max = p->retry_max_interval_ns;

	/* Doubling saturates at the ceiling instead of wrapping past it. */
	for (unsigned i = 0; i < attempt && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	if (d > max)
		d = max;

	/* Jitter of +-25% (xorshift64) so that many disks behind one SAN do not
	 * probe in lockstep; then clamp, so the bounds hold whatever the jitter. */
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	uint64_t span = d / 2;
	if (span) {
		uint64_t low = d - d / 4, add = x % (span + 1);
		d = add > UINT64_MAX - low ? UINT64_MAX : low + add;
	}
	if (d > max)
		d = max;
	if (d < SB_NS_PER_MS)
		d = SB_NS_PER_MS;
	return d;
}

uint64_t sb_policy_backoff(const struct sb_policy *p, unsigned attempt, uint64_t *rng)
{
	return backoff_from(p, p->retry_interval_ns, attempt, rng);
}

uint64_t sb_policy_flaky_backoff(const struct sb_policy *p, unsigned attempt, uint64_t *rng)
{
	return backoff_from(p, SB_MIN(p->retry_interval_ns, SB_FLAKY_FIRST_RETRY_NS), attempt,
			    rng);
}
