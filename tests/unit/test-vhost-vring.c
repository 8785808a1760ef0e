/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the vhost-user export's parsers of guest
 * input: the memory table's translations (mem.c) and the split
 * virtqueue's descriptor chains (vring.c), over a "guest memory" of two
 * regions that the test writes as a driver would, hostile or not. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "exports/vhost-user/log.h"
#include "exports/vhost-user/mem.h"
#include "exports/vhost-user/vring.h"

#define GUEST_SIZE  (1u << 20)
#define SPLIT       (GUEST_SIZE / 2)        /* the second region starts here */
#define UVA_BASE    UINT64_C(0x7f0000000000) /* the front end's addresses */
#define DESC_GPA    0x1000u
#define AVAIL_GPA   0x2000u
#define USED_GPA    0x3000u
#define TABLE_GPA   0x4000u                 /* an indirect table */
#define DATA_GPA    0x10000u
#define QSIZE       8
#define ROOM        16

struct fx {
	unsigned char *guest;
	struct sb_vu_mem mem;
	struct sb_vu_vring vq;
	struct iovec iov[ROOM];
	struct sb_vu_chain c;
	const char *why;
	uint16_t avail_next;
};

static struct vhost_user_mem_region region(uint64_t gpa, uint64_t size)
{
	return (struct vhost_user_mem_region){
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = UVA_BASE + gpa,
	};
}

static struct virtq_desc *desc(struct fx *f, uint64_t table_gpa, unsigned i)
{
	return (struct virtq_desc *)(f->guest + table_gpa) + i;
}

static void set_desc(struct fx *f, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc *d = desc(f, table_gpa, i);
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

static struct virtq_avail *avail(struct fx *f)
{
	return (struct virtq_avail *)(f->guest + AVAIL_GPA);
}

static struct virtq_used *used(struct fx *f)
{
	return (struct virtq_used *)(f->guest + USED_GPA);
}

/* The driver makes chain @head available. */
static void offer(struct fx *f, uint16_t head)
{
	avail(f)->ring[f->avail_next % QSIZE] = htole16(head);
	f->avail_next++;
	__atomic_store_n(&avail(f)->idx, htole16(f->avail_next), __ATOMIC_RELEASE);
}

/* The front end's addresses of the test's ring. */
static struct vhost_user_vring_addr ring_addr(void)
{
	return (struct vhost_user_vring_addr){
		.desc_user_addr = UVA_BASE + DESC_GPA,
		.avail_user_addr = UVA_BASE + AVAIL_GPA,
		.used_user_addr = UVA_BASE + USED_GPA,
	};
}

static void setup_ring(struct fx *f, uint64_t features)
{
	struct vhost_user_vring_addr a = ring_addr();
	struct sb_error *err = NULL;
	assert_int_equal(sb_vu_vring_setup(&f->vq, &f->mem, QSIZE, &a, features, 0, &err), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sb_error *err = NULL;
	struct vhost_user_mem_region lo = region(0, SPLIT), hi = region(SPLIT, GUEST_SIZE - SPLIT);

	f->guest = aligned_alloc(4096, GUEST_SIZE);
	memset(f->guest, 0, GUEST_SIZE);
	sb_vu_mem_init(&f->mem);
	assert_int_equal(sb_vu_mem_add_mapped(&f->mem, &lo, f->guest, &err), 0);
	assert_int_equal(sb_vu_mem_add_mapped(&f->mem, &hi, f->guest + SPLIT, &err), 0);
	setup_ring(f, UINT64_C(1) << VIRTIO_F_RING_INDIRECT_DESC);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sb_vu_mem_clear(&f->mem);
	free(f->guest);
	free(f);
	return 0;
}

static int pop(struct fx *f)
{
	return sb_vu_vring_pop(&f->vq, &f->mem, &f->c, f->iov, ROOM, &f->why);
}

/* Pops, expects the queue to break for @what, and to stay quiet after. */
static void expect_broken(struct fx *f, const char *what)
{
	assert_int_equal(pop(f), -EINVAL);
	assert_true(f->vq.broken);
	assert_string_equal(f->why, what);
	assert_int_equal(pop(f), 0);
}

/* A call that must fail with -1 and an error whose message holds @what
 * (any message when NULL); the error is freed. */
static void expect_refused(int rc, struct sb_error **err, const char *what)
{
	assert_int_equal(rc, -1);
	assert_non_null(*err);
	if (what)
		assert_non_null(strstr((*err)->msg, what));
	sb_error_free(*err);
	*err = NULL;
}

/* ---- the memory table ---- */

static void test_mem_translates_within_regions(void **state)
{
	struct fx *f = *state;
	struct iovec iov[2];

	assert_ptr_equal(sb_vu_mem_gpa(&f->mem, 0x100, 16), f->guest + 0x100);
	assert_ptr_equal(sb_vu_mem_gpa(&f->mem, SPLIT + 8, 8), f->guest + SPLIT + 8);
	assert_ptr_equal(sb_vu_mem_uva(&f->mem, UVA_BASE + 0x20, 4), f->guest + 0x20);
	assert_null(sb_vu_mem_gpa(&f->mem, SPLIT - 8, 16)); /* crosses: not contiguous */
	assert_null(sb_vu_mem_gpa(&f->mem, GUEST_SIZE - 8, 16));
	assert_null(sb_vu_mem_gpa(&f->mem, UINT64_MAX - 4, 16)); /* wraps */
	assert_null(sb_vu_mem_uva(&f->mem, 0x20, 4));
	/* a buffer across the two regions: one iovec in each */
	assert_int_equal(sb_vu_mem_gpa_iov(&f->mem, SPLIT - 8, 16, iov, 2), 2);
	assert_ptr_equal(iov[0].iov_base, f->guest + SPLIT - 8);
	assert_int_equal(iov[0].iov_len, 8);
	assert_ptr_equal(iov[1].iov_base, f->guest + SPLIT);
	assert_int_equal(iov[1].iov_len, 8);
	assert_int_equal(sb_vu_mem_gpa_iov(&f->mem, SPLIT - 8, 16, iov, 1), -ENOBUFS);
	assert_int_equal(sb_vu_mem_gpa_iov(&f->mem, GUEST_SIZE - 8, 16, iov, 2), -EFAULT);
	assert_int_equal(sb_vu_mem_gpa_iov(&f->mem, UINT64_MAX - 4, 16, iov, 2), -EFAULT);
	assert_int_equal(sb_vu_mem_gpa_iov(&f->mem, 0, 0, iov, 0), 0);
}

static void test_mem_refuses_bad_regions(void **state)
{
	struct fx *f = *state;
	struct sb_error *err = NULL;
	struct vhost_user_mem_region r = region(SPLIT - 4096, 8192);

	expect_refused(sb_vu_mem_add_mapped(&f->mem, &r, f->guest, &err), &err, "overlaps");
	r = region(UINT64_MAX - 4095, 8192);
	expect_refused(sb_vu_mem_add_mapped(&f->mem, &r, f->guest, &err), &err, "wraps");
	r = region(4 * GUEST_SIZE, 0);
	expect_refused(sb_vu_mem_add_mapped(&f->mem, &r, f->guest, &err), &err, NULL);
	/* the table is bounded */
	for (unsigned i = f->mem.n; i < VHOST_USER_MAX_MEM_SLOTS; i++) {
		r = region((uint64_t)(i + 4) * GUEST_SIZE, 4096);
		assert_int_equal(sb_vu_mem_add_mapped(&f->mem, &r, f->guest, &err), 0);
	}
	r = region(UINT64_C(1) << 40, 4096);
	expect_refused(sb_vu_mem_add_mapped(&f->mem, &r, f->guest, &err), &err, NULL);
	/* removing needs an exact match */
	struct sb_vu_mem gone;
	sb_vu_mem_init(&gone);
	r = region(0, SPLIT / 2);
	expect_refused(sb_vu_mem_take(&f->mem, &r, &gone, &err), &err, NULL);
	r = region(0, SPLIT);
	assert_int_equal(sb_vu_mem_take(&f->mem, &r, &gone, &err), 0);
	assert_null(sb_vu_mem_gpa(&f->mem, 0x100, 16));
	assert_non_null(sb_vu_mem_gpa(&f->mem, SPLIT, 16));
	assert_non_null(sb_vu_mem_gpa(&gone, 0x100, 16)); /* still mapped, elsewhere */
	sb_vu_mem_clear(&gone);
}

static void test_mem_maps_a_memfd(void **state)
{
	(void)state;
	struct sb_vu_mem mem;
	struct sb_error *err = NULL;
	struct vhost_user_mem_region r = region(0x100000, 8192);
	int fd = memfd_create("guest", MFD_CLOEXEC);
	unsigned char *p;

	r.mmap_offset = 4096;
	assert_int_equal(ftruncate(fd, 3 * 4096), 0);
	assert_int_equal(pwrite(fd, "guest", 5, 4096 + 16), 5);
	sb_vu_mem_init(&mem);
	assert_int_equal(sb_vu_mem_add(&mem, &r, fd, &err), 0);
	close(fd); /* the mapping stays */
	/* A file shorter than its region would fault when touched. */
	fd = memfd_create("short", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, 4096), 0);
	r.guest_phys_addr = 0x200000;
	assert_int_equal(sb_vu_mem_add(&mem, &r, fd, &err), -1);
	assert_non_null(strstr(err->msg, "ends past its file"));
	sb_error_free(err);
	close(fd);
	p = sb_vu_mem_gpa(&mem, 0x100000 + 16, 5);
	assert_non_null(p);
	assert_memory_equal(p, "guest", 5);
	sb_vu_mem_clear(&mem);
	assert_int_equal(mem.n, 0);
}

/* A device instance ends with a read still at the backend: the memory
 * moves, and what lands at the old addresses later stays out of it. */
static void test_mem_divert_keeps_late_writes_out(void **state)
{
	(void)state;
	struct sb_vu_mem mem, old;
	struct sb_error *err = NULL;
	struct vhost_user_mem_region r = region(0x100000, 8192);
	int fd = memfd_create("guest", MFD_CLOEXEC);
	unsigned char *before, *after;
	char back[6] = "";

	assert_int_equal(ftruncate(fd, 2 * 4096), 0);
	assert_int_equal(pwrite(fd, "guest", 5, 16), 5);
	sb_vu_mem_init(&mem);
	sb_vu_mem_init(&old);
	assert_int_equal(sb_vu_mem_add(&mem, &r, fd, &err), 0);
	before = sb_vu_mem_gpa(&mem, 0x100000 + 16, 5);
	assert_int_equal(sb_vu_mem_divert(&mem, &old), 0);
	assert_int_equal(old.n, 1);
	after = sb_vu_mem_gpa(&mem, 0x100000 + 16, 5);
	assert_non_null(after);
	assert_ptr_not_equal(before, after);
	/* The old addresses still read the guest's memory... */
	assert_memory_equal(before, "guest", 5);
	/* ...but a late write there does not reach it. */
	memcpy(before, "stale", 5);
	assert_memory_equal(after, "guest", 5);
	assert_int_equal(pread(fd, back, 5, 16), 5);
	assert_string_equal(back, "guest");
	/* The new mapping is the guest's memory. */
	memcpy(after, "fresh", 5);
	assert_int_equal(pread(fd, back, 5, 16), 5);
	assert_string_equal(back, "fresh");
	close(fd); /* the region keeps its own copy */
	assert_int_equal(sb_vu_mem_divert(&mem, &old), 0);
	assert_int_equal(old.n, 2);
	assert_memory_equal(sb_vu_mem_gpa(&mem, 0x100000 + 16, 5), "fresh", 5);
	sb_vu_mem_clear(&old);
	sb_vu_mem_clear(&mem);
}

/* A migration's dirty log: one bit per 4 KiB page, set, never cleared. */
static void test_dirty_log_marks_pages(void **state)
{
	(void)state;
	struct sb_vu_log log;
	struct sb_error *err = NULL;
	struct vhost_user_log msg = { .mmap_size = 4, .mmap_offset = 8 };
	int fd = memfd_create("log", MFD_CLOEXEC);
	uint8_t bits[4];
	unsigned char *guest = malloc(8192);
	struct sb_vu_mem mem;
	struct vhost_user_mem_region r = region(0x100000, 8192);
	uint64_t gpa = 0;

	sb_vu_log_init(&log);
	assert_int_equal(ftruncate(fd, 8), 0);
	assert_int_equal(sb_vu_log_set(&log, fd, &msg, &err), -1); /* file too short */
	assert_non_null(strstr(err->msg, "shorter"));
	sb_error_free(err);
	err = NULL;
	assert_int_equal(ftruncate(fd, 12), 0);
	assert_int_equal(sb_vu_log_set(&log, fd, &msg, &err), 0);
	close(fd);
	sb_vu_log_write(&log, 0x3000, 0x2000);   /* pages 3 and 4 */
	sb_vu_log_write(&log, 0x8fff, 2);        /* pages 8 and 9 */
	sb_vu_log_write(&log, 31 * 4096, 1);     /* the last page */
	sb_vu_log_write(&log, 32 * 4096, 4096);  /* past the bitmap: ignored */
	sb_vu_log_write(&log, UINT64_MAX - 10, 100); /* wraps: no page in range */
	sb_vu_log_write(&log, 0, 0);             /* nothing */
	memcpy(bits, log.bits, 4);
	assert_int_equal(bits[0], 0x18);
	assert_int_equal(bits[1], 0x03);
	assert_int_equal(bits[2], 0x00);
	assert_int_equal(bits[3], 0x80);
	sb_vu_log_clear(&log);
	sb_vu_log_write(&log, 0, 4096);          /* no log: nothing */
	/* What is logged is found by guest-physical address. */
	sb_vu_mem_init(&mem);
	assert_int_equal(sb_vu_mem_add_mapped(&mem, &r, guest, &err), 0);
	assert_true(sb_vu_mem_hva_gpa(&mem, guest + 3, &gpa));
	assert_int_equal(gpa, 0x100003);
	assert_true(sb_vu_mem_hva_gpa(&mem, guest + 8191, &gpa));
	assert_int_equal(gpa, 0x100000 + 8191);
	assert_false(sb_vu_mem_hva_gpa(&mem, guest + 8192, &gpa));
	sb_vu_mem_clear(&mem);
	free(guest);
}

/* ---- descriptor chains ---- */

static void test_chain_splits_readable_and_writable(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop(f), 0); /* empty */
	set_desc(f, DESC_GPA, 3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, DESC_GPA, 5, DATA_GPA + 0x100, 4096, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, DESC_GPA, 0, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 3);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.out_bytes, 16 + 4096);
	assert_int_equal(f->c.in_bytes, 1);
	assert_ptr_equal(f->iov[0].iov_base, f->guest + DATA_GPA);
	assert_ptr_equal(f->iov[1].iov_base, f->guest + DATA_GPA + 0x100);
	assert_ptr_equal(f->iov[2].iov_base, f->guest + DATA_GPA + 0x2000);
	assert_int_equal(pop(f), 0);
}

static void test_chain_across_regions_gets_two_iovecs(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC_GPA, 0, SPLIT - 512, 1024, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->iov[0].iov_len + f->iov[1].iov_len, 1024);
}

static void test_chain_that_loops(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 2, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	offer(f, 1);
	expect_broken(f, "a descriptor chain that loops");
}

static void test_chain_as_long_as_the_queue(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < QSIZE; i++)
		set_desc(f, DESC_GPA, i, DATA_GPA + i * 16, 16,
			 i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, QSIZE);
}

static void test_head_and_next_past_the_table(void **state)
{
	struct fx *f = *state;

	offer(f, QSIZE);
	expect_broken(f, "a descriptor index past the table");
	f->vq.broken = false;
	set_desc(f, DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, QSIZE + 3);
	f->vq.last_avail = f->avail_next;
	offer(f, 0);
	expect_broken(f, "a descriptor index past the table");
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, DATA_GPA, 16, 0, 0);
	offer(f, 0);
	expect_broken(f, "a readable descriptor after a writable one");
}

static void test_buffer_outside_guest_memory(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC_GPA, 0, GUEST_SIZE - 8, 16, 0, 0);
	offer(f, 0);
	expect_broken(f, "a buffer outside guest memory");
	f->vq.broken = false;
	set_desc(f, DESC_GPA, 0, UINT64_MAX - 7, 16, 0, 0); /* wraps */
	offer(f, 0);
	expect_broken(f, "a buffer outside guest memory");
}

static void test_more_buffers_than_room(void **state)
{
	struct fx *f = *state;
	struct vhost_user_vring_addr a = ring_addr();
	struct sb_error *err = NULL;

	/* a queue of 32 whose chain of 20 needs more than 16 iovecs */
	assert_int_equal(sb_vu_vring_setup(&f->vq, &f->mem, 32, &a, 0, 0, &err), 0);
	for (unsigned i = 0; i < 20; i++)
		set_desc(f, DESC_GPA, i, DATA_GPA, 16, i + 1 < 20 ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	avail(f)->ring[0] = 0;
	__atomic_store_n(&avail(f)->idx, htole16(1), __ATOMIC_RELEASE);
	expect_broken(f, "more buffers than the device takes in one request");
}

static void test_avail_index_too_far_ahead(void **state)
{
	struct fx *f = *state;

	avail(f)->idx = htole16(QSIZE + 1);
	expect_broken(f, "an avail index more than a queue ahead");
}

/* ---- indirect tables ---- */

static void test_indirect_table(void **state)
{
	struct fx *f = *state;

	set_desc(f, TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, TABLE_GPA, 2, DATA_GPA + 0x100, 512, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, DESC_GPA, 4, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 4);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.head, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.out_bytes, 16 + 512);
	assert_ptr_equal(f->iov[2].iov_base, f->guest + DATA_GPA + 0x1000);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	setup_ring(f, 0);
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 16, 0, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "an indirect descriptor where none may be");
}

static void test_indirect_rules(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		const char *why;
	} bad[] = {
		{ TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
		  "an indirect descriptor with NEXT" },
		{ TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT,
		  "an indirect table whose length is not a multiple of 16" },
		{ TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT,
		  "an indirect table whose length is not a multiple of 16" },
		{ SPLIT - 16, 32, VIRTQ_DESC_F_INDIRECT,
		  "an indirect table outside guest memory or misaligned" },
		{ TABLE_GPA + 8, 16, VIRTQ_DESC_F_INDIRECT,
		  "an indirect table outside guest memory or misaligned" },
	};

	set_desc(f, TABLE_GPA, 0, DATA_GPA, 16, 0, 0);
	set_desc(f, TABLE_GPA + 8, 0, DATA_GPA, 16, 0, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->vq.broken = false;
		f->vq.last_avail = f->avail_next;
		set_desc(f, DESC_GPA, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
		offer(f, 0);
		expect_broken(f, bad[i].why);
	}
}

static void test_indirect_nested_or_looping(void **state)
{
	struct fx *f = *state;

	set_desc(f, TABLE_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "an indirect descriptor where none may be");
	f->vq.broken = false;
	set_desc(f, TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, DESC_GPA, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "a descriptor chain that loops");
}

/* ---- used ring and notifications ---- */

static void test_push_and_notify(void **state)
{
	struct fx *f = *state;

	set_desc(f, DESC_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	sb_vu_vring_push(&f->vq, 0, 1);
	assert_int_equal(le16toh(used(f)->idx), 1);
	assert_int_equal(le32toh(used(f)->ring[0].id), 0);
	assert_int_equal(le32toh(used(f)->ring[0].len), 1);
	assert_true(sb_vu_vring_need_notify(&f->vq));
	avail(f)->flags = htole16(VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(sb_vu_vring_need_notify(&f->vq));
	assert_false(sb_vu_vring_arm(&f->vq));
	offer(f, 0);
	assert_true(sb_vu_vring_arm(&f->vq));
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;
	volatile uint16_t *used_event = &avail(f)->ring[QSIZE];
	volatile uint16_t *avail_event = (volatile uint16_t *)&used(f)->ring[QSIZE];

	setup_ring(f, UINT64_C(1) << VIRTIO_F_RING_EVENT_IDX);
	set_desc(f, DESC_GPA, 0, DATA_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	for (int i = 0; i < 3; i++)
		offer(f, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(le16toh(*avail_event), 3); /* kick me at the next one */
	*used_event = htole16(1); /* interrupt me once the second is used */
	sb_vu_vring_push(&f->vq, 0, 1);
	assert_true(sb_vu_vring_need_notify(&f->vq)); /* the first ever */
	sb_vu_vring_push(&f->vq, 0, 1);
	assert_true(sb_vu_vring_need_notify(&f->vq)); /* used passed 1 */
	sb_vu_vring_push(&f->vq, 0, 1);
	assert_false(sb_vu_vring_need_notify(&f->vq)); /* not asked for */
	*used_event = htole16(3);
	sb_vu_vring_push(&f->vq, 0, 1); /* a fourth, from nowhere: the index test */
	assert_true(sb_vu_vring_need_notify(&f->vq));
}

static void test_setup_refuses_bad_rings(void **state)
{
	struct fx *f = *state;
	struct sb_error *err = NULL;
	struct vhost_user_vring_addr a = ring_addr();

	expect_refused(sb_vu_vring_setup(&f->vq, &f->mem, 6, &a, 0, 0, &err), &err, NULL);
	a.used_user_addr = UVA_BASE + GUEST_SIZE - 16;
	expect_refused(sb_vu_vring_setup(&f->vq, &f->mem, QSIZE, &a, 0, 0, &err), &err, NULL);
	a.used_user_addr = UVA_BASE + USED_GPA + 2;
	expect_refused(sb_vu_vring_setup(&f->vq, &f->mem, QSIZE, &a, 0, 0, &err), &err, "misaligned");
	assert_int_equal(f->vq.num, 0);
	assert_int_equal(pop(f), 0); /* not set up: nothing to pop */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mem_translates_within_regions),
		T(test_mem_refuses_bad_regions),
		T(test_mem_maps_a_memfd),
		T(test_mem_divert_keeps_late_writes_out),
		T(test_dirty_log_marks_pages),
		T(test_chain_splits_readable_and_writable),
		T(test_chain_across_regions_gets_two_iovecs),
		T(test_chain_that_loops),
		T(test_chain_as_long_as_the_queue),
		T(test_head_and_next_past_the_table),
		T(test_readable_after_writable),
		T(test_buffer_outside_guest_memory),
		T(test_more_buffers_than_room),
		T(test_avail_index_too_far_ahead),
		T(test_indirect_table),
		T(test_indirect_not_negotiated),
		T(test_indirect_rules),
		T(test_indirect_nested_or_looping),
		T(test_push_and_notify),
		T(test_event_idx),
		T(test_setup_refuses_bad_rings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
