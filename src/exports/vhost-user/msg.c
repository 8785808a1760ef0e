/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: reading, checking and answering vhost-user messages
 * (msg.h).  The fds of a message arrive with its first bytes (the front
 * end sends each message with one sendmsg), but any recvmsg may carry
 * some, so each read collects them. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fdpass.h"
#include "exports/vhost-user/msg.h"

/* What each request carries: payload size bounds and fds. */
struct layout {
	const char *name;
	uint32_t min, max;  /* payload bytes */
	uint8_t fds;        /* exactly this many... */
	bool fds_upto;      /* ...or at most this many */
};

#define U64   sizeof(uint64_t)
#define STATE sizeof(struct vhost_user_vring_state)

static const struct layout layouts[VHOST_USER_REQUEST_MAX] = {
	[VHOST_USER_GET_FEATURES] = { "GET_FEATURES", 0, U64 },
	[VHOST_USER_SET_FEATURES] = { "SET_FEATURES", U64, U64 },
	[VHOST_USER_SET_OWNER] = { "SET_OWNER", 0, U64 },
	[VHOST_USER_RESET_OWNER] = { "RESET_OWNER", 0, U64 },
	[VHOST_USER_SET_MEM_TABLE] = { "SET_MEM_TABLE", 8, sizeof(struct vhost_user_mem_table),
				       SB_VU_MSG_MAX_FDS, true },
	[VHOST_USER_SET_LOG_BASE] = { "SET_LOG_BASE", sizeof(struct vhost_user_log),
				      sizeof(struct vhost_user_log), 1 },
	[VHOST_USER_SET_LOG_FD] = { "SET_LOG_FD", 0, U64, 1 },
	[VHOST_USER_SET_VRING_NUM] = { "SET_VRING_NUM", STATE, STATE },
	[VHOST_USER_SET_VRING_ADDR] = { "SET_VRING_ADDR", sizeof(struct vhost_user_vring_addr),
					sizeof(struct vhost_user_vring_addr) },
	[VHOST_USER_SET_VRING_BASE] = { "SET_VRING_BASE", STATE, STATE },
	[VHOST_USER_GET_VRING_BASE] = { "GET_VRING_BASE", STATE, STATE },
	[VHOST_USER_SET_VRING_KICK] = { "SET_VRING_KICK", U64, U64, 1, true },
	[VHOST_USER_SET_VRING_CALL] = { "SET_VRING_CALL", U64, U64, 1, true },
	[VHOST_USER_SET_VRING_ERR] = { "SET_VRING_ERR", U64, U64, 1, true },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", 0, U64 },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", U64, U64 },
	[VHOST_USER_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", 0, U64 },
	[VHOST_USER_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", STATE, STATE },
	[VHOST_USER_GET_CONFIG] = { "GET_CONFIG", VHOST_USER_CONFIG_HDR_SIZE,
				    sizeof(struct vhost_user_config) },
	[VHOST_USER_SET_CONFIG] = { "SET_CONFIG", VHOST_USER_CONFIG_HDR_SIZE,
				    sizeof(struct vhost_user_config) },
	[VHOST_USER_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", sizeof(struct vhost_user_inflight),
					 sizeof(struct vhost_user_inflight) },
	[VHOST_USER_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", sizeof(struct vhost_user_inflight),
					 sizeof(struct vhost_user_inflight), 1 },
	[VHOST_USER_RESET_DEVICE] = { "RESET_DEVICE", 0, U64 },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", 0, U64 },
	[VHOST_USER_ADD_MEM_REG] = { "ADD_MEM_REG", sizeof(struct vhost_user_mem_region_msg),
				     sizeof(struct vhost_user_mem_region_msg), 1 },
	[VHOST_USER_REM_MEM_REG] = { "REM_MEM_REG", sizeof(struct vhost_user_mem_region_msg),
				     sizeof(struct vhost_user_mem_region_msg), 1, true },
	[VHOST_USER_SET_STATUS] = { "SET_STATUS", U64, U64 },
	[VHOST_USER_GET_STATUS] = { "GET_STATUS", 0, U64 },
};

const char *sb_vu_request_name(uint32_t request)
{
	if (request < VHOST_USER_REQUEST_MAX && layouts[request].name)
		return layouts[request].name;
	return "an unsupported request";
}

void sb_vu_msg_init(struct sb_vu_msg *m)
{
	memset(m, 0, sizeof(*m));
}

bool sb_vu_msg_check(const struct sb_vu_msg *m, const char **why)
{
	const struct layout *l;

	if (m->hdr.request >= VHOST_USER_REQUEST_MAX || !layouts[m->hdr.request].name) {
		*why = "a request this device does not take";
		return false;
	}
	l = &layouts[m->hdr.request];
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (m->hdr.flags & VHOST_USER_REPLY)) {
		*why = "a header that is not a version 1 request";
		return false;
	}
	if (m->hdr.size < l->min || m->hdr.size > l->max) {
		*why = "a payload of the wrong size";
		return false;
	}
	if (l->fds_upto ? m->nfds > l->fds : m->nfds != l->fds) {
		*why = "the wrong number of file descriptors";
		return false;
	}
	switch (m->hdr.request) {
	case VHOST_USER_SET_MEM_TABLE:
		if (m->p.mem.nregions > VHOST_USER_MEM_REGIONS_BASELINE ||
		    m->hdr.size != 8 + m->p.mem.nregions * sizeof(struct vhost_user_mem_region) ||
		    m->nfds != m->p.mem.nregions) {
			*why = "a memory table whose size or fds do not match its regions";
			return false;
		}
		break;
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		if (m->p.config.size > VHOST_USER_CONFIG_MAX ||
		    m->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + m->p.config.size) {
			*why = "a config message whose size does not match";
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* Keeps the fds that came with this read; more than a message may carry
 * is an error (and they are closed). */
static int collect_fds(struct sb_vu_msg *m, struct msghdr *mh)
{
	int err = 0;

	if (mh->msg_flags & MSG_CTRUNC)
		err = -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int fds[SB_VU_MSG_MAX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (m->nfds < SB_VU_MSG_MAX_FDS)
				m->fds[m->nfds++] = fds[i];
			else {
				close(fds[i]);
				err = -EPROTO;
			}
		}
	}
	return err;
}

int sb_vu_msg_recv(int sock, struct sb_vu_msg *m, const char **why)
{
	union {
		char buf[CMSG_SPACE(SB_VU_MSG_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	const size_t hdr = sizeof(m->hdr);

	for (;;) {
		size_t want = m->got < hdr ? hdr : hdr + m->hdr.size;
		unsigned char *dst = m->got < hdr ? (unsigned char *)&m->hdr + m->got
						  : (unsigned char *)&m->p + (m->got - hdr);
		struct iovec iov = { .iov_base = dst, .iov_len = want - m->got };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n;

		if (m->got == want) {
			if (!sb_vu_msg_check(m, why))
				return -EPROTO;
			return 1;
		}
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		if (collect_fds(m, &mh) < 0) {
			*why = "more file descriptors than a message carries";
			return -EPROTO;
		}
		if (n == 0)
			return -ECONNRESET;
		m->got += (size_t)n;
		if (m->got == hdr && m->hdr.size > VHOST_USER_PAYLOAD_MAX) {
			*why = "a payload larger than any message has";
			return -EPROTO;
		}
	}
}

int sb_vu_msg_take_fd(struct sb_vu_msg *m, unsigned i)
{
	int fd;

	if (i >= m->nfds || m->fds[i] < 0)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

void sb_vu_msg_release(struct sb_vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	sb_vu_msg_init(m);
}

int sb_vu_msg_reply(int sock, const struct sb_vu_msg *req, const void *payload, uint32_t size,
		    int fd)
{
	struct vhost_user_header h = {
		.request = req->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	ssize_t n = sb_send_fds(sock, iov, size ? 2 : 1, &fd, fd >= 0, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return n == -EAGAIN ? -EPIPE : (int)n;
	return (size_t)n == sizeof(h) + size ? 0 : -EPIPE;
}
