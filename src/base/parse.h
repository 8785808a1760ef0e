/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: parsers shared by the command line and the management socket. */
#ifndef SB_PARSE_H
#define SB_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* The longest duration any option takes: one year.  Far beyond any sane
 * delay or timeout, and small enough that a monotonic clock value plus two
 * of them (held_since + retry-timeout, a doubled backoff) stays far below
 * 2^63: deadline arithmetic cannot wrap.  QMP's millisecond numbers have
 * the same bound. */
#define SB_DURATION_MAX_NS (365ull * 24 * 3600 * 1000000000ull)
#define SB_DURATION_MAX_TEXT "1 year (8760h)"

/* Parses a duration: a number with a unit, "250ms", "2s", "1m", "1h", or
 * "500us"; a bare number means seconds; at most SB_DURATION_MAX_NS.
 * Returns 0 and sets *ns, or -1 with *errp set (naming the maximum when
 * that is what is wrong). */
int sb_parse_duration(const char *s, uint64_t *ns, struct sb_error **errp);
/* Parses a size: "4096", "64k", "512M", "2G" (powers of 1024). */
int sb_parse_size(const char *s, uint64_t *bytes, struct sb_error **errp);
/* Parses a non-negative integer that fits in @max. */
int sb_parse_uint(const char *s, uint64_t max, uint64_t *out, struct sb_error **errp);
/* Formats a duration the way sb_parse_duration reads it back. */
void sb_format_duration(uint64_t ns, char *buf, size_t len);

/* Returns @path made absolute against the current directory (a new string
 * to free), so that it still names the same file after the daemon changes
 * directory; NULL if out of memory or the current directory is unknown. */
char *sb_absolute_path(const char *path);

/* errno names: "EIO" <-> 5, through glibc's own table.  Returns 0 if unknown. */
int sb_errno_from_name(const char *name);
/* Returns "EIO" for 5 (sign ignored), or "E?" for an unknown number. */
const char *sb_errno_name(int err);

#endif
