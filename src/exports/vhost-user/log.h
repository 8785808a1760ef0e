/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the dirty log of a live migration (VHOST_F_LOG_ALL with
 * LOG_SHMFD): a bitmap QEMU shares (SET_LOG_BASE), one bit per 4 KiB page
 * of guest-physical memory, in which the device marks every page it
 * writes (read data, status bytes, the used ring) so that QEMU sends it
 * to the destination again.  QEMU reads and clears bits while we set
 * them: bits are set with an atomic OR, never cleared here. */
#ifndef SB_VHOST_USER_LOG_H
#define SB_VHOST_USER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "exports/vhost-user/proto.h"

#define SB_VU_LOG_PAGE 4096u

struct sb_vu_log {
	void *map;               /* NULL: no log */
	size_t map_size;
	uint8_t *bits;           /* the bitmap, at the message's offset */
	uint64_t bytes;          /* of the bitmap */
};

void sb_vu_log_init(struct sb_vu_log *l);

/* Maps the log of @msg from @fd (the caller keeps @fd), replacing any
 * log before.  Returns 0, or -1 with @errp set (the log before stays). */
int sb_vu_log_set(struct sb_vu_log *l, int fd, const struct vhost_user_log *msg,
		  struct sb_error **errp);

/* Unmaps it. */
void sb_vu_log_clear(struct sb_vu_log *l);

/* Marks the pages of guest-physical [@gpa, @gpa + @len) written.  Pages
 * past the bitmap are not marked (QEMU sizes it for all of guest memory). */
void sb_vu_log_write(const struct sb_vu_log *l, uint64_t gpa, uint64_t len);

#endif
