/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: sending file descriptors over a unix socket (SCM_RIGHTS),
 * for vhost-user's replies and for the tests that play its front end. */
#ifndef SB_FDPASS_H
#define SB_FDPASS_H

#include <sys/types.h>
#include <sys/uio.h>

#define SB_FDPASS_MAX 16 /* descriptors one message carries, at most */

/* One sendmsg(@flags) of @iovcnt buffers with @nfds descriptors attached
 * (none when 0), retried on EINTR.  Returns the bytes sent, or -errno
 * (-EINVAL for more than SB_FDPASS_MAX descriptors). */
ssize_t sb_send_fds(int sock, const struct iovec *iov, int iovcnt, const int *fds, unsigned nfds,
		    int flags);

#endif
