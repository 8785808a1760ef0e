/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: one queue's share of the in-flight region (INFLIGHT_SHMFD),
 * the record QEMU keeps for the back end across its restarts: which
 * popped chains are not used yet, in what order they were popped, and
 * which push was under way.  How pops and pushes are written into it, and
 * how a restarted steadyblk reads back what the one before left.
 *
 * A push is recorded around the used ring's update so that a back end
 * killed between the two can be told apart: last_batch_head names the
 * chain being pushed, used_idx the ring's used index once it is; if the
 * ring is ahead of used_idx on restart, that chain was used after all. */
#ifndef SB_VHOST_USER_INFLIGHT_QUEUE_H
#define SB_VHOST_USER_INFLIGHT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "exports/vhost-user/proto.h"
#include "exports/vhost-user/vring.h"

/* Bytes of one queue's share, for queues of @qsize entries. */
size_t sb_vu_inflight_queue_size(uint16_t qsize);

/* Chain @head popped, the @counter-th pop. */
void sb_vu_inflight_popped(struct vhost_user_inflight_queue *r, uint16_t head, uint64_t counter);

/* Pushes chain @head with @len bytes written onto @vq, recorded in @r
 * (or not, when @r is NULL). */
void sb_vu_inflight_push(struct vhost_user_inflight_queue *r, struct sb_vu_vring *vq,
			 uint16_t head, uint32_t len);

/* What a back end before this one left in @r, a region of queues of
 * @qsize, when the ring's used index is @used_idx: a push it was killed in
 * the middle of is completed in the record, and the chains still in
 * flight go into @heads (room for @qsize), oldest pop first.  Returns how
 * many; *@max_counter is the newest pop's counter (0 when none).  Returns
 * -1 when the record does not describe queues of @qsize: nothing is
 * resubmitted from it then. */
int sb_vu_inflight_scan(struct vhost_user_inflight_queue *r, uint16_t qsize, uint16_t used_idx,
			uint16_t *heads, uint64_t *max_counter);

#endif
