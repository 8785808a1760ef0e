/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes what a guest controls in the vhost-user export:
 * the memory table's translations (exports/vhost-user/mem.c) and the split
 * virtqueue's descriptor chains (vring.c).  The guest has 64 KiB in two
 * regions (split at 32 KiB) whose content is the input, after a header:
 *
 *   u8 log2 of the queue size   u8 flags (1 EVENT_IDX, 2 INDIRECT_DESC)
 *   u16 avail base              u8 iovec room (1..32)  u8 unused
 *   u16 a head for sb_vu_vring_chain
 *   u32 desc, avail, used: ring offsets from the front end's base address
 *   4 x { u64 gpa, u32 len }: translations asked of the memory table
 *
 * (all little endian).  Checked: every iovec that comes back lies inside
 * guest memory, the counts and byte totals agree with the iovecs, a pop
 * that refuses breaks the queue, and a broken queue stays quiet. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "exports/vhost-user/mem.h"
#include "exports/vhost-user/vring.h"
#include "fuzz.h"

#define GUEST_SIZE (64u * 1024)
#define SPLIT      (GUEST_SIZE / 2)
#define UVA_BASE   UINT64_C(0x7f0000000000)
#define MAX_ROOM   32
#define HDR_SIZE   (20 + 4 * 12)

static unsigned char *guest;

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static bool in_guest(const void *p, uint64_t len)
{
	const unsigned char *c = p;
	return c >= guest && len <= GUEST_SIZE && (size_t)(c - guest) <= GUEST_SIZE - len;
}

static void check_iovs(const struct iovec *iov, unsigned n, uint64_t bytes, const char *what)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!in_guest(iov[i].iov_base, iov[i].iov_len))
			fuzz_fail("%s: iovec %u outside guest memory", what, i);
		sum += iov[i].iov_len;
	}
	if (sum != bytes)
		fuzz_fail("%s: iovecs of %llu bytes, counted %llu", what, (unsigned long long)sum,
			  (unsigned long long)bytes);
}

static void check_chain(const struct sb_vu_chain *c, const struct iovec *iov, unsigned room)
{
	if (c->nout + c->nin > room)
		fuzz_fail("a chain of %u iovecs in room for %u", c->nout + c->nin, room);
	check_iovs(iov, c->nout, c->out_bytes, "readable part");
	check_iovs(iov + c->nout, c->nin, c->in_bytes, "writable part");
}

static void check_mem(const struct sb_vu_mem *m, const uint8_t *q)
{
	struct iovec iov[4];

	for (int i = 0; i < 4; i++, q += 12) {
		uint64_t gpa = le64(q), len = le32(q + 8);
		void *p = sb_vu_mem_gpa(m, gpa, len);
		int n;

		if (p && !in_guest(p, len))
			fuzz_fail("gpa 0x%llx+%llu translated outside guest memory",
				  (unsigned long long)gpa, (unsigned long long)len);
		if ((p = sb_vu_mem_uva(m, gpa, len)) && !in_guest(p, len))
			fuzz_fail("uva 0x%llx+%llu translated outside guest memory",
				  (unsigned long long)gpa, (unsigned long long)len);
		n = sb_vu_mem_gpa_iov(m, gpa, len, iov, (unsigned)(i + 1));
		if (n > i + 1)
			fuzz_fail("sb_vu_mem_gpa_iov overran its room");
		if (n >= 0)
			check_iovs(iov, (unsigned)n, len, "sb_vu_mem_gpa_iov");
		else if (n != -EFAULT && n != -ENOBUFS)
			fuzz_fail("sb_vu_mem_gpa_iov returned %d", n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhost_user_mem_region lo = { .guest_phys_addr = 0, .memory_size = SPLIT,
					    .userspace_addr = UVA_BASE };
	struct vhost_user_mem_region hi = { .guest_phys_addr = SPLIT, .memory_size = SPLIT,
					    .userspace_addr = UVA_BASE + SPLIT };
	struct vhost_user_vring_addr a = { 0 };
	struct iovec iov[MAX_ROOM];
	struct sb_error *err = NULL;
	struct sb_vu_chain c;
	struct sb_vu_vring vq;
	struct sb_vu_mem m;
	uint64_t features = 0;
	uint16_t num, base, head;
	unsigned room;
	const char *why;

	fuzz_init();
	if (size < HDR_SIZE)
		return 0;
	if (!guest && !(guest = aligned_alloc(4096, GUEST_SIZE)))
		fuzz_fail("out of memory");
	memset(guest, 0, GUEST_SIZE);
	memcpy(guest, data + HDR_SIZE, SB_MIN(size - HDR_SIZE, (size_t)GUEST_SIZE));
	sb_vu_mem_init(&m);
	if (sb_vu_mem_add_mapped(&m, &lo, guest, &err) < 0 ||
	    sb_vu_mem_add_mapped(&m, &hi, guest + SPLIT, &err) < 0)
		fuzz_fail("memory table: %s", err->msg);
	check_mem(&m, data + 20);

	num = (uint16_t)(1u << (data[0] % 16));
	if (data[1] & 1)
		features |= UINT64_C(1) << VIRTIO_F_RING_EVENT_IDX;
	if (data[1] & 2)
		features |= UINT64_C(1) << VIRTIO_F_RING_INDIRECT_DESC;
	base = le16(data + 2);
	room = 1 + data[4] % MAX_ROOM;
	head = le16(data + 6);
	a.desc_user_addr = UVA_BASE + le32(data + 8);
	a.avail_user_addr = UVA_BASE + le32(data + 12);
	a.used_user_addr = UVA_BASE + le32(data + 16);

	if (sb_vu_vring_setup(&vq, &m, num, &a, features, base, &err) < 0) {
		sb_error_free(err);
		sb_vu_mem_clear(&m);
		return 0;
	}
	/* A chain named by a back end's inflight record. */
	if (sb_vu_vring_chain(&vq, &m, head, &c, iov, room, &why) == 1)
		check_chain(&c, iov, room);
	if (sb_vu_vring_setup(&vq, &m, num, &a, features, base, &err) < 0)
		fuzz_fail("the same ring set up twice: %s", err->msg);

	/* A device draining the queue: at most a queue's worth, twice. */
	for (unsigned i = 0; i < 2u * num + 2; i++) {
		int r = sb_vu_vring_pop(&vq, &m, &c, iov, room, &why);

		if (r == 1) {
			check_chain(&c, iov, room);
			sb_vu_vring_push(&vq, c.head, (uint32_t)c.in_bytes);
			sb_vu_vring_need_notify(&vq);
			continue;
		}
		if (r < 0) {
			if (r != -EINVAL || !vq.broken || !why)
				fuzz_fail("a refused pop (%d) did not break the queue", r);
			if (sb_vu_vring_pop(&vq, &m, &c, iov, room, &why) != 0 || sb_vu_vring_arm(&vq))
				fuzz_fail("a broken queue still pops");
			break;
		}
		if (!sb_vu_vring_arm(&vq))
			break;
	}
	sb_vu_mem_clear(&m);
	return 0;
}
