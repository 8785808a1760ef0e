/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: one vhost-user front end (QEMU's vhost-user-blk device):
 * its messages, its guest memory, its queues, and its life cycle.
 *
 *   connect: GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
 *            GET_QUEUE_NUM, SET_OWNER, GET_CONFIG
 *   start:   SET_FEATURES, SET_MEM_TABLE, per queue SET_VRING_NUM/BASE/ADDR,
 *            SET_VRING_KICK/CALL, SET_VRING_ENABLE 1  --> the queue pops
 *   stop:    GET_VRING_BASE per queue.  With the in-flight region
 *            (INFLIGHT_SHMFD, what QEMU's vhost-user-blk takes) it is
 *            answered at once, held requests and all: what completes while
 *            the ring is stopped is pushed when it starts again.  Without
 *            it, the answer waits until the queue's requests are done.
 *   reset:   QEMU frees the in-flight region on a device reset and asks
 *            for a new one (GET_INFLIGHT_FD) before the next start: that
 *            is the old instance's end.  Its held requests are fenced, its
 *            requests at the backend complete unseen (and order newer
 *            overlapping ones after them), what it left unpushed goes.
 *   gone:    the socket closes: held requests fenced (never re-issued),
 *            memory kept mapped until the last request at the backend ends
 *
 * A message this device cannot take, or a queue whose ring breaks the
 * rules, closes this front end only; everything else goes on. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "exports/vhost-user/internal.h"

#define PROTOCOL_FEATURES                                                              \
	((UINT64_C(1) << VHOST_USER_PROTOCOL_F_MQ) |                                   \
	 (UINT64_C(1) << VHOST_USER_PROTOCOL_F_REPLY_ACK) |                            \
	 (UINT64_C(1) << VHOST_USER_PROTOCOL_F_CONFIG) |                               \
	 (UINT64_C(1) << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |                       \
	 (UINT64_C(1) << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |                           \
	 (UINT64_C(1) << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

static void queue_run(void *opaque);
static void queue_again(void *opaque);
static void reap(void *opaque);
static void queue_notify(void *opaque);
static void sock_ready(void *opaque, uint32_t events);

/* ---- queues ---- */

static void queue_init(struct sb_vu_device *dev, unsigned i)
{
	struct sb_vu_queue *q = &dev->q[i];

	q->dev = dev;
	q->index = i;
	q->kick_fd = q->call_fd = -1;
	sb_defer_init(&q->run, queue_run, q);
	sb_timer_init(&q->again, queue_again, q);
	sb_defer_init(&q->notify, queue_notify, q);
	TAILQ_INIT(&q->free);
	TAILQ_INIT(&q->unpushed);
}

/* The slots and their bounce buffers go. */
static void queue_free_slots(struct sb_vu_queue *q)
{
	for (unsigned i = 0; i < q->nslots; i++)
		free(((struct sb_vu_slot *)(q->slot_mem + i * q->slot_size))->bounce);
	free(q->slot_mem);
	q->slot_mem = NULL;
	q->nslots = 0;
	TAILQ_INIT(&q->free);
}

/* Slots for every entry of the ring, made when the ring starts. */
static int queue_alloc_slots(struct sb_vu_queue *q)
{
	size_t size = sizeof(struct sb_vu_slot) + sb_disk_request_size(q->dev->exp->disk);

	size = (size + 63) & ~(size_t)63;
	if (q->slot_mem && q->nslots == q->num)
		return 0;
	/* Requests of an ended instance still at the backend are in some of
	 * them, and the ring after a reset may have another size (a virtio 1
	 * driver may pick a smaller one: a guest's firmware and its kernel
	 * can differ): it must run now, not never.  A slot is a request's
	 * context, not a ring entry: fewer slots than entries only bound how
	 * many requests are out at once.  The next start with none out sizes
	 * them to its ring. */
	if (q->inflight || !TAILQ_EMPTY(&q->unpushed))
		return 0;
	queue_free_slots(q);
	q->slot_mem = calloc(q->num, size);
	if (!q->slot_mem)
		return -ENOMEM;
	q->slot_size = size;
	q->nslots = q->num;
	for (unsigned i = 0; i < q->nslots; i++) {
		struct sb_vu_slot *s = (struct sb_vu_slot *)(q->slot_mem + i * size);
		s->q = q;
		TAILQ_INSERT_TAIL(&q->free, s, link);
	}
	return 0;
}

static void kick_ready(void *opaque, uint32_t events)
{
	struct sb_vu_queue *q = opaque;
	uint64_t v;

	(void)events;
	if (read(q->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		sb_debug("%s: queue %u: reading its kick: %s", q->dev->name, q->index,
			 strerror(errno));
	queue_run(q);
}

static void queue_stop(struct sb_vu_queue *q)
{
	struct sb_loop *loop = q->dev->loop;

	if (q->kick_fd >= 0) {
		sb_loop_watch_del(loop, &q->kick_watch);
		close(q->kick_fd);
		q->kick_fd = -1;
	}
	sb_loop_defer_cancel(loop, &q->run);
	sb_timer_cancel(loop, &q->again);
	q->started = false;
}

/* Is a migration logging what the device writes into guest memory? */
static bool logging(const struct sb_vu_device *dev)
{
	return (dev->features & (UINT64_C(1) << VHOST_F_LOG_ALL)) && dev->log.bits;
}

/* The pages of queue @q's used ring, all of it (elements, index and the
 * avail event index that pops write), as written. */
static void log_used_ring(struct sb_vu_queue *q)
{
	if (logging(q->dev) && (q->addr.flags & (1u << VHOST_VRING_F_LOG)))
		sb_vu_log_write(&q->dev->log, q->addr.log_guest_addr,
				4 + (uint64_t)q->num * sizeof(struct virtq_used_elem) + 2);
}

/* The chain's writable buffers (read data, status byte), as written. */
static void log_chain(struct sb_vu_slot *s)
{
	struct sb_vu_device *dev = s->q->dev;
	uint64_t gpa;

	for (unsigned i = 0; i < s->chain.nin; i++) {
		const struct iovec *v = &s->iov[s->chain.nout + i];
		if (sb_vu_mem_hva_gpa(&dev->mem, v->iov_base, &gpa))
			sb_vu_log_write(&dev->log, gpa, v->iov_len);
	}
	/* The status byte too: the data's iovecs were trimmed to leave it out,
	 * and it may be alone on a page of its own. */
	if (s->status && sb_vu_mem_hva_gpa(&dev->mem, s->status, &gpa))
		sb_vu_log_write(&dev->log, gpa, 1);
}

/* Gives chain @s back to the guest, and the slot to its queue. */
static void push_slot(struct sb_vu_slot *s)
{
	struct sb_vu_queue *q = s->q;

	/* Popped before the front end stopped the ring and gave it a smaller
	 * size (SET_VRING_NUM, no reset between): its head is no entry of
	 * this ring nor of its in-flight record (whose desc[] it would write
	 * past).  The front end has forgotten it: it goes, as a reset's do. */
	if (s->chain.head >= q->num) {
		sb_warn("%s: queue %u: a request popped from the ring before it shrank to %u "
			"entries is dropped", q->dev->name, q->index, q->num);
		TAILQ_INSERT_HEAD(&q->free, s, link);
		return;
	}
	if (logging(q->dev))
		log_chain(s);
	sb_vu_inflight_push(q->region, &q->ring, s->chain.head, s->in_len);
	log_used_ring(q);
	sb_loop_defer(q->dev->loop, &q->notify);
	TAILQ_INSERT_HEAD(&q->free, s, link);
}

/* The first start on a region kept from a back end before this one (a
 * restarted steadyblk that QEMU reconnected to): the chains it popped and
 * never gave back are popped again, oldest first, before any new one. */
static void queue_adopt_region(struct sb_vu_queue *q)
{
	struct sb_vu_device *dev = q->dev;
	uint64_t newest;
	int n;

	q->adopt_region = false;
	q->nresubmit = q->resubmit_next = 0;
	free(q->resubmit);
	if (!(q->resubmit = malloc(q->num * sizeof(*q->resubmit)))) {
		sb_warn("%s: queue %u: no memory to read the in-flight region: what it records "
			"is not resubmitted", dev->name, q->index);
		return;
	}
	n = sb_vu_inflight_scan(q->region, q->num, q->ring.used_idx, q->resubmit, &newest);
	if (n < 0) {
		sb_warn("%s: queue %u: the in-flight region does not describe a queue of %u: "
			"nothing is resubmitted from it", dev->name, q->index, q->num);
		return;
	}
	/* The steadyblk before may have pushed without an interrupt. */
	sb_loop_defer(dev->loop, &q->notify);
	/* The next avail entry follows what the record holds, whatever base
	 * the front end sent. */
	sb_vu_vring_skip(&q->ring, (uint16_t)n);
	if (n == 0)
		return;
	q->nresubmit = (unsigned)n;
	dev->pop_counter = SB_MAX(dev->pop_counter, newest);
	sb_info("%s: queue %u: resubmitting %d requests left unanswered by the steadyblk "
		"before this one, in their order", dev->name, q->index, n);
}

/* The next chain to start: one left by a back end before, or a new one. */
static int queue_next_chain(struct sb_vu_queue *q, struct sb_vu_slot *s, const char **why)
{
	if (q->resubmit_next < q->nresubmit)
		return sb_vu_vring_chain(&q->ring, &q->dev->mem, q->resubmit[q->resubmit_next++],
					 &s->chain, s->iov, SB_VU_SLOT_IOV, why);
	return sb_vu_vring_pop(&q->ring, &q->dev->mem, &s->chain, s->iov, SB_VU_SLOT_IOV, why);
}

/* Starts popping once the ring has everything it needs. */
static void queue_maybe_start(struct sb_vu_queue *q)
{
	struct sb_vu_device *dev = q->dev;
	SB_AUTOERR struct sb_error *err = NULL;

	if (q->started || q->kick_fd < 0 || !q->addr_set || !q->num)
		return;
	if (sb_vu_vring_setup(&q->ring, &dev->mem, q->num, &q->addr, dev->features, q->base,
			      &err) < 0) {
		sb_warn("%s: %s", dev->name, err->msg);
		return;
	}
	if (queue_alloc_slots(q) < 0) {
		sb_warn("%s: queue %u: no memory for %u request slots", dev->name, q->index, q->num);
		return;
	}
	q->region = sb_vu_inflight_queue(dev, q->index, q->num);
	/* Only a queue with nothing of this process out reads the record:
	 * what it would skip past is its own otherwise. */
	if (q->region && q->adopt_region && !q->inflight && TAILQ_EMPTY(&q->unpushed))
		queue_adopt_region(q);
	q->adopt_region = false; /* the first start decides */
	q->started = true;
	q->budget = q->num;
	/* What completed while the ring was stopped goes to the guest now. */
	for (struct sb_vu_slot *s; (s = TAILQ_FIRST(&q->unpushed));) {
		TAILQ_REMOVE(&q->unpushed, s, link);
		push_slot(s);
	}
	sb_loop_defer(dev->loop, &q->run);
}

static void queue_notify(void *opaque)
{
	struct sb_vu_queue *q = opaque;
	uint64_t one = 1;

	if (q->call_fd >= 0 && q->started && sb_vu_vring_need_notify(&q->ring) &&
	    write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sb_debug("%s: queue %u: interrupt: %s", q->dev->name, q->index, strerror(errno));
}

static void queue_run(void *opaque)
{
	struct sb_vu_queue *q = opaque;
	struct sb_vu_device *dev = q->dev;

	while (q->started && q->enabled && !dev->gone && !dev->draining) {
		struct sb_vu_slot *s = TAILQ_FIRST(&q->free);
		const char *why = NULL;
		int r;

		if (!s || !sb_disk_accepting(dev->exp->disk, &dev->inst->session))
			return; /* a completion, or the session's resume(), runs it again */
		/* Completions give slots back and run the queue again, as soon
		 * as the same pass of deferred calls for some (bad requests,
		 * GET_ID, a backend that answers at once), and the guest may
		 * make chains available as fast as they are popped, or put its
		 * used ring, a status byte or an ID over its avail index: a
		 * ring's worth, then the loop's other events, then the rest. */
		if (q->budget == 0) {
			if (!q->again.armed)
				sb_timer_arm(dev->loop, &q->again, sb_now_ns());
			return;
		}
		r = queue_next_chain(q, s, &why);
		if (r == 0) {
			if (!sb_vu_vring_arm(&q->ring))
				return;
			continue;
		}
		if (r < 0) {
			sb_warn("%s: queue %u: the guest's ring holds %s: the queue stops until the "
				"device is reset", dev->name, q->index, why);
			return;
		}
		q->budget--;
		TAILQ_REMOVE(&q->free, s, link);
		if (q->region) /* the head is below q->num: the walk checked it */
			sb_vu_inflight_popped(q->region, s->chain.head, ++dev->pop_counter);
		s->inst = dev->inst;
		s->inst->inflight++;
		q->inflight++;
		dev->inflight++;
		sb_vu_blk_start(s);
	}
}

/* The loop's other events had their turn: a new budget. */
static void queue_again(void *opaque)
{
	struct sb_vu_queue *q = opaque;

	q->budget = q->num;
	queue_run(q);
}

void sb_vu_device_resume(struct sb_session *session)
{
	struct sb_vu_device *dev = SB_CONTAINER_OF(session, struct sb_vu_instance, session)->dev;

	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		if (dev->q[i].started)
			sb_loop_defer(dev->loop, &dev->q[i].run);
}

/* ---- replies ---- */

static int reply(struct sb_vu_device *dev, const void *payload, uint32_t size)
{
	int r = sb_vu_msg_reply(dev->sock, &dev->msg, payload, size, -1);

	if (r < 0)
		sb_vu_device_close(dev, "it does not take its replies");
	return r;
}

static int reply_u64(struct sb_vu_device *dev, uint64_t v)
{
	return reply(dev, &v, sizeof(v));
}

/* ---- message handlers: 0 done (ack if asked), 1 replied, -1 refused ---- */

static struct sb_vu_queue *msg_queue(struct sb_vu_device *dev, uint32_t index)
{
	if (index >= dev->exp->num_queues) {
		sb_warn("%s: queue %" PRIu32 " does not exist (%u queues)", dev->name, index,
			dev->exp->num_queues);
		return NULL;
	}
	return &dev->q[index];
}

/* Rings set up before the memory moved are set up again where it is now. */
static void rings_follow_memory(struct sb_vu_device *dev)
{
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		if (dev->q[i].started) {
			dev->q[i].started = false;
			dev->q[i].base = dev->q[i].ring.last_avail;
			queue_maybe_start(&dev->q[i]);
		}
}

/* Keeps region @r mapped until the device's requests are done: in
 * old_mem, or once that is full in old_more's last table.  False if out
 * of memory. */
static bool keep_old(struct sb_vu_device *dev, const struct sb_vu_region *r)
{
	struct sb_vu_mem *t = &dev->old_mem;

	if (t->n == VHOST_USER_MAX_MEM_SLOTS && dev->n_old_more)
		t = &dev->old_more[dev->n_old_more - 1];
	if (t->n == VHOST_USER_MAX_MEM_SLOTS) {
		struct sb_vu_mem *more = realloc(dev->old_more,
						 (dev->n_old_more + 1) * sizeof(*more));
		if (!more)
			return false;
		dev->old_more = more;
		t = &more[dev->n_old_more++];
		sb_vu_mem_init(t);
	}
	t->r[t->n++] = *r;
	return true;
}

/* Unmaps what keep_old kept. */
static void clear_old(struct sb_vu_device *dev)
{
	sb_vu_mem_clear(&dev->old_mem);
	for (unsigned i = 0; i < dev->n_old_more; i++)
		sb_vu_mem_clear(&dev->old_more[i]);
	free(dev->old_more);
	dev->old_more = NULL;
	dev->n_old_more = 0;
}

/* Unmaps the regions of @m, or, while requests at the backend may point
 * into them, keeps them mapped until the last completes (keep_old): a
 * front end may replace its table any number of times meanwhile.  Out of
 * memory, a mapping is left alone rather than pulled from under a
 * request. */
static void retire_mem(struct sb_vu_device *dev, struct sb_vu_mem *m)
{
	if (dev->inflight) {
		for (unsigned i = 0; i < m->n; i++)
			if (!keep_old(dev, &m->r[i]))
				sb_warn("%s: no memory to keep a replaced memory region until its "
					"requests are done: it stays mapped", dev->name);
		m->n = 0;
	}
	sb_vu_mem_clear(m);
}

static int set_mem_table(struct sb_vu_device *dev)
{
	struct sb_vu_msg *m = &dev->msg;
	struct sb_vu_mem fresh;

	sb_vu_mem_init(&fresh);
	for (unsigned i = 0; i < m->p.mem.nregions; i++) {
		SB_AUTOERR struct sb_error *err = NULL;
		/* The same memory again (every start sends the table): kept as
		 * it is mapped, so requests pointing into it stay valid. */
		if (sb_vu_mem_take_same(&dev->mem, &m->p.mem.regions[i], m->fds[i], &fresh))
			continue;
		if (sb_vu_mem_add(&fresh, &m->p.mem.regions[i], m->fds[i], &err) < 0) {
			sb_warn("%s: %s", dev->name, err->msg);
			break;
		}
	}
	if (fresh.n != m->p.mem.nregions) {
		retire_mem(dev, &fresh);
		sb_vu_device_close(dev, "its memory table cannot be mapped");
		return -1;
	}
	retire_mem(dev, &dev->mem); /* what is no longer in the table */
	dev->mem = fresh;
	rings_follow_memory(dev);
	return 0;
}

/* ADD_MEM_REG (CONFIGURE_MEM_SLOTS: QEMU sends the regions one by one). */
static int add_mem_reg(struct sb_vu_device *dev)
{
	SB_AUTOERR struct sb_error *err = NULL;

	if (sb_vu_mem_add(&dev->mem, &dev->msg.p.region.region, dev->msg.fds[0], &err) < 0) {
		sb_warn("%s: %s", dev->name, err->msg);
		return -1;
	}
	return 0;
}

/* REM_MEM_REG: the region goes as one no longer in a SET_MEM_TABLE does. */
static int rem_mem_reg(struct sb_vu_device *dev)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct sb_vu_mem gone;

	sb_vu_mem_init(&gone);
	if (sb_vu_mem_take(&dev->mem, &dev->msg.p.region.region, &gone, &err) < 0) {
		sb_warn("%s: %s", dev->name, err->msg);
		return -1;
	}
	retire_mem(dev, &gone);
	rings_follow_memory(dev);
	return 0;
}

void sb_vu_device_divert_memory(struct sb_vu_device *dev)
{
	unsigned stuck = sb_vu_mem_divert(&dev->mem, &dev->old_mem);

	if (stuck)
		sb_warn("%s: %u memory regions could not be mapped again: a read of the old device "
			"still at the backend may land in the guest's memory", dev->name, stuck);
	rings_follow_memory(dev);
}

static int set_vring_fd(struct sb_vu_device *dev, bool kick)
{
	struct sb_vu_msg *m = &dev->msg;
	struct sb_vu_queue *q = msg_queue(dev, (uint32_t)(m->p.u64 & VHOST_USER_VRING_IDX_MASK));
	int fd = (m->p.u64 & VHOST_USER_VRING_NOFD) ? -1 : sb_vu_msg_take_fd(m, 0);

	if (!q) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!kick) {
		if (q->call_fd >= 0)
			close(q->call_fd);
		q->call_fd = fd;
		if (q->started) /* what was pushed before it had no fd to go by */
			sb_loop_defer(dev->loop, &q->notify);
		return 0;
	}
	queue_stop(q);
	if (fd < 0) {
		sb_warn("%s: queue %u: a kick without an fd (polling) is not supported",
			dev->name, q->index);
		return -1;
	}
	q->kick_fd = fd;
	sb_watch_init(&q->kick_watch, fd, kick_ready, q);
	if (sb_loop_watch_add(dev->loop, &q->kick_watch, EPOLLIN) < 0) {
		close(fd);
		q->kick_fd = -1;
		return -1;
	}
	/* Without protocol features a ring runs as soon as it is kicked. */
	if (!(dev->features & (UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES)))
		q->enabled = true;
	queue_maybe_start(q);
	return 0;
}

/* GET_VRING_BASE: the ring stops.  With the in-flight region the answer
 * goes at once; without it, once the queue's requests are done. */
static int get_vring_base(struct sb_vu_device *dev)
{
	struct sb_vu_queue *q = msg_queue(dev, dev->msg.p.state.index);
	struct vhost_user_vring_state st;

	if (!q)
		return -1;
	/* A migration's stop is drained for real: the destination cannot see
	 * what steadyblk holds.  So is a stop without the in-flight region. */
	if (q->inflight && (logging(dev) || !(dev->protocol_features &
					      (UINT64_C(1) << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))) {
		dev->draining = true; /* slot_done answers */
		sb_loop_watch_set(dev->loop, &dev->sock_watch, 0);
		return 1;
	}
	st.index = q->index;
	st.num = q->started ? q->ring.last_avail : q->base;
	if (q->started)
		log_used_ring(q);
	queue_stop(q);
	q->enabled = false;
	q->addr_set = false;
	q->base = (uint16_t)st.num;
	if (q->call_fd >= 0) {
		close(q->call_fd);
		q->call_fd = -1;
	}
	return reply(dev, &st, sizeof(st)) < 0 ? -1 : 1;
}

/* SET_LOG_BASE: a migration starts (or its log grows).  QEMU waits for
 * the reply whenever the log is shared. */
static int set_log_base(struct sb_vu_device *dev)
{
	SB_AUTOERR struct sb_error *err = NULL;
	int fd = sb_vu_msg_take_fd(&dev->msg, 0);
	int r = sb_vu_log_set(&dev->log, fd, &dev->msg.p.log, &err);

	close(fd);
	if (r < 0) {
		sb_warn("%s: %s", dev->name, err->msg);
		return -1;
	}
	sb_info("%s: dirty log of %" PRIu64 " bytes: a migration is under way", dev->name,
		dev->log.bytes);
	return reply_u64(dev, 0) < 0 ? -1 : 1;
}

static int get_config(struct sb_vu_device *dev)
{
	struct vhost_user_config c = dev->msg.p.config;
	struct virtio_blk_config cfg;

	sb_vu_blk_config(dev->exp, &cfg);
	memset(c.region, 0, sizeof(c.region));
	if (c.offset < sizeof(cfg))
		memcpy(c.region, (char *)&cfg + c.offset, SB_MIN(c.size, sizeof(cfg) - c.offset));
	return reply(dev, &c, VHOST_USER_CONFIG_HDR_SIZE + c.size) < 0 ? -1 : 1;
}

static void reset_queues(struct sb_vu_device *dev)
{
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++) {
		struct sb_vu_queue *q = &dev->q[i];
		queue_stop(q);
		q->enabled = q->addr_set = false;
		q->base = 0;
		q->nresubmit = q->resubmit_next = 0;
		q->adopt_region = false;
	}
}

static int handle(struct sb_vu_device *dev)
{
	struct sb_vu_msg *m = &dev->msg;
	struct sb_vu_queue *q;

	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		return reply_u64(dev, sb_vu_blk_features(dev->exp)) < 0 ? -1 : 1;
	case VHOST_USER_SET_FEATURES:
		if (m->p.u64 & ~sb_vu_blk_features(dev->exp))
			return -1;
		if ((m->p.u64 ^ dev->features) & (UINT64_C(1) << VHOST_F_LOG_ALL))
			sb_info("%s: dirty logging %s", dev->name,
				(m->p.u64 & (UINT64_C(1) << VHOST_F_LOG_ALL)) ? "on" : "off");
		dev->features = m->p.u64;
		return 0;
	case VHOST_USER_SET_LOG_BASE:
		return set_log_base(dev);
	case VHOST_USER_SET_LOG_FD: {
		int fd = sb_vu_msg_take_fd(m, 0);
		if (fd >= 0)
			close(fd); /* the log is shared memory: nothing to signal */
		return 0;
	}
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		return reply_u64(dev, PROTOCOL_FEATURES) < 0 ? -1 : 1;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		dev->protocol_features = m->p.u64 & PROTOCOL_FEATURES;
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		return reply_u64(dev, dev->exp->num_queues) < 0 ? -1 : 1;
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		reset_queues(dev);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(dev);
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		return reply_u64(dev, VHOST_USER_MAX_MEM_SLOTS) < 0 ? -1 : 1;
	case VHOST_USER_ADD_MEM_REG:
		return add_mem_reg(dev);
	case VHOST_USER_REM_MEM_REG:
		return rem_mem_reg(dev);
	case VHOST_USER_SET_VRING_NUM:
		if (!(q = msg_queue(dev, m->p.state.index)) || q->started || !m->p.state.num ||
		    m->p.state.num > VIRTQ_SIZE_MAX || (m->p.state.num & (m->p.state.num - 1)))
			return -1;
		q->num = (uint16_t)m->p.state.num;
		return 0;
	case VHOST_USER_SET_VRING_BASE:
		if (!(q = msg_queue(dev, m->p.state.index)) || q->started)
			return -1;
		q->base = (uint16_t)m->p.state.num;
		return 0;
	case VHOST_USER_SET_VRING_ADDR:
		if (!(q = msg_queue(dev, m->p.addr.index)))
			return -1;
		q->addr = m->p.addr;
		q->addr_set = true;
		if (q->started) { /* moved under a running ring: set up again */
			q->started = false;
			q->base = q->ring.last_avail;
		}
		queue_maybe_start(q);
		return 0;
	case VHOST_USER_SET_VRING_KICK:
		return set_vring_fd(dev, true);
	case VHOST_USER_SET_VRING_CALL:
		return set_vring_fd(dev, false);
	case VHOST_USER_SET_VRING_ERR: {
		int fd = sb_vu_msg_take_fd(m, 0);
		if (fd >= 0)
			close(fd); /* errors are reported by closing, not on this fd */
		return 0;
	}
	case VHOST_USER_SET_VRING_ENABLE:
		if (!(q = msg_queue(dev, m->p.state.index)))
			return -1;
		q->enabled = m->p.state.num != 0;
		if (q->enabled && q->started)
			sb_loop_defer(dev->loop, &q->run);
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		return get_vring_base(dev);
	case VHOST_USER_GET_CONFIG:
		return get_config(dev);
	case VHOST_USER_SET_CONFIG:
		return -1; /* nothing in it is writable (no CONFIG_WCE) */
	case VHOST_USER_GET_INFLIGHT_FD:
		return sb_vu_inflight_get_fd(dev);
	case VHOST_USER_SET_INFLIGHT_FD:
		return sb_vu_inflight_set_fd(dev);
	default:
		sb_warn("%s: %s is not supported", dev->name, sb_vu_request_name(m->hdr.request));
		return -1;
	}
}

/* Runs the message in dev->msg; answers NEED_REPLY; releases it. */
static void dispatch(struct sb_vu_device *dev)
{
	struct sb_vu_msg *m = &dev->msg;
	bool ack = (dev->protocol_features & (UINT64_C(1) << VHOST_USER_PROTOCOL_F_REPLY_ACK)) &&
		   (m->hdr.flags & VHOST_USER_NEED_REPLY);
	int r;

	sb_debug("%s: %s", dev->name, sb_vu_request_name(m->hdr.request));
	r = handle(dev);
	if (dev->gone || (r == 1 && dev->draining))
		return; /* closed, or the reply waits: keep the message */
	if (r <= 0 && ack && reply_u64(dev, r < 0 ? 1 : 0) < 0)
		return;
	if (r < 0 && !ack) {
		sb_vu_device_close(dev, "it sent a message the device cannot take");
		return;
	}
	sb_vu_msg_release(m);
}

void sb_vu_device_message(struct sb_vu_device *dev, struct sb_vu_msg *m)
{
	const char *why = NULL;
	char what[160];

	dev->msg = *m;
	sb_vu_msg_init(m);
	if (sb_vu_msg_check(&dev->msg, &why)) {
		dispatch(dev);
		return;
	}
	snprintf(what, sizeof(what), "it sent %s", why);
	sb_vu_device_close(dev, what);
}

static void sock_ready(void *opaque, uint32_t events)
{
	struct sb_vu_device *dev = opaque;

	/* Draining, the socket is watched for nothing, but epoll reports a
	 * hang-up all the same, on every turn until it is handled: the front
	 * end has gone, and the requests drained for it may take as long as
	 * the backend's outage. */
	if (dev->draining && (events & (EPOLLHUP | EPOLLERR))) {
		sb_vu_device_close(dev, "it disconnected");
		return;
	}
	while (!dev->gone && !dev->draining) {
		const char *why = NULL;
		int r = sb_vu_msg_recv(dev->sock, &dev->msg, &why);

		if (r == 0)
			return;
		if (r == -ECONNRESET) {
			sb_vu_device_close(dev, "it disconnected");
			return;
		}
		if (r < 0) {
			char what[160];
			snprintf(what, sizeof(what), "it sent %s", why ? why : strerror(-r));
			sb_vu_device_close(dev, what);
			return;
		}
		dispatch(dev);
	}
}

/* ---- slots coming back ---- */

void sb_vu_device_slot_done(struct sb_vu_slot *s, bool push)
{
	struct sb_vu_queue *q = s->q;
	struct sb_vu_device *dev = q->dev;
	struct sb_vu_instance *inst = s->inst;

	inst->inflight--;
	q->inflight--;
	dev->inflight--;
	if (dev->inflight == 0)
		clear_old(dev);
	if (inst != dev->inst || dev->gone || !push) {
		/* Fenced, or of an instance that has ended: the ring is not its. */
		TAILQ_INSERT_HEAD(&q->free, s, link);
		if (inst->detached && inst->inflight == 0) {
			TAILQ_REMOVE(&dev->old_instances, inst, link);
			free(inst);
		}
		if (dev->gone) {
			if (dev->detached && dev->inflight == 0)
				sb_loop_defer(dev->loop, &dev->reap);
			return;
		}
	} else if (q->started) {
		push_slot(s);
	} else {
		TAILQ_INSERT_TAIL(&q->unpushed, s, link); /* the ring is stopped */
	}
	if (dev->draining && dev->q[dev->msg.p.state.index].inflight == 0) {
		/* The queue is whole again: the stop's answer goes now. */
		queue_notify(q);
		dev->draining = false;
		sb_loop_watch_set(dev->loop, &dev->sock_watch, EPOLLIN);
		dispatch(dev);
		if (!dev->gone)
			sock_ready(dev, EPOLLIN);
		return;
	}
	sb_loop_defer(dev->loop, &q->run);
}

/* ---- life cycle ---- */

struct sb_vu_device *sb_vu_device_new(struct sb_vu_export *exp, int sock, unsigned id)
{
	struct sb_vu_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->exp = exp;
	dev->loop = exp->loop;
	dev->sock = sock;
	snprintf(dev->name, sizeof(dev->name), "vhost-user-blk client %u", id);
	sb_vu_msg_init(&dev->msg);
	sb_vu_mem_init(&dev->mem);
	sb_vu_log_init(&dev->log);
	sb_vu_mem_init(&dev->old_mem);
	TAILQ_INIT(&dev->old_instances);
	sb_defer_init(&dev->reap, reap, dev);
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		queue_init(dev, i);
	sb_watch_init(&dev->sock_watch, sock, sock_ready, dev);
	dev->inst = sb_vu_instance_new(dev);
	if (!dev->inst || sb_loop_watch_add(dev->loop, &dev->sock_watch, EPOLLIN) < 0) {
		if (dev->inst) {
			sb_disk_detach(&dev->inst->session, "disconnected");
			free(dev->inst);
		}
		free(dev);
		return NULL;
	}
	return dev;
}

void sb_vu_device_close(struct sb_vu_device *dev, const char *why)
{
	struct sb_vu_export *exp = dev->exp;

	if (dev->gone)
		return;
	sb_info("%s: closed: %s", dev->name, why);
	dev->gone = true;
	sb_loop_watch_del(dev->loop, &dev->sock_watch);
	close(dev->sock);
	dev->sock = -1;
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++) {
		queue_stop(&dev->q[i]);
		sb_loop_defer_cancel(dev->loop, &dev->q[i].notify);
	}
	exp->dev = NULL;
	TAILQ_INSERT_TAIL(&exp->closing, dev, link);
	if (dev->inflight) /* QEMU may reconnect with the guest running on */
		sb_vu_device_divert_memory(dev);
	sb_vu_instance_end(dev, dev->inst, "disconnected"); /* held ones come back fenced */
	dev->inst = NULL;
	dev->detached = true;
	if (dev->inflight == 0)
		sb_loop_defer(dev->loop, &dev->reap); /* not under our callers' feet */
}

static void reap(void *opaque)
{
	struct sb_vu_device *dev = opaque;

	if (dev->inflight)
		return;
	TAILQ_REMOVE(&dev->exp->closing, dev, link);
	sb_vu_device_free(dev);
}

void sb_vu_device_free(struct sb_vu_device *dev)
{
	struct sb_vu_instance *inst;

	sb_loop_defer_cancel(dev->loop, &dev->reap);
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++) {
		struct sb_vu_queue *q = &dev->q[i];
		queue_stop(q);
		sb_loop_defer_cancel(dev->loop, &q->notify);
		if (q->call_fd >= 0)
			close(q->call_fd);
		queue_free_slots(q);
		free(q->resubmit);
	}
	if (dev->sock >= 0) {
		sb_loop_watch_del(dev->loop, &dev->sock_watch);
		close(dev->sock);
	}
	if (dev->inst) {
		sb_disk_detach(&dev->inst->session, "disconnected");
		free(dev->inst);
	}
	while ((inst = TAILQ_FIRST(&dev->old_instances))) {
		TAILQ_REMOVE(&dev->old_instances, inst, link);
		free(inst);
	}
	sb_vu_inflight_unmap(dev);
	sb_vu_log_clear(&dev->log);
	sb_vu_msg_release(&dev->msg);
	sb_vu_mem_clear(&dev->mem);
	clear_old(dev);
	free(dev);
}
