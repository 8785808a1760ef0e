/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the vhost-user-blk export's shared structures: a server
 * (one listening socket, one front end at a time), the device of the front
 * end connected, its queues and their request slots.
 *
 *   server --accept--> device (one front end: messages, memory, session)
 *                        `--> queue[i] (ring, kick/call fds, slots)
 *                               `--> slot: a popped chain as an sb_request
 */
#ifndef SB_VHOST_USER_INTERNAL_H
#define SB_VHOST_USER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "base/loop.h"
#include "core/disk.h"
#include "exports/vhost-user/inflight-queue.h"
#include "exports/vhost-user/log.h"
#include "exports/vhost-user/mem.h"
#include "exports/vhost-user/msg.h"
#include "exports/vhost-user/vring.h"

#define SB_VU_MAX_QUEUES   16
#define SB_VU_SEG_MAX      126      /* data buffers a request may have */
#define SB_VU_SLOT_IOV     (SB_VU_SEG_MAX + 2 + 8) /* + header, status, region splits */
#define SB_VU_MAX_REQUEST  (32u << 20) /* bytes of data in one request */

struct sb_vu_device;
struct sb_vu_queue;

/* One instance of the device, from one reset to the next: its requests
 * are one session of the disk, so that a reset fences what the old one
 * still holds (never re-issued) and orders its requests still at the
 * backend before overlapping new ones, as for an NBD client gone. */
struct sb_vu_instance {
	struct sb_session session;
	struct sb_vu_device *dev;
	unsigned inflight;            /* its slots not yet done */
	bool detached;                /* reset or gone: freed when inflight is 0 */
	TAILQ_ENTRY(sb_vu_instance) link; /* on dev->old_instances */
};

/* One popped chain, from pop to push. */
struct sb_vu_slot {
	struct sb_vu_queue *q;
	struct sb_vu_instance *inst;  /* the device instance that popped it */
	struct sb_vu_chain chain;
	struct iovec iov[SB_VU_SLOT_IOV];
	unsigned data_iov, data_cnt;  /* the data buffers within iov */
	unsigned char *status;        /* the status byte, in guest memory */
	uint32_t in_len;              /* bytes written into the chain when done */
	void *bounce;                 /* data of a multi-buffer request */
	size_t bounce_cap;
	TAILQ_ENTRY(sb_vu_slot) link; /* on the queue's free or unpushed list */
	struct sb_request req;        /* last: the backend's context follows */
};

struct sb_vu_queue {
	struct sb_vu_device *dev;
	unsigned index;
	uint16_t num;                 /* SET_VRING_NUM */
	uint16_t base;                /* SET_VRING_BASE */
	struct vhost_user_vring_addr addr;
	bool addr_set;
	bool enabled;                 /* SET_VRING_ENABLE (or no protocol features) */
	bool started;                 /* has a kick fd and a ring: popping */
	struct sb_vu_vring ring;
	int kick_fd, call_fd;
	struct sb_watch kick_watch;
	struct sb_defer run;          /* pop what is available */
	unsigned budget;              /* pops left before the loop's other events */
	struct sb_timer again;        /* ...which then give it a new one */
	struct sb_defer notify;       /* one interrupt for a batch of pushes */
	unsigned char *slot_mem;
	size_t slot_size;
	unsigned nslots;
	unsigned inflight;            /* slots submitted, not yet done */
	TAILQ_HEAD(, sb_vu_slot) free;
	/* Done while the ring was stopped (stop answered at once): pushed
	 * when it starts again, dropped if the device is reset first. */
	TAILQ_HEAD(, sb_vu_slot) unpushed;
	struct vhost_user_inflight_queue *region; /* in dev->inflight_map, or NULL */
	/* A region kept from a back end before this one: read at the next
	 * start, and what it left in flight popped again first. */
	bool adopt_region;
	uint16_t *resubmit;           /* heads, oldest pop first */
	unsigned nresubmit, resubmit_next;
};

struct sb_vu_export;

struct sb_vu_device {
	struct sb_vu_export *exp;
	struct sb_loop *loop;
	int sock;
	struct sb_watch sock_watch;
	char name[96];                /* "vhost-user-blk client 2" */
	struct sb_vu_instance *inst;  /* the current instance */
	TAILQ_HEAD(, sb_vu_instance) old_instances; /* reset, requests still out */
	struct sb_vu_msg msg;
	bool gone;                    /* the front end went away */
	bool detached;                /* ...and its instance ended: the last
					 completion frees the device */
	void *inflight_map;           /* the in-flight region (SET_INFLIGHT_FD) */
	size_t inflight_size;
	uint16_t inflight_qsize;      /* its queues' size */
	uint16_t inflight_nq;
	uint64_t pop_counter;         /* pop order, for the region */
	struct sb_defer reap;         /* frees a closed device, outside its handlers */
	bool broken_logged;
	uint64_t features;            /* acked virtio features */
	uint64_t protocol_features;   /* acked protocol features */
	struct sb_vu_mem mem;
	struct sb_vu_log log;         /* a migration's dirty log (SET_LOG_BASE) */
	struct sb_vu_mem old_mem;     /* replaced while requests pointed into it */
	struct sb_vu_mem *old_more;   /* ...and more of them once old_mem is full */
	unsigned n_old_more;
	unsigned inflight;            /* of every queue */
	bool draining;                /* GET_VRING_BASE in dev->msg waits for its
					 queue's requests: no message read meanwhile */
	TAILQ_ENTRY(sb_vu_device) link; /* on the export's closing list */
	struct sb_vu_queue q[SB_VU_MAX_QUEUES];
};

/* An export: a socket, a disk, options. */
struct sb_vu_export {
	struct sb_loop *loop;
	struct sb_disk *disk;
	char *path;
	char *uri;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	unsigned num_queues;
	bool read_only;
	int listen_fd;
	struct sb_watch listen_watch;
	struct sb_vu_device *dev;     /* the front end connected, or NULL */
	TAILQ_HEAD(, sb_vu_device) closing; /* gone, requests still at the backend */
	TAILQ_ENTRY(sb_vu_export) link;
};

/* ---- blk.c: virtio-blk requests ---- */

/* The virtio features the device offers for @exp. */
uint64_t sb_vu_blk_features(const struct sb_vu_export *exp);
/* Fills @cfg, the device's configuration space. */
void sb_vu_blk_config(const struct sb_vu_export *exp, struct virtio_blk_config *cfg);
/* Turns the chain popped into @s into a request and submits it, or
 * completes it at once (GET_ID, a bad request). */
void sb_vu_blk_start(struct sb_vu_slot *s);

/* ---- device.c ---- */

/* A front end connected on @sock (the export owns the device from now). */
struct sb_vu_device *sb_vu_device_new(struct sb_vu_export *exp, int sock, unsigned id);
/* Runs @m, a message read whole from the front end, as the socket's
 * reader does once it has one: a message sb_vu_msg_check refuses closes
 * the device, any other goes to its handler (and its reply, if any, to
 * the socket).  The device takes @m and its fds (those no handler keeps
 * are closed); @m is left empty.  Only while the device is neither gone
 * nor draining, with no message half read (it reads none then).  The
 * seam of the fuzz harness that drives the handlers without the reader. */
void sb_vu_device_message(struct sb_vu_device *dev, struct sb_vu_msg *m);
/* Gives a slot back to its queue, and pushes its chain with @in_len bytes
 * written unless the device has gone. */
void sb_vu_device_slot_done(struct sb_vu_slot *s, bool push);
/* The front end goes (it closed, or sent what we cannot take): fences its
 * held requests; the device is freed once nothing of it is at the backend. */
void sb_vu_device_close(struct sb_vu_device *dev, const char *why);
/* Frees @dev at once (nothing of it at the backend). */
void sb_vu_device_free(struct sb_vu_device *dev);
/* An instance ended with requests at the backend: guest memory is mapped
 * afresh for what comes next, and their late writes into it go to a
 * private copy the guest never sees (sb_vu_mem_divert). */
void sb_vu_device_divert_memory(struct sb_vu_device *dev);
/* The disk's memory bound lifted: the device's queues pop again. */
void sb_vu_device_resume(struct sb_session *session);

/* ---- inflight.c: instances and the in-flight region ---- */

/* A new instance of @dev, attached to the disk; NULL if out of memory. */
struct sb_vu_instance *sb_vu_instance_new(struct sb_vu_device *dev);
/* @inst ends: its held requests come back fenced, those at the backend
 * complete unseen; it is freed once none is left. */
void sb_vu_instance_end(struct sb_vu_device *dev, struct sb_vu_instance *inst, const char *how);
/* GET_INFLIGHT_FD (a new region, a new instance) and SET_INFLIGHT_FD (a
 * region kept by the front end: the first one a connection sees comes from
 * a back end before it, and is adopted);
 * as the message handlers: 1 replied, 0 done, -1 refused. */
int sb_vu_inflight_get_fd(struct sb_vu_device *dev);
int sb_vu_inflight_set_fd(struct sb_vu_device *dev);
/* Queue @index's share of the region, when there is one for queues of
 * @qsize; NULL otherwise. */
struct vhost_user_inflight_queue *sb_vu_inflight_queue(struct sb_vu_device *dev, unsigned index,
						       uint16_t qsize);
/* Unmaps the region. */
void sb_vu_inflight_unmap(struct sb_vu_device *dev);

#endif
