/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the device's instances and the shared in-flight region
 * (INFLIGHT_SHMFD).  QEMU asks for a region before the first start and
 * after every device reset (it frees the old one then), and hands the same
 * region back at every start in between (stop/cont): so a region asked for
 * is the end of one device instance and the start of the next.
 *
 * The region records, per queue, which popped chains are not used yet and
 * in what order they were popped (inflight-queue.h).  A connection whose
 * first region is handed to it (SET_INFLIGHT_FD, no GET before) is QEMU
 * reconnecting to a restarted steadyblk: what the region records in
 * flight is resubmitted, oldest first, when each queue starts. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "exports/vhost-user/internal.h"

struct vhost_user_inflight_queue *sb_vu_inflight_queue(struct sb_vu_device *dev, unsigned index,
						       uint16_t qsize)
{
	if (!dev->inflight_map || index >= dev->inflight_nq || dev->inflight_qsize != qsize)
		return NULL;
	return (struct vhost_user_inflight_queue *)((unsigned char *)dev->inflight_map +
						    index * sb_vu_inflight_queue_size(qsize));
}

/* Queues and a queue size this device can have. */
static bool shape_ok(const struct vhost_user_inflight *in)
{
	return in->num_queues && in->num_queues <= SB_VU_MAX_QUEUES && in->queue_size &&
	       in->queue_size <= VIRTQ_SIZE_MAX;
}

/* ---- instances ---- */

struct sb_vu_instance *sb_vu_instance_new(struct sb_vu_device *dev)
{
	struct sb_vu_instance *inst = calloc(1, sizeof(*inst));

	if (!inst)
		return NULL;
	inst->dev = dev;
	inst->session.name = dev->name;
	inst->session.resume = sb_vu_device_resume;
	sb_disk_attach(dev->exp->disk, &inst->session);
	return inst;
}

/* @inst ends: its held requests come back fenced, its requests at the
 * backend complete unseen; freed once none is left. */
void sb_vu_instance_end(struct sb_vu_device *dev, struct sb_vu_instance *inst, const char *how)
{
	TAILQ_INSERT_TAIL(&dev->old_instances, inst, link);
	sb_disk_detach(&inst->session, how);
	inst->detached = true;
	if (inst->inflight == 0) {
		TAILQ_REMOVE(&dev->old_instances, inst, link);
		free(inst);
	}
}

/* A device reset: a new instance, the old one's work dropped. */
static int reset_instance(struct sb_vu_device *dev)
{
	struct sb_vu_instance *fresh = sb_vu_instance_new(dev), *old = dev->inst;
	bool late;

	if (!fresh)
		return -1;
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++) {
		struct sb_vu_queue *q = &dev->q[i];
		for (struct sb_vu_slot *sl; (sl = TAILQ_FIRST(&q->unpushed));) {
			TAILQ_REMOVE(&q->unpushed, sl, link);
			TAILQ_INSERT_HEAD(&q->free, sl, link);
		}
		q->nresubmit = q->resubmit_next = 0; /* the old instance's, fenced */
		q->adopt_region = false;
	}
	late = old->inflight != 0;
	if (late)
		sb_info("%s: reset with %u requests of the old device still out: held ones are "
			"dropped, never re-issued; those at the backend finish unseen", dev->name,
			old->inflight);
	dev->inst = fresh;
	sb_vu_instance_end(dev, old, "was reset"); /* may free it */
	if (late) /* after the switch: rings set up again pop for the new one */
		sb_vu_device_divert_memory(dev);
	return 0;
}

/* ---- the in-flight region ---- */

void sb_vu_inflight_unmap(struct sb_vu_device *dev)
{
	if (dev->inflight_map)
		munmap(dev->inflight_map, dev->inflight_size);
	dev->inflight_map = NULL;
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		dev->q[i].region = NULL;
}

static int map_inflight(struct sb_vu_device *dev, int fd, const struct vhost_user_inflight *in)
{
	struct stat st;
	void *map;

	/* A file shorter than the region would fault on the first touch. */
	if (fstat(fd, &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size < in->mmap_offset + in->mmap_size || !shape_ok(in) ||
	    in->mmap_size < in->num_queues * sb_vu_inflight_queue_size(in->queue_size) ||
	    in->mmap_size > SIZE_MAX || in->mmap_offset % 4096) {
		sb_warn("%s: an in-flight region of %" PRIu64 " bytes for %u queues of %u",
			dev->name, in->mmap_size, in->num_queues, in->queue_size);
		return -1;
	}
	map = mmap(NULL, (size_t)in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)in->mmap_offset);
	if (map == MAP_FAILED) {
		sb_warn("%s: mapping the in-flight region: %s", dev->name, strerror(errno));
		return -1;
	}
	sb_vu_inflight_unmap(dev);
	dev->inflight_map = map;
	dev->inflight_size = (size_t)in->mmap_size;
	dev->inflight_nq = in->num_queues;
	dev->inflight_qsize = in->queue_size;
	/* Queues running on go on recording, in the new region. */
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		if (dev->q[i].started)
			dev->q[i].region = sb_vu_inflight_queue(dev, i, dev->q[i].num);
	return 0;
}

/* GET_INFLIGHT_FD: a fresh region.  QEMU asks before the first start and
 * after each device reset (it frees the old one then), so this is also
 * where the instance before a reset ends. */
int sb_vu_inflight_get_fd(struct sb_vu_device *dev)
{
	struct vhost_user_inflight in = dev->msg.p.inflight;
	int fd, r;

	if (!shape_ok(&in))
		return -1;
	in.mmap_size = in.num_queues * sb_vu_inflight_queue_size(in.queue_size);
	in.mmap_offset = 0;
	/* Sealed against shrinking: the front end cannot pull it from under us. */
	fd = memfd_create("steadyblk-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)in.mmap_size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 || map_inflight(dev, fd, &in) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (unsigned i = 0; i < in.num_queues; i++) {
		struct vhost_user_inflight_queue *region = sb_vu_inflight_queue(dev, i, in.queue_size);
		region->version = 1;
		region->desc_num = in.queue_size;
	}
	if (reset_instance(dev) < 0) {
		close(fd);
		return -1;
	}
	r = sb_vu_msg_reply(dev->sock, &dev->msg, &in, sizeof(in), fd);
	close(fd);
	if (r < 0) {
		sb_vu_device_close(dev, "it does not take its replies");
		return -1;
	}
	return 1;
}

int sb_vu_inflight_set_fd(struct sb_vu_device *dev)
{
	int fd = sb_vu_msg_take_fd(&dev->msg, 0);
	bool first = !dev->inflight_map; /* none asked for nor handed before */
	int r = map_inflight(dev, fd, &dev->msg.p.inflight);

	close(fd);
	if (r == 0 && first)
		for (unsigned i = 0; i < dev->inflight_nq; i++)
			dev->q[i].adopt_region = true;
	return r;
}

