/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the vhost-user export's message reader and
 * replies (msg.c), over a socketpair: whole messages with their fds,
 * messages that arrive a byte at a time, and the malformed ones a hostile
 * front end sends. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/fdpass.h"
#include "exports/vhost-user/msg.h"

struct fx {
	int front, dev; /* the front end's end, the device's */
	struct sb_vu_msg m;
	const char *why;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->front = sv[0];
	f->dev = sv[1];
	sb_vu_msg_init(&f->m);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sb_vu_msg_release(&f->m);
	if (f->front >= 0)
		close(f->front);
	close(f->dev);
	free(f);
	return 0;
}

/* Sends @len bytes with @nfds fds attached. */
static void send_fds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	assert_int_equal(sb_send_fds(sock, &iov, 1, fds, nfds, 0), (ssize_t)len);
}

/* A request message: header then @size bytes of @payload. */
static size_t build(unsigned char *out, uint32_t request, uint32_t flags, const void *payload,
		    uint32_t size)
{
	struct vhost_user_header h = { .request = request, .flags = flags, .size = size };
	memcpy(out, &h, sizeof(h));
	if (size)
		memcpy(out + sizeof(h), payload, size);
	return sizeof(h) + size;
}

static int recv_msg(struct fx *f)
{
	return sb_vu_msg_recv(f->dev, &f->m, &f->why);
}

static void test_whole_message_with_an_fd(void **state)
{
	struct fx *f = *state;
	unsigned char buf[128];
	uint64_t idx = 1;
	int efd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_int_equal(recv_msg(f), 0); /* nothing yet */
	send_fds(f->front, buf, build(buf, VHOST_USER_SET_VRING_KICK, 1, &idx, 8), &efd, 1);
	close(efd);
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(f->m.hdr.request, VHOST_USER_SET_VRING_KICK);
	assert_int_equal(f->m.p.u64, 1);
	assert_int_equal(f->m.nfds, 1);
	int fd = sb_vu_msg_take_fd(&f->m, 0);
	assert_true(fd >= 0);
	assert_int_equal(sb_vu_msg_take_fd(&f->m, 0), -1);
	close(fd);
	sb_vu_msg_release(&f->m);
	assert_int_equal(recv_msg(f), 0);
}

static void test_byte_by_byte(void **state)
{
	struct fx *f = *state;
	unsigned char buf[512];
	struct vhost_user_vring_addr a = { .index = 1, .desc_user_addr = 0x1000 };
	size_t n = build(buf, VHOST_USER_SET_VRING_ADDR, 1, &a, sizeof(a));

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(recv_msg(f), 0);
		send_fds(f->front, buf + i, 1, NULL, 0);
	}
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(f->m.p.addr.index, 1);
	assert_int_equal(f->m.p.addr.desc_user_addr, 0x1000);
}

static void test_two_in_one_write(void **state)
{
	struct fx *f = *state;
	unsigned char buf[64];
	uint64_t features = 1u << 3;
	size_t n = build(buf, VHOST_USER_GET_FEATURES, 1, NULL, 0);

	n += build(buf + n, VHOST_USER_SET_PROTOCOL_FEATURES, 1, &features, 8);
	send_fds(f->front, buf, n, NULL, 0);
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(f->m.hdr.request, VHOST_USER_GET_FEATURES);
	sb_vu_msg_release(&f->m);
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(f->m.hdr.request, VHOST_USER_SET_PROTOCOL_FEATURES);
	assert_int_equal(f->m.p.u64, features);
}

static void test_mem_table_needs_its_fds(void **state)
{
	struct fx *f = *state;
	unsigned char buf[512];
	struct vhost_user_mem_table t = { .nregions = 2 };
	int fds[2] = { open("/dev/null", O_RDONLY), open("/dev/null", O_RDONLY) };
	size_t size = 8 + 2 * sizeof(struct vhost_user_mem_region);

	send_fds(f->front, buf, build(buf, VHOST_USER_SET_MEM_TABLE, 1, &t, (uint32_t)size), fds, 2);
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(f->m.nfds, 2);
	sb_vu_msg_release(&f->m);
	/* the same table with one fd */
	send_fds(f->front, buf, build(buf, VHOST_USER_SET_MEM_TABLE, 1, &t, (uint32_t)size), fds, 1);
	assert_int_equal(recv_msg(f), -EPROTO);
	assert_string_equal(f->why, "a memory table whose size or fds do not match its regions");
	sb_vu_msg_release(&f->m);
	/* nine regions claimed */
	t.nregions = 9;
	send_fds(f->front, buf, build(buf, VHOST_USER_SET_MEM_TABLE, 1, &t, sizeof(t)), fds, 2);
	assert_int_equal(recv_msg(f), -EPROTO);
	close(fds[0]);
	close(fds[1]);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	unsigned char buf[512], zero[300] = { 0 };
	struct vhost_user_config c = { .size = 10 };
	static const struct {
		uint32_t request, flags, size;
		const char *why;
	} bad[] = {
		{ 99, 1, 0, "a request this device does not take" },
		{ VHOST_USER_SEND_RARP, 1, 8, "a request this device does not take" },
		{ 0, 1, 0, "a request this device does not take" },
		{ VHOST_USER_GET_FEATURES, 2, 0, "a header that is not a version 1 request" },
		{ VHOST_USER_GET_FEATURES, 1 | VHOST_USER_REPLY, 0,
		  "a header that is not a version 1 request" },
		{ VHOST_USER_SET_FEATURES, 1, 4, "a payload of the wrong size" },
		{ VHOST_USER_SET_VRING_ADDR, 1, 24, "a payload of the wrong size" },
		{ VHOST_USER_SET_LOG_BASE, 1, 16, "the wrong number of file descriptors" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_fds(f->front, buf, build(buf, bad[i].request, bad[i].flags, zero, bad[i].size),
			 NULL, 0);
		assert_int_equal(recv_msg(f), -EPROTO);
		assert_string_equal(f->why, bad[i].why);
		sb_vu_msg_release(&f->m);
	}
	/* a config message whose inner size disagrees with the header's */
	send_fds(f->front, buf, build(buf, VHOST_USER_GET_CONFIG, 1, &c, 12 + 20), NULL, 0);
	assert_int_equal(recv_msg(f), -EPROTO);
	assert_string_equal(f->why, "a config message whose size does not match");
}

static void test_oversized_payload(void **state)
{
	struct fx *f = *state;
	struct vhost_user_header h = { .request = VHOST_USER_SET_MEM_TABLE, .flags = 1,
				       .size = 1u << 30 };

	send_fds(f->front, &h, sizeof(h), NULL, 0);
	assert_int_equal(recv_msg(f), -EPROTO);
	assert_string_equal(f->why, "a payload larger than any message has");
}

static void test_too_many_fds(void **state)
{
	struct fx *f = *state;
	unsigned char buf[64];
	int fds[SB_VU_MSG_MAX_FDS + 1];

	for (unsigned i = 0; i <= SB_VU_MSG_MAX_FDS; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	send_fds(f->front, buf, build(buf, VHOST_USER_GET_FEATURES, 1, NULL, 0), fds,
		 SB_VU_MSG_MAX_FDS + 1);
	assert_int_equal(recv_msg(f), -EPROTO);
	assert_string_equal(f->why, "more file descriptors than a message carries");
	for (unsigned i = 0; i <= SB_VU_MSG_MAX_FDS; i++)
		close(fds[i]);
}

static void test_closed_mid_message(void **state)
{
	struct fx *f = *state;
	unsigned char buf[64];
	uint64_t v = 0;
	size_t n = build(buf, VHOST_USER_SET_FEATURES, 1, &v, 8);

	send_fds(f->front, buf, n - 3, NULL, 0);
	assert_int_equal(recv_msg(f), 0);
	close(f->front);
	f->front = -1;
	assert_int_equal(recv_msg(f), -ECONNRESET);
}

static void test_reply_with_an_fd(void **state)
{
	struct fx *f = *state;
	unsigned char buf[64];
	struct vhost_user_inflight in = { .num_queues = 2, .queue_size = 128 };
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct vhost_user_header h;

	send_fds(f->front, buf, build(buf, VHOST_USER_GET_INFLIGHT_FD, 1, &in, sizeof(in)), NULL, 0);
	assert_int_equal(recv_msg(f), 1);
	assert_int_equal(sb_vu_msg_reply(f->dev, &f->m, &in, sizeof(in), fd), 0);
	close(fd);
	assert_int_equal(recvmsg(f->front, &mh, 0), (ssize_t)(sizeof(h) + sizeof(in)));
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.request, VHOST_USER_GET_INFLIGHT_FD);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_REPLY);
	assert_int_equal(h.size, sizeof(in));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	int got;
	memcpy(&got, CMSG_DATA(c), sizeof(int));
	assert_true(got >= 0);
	close(got);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_whole_message_with_an_fd),
		T(test_byte_by_byte),
		T(test_two_in_one_write),
		T(test_mem_table_needs_its_fds),
		T(test_malformed),
		T(test_oversized_payload),
		T(test_too_many_fds),
		T(test_closed_mid_message),
		T(test_reply_with_an_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
