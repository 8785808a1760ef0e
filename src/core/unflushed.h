/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the unflushed-write log: the writes, trims and write-zeroes
 * a backend acknowledged since its last successful flush, kept so that they
 * can be written again if the backend loses its volatile cache (DESIGN.md
 * invariant 2).
 *
 * One ring of bytes, allocated once: an entry is a 32-byte header followed
 * by the write's data, never split across the end of the ring, so a replay
 * hands the backend one contiguous buffer.  Entries are appended in
 * completion order and numbered (the LSN); a flush that succeeds drops every
 * entry older than the mark taken when it was issued.  Appending copies the
 * data once and never allocates.
 *
 *   tail (oldest)                  head (next append)
 *     v                              v
 *   [hdr|data][hdr|data][hdr]...[hdr|data]   free   [pad to the end]
 */
#ifndef SB_UNFLUSHED_H
#define SB_UNFLUSHED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/request.h"

struct sb_unflushed;

struct sb_unflushed_entry {
	uint64_t lsn;
	uint64_t offset;
	uint32_t length;
	uint32_t size;       /* bytes in the ring: header, data, padding */
	uint16_t op;         /* enum sb_op, or the internal pad marker */
	uint16_t flags;      /* SB_REQ_* of the original request */
	uint32_t dead;       /* given up after a failed replay: skip it */
	unsigned char data[]; /* SB_OP_WRITE: length bytes */
};

/* A log of @capacity bytes (rounded down to the entry alignment), or NULL
 * without memory.  Its memory is reserved, not touched, until used. */
struct sb_unflushed *sb_unflushed_new(uint64_t capacity);
void sb_unflushed_free(struct sb_unflushed *log);

/* Copies @req (a completed write, trim or write-zeroes) into the log.
 * Returns false, changing nothing, if it does not fit now. */
bool sb_unflushed_append(struct sb_unflushed *log, const struct sb_request *req);
/* The mark a flush takes when it is issued: it covers every entry older. */
uint64_t sb_unflushed_mark(const struct sb_unflushed *log);
/* A flush issued at @mark succeeded: drops the entries it covers. */
void sb_unflushed_flushed(struct sb_unflushed *log, uint64_t mark);

bool sb_unflushed_empty(const struct sb_unflushed *log);
/* True once at least half the ring is in use: time for a flush of our own. */
bool sb_unflushed_half_full(const struct sb_unflushed *log);
uint64_t sb_unflushed_entries(const struct sb_unflushed *log);
uint64_t sb_unflushed_bytes(const struct sb_unflushed *log);   /* payload */
uint64_t sb_unflushed_capacity(const struct sb_unflushed *log);

/* Iterates the live entries oldest first, for a replay: NULL at the end. */
struct sb_unflushed_entry *sb_unflushed_first(struct sb_unflushed *log);
struct sb_unflushed_entry *sb_unflushed_next(struct sb_unflushed *log,
					     struct sb_unflushed_entry *e);

#endif
