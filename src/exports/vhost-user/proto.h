/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the vhost-user wire (message numbers, header, payloads,
 * protocol features), the split virtqueue's layout and the virtio-blk
 * device's, written from QEMU's docs/interop/vhost-user.rst and the virtio
 * 1.2 specification (2.7 split virtqueues, 5.2 block device).  vhost-user
 * messages are in the host's byte order; everything the guest writes
 * (rings, descriptors, virtio-blk headers) is little endian (VERSION_1). */
#ifndef SB_VHOST_USER_PROTO_H
#define SB_VHOST_USER_PROTO_H

#include <stdint.h>

/* ---- messages from the front end (QEMU) ---- */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_REQUEST_MAX = 41, /* one past the last we know */
};

/* Header flags: the version in bits 0-1, then who speaks and what. */
#define VHOST_USER_VERSION_MASK     0x3u
#define VHOST_USER_VERSION          0x1u
#define VHOST_USER_REPLY            (1u << 2)
#define VHOST_USER_NEED_REPLY       (1u << 3)

struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* of the payload that follows */
} __attribute__((packed));

/* ---- features ---- */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VHOST_F_LOG_ALL                26

#define VHOST_USER_PROTOCOL_F_MQ                  0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD           1
#define VHOST_USER_PROTOCOL_F_REPLY_ACK           3
#define VHOST_USER_PROTOCOL_F_CONFIG              9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD      12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE        13
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS              16

/* ---- payloads ---- */

/* SET_MEM_TABLE carries at most this many regions, one fd each. */
#define VHOST_USER_MEM_REGIONS_BASELINE 8
/* What GET_MAX_MEM_SLOTS answers: ADD_MEM_REG may go this far. */
#define VHOST_USER_MAX_MEM_SLOTS        32

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* the front end's virtual address */
	uint64_t mmap_offset;    /* where the region starts in its fd */
} __attribute__((packed));

struct vhost_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MEM_REGIONS_BASELINE];
} __attribute__((packed));

/* ADD_MEM_REG and REM_MEM_REG. */
struct vhost_user_mem_region_msg {
	uint64_t padding;
	struct vhost_user_mem_region region;
} __attribute__((packed));

/* SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE. */
struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

#define VHOST_VRING_F_LOG 0 /* log_guest_addr is valid */

/* SET_VRING_ADDR: the front end's virtual addresses of the three parts. */
struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

/* SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR: a u64 whose low byte is
 * the queue; with this bit set no fd came (poll the ring instead). */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD     (1u << 8)

/* SET_LOG_BASE. */
struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
} __attribute__((packed));

/* GET_CONFIG, SET_CONFIG. */
#define VHOST_USER_CONFIG_MAX 256
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_CONFIG_MAX];
} __attribute__((packed));
#define VHOST_USER_CONFIG_HDR_SIZE 12

/* GET_INFLIGHT_FD, SET_INFLIGHT_FD: not packed on the wire either, so
 * 24 bytes with the tail padding QEMU sends. */
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

/* The shared in-flight region (INFLIGHT_SHMFD), one per queue, each
 * starting on a 64-byte boundary: which popped chains are not yet used,
 * in what order they were popped.  It outlives the back end: a restarted
 * one can resubmit what it records. */
#define VHOST_USER_INFLIGHT_ALIGN 64
struct vhost_user_inflight_desc {
	uint8_t inflight;  /* popped, not yet pushed */
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;  /* pop order */
};

struct vhost_user_inflight_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vhost_user_inflight_desc desc[];
};

/* Every payload; its size is the most a message may carry. */
union vhost_user_payload {
	uint64_t u64;
	struct vhost_user_mem_table mem;
	struct vhost_user_mem_region_msg region;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_log log;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
};
#define VHOST_USER_PAYLOAD_MAX sizeof(union vhost_user_payload)

/* ---- virtio ---- */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* The largest split queue (virtio 1.2, 2.7). */
#define VIRTQ_SIZE_MAX 32768

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
	uint64_t addr; /* guest physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Followed by used_event (u16) when EVENT_IDX is negotiated. */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id; /* the chain's head */
	uint32_t len; /* bytes written into the chain's writable part */
};

/* Followed by avail_event (u16) when EVENT_IDX is negotiated. */
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

/* ---- virtio-blk (virtio 1.2, 5.2) ---- */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_ID_BYTES    20

/* The request header, in the chain's first readable bytes. */
struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
} __attribute__((packed));

/* DISCARD and WRITE_ZEROES carry an array of these. */
#define VIRTIO_BLK_WRITE_ZEROES_F_UNMAP 1u
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

/* The device's configuration space, as far as this device fills it; a
 * front end may read less (it asks for the size its features need). */
struct virtio_blk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	uint32_t max_secure_erase_sectors;
	uint32_t max_secure_erase_seg;
	uint32_t secure_erase_sector_alignment;
} __attribute__((packed));

_Static_assert(sizeof(struct vhost_user_header) == 12, "vhost-user header");
_Static_assert(sizeof(struct vhost_user_mem_table) == 8 + 8 * 32, "memory table");
_Static_assert(sizeof(struct vhost_user_vring_addr) == 40, "vring address");
_Static_assert(sizeof(struct vhost_user_inflight) == 24, "inflight");
_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor");
_Static_assert(sizeof(struct vhost_user_inflight_queue) == 16, "inflight queue");
_Static_assert(sizeof(struct vhost_user_inflight_desc) == 16, "inflight desc");
_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "virtio-blk header");
_Static_assert(sizeof(struct virtio_blk_config) == 72, "virtio-blk config");

#endif
