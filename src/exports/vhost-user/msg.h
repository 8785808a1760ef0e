/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: vhost-user messages on the front end's socket: one read
 * incrementally (the loop never waits for a slow sender), with the file
 * descriptors it carries, then checked against its request's payload
 * layout before any handler looks inside; and replies. */
#ifndef SB_VHOST_USER_MSG_H
#define SB_VHOST_USER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exports/vhost-user/proto.h"

/* At most this many fds ride on one message (SET_MEM_TABLE's). */
#define SB_VU_MSG_MAX_FDS VHOST_USER_MEM_REGIONS_BASELINE

struct sb_vu_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload p;
	int fds[SB_VU_MSG_MAX_FDS];
	unsigned nfds;
	size_t got; /* bytes of header and payload read so far */
};

/* An empty message, no fds. */
void sb_vu_msg_init(struct sb_vu_msg *m);

/* Reads what is there of the message in progress from @sock (non-blocking).
 * Returns 1 when it is complete and valid (sb_vu_msg_check), 0 when more is
 * to come, -ECONNRESET when the front end closed, -EPROTO when the message
 * is malformed (@why says how), or another -errno. */
int sb_vu_msg_recv(int sock, struct sb_vu_msg *m, const char **why);

/* Is the complete message @m well formed: a request we know, version 1,
 * not a reply, a payload of its request's size, and the fds it needs? */
bool sb_vu_msg_check(const struct sb_vu_msg *m, const char **why);

/* Takes fd @i out of @m (the caller owns it now); -1 if there is none. */
int sb_vu_msg_take_fd(struct sb_vu_msg *m, unsigned i);

/* Closes the fds no handler took, and makes @m empty for the next one. */
void sb_vu_msg_release(struct sb_vu_msg *m);

/* Sends the reply to @req: @size bytes of @payload, and @fd if >= 0.
 * Returns 0 or -errno (a front end that does not take its reply is gone:
 * the socket's buffer holds many replies). */
int sb_vu_msg_reply(int sock, const struct sb_vu_msg *req, const void *payload, uint32_t size,
		    int fd);

/* The request's name, for log lines. */
const char *sb_vu_request_name(uint32_t request);

#endif
