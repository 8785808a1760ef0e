/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the fault-injection filter: a backend that wraps another one
 * and makes chosen operations fail on demand.
 *
 * Per operation: an errno, a rate, an optional offset range; switched on and
 * off at run time through the management socket (sb_fault_set) or a trigger
 * file for scripts (while the file exists, its rules apply).  The tests use
 * it to create outages on a local file; users use it for chaos tests.
 */
#ifndef SB_FAULT_H
#define SB_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"

struct sb_fault_rule {
	bool enabled;
	int err;                /* -errno to inject, e.g. -EIO */
	uint32_t rate_ppm;      /* chance per request, in millionths (1000000 = always) */
	uint64_t offset_start;  /* requests touching [start, end) fail ... */
	uint64_t offset_end;    /* ... end = UINT64_MAX: any offset.  A flush
				   touches no offset: only a rule for the
				   whole disk (0, UINT64_MAX) catches it. */
};

struct sb_fault;

/* Wraps @inner in a fault filter, taking ownership of it: on failure @inner
 * is closed too.  @trigger_file may be NULL; otherwise, while that file
 * exists its rules apply (format in docs/fault-injection.md; a file without
 * rules means every operation fails with EIO).  Its directory must exist: it
 * is watched with inotify, so a change applies at once.  Returns 0 and *out
 * (the filter's backend, which closes @inner when closed), or -1 with *errp
 * set. */
int sb_fault_wrap(struct sb_loop *loop, struct sb_backend *inner,
		  const char *trigger_file, struct sb_backend **out,
		  struct sb_error **errp);

/* The filter behind @be, or NULL if @be is not a fault filter. */
struct sb_fault *sb_fault_from_backend(struct sb_backend *be);

/* Sets the run-time rule for @op, or for every operation if @op is
 * SB_OP_COUNT.  The trigger file's rules apply on top. */
void sb_fault_set(struct sb_fault *f, enum sb_op op, const struct sb_fault_rule *rule);
/* Copies the run-time rule of @op (not SB_OP_COUNT) into *out. */
void sb_fault_get(const struct sb_fault *f, enum sb_op op, struct sb_fault_rule *out);
/* Switches every run-time rule off. */
void sb_fault_clear(struct sb_fault *f);
/* Counts of injected failures of @op, or of all operations if @op is
 * SB_OP_COUNT. */
uint64_t sb_fault_injected(const struct sb_fault *f, enum sb_op op);

/* The trigger file's absolute path, or NULL if there is none. */
const char *sb_fault_trigger_file(const struct sb_fault *f);
/* True while the trigger file exists (its rules apply). */
bool sb_fault_trigger_active(const struct sb_fault *f);

/* Parses one rule line "OP ERRNO [RATE%] [START-END]" (the trigger file's
 * format).  @op_out gets the operation, or SB_OP_COUNT for "all"; the rule
 * comes back enabled.  Returns 0, or -1 with *errp saying what is wrong. */
int sb_fault_parse_rule(const char *line, enum sb_op *op_out,
			struct sb_fault_rule *rule, struct sb_error **errp);
/* Parses an operation name: read, write, flush, trim, zero (or
 * write-zeroes), block-status, cache, and all, which gives SB_OP_COUNT.
 * Returns 0 or -1. */
int sb_fault_parse_op(const char *s, enum sb_op *out, struct sb_error **errp);
/* Writes @rule for @op (SB_OP_COUNT = all) into @buf in the format that
 * sb_fault_parse_rule() reads back, e.g. "write ENOSPC 50% 0-1048576". */
void sb_fault_format_rule(enum sb_op op, const struct sb_fault_rule *rule,
			  char *buf, size_t len);

#endif
