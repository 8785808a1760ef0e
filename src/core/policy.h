/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the error policy: what a backend error does to a request.
 *
 * The vocabulary is QEMU's werror/rerror: report, ignore, stop, enospc, retry.
 * retry is orthogonal to the final outcome: after retry-timeout a request gets
 * retry-then (report or stop).  This file is pure logic (no loop, no I/O) so
 * the whole decision table is unit tested.
 */
#ifndef SB_POLICY_H
#define SB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "core/request.h"

enum sb_action {
	SB_ACTION_REPORT,
	SB_ACTION_IGNORE,
	SB_ACTION_STOP,
	SB_ACTION_ENOSPC,
	SB_ACTION_RETRY,
};

/* What the core does with one failed request. */
enum sb_verdict {
	SB_VERDICT_REPORT, /* complete with the error */
	SB_VERDICT_IGNORE, /* complete with success */
	SB_VERDICT_STOP,   /* hold it and stop the disk */
	SB_VERDICT_RETRY,  /* hold it and retry */
};

#define SB_ERRSET_MAX 256
struct sb_errset {
	uint64_t bits[SB_ERRSET_MAX / 64];
};

struct sb_policy {
	enum sb_action action[SB_OP_COUNT];  /* rerror for reads (block status, cache), werror for the rest */
	uint64_t retry_interval_ns;          /* first delay between probes */
	uint64_t retry_max_interval_ns;      /* backoff ceiling */
	uint64_t retry_timeout_ns;           /* per request, from its first hold; 0 = forever */
	enum sb_action retry_then;           /* REPORT or STOP */
	struct sb_errset retry_errors;       /* errnos worth retrying */
	uint32_t max_held_requests;          /* memory bound: count ... */
	uint64_t max_held_bytes;             /* ... and payload bytes */
};

/* Fills @p with the defaults: report everywhere, 1s interval, 30s ceiling,
 * no timeout, retry-then report, the transient errno set, 1024 requests,
 * 256 MiB. */
void sb_policy_init(struct sb_policy *p);

/* The decision for a request of @op that failed with @err (-errno). */
enum sb_verdict sb_policy_decide(const struct sb_policy *p, enum sb_op op, int err);
/* The decision once a held request's retry-timeout has passed. */
enum sb_verdict sb_policy_timeout_verdict(const struct sb_policy *p);
/* True if a request held since @held_since_ns has run out of time at @now_ns. */
bool sb_policy_expired(const struct sb_policy *p, uint64_t held_since_ns, uint64_t now_ns);

/* Backoff: the delay before probe number @attempt (0-based) with +-25%
 * jitter from @rng; never below 1 ms, never above retry-max-interval. */
uint64_t sb_policy_backoff(const struct sb_policy *p, unsigned attempt, uint64_t *rng);
/* The delay before retry @attempt of one request that failed while the
 * backend answers others (a flaky path): the same doubling and ceiling, but
 * from SB_FLAKY_FIRST_RETRY_NS (or retry_interval if smaller), so that one
 * failure in twenty costs a request milliseconds, not a whole interval. */
#define SB_FLAKY_FIRST_RETRY_NS (2 * SB_NS_PER_MS)
uint64_t sb_policy_flaky_backoff(const struct sb_policy *p, unsigned attempt, uint64_t *rng);

/* Sets read actions (rerror) or write actions (werror: write, flush, trim, zero). */
void sb_policy_set_rerror(struct sb_policy *p, enum sb_action a);
void sb_policy_set_werror(struct sb_policy *p, enum sb_action a);

/* Checks that the fields agree with each other (e.g. interval <= max
 * interval, retry-then is report or stop).  Returns 0 or -1 with *errp. */
int sb_policy_validate(const struct sb_policy *p, struct sb_error **errp);

int sb_action_parse(const char *s, enum sb_action *out, struct sb_error **errp);
const char *sb_action_name(enum sb_action a);

void sb_errset_clear(struct sb_errset *s);
void sb_errset_add(struct sb_errset *s, int err);
bool sb_errset_has(const struct sb_errset *s, int err);
/* Parses "EIO,ETIMEDOUT,..." (names or numbers).  Returns 0 or -1 with *errp. */
int sb_errset_parse(const char *list, struct sb_errset *out, struct sb_error **errp);
/* Writes "EIO,ENOSPC,..." into @buf. */
void sb_errset_format(const struct sb_errset *s, char *buf, size_t len);
/* The default transient set. */
void sb_errset_default(struct sb_errset *s);

#endif
