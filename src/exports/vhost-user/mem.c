/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the guest memory table of a vhost-user front end (mem.h).
 * Tables hold a handful of regions (QEMU: RAM below and above 4 GiB, maybe
 * a few DIMMs), so a lookup is a linear scan. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "exports/vhost-user/mem.h"

void sb_vu_mem_init(struct sb_vu_mem *m)
{
	memset(m, 0, sizeof(*m));
}

/* Is [@start, @start + @len) inside [@base, @base + @size)?  No sum may
 * wrap: the guest chooses @start and @len. */
static bool range_within(uint64_t start, uint64_t len, uint64_t base, uint64_t size)
{
	return start >= base && start - base < size && len <= size - (start - base);
}

static int check_new(const struct sb_vu_mem *m, const struct vhost_user_mem_region *d,
		     struct sb_error **errp)
{
	uint64_t end;

	if (m->n == VHOST_USER_MAX_MEM_SLOTS)
		return sb_error_set(errp, "more than %u memory regions", VHOST_USER_MAX_MEM_SLOTS);
	if (d->memory_size == 0 ||
	    __builtin_add_overflow(d->guest_phys_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->userspace_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->mmap_offset, d->memory_size, &end) || end > SIZE_MAX)
		return sb_error_set(errp, "memory region at guest address 0x%" PRIx64
				    " of %" PRIu64 " bytes is empty or wraps",
				    d->guest_phys_addr, d->memory_size);
	for (unsigned i = 0; i < m->n; i++) {
		const struct sb_vu_region *r = &m->r[i];
		if (d->guest_phys_addr < r->gpa + r->size && r->gpa < d->guest_phys_addr + d->memory_size)
			return sb_error_set(errp, "memory region at guest address 0x%" PRIx64
					    " overlaps the one at 0x%" PRIx64, d->guest_phys_addr,
					    r->gpa);
	}
	return 0;
}

static void put(struct sb_vu_mem *m, const struct vhost_user_mem_region *d, unsigned char *hva,
		void *map, size_t map_size, const struct stat *st, int fd)
{
	m->r[m->n++] = (struct sb_vu_region){
		.gpa = d->guest_phys_addr,
		.size = d->memory_size,
		.uva = d->userspace_addr,
		.hva = hva,
		.map = map,
		.map_size = map_size,
		.mmap_offset = d->mmap_offset,
		.file_dev = st ? (uint64_t)st->st_dev : 0,
		.file_ino = st ? (uint64_t)st->st_ino : 0,
		.fd = fd,
	};
}

int sb_vu_mem_add(struct sb_vu_mem *m, const struct vhost_user_mem_region *d, int fd,
		  struct sb_error **errp)
{
	size_t map_size;
	struct stat st;
	void *map;
	int copy;

	if (check_new(m, d, errp) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return sb_error_set(errp, "memory region fd: %s", strerror(errno));
	/* A file shorter than the region would fault on the first touch. */
	if (st.st_size < 0 || (uint64_t)st.st_size < d->mmap_offset + d->memory_size)
		return sb_error_set(errp, "memory region at guest address 0x%" PRIx64
				    " ends past its file (%" PRIu64 " bytes)", d->guest_phys_addr,
				    (uint64_t)st.st_size);
	/* mmap wants a page-aligned offset; QEMU's offsets are not always. */
	map_size = (size_t)(d->mmap_offset + d->memory_size);
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (map == MAP_FAILED)
		return sb_error_set(errp, "mapping memory region at guest address 0x%" PRIx64
				    " (%" PRIu64 " bytes): %s", d->guest_phys_addr,
				    d->memory_size, strerror(errno));
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0) {
		munmap(map, map_size);
		return sb_error_set(errp, "memory region fd: %s", strerror(errno));
	}
	put(m, d, (unsigned char *)map + d->mmap_offset, map, map_size, &st, copy);
	return 0;
}

int sb_vu_mem_add_mapped(struct sb_vu_mem *m, const struct vhost_user_mem_region *d,
			 void *hva, struct sb_error **errp)
{
	if (check_new(m, d, errp) < 0)
		return -1;
	put(m, d, hva, NULL, 0, NULL, -1);
	return 0;
}

static void drop(struct sb_vu_mem *m, unsigned i)
{
	if (m->r[i].map)
		munmap(m->r[i].map, m->r[i].map_size);
	if (m->r[i].fd >= 0)
		close(m->r[i].fd);
	m->r[i] = m->r[--m->n];
}

/* Moves region @i of @from, mapping and all, to the end of @to. */
static void move_region(struct sb_vu_mem *from, unsigned i, struct sb_vu_mem *to)
{
	to->r[to->n++] = from->r[i];
	from->r[i] = from->r[--from->n];
}

int sb_vu_mem_take(struct sb_vu_mem *from, const struct vhost_user_mem_region *d,
		   struct sb_vu_mem *to, struct sb_error **errp)
{
	for (unsigned i = 0; i < from->n; i++) {
		const struct sb_vu_region *r = &from->r[i];
		if (r->gpa == d->guest_phys_addr && r->size == d->memory_size &&
		    r->uva == d->userspace_addr && to->n < VHOST_USER_MAX_MEM_SLOTS) {
			move_region(from, i, to);
			return 0;
		}
	}
	return sb_error_set(errp, "no memory region at guest address 0x%" PRIx64 " of %" PRIu64
			    " bytes to remove", d->guest_phys_addr, d->memory_size);
}

bool sb_vu_mem_take_same(struct sb_vu_mem *from, const struct vhost_user_mem_region *d, int fd,
			 struct sb_vu_mem *to)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || to->n == VHOST_USER_MAX_MEM_SLOTS)
		return false;
	for (unsigned i = 0; i < from->n; i++) {
		const struct sb_vu_region *r = &from->r[i];
		if (r->map && r->gpa == d->guest_phys_addr && r->size == d->memory_size &&
		    r->uva == d->userspace_addr && r->mmap_offset == d->mmap_offset &&
		    r->file_dev == (uint64_t)st.st_dev && r->file_ino == (uint64_t)st.st_ino) {
			move_region(from, i, to);
			return true;
		}
	}
	return false;
}

unsigned sb_vu_mem_divert(struct sb_vu_mem *m, struct sb_vu_mem *old)
{
	unsigned stuck = 0;

	for (unsigned i = 0; i < m->n; i++) {
		struct sb_vu_region *r = &m->r[i];
		void *fresh, *cow;

		if (!r->map || r->fd < 0 || old->n == VHOST_USER_MAX_MEM_SLOTS) {
			stuck++;
			continue;
		}
		fresh = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			     r->fd, 0);
		if (fresh == MAP_FAILED) {
			stuck++;
			continue;
		}
		cow = mmap(r->map, r->map_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, r->fd, 0);
		if (cow == MAP_FAILED) {
			munmap(fresh, r->map_size);
			stuck++;
			continue;
		}
		old->r[old->n] = *r;
		old->r[old->n++].fd = -1;
		r->map = fresh;
		r->hva = (unsigned char *)fresh + r->mmap_offset;
	}
	return stuck;
}

void sb_vu_mem_clear(struct sb_vu_mem *m)
{
	while (m->n)
		drop(m, m->n - 1);
}

void *sb_vu_mem_uva(const struct sb_vu_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++)
		if (range_within(uva, len, m->r[i].uva, m->r[i].size))
			return m->r[i].hva + (uva - m->r[i].uva);
	return NULL;
}

/* The region that holds guest-physical @gpa, or NULL. */
static const struct sb_vu_region *region_at(const struct sb_vu_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->n; i++)
		if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].size)
			return &m->r[i];
	return NULL;
}

void *sb_vu_mem_gpa(const struct sb_vu_mem *m, uint64_t gpa, uint64_t len)
{
	const struct sb_vu_region *r = region_at(m, gpa);

	return r && len <= r->size - (gpa - r->gpa) ? r->hva + (gpa - r->gpa) : NULL;
}

bool sb_vu_mem_hva_gpa(const struct sb_vu_mem *m, const void *hva, uint64_t *gpa)
{
	const unsigned char *p = hva;

	for (unsigned i = 0; i < m->n; i++)
		if (p >= m->r[i].hva && (uint64_t)(p - m->r[i].hva) < m->r[i].size) {
			*gpa = m->r[i].gpa + (uint64_t)(p - m->r[i].hva);
			return true;
		}
	return false;
}

int sb_vu_mem_gpa_iov(const struct sb_vu_mem *m, uint64_t gpa, uint64_t len,
		      struct iovec *iov, unsigned room)
{
	unsigned n = 0;

	if (len > UINT64_MAX - gpa)
		return -EFAULT;
	while (len) {
		const struct sb_vu_region *r = region_at(m, gpa);
		uint64_t here;

		if (!r)
			return -EFAULT;
		if (n == room)
			return -ENOBUFS;
		here = SB_MIN(len, r->size - (gpa - r->gpa));
		iov[n].iov_base = r->hva + (gpa - r->gpa);
		iov[n].iov_len = (size_t)here;
		n++;
		gpa += here;
		len -= here;
	}
	return (int)n;
}
