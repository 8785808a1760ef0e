/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: one split virtqueue as the device side sees it: popping
 * the guest's descriptor chains into iovecs of our address space, pushing
 * used elements, and deciding when the guest wants an interrupt
 * (EVENT_IDX or the avail ring's NO_INTERRUPT flag).
 *
 * The guest writes these rings while we read them, and a hostile or buggy
 * driver may write anything: each descriptor is read once into a local
 * copy, every address is checked against the memory table, a chain may not
 * be longer than the queue or loop, and an indirect table follows the
 * spec's rules (a multiple of 16 bytes, in one region, never nested, never
 * with NEXT).  What breaks a rule marks the queue broken, as the spec's
 * NEEDS_RESET: the front end has to reset it; nothing else is touched. */
#ifndef SB_VHOST_USER_VRING_H
#define SB_VHOST_USER_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/error.h"
#include "exports/vhost-user/mem.h"
#include "exports/vhost-user/proto.h"

struct sb_vu_vring {
	uint16_t num;                        /* entries, a power of two; 0: not set up */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	uint16_t last_avail;                 /* the next avail entry to pop */
	uint16_t used_idx;                   /* ours; used->idx follows it */
	uint16_t signalled_used;             /* used_idx at the last interrupt */
	bool signalled_valid;                /* false until the first interrupt */
	bool event_idx;                      /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;                       /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	bool broken;                         /* bad input seen: reset needed */
};

/* A popped chain: its head (what sb_vu_vring_push gives back), its
 * readable buffers first in the iovec array, then its writable ones. */
struct sb_vu_chain {
	uint16_t head;
	unsigned nout;      /* readable (driver-to-device) iovecs */
	unsigned nin;       /* writable (device-to-driver) iovecs, after them */
	uint64_t out_bytes;
	uint64_t in_bytes;
};

/* Sets @vq up for @num entries at the front end's addresses in @a, with
 * the virtio @features negotiated, starting at avail index @base (what
 * SET_VRING_BASE said; the used index is read from the ring).  Returns 0,
 * or -1 with @errp set when @num is not a power of two up to 32768 or a
 * ring is not inside @m or misaligned. */
int sb_vu_vring_setup(struct sb_vu_vring *vq, const struct sb_vu_mem *m, uint16_t num,
		      const struct vhost_user_vring_addr *a, uint64_t features, uint16_t base,
		      struct sb_error **errp);

/* Pops the next available chain into @c and @iov (room for @room
 * entries).  Returns 1 when one was popped, 0 when the ring is empty, or
 * -EINVAL when the chain breaks a rule: @vq is then broken, @why says
 * which rule (static text), and the ring is left alone from then on. */
int sb_vu_vring_pop(struct sb_vu_vring *vq, const struct sb_vu_mem *m, struct sb_vu_chain *c,
		    struct iovec *iov, unsigned room, const char **why);

/* The chain at descriptor @head, walked as sb_vu_vring_pop does, without
 * taking an avail entry: for chains popped by a back end before this one.
 * Returns 1, or -EINVAL (the ring is then broken) as pop does. */
int sb_vu_vring_chain(struct sb_vu_vring *vq, const struct sb_vu_mem *m, uint16_t head,
		      struct sb_vu_chain *c, struct iovec *iov, unsigned room, const char **why);

/* After a restart: @popped chains past the used index were popped by the
 * back end before (the front end's base, the used index, counts them as
 * not popped): the next pop is the entry after them. */
void sb_vu_vring_skip(struct sb_vu_vring *vq, uint16_t popped);

/* Gives chain @head back with @len bytes written into it. */
void sb_vu_vring_push(struct sb_vu_vring *vq, uint16_t head, uint32_t len);

/* After pushing: does the guest want an interrupt now?  (Counts it as
 * sent when it says yes.) */
bool sb_vu_vring_need_notify(struct sb_vu_vring *vq);

/* Before sleeping on the kick: asks the guest to kick at its next avail
 * entry, and says whether one arrived meanwhile (then pop again). */
bool sb_vu_vring_arm(struct sb_vu_vring *vq);

#endif
