/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the unflushed-write log, a ring of entries (see unflushed.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/unflushed.h"

#define ENTRY_ALIGN 32u              /* = sizeof(struct sb_unflushed_entry) */
#define OP_PAD 0xffffu               /* the rest of the ring is unused */

_Static_assert(sizeof(struct sb_unflushed_entry) == ENTRY_ALIGN, "entry header size");

struct sb_unflushed {
	unsigned char *ring;
	uint64_t cap;
	uint64_t head;      /* where the next entry goes */
	uint64_t tail;      /* the oldest entry (or a pad before it) */
	uint64_t used;      /* bytes between tail and head, pads included */
	uint64_t entries;
	uint64_t payload;   /* data bytes of the entries */
	uint64_t next_lsn;  /* the next entry's number; the first is 1 */
};

struct sb_unflushed *sb_unflushed_new(uint64_t capacity)
{
	struct sb_unflushed *log = calloc(1, sizeof(*log));

	capacity -= capacity % ENTRY_ALIGN;
	if (!log || capacity < ENTRY_ALIGN) {
		free(log);
		return NULL;
	}
	/* Reserved, not committed: pages cost memory only once written. */
	log->ring = mmap(NULL, capacity, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (log->ring == MAP_FAILED) {
		free(log);
		return NULL;
	}
	log->cap = capacity;
	log->next_lsn = 1;
	return log;
}

void sb_unflushed_free(struct sb_unflushed *log)
{
	if (!log)
		return;
	munmap(log->ring, log->cap);
	free(log);
}

static struct sb_unflushed_entry *at(const struct sb_unflushed *log, uint64_t pos)
{
	return (struct sb_unflushed_entry *)(log->ring + pos);
}

static uint32_t data_len(const struct sb_request *req)
{
	return req->op == SB_OP_WRITE ? req->length : 0;
}

/* Where an entry of @size bytes fits now, padding to the end of the ring if
 * it must wrap; UINT64_MAX if it does not fit. */
static uint64_t place(struct sb_unflushed *log, uint64_t size)
{
	if (log->used == 0)
		log->head = log->tail = 0; /* empty: start over, contiguous */
	if (log->used == log->cap || size > log->cap)
		return UINT64_MAX;
	if (log->head >= log->tail) {
		if (log->cap - log->head >= size)
			return log->head;
		if (size > log->tail)
			return UINT64_MAX;
		/* Wrap: the rest of the ring becomes a pad entry. */
		struct sb_unflushed_entry *pad = at(log, log->head);
		pad->op = OP_PAD;
		pad->size = (uint32_t)(log->cap - log->head);
		log->used += log->cap - log->head;
		log->head = 0;
		return 0;
	}
	return log->tail - log->head >= size ? log->head : UINT64_MAX;
}

bool sb_unflushed_append(struct sb_unflushed *log, const struct sb_request *req)
{
	uint32_t len = data_len(req);
	uint64_t size = ((uint64_t)sizeof(struct sb_unflushed_entry) + len + ENTRY_ALIGN - 1) &
			~(uint64_t)(ENTRY_ALIGN - 1);
	uint64_t pos = place(log, size);
	struct sb_unflushed_entry *e;

	if (pos == UINT64_MAX)
		return false;
	e = at(log, pos);
	e->lsn = log->next_lsn++;
	e->offset = req->offset;
	e->length = req->length;
	e->size = (uint32_t)size;
	e->op = (uint16_t)req->op;
	e->flags = (uint16_t)req->flags;
	e->dead = 0;
	if (len)
		sb_request_copy_data(req, e->data);
	log->head = pos + size == log->cap ? 0 : pos + size;
	log->used += size;
	log->entries++;
	log->payload += len;
	return true;
}

uint64_t sb_unflushed_mark(const struct sb_unflushed *log)
{
	return log->next_lsn;
}

void sb_unflushed_flushed(struct sb_unflushed *log, uint64_t mark)
{
	while (log->used) {
		struct sb_unflushed_entry *e = at(log, log->tail);

		if (e->op != OP_PAD && e->lsn >= mark)
			break;
		log->used -= e->size;
		if (e->op != OP_PAD) {
			log->entries--;
			log->payload -= e->op == SB_OP_WRITE ? e->length : 0;
		}
		log->tail += e->size;
		if (log->tail == log->cap)
			log->tail = 0;
	}
}

bool sb_unflushed_empty(const struct sb_unflushed *log)
{
	return log->entries == 0;
}

bool sb_unflushed_half_full(const struct sb_unflushed *log)
{
	return log->used * 2 >= log->cap;
}

uint64_t sb_unflushed_entries(const struct sb_unflushed *log)
{
	return log->entries;
}

uint64_t sb_unflushed_bytes(const struct sb_unflushed *log)
{
	return log->payload;
}

uint64_t sb_unflushed_capacity(const struct sb_unflushed *log)
{
	return log->cap;
}

/* The first live entry at or after @pos, which holds an entry or a pad. */
static struct sb_unflushed_entry *live_from(struct sb_unflushed *log, uint64_t pos)
{
	for (;;) {
		struct sb_unflushed_entry *e = at(log, pos);

		if (e->op == OP_PAD) {
			pos = 0;
			continue;
		}
		if (!e->dead)
			return e;
		if (e->lsn + 1 == log->next_lsn)
			return NULL;
		pos += e->size;
		if (pos == log->cap)
			pos = 0;
	}
}

struct sb_unflushed_entry *sb_unflushed_first(struct sb_unflushed *log)
{
	return log->entries ? live_from(log, log->tail) : NULL;
}

struct sb_unflushed_entry *sb_unflushed_next(struct sb_unflushed *log,
					     struct sb_unflushed_entry *e)
{
	uint64_t pos = (uint64_t)((unsigned char *)e - log->ring) + e->size;

	if (e->lsn + 1 == log->next_lsn)
		return NULL;
	return live_from(log, pos == log->cap ? 0 : pos);
}
