/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: NBD wire constants and message layouts (fixed newstyle
 * handshake, simple replies), written from the protocol document
 * (NetworkBlockDevice/nbd, doc/proto.md).  Everything on the wire is big
 * endian; the structs are packed so they can be sent and parsed as they are.
 */
#ifndef SB_NBD_PROTO_H
#define SB_NBD_PROTO_H

#include <stdint.h>

/* ---- handshake ---- */
#define NBD_MAGIC                 UINT64_C(0x4e42444d41474943) /* "NBDMAGIC" */
#define NBD_IHAVEOPT              UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_REP_MAGIC             UINT64_C(0x0003e889045565a9)

/* Handshake flags (server, 16 bits). */
#define NBD_FLAG_FIXED_NEWSTYLE   (1u << 0)
#define NBD_FLAG_NO_ZEROES        (1u << 1)

/* Client flags (32 bits). */
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES      (1u << 1)

/* Options. */
#define NBD_OPT_EXPORT_NAME       1
#define NBD_OPT_ABORT             2
#define NBD_OPT_LIST              3
#define NBD_OPT_STARTTLS          5
#define NBD_OPT_INFO              6
#define NBD_OPT_GO                7
#define NBD_OPT_STRUCTURED_REPLY  8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT  10

/* Option replies; errors have bit 31 set. */
#define NBD_REP_ACK               1u
#define NBD_REP_SERVER            2u
#define NBD_REP_INFO              3u
#define NBD_REP_META_CONTEXT      4u
#define NBD_REP_ERR(n)            ((1u << 31) | (n))
#define NBD_REP_ERR_UNSUP         NBD_REP_ERR(1)
#define NBD_REP_ERR_INVALID       NBD_REP_ERR(3)
#define NBD_REP_ERR_TLS_REQD      NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN       NBD_REP_ERR(6)
#define NBD_REP_ERR_TOO_BIG       NBD_REP_ERR(9)

/* Information items of NBD_OPT_INFO / NBD_OPT_GO. */
#define NBD_INFO_EXPORT           0
#define NBD_INFO_NAME             1
#define NBD_INFO_DESCRIPTION      2
#define NBD_INFO_BLOCK_SIZE       3

/* Transmission flags (16 bits).  Not used: ROTATIONAL (bit 4). */
#define NBD_FLAG_HAS_FLAGS        (1u << 0)
#define NBD_FLAG_READ_ONLY        (1u << 1)
#define NBD_FLAG_SEND_FLUSH       (1u << 2)
#define NBD_FLAG_SEND_FUA         (1u << 3)
#define NBD_FLAG_SEND_TRIM        (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF          (1u << 7) /* only with structured replies */
#define NBD_FLAG_CAN_MULTI_CONN   (1u << 8)
#define NBD_FLAG_SEND_CACHE       (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO   (1u << 11)

/* The protocol's limit on any string (export names, messages). */
#define NBD_MAX_STRING            4096

/* ---- transmission ---- */
#define NBD_REQUEST_MAGIC         0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC    0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

/* Structured reply chunks. */
#define NBD_REPLY_FLAG_DONE       (1u << 0)
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR      ((1u << 15) + 1)

#define NBD_CMD_READ              0
#define NBD_CMD_WRITE             1
#define NBD_CMD_DISC              2
#define NBD_CMD_FLUSH             3
#define NBD_CMD_TRIM              4
#define NBD_CMD_CACHE             5
#define NBD_CMD_WRITE_ZEROES      6
#define NBD_CMD_BLOCK_STATUS      7

/* Command flags.  DF (bit 2) and REQ_ONE (bit 3) belong to structured
 * replies, which we decline: they are refused like unknown flags. */
#define NBD_CMD_FLAG_FUA          (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE      (1u << 1)
#define NBD_CMD_FLAG_DF           (1u << 2) /* read: one content chunk */
#define NBD_CMD_FLAG_REQ_ONE      (1u << 3) /* block status: one descriptor */
#define NBD_CMD_FLAG_FAST_ZERO    (1u << 4)

/* The base:allocation meta context's states (block status descriptors). */
#define NBD_META_BASE_ALLOCATION  "base:allocation"
#define NBD_STATE_HOLE            (1u << 0)
#define NBD_STATE_ZERO            (1u << 1)

/* Error values of replies: the protocol fixes these numbers, which happen
 * to be Linux's errnos, but we never send a raw errno (see nbd_errno()). */
#define NBD_EPERM                 1
#define NBD_EIO                   5
#define NBD_ENOMEM                12
#define NBD_EINVAL                22
#define NBD_ENOSPC                28
#define NBD_EOVERFLOW             75
#define NBD_ENOTSUP               95

/* ---- message layouts ---- */
struct nbd_greeting {
	uint64_t magic;         /* NBD_MAGIC */
	uint64_t ihaveopt;      /* NBD_IHAVEOPT */
	uint16_t flags;         /* handshake flags */
} __attribute__((packed));

struct nbd_option {
	uint64_t magic;         /* NBD_IHAVEOPT */
	uint32_t option;
	uint32_t length;        /* bytes of data that follow */
} __attribute__((packed));

struct nbd_option_reply {
	uint64_t magic;         /* NBD_REP_MAGIC */
	uint32_t option;
	uint32_t type;          /* NBD_REP_* */
	uint32_t length;
} __attribute__((packed));

/* The answer to NBD_OPT_EXPORT_NAME (124 zero bytes follow unless the client
 * asked for NBD_FLAG_C_NO_ZEROES). */
struct nbd_export_name_reply {
	uint64_t size;
	uint16_t flags;
} __attribute__((packed));

struct nbd_info_export {
	uint16_t info;          /* NBD_INFO_EXPORT */
	uint64_t size;
	uint16_t flags;
} __attribute__((packed));

struct nbd_info_block_size {
	uint16_t info;          /* NBD_INFO_BLOCK_SIZE */
	uint32_t minimum;
	uint32_t preferred;
	uint32_t maximum;
} __attribute__((packed));

struct nbd_request {
	uint32_t magic;         /* NBD_REQUEST_MAGIC */
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;        /* opaque: echoed as received */
	uint64_t offset;
	uint32_t length;
} __attribute__((packed));

struct nbd_simple_reply {
	uint32_t magic;         /* NBD_SIMPLE_REPLY_MAGIC */
	uint32_t error;
	uint64_t cookie;
} __attribute__((packed));

_Static_assert(sizeof(struct nbd_greeting) == 18, "greeting is 18 bytes");
_Static_assert(sizeof(struct nbd_option) == 16, "option header is 16 bytes");
_Static_assert(sizeof(struct nbd_option_reply) == 20, "option reply is 20 bytes");
_Static_assert(sizeof(struct nbd_info_export) == 12, "NBD_INFO_EXPORT is 12 bytes");
_Static_assert(sizeof(struct nbd_info_block_size) == 14, "NBD_INFO_BLOCK_SIZE is 14 bytes");
_Static_assert(sizeof(struct nbd_request) == 28, "request header is 28 bytes");
/* The fixed part of a structured reply chunk; its payload follows. */
struct nbd_structured_reply {
	uint32_t magic;         /* NBD_STRUCTURED_REPLY_MAGIC */
	uint16_t flags;         /* NBD_REPLY_FLAG_* */
	uint16_t type;          /* NBD_REPLY_TYPE_* */
	uint64_t cookie;
	uint32_t length;        /* payload bytes */
} __attribute__((packed));

_Static_assert(sizeof(struct nbd_simple_reply) == 16, "simple reply is 16 bytes");
_Static_assert(sizeof(struct nbd_structured_reply) == 20, "a chunk's header is 20 bytes");

#endif
