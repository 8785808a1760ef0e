/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the split virtqueue of vring.h (virtio 1.2, 2.7).  Rings
 * are little endian; the acquire load of avail->idx orders our reads of
 * the entries after the guest's writes, the release store of used->idx
 * orders the guest's reads after ours, and a full fence separates
 * publishing an index from reading the other side's event index. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "exports/vhost-user/vring.h"

static uint16_t avail_idx(const struct sb_vu_vring *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

/* The event indexes live just past each ring. */
static volatile uint16_t *used_event(const struct sb_vu_vring *vq)
{
	return &vq->avail->ring[vq->num];
}

static volatile uint16_t *avail_event(const struct sb_vu_vring *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->num];
}

int sb_vu_vring_setup(struct sb_vu_vring *vq, const struct sb_vu_mem *m, uint16_t num,
		      const struct vhost_user_vring_addr *a, uint64_t features, uint16_t base,
		      struct sb_error **errp)
{
	void *desc, *avail, *used;

	memset(vq, 0, sizeof(*vq));
	if (num == 0 || (num & (num - 1)) || num > VIRTQ_SIZE_MAX)
		return sb_error_set(errp, "queue %u: %u entries is not a power of two up to %u",
				    a->index, num, VIRTQ_SIZE_MAX);
	desc = sb_vu_mem_uva(m, a->desc_user_addr, (uint64_t)num * sizeof(struct virtq_desc));
	avail = sb_vu_mem_uva(m, a->avail_user_addr, 4 + 2 * (uint64_t)num + 2);
	used = sb_vu_mem_uva(m, a->used_user_addr,
			     4 + (uint64_t)num * sizeof(struct virtq_used_elem) + 2);
	if (!desc || !avail || !used)
		return sb_error_set(errp, "queue %u: a ring is outside the shared memory", a->index);
	if (((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) || ((uintptr_t)used & 3))
		return sb_error_set(errp, "queue %u: a ring is misaligned", a->index);
	vq->num = num;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = base;
	vq->used_idx = le16toh(vq->used->idx);
	vq->event_idx = features & (UINT64_C(1) << VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = features & (UINT64_C(1) << VIRTIO_F_RING_INDIRECT_DESC);
	return 0;
}

/* One descriptor, read once: the guest may rewrite it as we look. */
static struct virtq_desc read_desc(volatile const struct virtq_desc *d)
{
	struct virtq_desc v;

	v.addr = le64toh(d->addr);
	v.len = le32toh(d->len);
	v.flags = le16toh(d->flags);
	v.next = le16toh(d->next);
	return v;
}

/* What a walk along one chain appends to, and why it stopped. */
struct walk {
	const struct sb_vu_mem *m;
	struct sb_vu_chain *c;
	struct iovec *iov;
	unsigned room;
	const char *why;
};

static int add_buffer(struct walk *w, const struct virtq_desc *d)
{
	unsigned used = w->c->nout + w->c->nin;
	int n;

	if (d->flags & VIRTQ_DESC_F_WRITE) {
		w->c->in_bytes += d->len;
	} else {
		if (w->c->nin) {
			w->why = "a readable descriptor after a writable one";
			return -EINVAL;
		}
		w->c->out_bytes += d->len;
	}
	n = sb_vu_mem_gpa_iov(w->m, d->addr, d->len, w->iov + used, w->room - used);
	if (n == -EFAULT) {
		w->why = "a buffer outside guest memory";
		return -EINVAL;
	}
	if (n < 0) {
		w->why = "more buffers than the device takes in one request";
		return -EINVAL;
	}
	if (d->flags & VIRTQ_DESC_F_WRITE)
		w->c->nin += (unsigned)n;
	else
		w->c->nout += (unsigned)n;
	return 0;
}

/* Walks one descriptor table (the ring's, or an indirect one of @count
 * entries) from @i, appending to the walk.  At most @count descriptors: a
 * chain that comes back on itself runs out of them. */
static int walk_table(struct walk *w, volatile const struct virtq_desc *table, uint32_t count,
		      uint16_t i, bool indirect_allowed)
{
	for (uint32_t seen = 0;; seen++) {
		struct virtq_desc d;

		if (i >= count) {
			w->why = "a descriptor index past the table";
			return -EINVAL;
		}
		if (seen == count) {
			w->why = "a descriptor chain that loops";
			return -EINVAL;
		}
		d = read_desc(&table[i]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			volatile const struct virtq_desc *sub;

			if (!indirect_allowed) {
				w->why = "an indirect descriptor where none may be";
				return -EINVAL;
			}
			if (d.flags & VIRTQ_DESC_F_NEXT) {
				w->why = "an indirect descriptor with NEXT";
				return -EINVAL;
			}
			if (d.len == 0 || d.len % sizeof(struct virtq_desc)) {
				w->why = "an indirect table whose length is not a multiple of 16";
				return -EINVAL;
			}
			sub = sb_vu_mem_gpa(w->m, d.addr, d.len);
			if (!sub || ((uintptr_t)sub & 15)) {
				w->why = "an indirect table outside guest memory or misaligned";
				return -EINVAL;
			}
			return walk_table(w, sub, d.len / sizeof(struct virtq_desc), 0, false);
		}
		if (add_buffer(w, &d) < 0)
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static int broken(struct sb_vu_vring *vq, const char **why, const char *what)
{
	vq->broken = true;
	*why = what;
	return -EINVAL;
}

int sb_vu_vring_chain(struct sb_vu_vring *vq, const struct sb_vu_mem *m, uint16_t head,
		      struct sb_vu_chain *c, struct iovec *iov, unsigned room, const char **why)
{
	struct walk w = { .m = m, .c = c, .iov = iov, .room = room };

	if (vq->broken || !vq->num)
		return broken(vq, why, "a chain asked of a ring not set up");
	memset(c, 0, sizeof(*c));
	c->head = head;
	if (walk_table(&w, vq->desc, vq->num, head, vq->indirect) < 0)
		return broken(vq, why, w.why);
	return 1;
}

int sb_vu_vring_pop(struct sb_vu_vring *vq, const struct sb_vu_mem *m, struct sb_vu_chain *c,
		    struct iovec *iov, unsigned room, const char **why)
{
	uint16_t idx, head;

	if (vq->broken || !vq->num)
		return 0;
	idx = avail_idx(vq);
	if (idx == vq->last_avail)
		return 0;
	if ((uint16_t)(idx - vq->last_avail) > vq->num)
		return broken(vq, why, "an avail index more than a queue ahead");
	head = le16toh(vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	if (sb_vu_vring_chain(vq, m, head, c, iov, room, why) < 0)
		return -EINVAL;
	vq->last_avail++;
	if (vq->event_idx)
		*avail_event(vq) = htole16(vq->last_avail);
	return 1;
}

void sb_vu_vring_skip(struct sb_vu_vring *vq, uint16_t popped)
{
	vq->last_avail = (uint16_t)(vq->used_idx + popped);
	if (vq->event_idx)
		*avail_event(vq) = htole16(vq->last_avail);
}

void sb_vu_vring_push(struct sb_vu_vring *vq, uint16_t head, uint32_t len)
{
	volatile struct virtq_used_elem *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	e->id = htole32(head);
	e->len = htole32(len);
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool sb_vu_vring_need_notify(struct sb_vu_vring *vq)
{
	uint16_t old = vq->signalled_used, event;
	bool valid = vq->signalled_valid;

	/* The used index must be visible before we read what the guest
	 * asked for, or we may miss the interrupt it waits for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(le16toh(vq->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	event = le16toh(*used_event(vq));
	/* The guest wants one when the used index passes its event index. */
	return (uint16_t)(vq->used_idx - event - 1) < (uint16_t)(vq->used_idx - old);
}

bool sb_vu_vring_arm(struct sb_vu_vring *vq)
{
	if (vq->broken || !vq->num)
		return false;
	if (vq->event_idx)
		*avail_event(vq) = htole16(vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(vq) != vq->last_avail;
}
