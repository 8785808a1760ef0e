/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: one queue's share of the in-flight region (inflight-queue.h).
 * The region is shared with the front end, which may write anything into
 * it: every index read from it is checked before it is used. */
#include <stdlib.h>

#include "exports/vhost-user/inflight-queue.h"

size_t sb_vu_inflight_queue_size(uint16_t qsize)
{
	size_t n = sizeof(struct vhost_user_inflight_queue) +
		   (size_t)qsize * sizeof(struct vhost_user_inflight_desc);

	return (n + VHOST_USER_INFLIGHT_ALIGN - 1) & ~(size_t)(VHOST_USER_INFLIGHT_ALIGN - 1);
}

void sb_vu_inflight_popped(struct vhost_user_inflight_queue *r, uint16_t head, uint64_t counter)
{
	r->desc[head].counter = counter;
	r->desc[head].inflight = 1;
}

void sb_vu_inflight_push(struct vhost_user_inflight_queue *r, struct sb_vu_vring *vq,
			 uint16_t head, uint32_t len)
{
	if (r)
		r->last_batch_head = head;
	sb_vu_vring_push(vq, head, len);
	if (r) {
		/* The used ring first, then the record: killed in between, the
		 * record's used_idx lags the ring and names the head. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		r->desc[head].inflight = 0;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		r->used_idx = vq->used_idx;
	}
}

struct popped {
	uint64_t counter;
	uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
	const struct popped *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

int sb_vu_inflight_scan(struct vhost_user_inflight_queue *r, uint16_t qsize, uint16_t used_idx,
			uint16_t *heads, uint64_t *max_counter)
{
	struct popped *p;
	unsigned n = 0;

	uint16_t batch_head;

	*max_counter = 0;
	if (r->version == 0) { /* never written: nothing was popped */
		r->version = 1;
		r->desc_num = qsize;
		return 0;
	}
	if (r->version != 1 || r->desc_num != qsize)
		return -1;
	if (r->used_idx != used_idx) {
		/* Killed after the used ring's update, before the record's.
		 * Read once: the front end can write it between two reads. */
		batch_head = __atomic_load_n(&r->last_batch_head, __ATOMIC_RELAXED);
		if (batch_head < qsize)
			r->desc[batch_head].inflight = 0;
		r->used_idx = used_idx;
	}
	p = malloc((size_t)qsize * sizeof(*p));
	if (!p)
		return -1;
	for (unsigned i = 0; i < qsize; i++)
		if (r->desc[i].inflight) {
			p[n].counter = r->desc[i].counter;
			p[n].head = (uint16_t)i;
			n++;
		}
	qsort(p, n, sizeof(*p), by_counter);
	for (unsigned i = 0; i < n; i++)
		heads[i] = p[i].head;
	if (n)
		*max_counter = p[n - 1].counter;
	free(p);
	return (int)n;
}
