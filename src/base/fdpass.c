/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: sending file descriptors over a unix socket (fdpass.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "base/fdpass.h"

ssize_t sb_send_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, unsigned nfds,
		    int flags)
{
	union {
		char buf[CMSG_SPACE(SB_FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	if (nfds > SB_FDPASS_MAX)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
