/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the migration's dirty log (log.h). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "exports/vhost-user/log.h"

void sb_vu_log_init(struct sb_vu_log *l)
{
	memset(l, 0, sizeof(*l));
}

int sb_vu_log_set(struct sb_vu_log *l, int fd, const struct vhost_user_log *msg,
		  struct sb_error **errp)
{
	uint64_t end;
	struct stat st;
	void *map;

	if (msg->mmap_size == 0 || __builtin_add_overflow(msg->mmap_offset, msg->mmap_size, &end) ||
	    end > SIZE_MAX)
		return sb_error_set(errp, "a dirty log of %" PRIu64 " bytes at offset %" PRIu64,
				    msg->mmap_size, msg->mmap_offset);
	/* A file shorter than the log would fault on the first mark. */
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size < end)
		return sb_error_set(errp, "the dirty log's file is shorter than its %" PRIu64
				    " bytes", end);
	map = mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return sb_error_set(errp, "mapping the dirty log: %s", strerror(errno));
	sb_vu_log_clear(l);
	l->map = map;
	l->map_size = (size_t)end;
	l->bits = (uint8_t *)map + msg->mmap_offset;
	l->bytes = msg->mmap_size;
	return 0;
}

void sb_vu_log_clear(struct sb_vu_log *l)
{
	if (l->map)
		munmap(l->map, l->map_size);
	sb_vu_log_init(l);
}

void sb_vu_log_write(const struct sb_vu_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!l->bits || len == 0)
		return;
	page = gpa / SB_VU_LOG_PAGE;
	last = (gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1) / SB_VU_LOG_PAGE;
	for (; page <= last && page / 8 < l->bytes; page++)
		__atomic_fetch_or(&l->bits[page / 8], (uint8_t)(1u << (page % 8)), __ATOMIC_RELAXED);
}
