/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a vhost-user front end's guest memory: the regions it
 * shares (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG), and the translation of
 * guest-physical and front-end-virtual addresses to ours.  Nothing the
 * guest or the front end names is trusted: every translation checks that
 * the whole range lies in shared memory, without overflow. */
#ifndef SB_VHOST_USER_MEM_H
#define SB_VHOST_USER_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/error.h"
#include "exports/vhost-user/proto.h"

struct sb_vu_region {
	uint64_t gpa;        /* guest-physical start */
	uint64_t size;       /* bytes */
	uint64_t uva;        /* the front end's virtual start */
	unsigned char *hva;  /* ours, for gpa */
	void *map;           /* what to munmap, NULL if the caller owns it */
	size_t map_size;
	uint64_t mmap_offset;
	uint64_t file_dev;   /* the file mapped (0, 0 for memory of the caller) */
	uint64_t file_ino;
	int fd;              /* a copy of the file's fd, to map it again; or -1 */
};

struct sb_vu_mem {
	struct sb_vu_region r[VHOST_USER_MAX_MEM_SLOTS];
	unsigned n;
};

/* An empty table. */
void sb_vu_mem_init(struct sb_vu_mem *m);

/* Maps region @d from @fd (MAP_SHARED, from offset 0 through mmap_offset +
 * memory_size) and adds it.  @fd stays the caller's; the region keeps a
 * copy of it (sb_vu_mem_divert maps the memory again).  Refuses an empty, wrapping or overlapping region and a
 * full table.  Returns 0, or -1 with @errp set. */
int sb_vu_mem_add(struct sb_vu_mem *m, const struct vhost_user_mem_region *d, int fd,
		  struct sb_error **errp);

/* As sb_vu_mem_add for memory the caller has mapped already and keeps:
 * @hva is where guest-physical d->guest_phys_addr is (unit tests, and the
 * fuzz harnesses). */
int sb_vu_mem_add_mapped(struct sb_vu_mem *m, const struct vhost_user_mem_region *d,
			 void *hva, struct sb_error **errp);

/* Moves the region of @from that matches @d's guest-physical address,
 * size and front-end address into @to, mapping and all (REM_MEM_REG: the
 * caller unmaps it once nothing points into it).  Returns 0, or -1 with
 * @errp set. */
int sb_vu_mem_take(struct sb_vu_mem *from, const struct vhost_user_mem_region *d,
		   struct sb_vu_mem *to, struct sb_error **errp);

/* Moves the region of @from that @d names over the same file as @fd (the
 * same memory: QEMU sends its table again at every start) into @to,
 * keeping its mapping.  Returns true if there was one. */
bool sb_vu_mem_take_same(struct sb_vu_mem *from, const struct vhost_user_mem_region *d, int fd,
			 struct sb_vu_mem *to);

/* Requests of a device instance that has ended (a reset, a front end
 * gone) may still write into guest memory: a read at a slow backend lands
 * when it lands.  Maps every region of @m afresh, for what comes next, and
 * puts over its old addresses a private copy-on-write mapping of the same
 * memory: what still points there reads the guest's memory as it is, and
 * what it writes the guest never sees.  Those mappings go into @old, to be
 * unmapped once nothing points into them.  Returns how many regions could
 * not be moved (they stay as they were). */
unsigned sb_vu_mem_divert(struct sb_vu_mem *m, struct sb_vu_mem *old);

/* Removes and unmaps every region. */
void sb_vu_mem_clear(struct sb_vu_mem *m);

/* Our address of [@gpa, @gpa + @len) when it lies in one region, or NULL. */
void *sb_vu_mem_gpa(const struct sb_vu_mem *m, uint64_t gpa, uint64_t len);

/* The guest-physical address of our @hva, when it lies in a region:
 * returns false otherwise. */
bool sb_vu_mem_hva_gpa(const struct sb_vu_mem *m, const void *hva, uint64_t *gpa);

/* The same for a front-end virtual address (the rings' addresses). */
void *sb_vu_mem_uva(const struct sb_vu_mem *m, uint64_t uva, uint64_t len);

/* Appends [@gpa, @gpa + @len) to @iov as one entry per region it crosses.
 * @len may be 0 (nothing is appended).  Returns the entries appended, or
 * -EFAULT if part of the range is outside guest memory, -ENOBUFS if more
 * than @room entries would be needed. */
int sb_vu_mem_gpa_iov(const struct sb_vu_mem *m, uint64_t gpa, uint64_t len,
		      struct iovec *iov, unsigned room);

#endif
