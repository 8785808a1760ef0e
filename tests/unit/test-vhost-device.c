/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the vhost-user-blk device's message handlers
 * (device.c) in sequences a front end may send: a device over the stub
 * backend (parked, so requests stay at the backend until the test says),
 * messages handed to sb_vu_device_message with descriptors the test makes,
 * the guest's ring written in a memfd.  The cases are what
 * fuzz-vhost-device found: a ring shrunk while stopped with a request out,
 * a front end that hangs up while the device drains a queue, memory
 * tables replaced again and again while a request is out, and a used ring
 * over the avail ring that keeps the queue from running dry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "core/policy.h"
#include "exports/vhost-user/internal.h"
#include "stub-backend.h"

#define GUEST_SIZE    (256u * 1024)
#define INFLIGHT_SIZE (64u * 1024)
#define UVA           UINT64_C(0x7f0000000000)

struct fixture {
	struct sb_loop *loop;
	struct stub_backend *stub;
	struct sb_disk *disk;
	struct sb_vu_export exp;
	int front;                 /* the front end's end of the socket */
	int guest_fd, kick;
	unsigned char *guest;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sb_error *err = NULL;
	struct sb_policy policy;
	int sv[2];

	assert_non_null(f);
	sb_log_verbosity = -1;
	f->loop = sb_loop_new();
	f->stub = stub_new(f->loop);
	f->stub->park = true;
	sb_policy_init(&policy);
	f->disk = sb_disk_new(f->loop, "d0", &f->stub->be, &policy, &err);
	assert_non_null(f->disk);
	f->exp.loop = f->loop;
	f->exp.disk = f->disk;
	f->exp.num_queues = 1;
	f->exp.listen_fd = -1;
	TAILQ_INIT(&f->exp.closing);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	f->front = sv[0];
	f->exp.dev = sb_vu_device_new(&f->exp, sv[1], 1);
	assert_non_null(f->exp.dev);
	f->guest_fd = memfd_create("guest", MFD_CLOEXEC);
	assert_int_equal(ftruncate(f->guest_fd, GUEST_SIZE), 0);
	f->guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->guest_fd, 0);
	assert_true(f->guest != MAP_FAILED);
	f->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f->kick >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->exp.dev)
		sb_vu_device_close(f->exp.dev, "the test ends");
	f->stub->park = false;
	for (int i = 0; i < 100 && !TAILQ_EMPTY(&f->exp.closing); i++) {
		stub_finish_parked(f->stub);
		sb_loop_run_once(f->loop, 0);
	}
	assert_true(TAILQ_EMPTY(&f->exp.closing));
	sb_disk_free(f->disk);
	sb_loop_free(f->loop);
	munmap(f->guest, GUEST_SIZE);
	close(f->guest_fd);
	close(f->kick);
	if (f->front >= 0)
		close(f->front);
	free(f);
	return 0;
}

/* Sends request @req with @size bytes of @payload and fd @fd (a copy;
 * none if < 0) to the device's handlers. */
static void msg(struct fixture *f, uint32_t req, const void *payload, uint32_t size, int fd)
{
	struct sb_vu_msg m;
	char buf[256];

	sb_vu_msg_init(&m);
	m.hdr.request = req;
	m.hdr.flags = VHOST_USER_VERSION;
	m.hdr.size = size;
	memcpy(&m.p, payload, size);
	m.got = sizeof(m.hdr) + size;
	if (fd >= 0) {
		m.fds[0] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		assert_true(m.fds[0] >= 0);
		m.nfds = 1;
	}
	assert_non_null(f->exp.dev);
	sb_vu_device_message(f->exp.dev, &m);
	while (recv(f->front, buf, sizeof(buf), MSG_DONTWAIT) > 0) /* the replies */
		;
}

static void msg_u64(struct fixture *f, uint32_t req, uint64_t v, int fd)
{
	msg(f, req, &v, sizeof(v), fd);
}

static void msg_state(struct fixture *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };

	msg(f, req, &s, sizeof(s), -1);
}

/* The guest's memory, its features, and ring 0 of @num entries at
 * @desc/@avail/@used, kicked by f->kick, enabled. */
static void start_ring(struct fixture *f, uint16_t num, uint64_t desc, uint64_t avail,
		       uint64_t used)
{
	struct vhost_user_vring_addr a = { .index = 0, .desc_user_addr = UVA + desc,
					   .avail_user_addr = UVA + avail,
					   .used_user_addr = UVA + used };

	msg_state(f, VHOST_USER_SET_VRING_NUM, 0, num);
	msg_state(f, VHOST_USER_SET_VRING_BASE, 0, 0);
	msg(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1);
	msg_u64(f, VHOST_USER_SET_VRING_KICK, 0, f->kick);
	msg_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 1);
}

static void set_memory(struct fixture *f, uint64_t features, uint64_t protocol)
{
	struct vhost_user_mem_table t = { .nregions = 1 };

	t.regions[0] = (struct vhost_user_mem_region){ .guest_phys_addr = 0,
						       .memory_size = GUEST_SIZE,
						       .userspace_addr = UVA };
	msg_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, protocol, -1);
	msg_u64(f, VHOST_USER_SET_FEATURES, features, -1);
	msg(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), f->guest_fd);
}

/* The guest makes a read of one sector available at chain @head of the
 * ring of @num entries at @desc/@avail, and kicks; the device pops it. */
static void guest_read(struct fixture *f, uint16_t num, uint64_t desc, uint64_t avail,
		       uint16_t head)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	struct virtq_desc d[3] = {
		{ .addr = 0x30000, .len = sizeof(h), .flags = VIRTQ_DESC_F_NEXT,
		  .next = (uint16_t)(head + 1) },
		{ .addr = 0x31000, .len = 512, .flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
		  .next = (uint16_t)(head + 2) },
		{ .addr = 0x32000, .len = 1, .flags = VIRTQ_DESC_F_WRITE },
	};
	struct virtq_avail *av = (struct virtq_avail *)(f->guest + avail);
	uint64_t one = 1;
	unsigned before = f->stub->nqueue;

	memcpy(f->guest + 0x30000, &h, sizeof(h));
	memcpy(f->guest + desc + head * sizeof(d[0]), d, sizeof(d));
	av->ring[av->idx % num] = head;
	av->idx++;
	assert_int_equal(write(f->kick, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 10 && f->stub->nqueue == before; i++)
		sb_loop_run_once(f->loop, 0);
	assert_int_equal(f->stub->nqueue, before + 1);
}

/* Stopped with a request of a 1024-entry ring at the backend, the ring
 * comes back with 16 entries and an in-flight region for 16: the request
 * that completed meanwhile is not pushed (its head is past both the ring
 * and the region's desc[]), and the region past its 16 entries is left
 * alone. */
static void test_ring_shrunk_while_stopped(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_inflight in = { .mmap_size = INFLIGHT_SIZE, .num_queues = 1,
					  .queue_size = 16 };
	size_t stale = offsetof(struct vhost_user_inflight_queue, desc) +
		       600 * sizeof(struct vhost_user_inflight_desc);
	struct virtq_used *used = (struct virtq_used *)(f->guest + 0x3000);
	int region = memfd_create("inflight", MFD_CLOEXEC);
	unsigned char *r;

	assert_true(region >= 0);
	assert_int_equal(ftruncate(region, INFLIGHT_SIZE), 0);
	r = mmap(NULL, INFLIGHT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0);
	assert_true(r != MAP_FAILED);
	set_memory(f, (UINT64_C(1) << VIRTIO_F_VERSION_1) |
		   (UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES),
		   UINT64_C(1) << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	start_ring(f, 1024, 0x10000, 0x14000, 0x15000);
	guest_read(f, 1024, 0x10000, 0x14000, 600);
	msg_state(f, VHOST_USER_GET_VRING_BASE, 0, 0); /* answered at once: a region */
	assert_false(f->exp.dev->draining);
	stub_finish_parked(f->stub); /* done while stopped: waits for the start */

	r[stale] = 1; /* what the device would clear past the region's 16 entries */
	msg(f, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), region);
	start_ring(f, 16, 0x1000, 0x2000, 0x3000);
	assert_true(f->exp.dev->q[0].started);
	assert_int_equal(r[stale], 1);
	assert_int_equal(used->idx, 0);
	assert_int_equal(f->exp.dev->q[0].inflight, 0);
	munmap(r, INFLIGHT_SIZE);
	close(region);
}

/* The same, with the request still at the backend when the smaller ring
 * starts: its completion is not pushed either. */
static void test_ring_shrunk_request_out(void **state)
{
	struct fixture *f = *state;
	struct virtq_used *used = (struct virtq_used *)(f->guest + 0x3000);

	set_memory(f, (UINT64_C(1) << VIRTIO_F_VERSION_1) |
		   (UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES),
		   UINT64_C(1) << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
	start_ring(f, 1024, 0x10000, 0x14000, 0x15000);
	guest_read(f, 1024, 0x10000, 0x14000, 600);
	msg_state(f, VHOST_USER_GET_VRING_BASE, 0, 0);
	start_ring(f, 16, 0x1000, 0x2000, 0x3000);
	assert_true(f->exp.dev->q[0].started);
	stub_finish_parked(f->stub);
	sb_loop_run_once(f->loop, 0);
	assert_int_equal(used->idx, 0);
	assert_int_equal(f->exp.dev->q[0].inflight, 0);
}

/* Without the in-flight region, GET_VRING_BASE waits for the queue's
 * requests; a front end that hangs up meanwhile is seen gone at once,
 * not on every turn of the loop until the backend answers. */
static void test_hang_up_while_draining(void **state)
{
	struct fixture *f = *state;

	set_memory(f, UINT64_C(1) << VIRTIO_F_VERSION_1, 0);
	start_ring(f, 16, 0x1000, 0x2000, 0x3000);
	guest_read(f, 16, 0x1000, 0x2000, 0);
	msg_state(f, VHOST_USER_GET_VRING_BASE, 0, 0);
	assert_true(f->exp.dev->draining);
	close(f->front);
	f->front = -1;
	for (int i = 0; i < 3 && f->exp.dev; i++)
		sb_loop_run_once(f->loop, 0);
	assert_null(f->exp.dev);
	assert_int_equal(f->stub->nqueue, 1); /* still at the backend */
}

/* A guest that puts its used ring over its avail ring: every request
 * of @type that completes moves the avail index one ahead again, so the
 * queue never runs dry.  The device pops a ring's worth per turn of the
 * loop and the loop goes on: a hang-up is seen. */
static void used_ring_over_avail_ring(struct fixture *f, uint32_t type)
{
	struct virtio_blk_outhdr h = { .type = type };
	/* Heads 0 and 1: header then status; every value a push writes into
	 * the avail ring (head 0 or 1, length 1) is one of them. */
	struct virtq_desc d[4] = {
		{ .addr = 0x30000, .len = sizeof(h), .flags = VIRTQ_DESC_F_NEXT, .next = 2 },
		{ .addr = 0x30000, .len = sizeof(h), .flags = VIRTQ_DESC_F_NEXT, .next = 3 },
		{ .addr = 0x32000, .len = 1, .flags = VIRTQ_DESC_F_WRITE },
		{ .addr = 0x32001, .len = 1, .flags = VIRTQ_DESC_F_WRITE },
	};
	struct virtq_avail *av = (struct virtq_avail *)(f->guest + 0x2000);
	uint64_t one = 1;

	alarm(20); /* it used to spin in queue_run for good */
	memcpy(f->guest + 0x30000, &h, sizeof(h));
	memcpy(f->guest + 0x1000, d, sizeof(d));
	av->idx = 1; /* one available; and the used index the device starts from */
	set_memory(f, UINT64_C(1) << VIRTIO_F_VERSION_1, 0);
	start_ring(f, 16, 0x1000, 0x2000, 0x2000);
	assert_int_equal(write(f->kick, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 3; i++)
		sb_loop_run_once(f->loop, 0);
	assert_true(f->exp.dev->q[0].started);
	assert_false(f->exp.dev->q[0].ring.broken);
	assert_true((uint16_t)(f->exp.dev->q[0].ring.used_idx - 1) > 16); /* it went on */
	close(f->front);
	f->front = -1;
	for (int i = 0; i < 3 && f->exp.dev; i++)
		sb_loop_run_once(f->loop, 0);
	assert_null(f->exp.dev);
	alarm(0);
}

/* Completed at once: an unsupported type. */
static void test_used_ring_over_avail_ring(void **state)
{
	used_ring_over_avail_ring(*state, 99);
}

/* Completed by the backend in the same pass of deferred calls as the
 * queue's run they queue (a flush, the stub answering on its next call). */
static void test_used_ring_over_avail_ring_backend(void **state)
{
	struct fixture *f = *state;

	f->stub->park = false;
	used_ring_over_avail_ring(f, VIRTIO_BLK_T_FLUSH);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A front end that replaces its memory table again and again while a
 * request is at the backend: every replaced region stays mapped until the
 * request is done, and then goes, its fd with it (there was room for 32
 * and the rest leaked). */
static void test_tables_replaced_with_request_out(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_table t = { .nregions = 8 };
	int before;

	set_memory(f, UINT64_C(1) << VIRTIO_F_VERSION_1, 0);
	start_ring(f, 16, 0x1000, 0x2000, 0x3000);
	guest_read(f, 16, 0x1000, 0x2000, 0);
	before = count_fds(); /* the first table's one region among them */
	for (uint64_t k = 0; k < 6; k++) {
		struct sb_vu_msg m;

		sb_vu_msg_init(&m);
		m.hdr.request = VHOST_USER_SET_MEM_TABLE;
		m.hdr.flags = VHOST_USER_VERSION;
		m.hdr.size = 8 + 8 * sizeof(t.regions[0]);
		for (unsigned i = 0; i < 8; i++) {
			/* A new size each time: not the same memory again. */
			t.regions[i] = (struct vhost_user_mem_region){
				.guest_phys_addr = i << 15, .memory_size = 0x4000 + 0x400 * k,
				.userspace_addr = UVA + (i << 15), .mmap_offset = i << 15 };
			m.fds[m.nfds++] = fcntl(f->guest_fd, F_DUPFD_CLOEXEC, 3);
		}
		memcpy(&m.p, &t, m.hdr.size);
		m.got = sizeof(m.hdr) + m.hdr.size;
		sb_vu_device_message(f->exp.dev, &m);
		assert_non_null(f->exp.dev);
	}
	assert_int_equal(count_fds(), before + 8 + 5 * 8); /* every one kept */
	stub_finish_parked(f->stub);
	sb_loop_run_once(f->loop, 0);
	assert_int_equal(f->exp.dev->inflight, 0);
	assert_int_equal(count_fds(), before - 1 + 8); /* the table in use only */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ring_shrunk_while_stopped),
		T(test_ring_shrunk_request_out),
		T(test_hang_up_while_draining),
		T(test_tables_replaced_with_request_out),
		T(test_used_ring_over_avail_ring),
		T(test_used_ring_over_avail_ring_backend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
