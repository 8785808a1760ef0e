/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the vhost-user message reader and checker
 * (exports/vhost-user/msg.c) over a socketpair, with descriptors.  The
 * input is a list of writes by the front end:
 *
 *   u8 nfds (mod 10: 0..9 descriptors ride on the write, one more than a
 *   message may carry), u16 length (little endian), length bytes
 *
 * (the last write may be cut short).  The device side reads messages as
 * the server does, taking the first descriptor of each and closing it,
 * until the stream ends or a message is refused.  Every descriptor that
 * arrived must be closed by then. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/fdpass.h"
#include "exports/vhost-user/msg.h"
#include "fuzz.h"

#define MAX_ROUNDS 100000

static int devnull = -1;

/* Sends one write with @nfds copies of /dev/null.  Returns bytes sent,
 * 0 if the socket is full, -1 if the peer is gone. */
static ssize_t send_write(int sock, const uint8_t *buf, size_t len, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int fds[SB_FDPASS_MAX];
	ssize_t n;

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = devnull;
	n = sb_send_fds(sock, &iov, 1, fds, nfds, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return n == -EAGAIN ? 0 : -1;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_vu_msg m;
	size_t pos = 0, wrote = 0; /* the write at pos, of which `wrote` bytes went */
	bool shut = false, done = false;
	int sv[2], fds, round;

	fuzz_init();
	if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		fuzz_fail("/dev/null: %s", strerror(errno));
	fds = fuzz_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	sb_vu_msg_init(&m);

	for (round = 0; round < MAX_ROUNDS && !done; round++) {
		/* The front end: the next write, or what is left of it. */
		while (!shut) {
			size_t len, hdr = 3;
			unsigned nfds;
			ssize_t n;

			if (pos + hdr > size) {
				shutdown(sv[0], SHUT_WR);
				shut = true;
				break;
			}
			nfds = data[pos] % 10;
			len = SB_MIN((size_t)(data[pos + 1] | data[pos + 2] << 8), size - pos - hdr);
			if (len == 0) { /* descriptors need a byte to ride on */
				pos += hdr;
				continue;
			}
			n = send_write(sv[0], data + pos + hdr + wrote, len - wrote,
				       wrote ? 0 : nfds);
			if (n < 0) {
				shut = true;
				break;
			}
			if (n == 0)
				break;
			wrote += (size_t)n;
			if (wrote == len) {
				pos += hdr + len;
				wrote = 0;
			}
		}
		/* The device. */
		for (;;) {
			const char *why = NULL;
			int r = sb_vu_msg_recv(sv[1], &m, &why);

			if (r == 1) {
				int fd;

				if (!sb_vu_msg_check(&m, &why))
					fuzz_fail("a message returned whole fails its check: %s", why);
				sb_vu_request_name(m.hdr.request);
				if ((fd = sb_vu_msg_take_fd(&m, 0)) >= 0)
					close(fd);
				sb_vu_msg_release(&m);
				continue;
			}
			if (r == 0)
				break;
			if (r == -EPROTO && !why)
				fuzz_fail("a refused message without a reason");
			done = true; /* the server drops the front end */
			break;
		}
	}
	if (!done)
		fuzz_fail("the reader never saw the end of the stream");
	sb_vu_msg_release(&m);
	close(sv[0]);
	close(sv[1]);
	fuzz_check_fds(fds, "vhost-msg");
	return 0;
}
