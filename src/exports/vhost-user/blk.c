/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: virtio-blk on the vhost-user export (virtio 1.2, 5.2): a
 * popped chain (header, data, status byte) becomes an sb_request of the
 * disk, and its completion a status byte and a used element.
 *
 * Data moves without a copy: a request's data in one buffer of guest memory
 * (a page or a contiguous run of pages) is its buffer, and data scattered
 * over several buffers (a 1M write of a guest is dozens) is handed over as
 * the chain's iovecs to a backend that takes them (SB_CAP_IOVEC, the file
 * backend).  For the others (NBD, iSCSI) scattered data goes through the
 * slot's bounce buffer, kept for the next request of that slot. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/iov.h"
#include "base/log.h"
#include "exports/vhost-user/internal.h"

static bool writes_refused(const struct sb_vu_export *exp)
{
	return exp->read_only || (sb_disk_backend(exp->disk)->caps & SB_CAP_READ_ONLY);
}

uint64_t sb_vu_blk_features(const struct sb_vu_export *exp)
{
	uint32_t caps = sb_disk_backend(exp->disk)->caps;
	uint64_t f = (UINT64_C(1) << VIRTIO_F_VERSION_1) |
		     (UINT64_C(1) << VIRTIO_F_RING_INDIRECT_DESC) |
		     (UINT64_C(1) << VIRTIO_F_RING_EVENT_IDX) |
		     (UINT64_C(1) << VHOST_USER_F_PROTOCOL_FEATURES) |
		     (UINT64_C(1) << VHOST_F_LOG_ALL) | /* live migration (log.h) */
		     (UINT64_C(1) << VIRTIO_BLK_F_SEG_MAX) | (UINT64_C(1) << VIRTIO_BLK_F_BLK_SIZE) |
		     (UINT64_C(1) << VIRTIO_BLK_F_MQ);

	if (caps & SB_CAP_FLUSH)
		f |= UINT64_C(1) << VIRTIO_BLK_F_FLUSH;
	if (writes_refused(exp))
		f |= UINT64_C(1) << VIRTIO_BLK_F_RO;
	else {
		if (caps & SB_CAP_TRIM)
			f |= UINT64_C(1) << VIRTIO_BLK_F_DISCARD;
		if (caps & SB_CAP_ZERO)
			f |= UINT64_C(1) << VIRTIO_BLK_F_WRITE_ZEROES;
	}
	return f;
}

void sb_vu_blk_config(const struct sb_vu_export *exp, struct virtio_blk_config *cfg)
{
	const struct sb_backend *be = sb_disk_backend(exp->disk);
	uint32_t bs = be->block_min >= VIRTIO_BLK_SECTOR_SIZE ? be->block_min
							       : VIRTIO_BLK_SECTOR_SIZE;
	uint32_t max_sectors = SB_VU_MAX_REQUEST / VIRTIO_BLK_SECTOR_SIZE;

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(be->size / VIRTIO_BLK_SECTOR_SIZE);
	cfg->seg_max = htole32(SB_VU_SEG_MAX);
	cfg->blk_size = htole32(bs);
	cfg->num_queues = htole16((uint16_t)exp->num_queues);
	cfg->writeback = (be->caps & SB_CAP_FLUSH) ? 1 : 0;
	cfg->max_discard_sectors = htole32(max_sectors);
	cfg->max_discard_seg = htole32(1);
	cfg->discard_sector_alignment = htole32(bs / VIRTIO_BLK_SECTOR_SIZE);
	cfg->max_write_zeroes_sectors = htole32(max_sectors);
	cfg->max_write_zeroes_seg = htole32(1);
	cfg->write_zeroes_may_unmap = 1;
}

/* Finishes @s with @status, @data bytes written before it. */
static void finish(struct sb_vu_slot *s, uint8_t status, uint32_t data)
{
	if (s->status) {
		*s->status = status;
		s->in_len = data + 1;
	} else {
		s->in_len = 0;
	}
	sb_vu_device_slot_done(s, true);
}

/* Splits off the chain's data buffers (after @skip readable header bytes,
 * and before the status byte when it reads) into s->data_iov/data_cnt,
 * trimming iovecs in place.  Returns the data's length. */
static uint64_t data_range(struct sb_vu_slot *s, bool into_guest, size_t skip)
{
	struct iovec *iov = s->iov;
	unsigned first, end;
	uint64_t len = 0;

	if (into_guest) {
		first = s->chain.nout;
		end = s->chain.nout + s->chain.nin;
		/* The status byte is the last one: off the last buffer. */
		if (iov[end - 1].iov_len == 1)
			end--;
		else
			iov[end - 1].iov_len--;
	} else {
		first = 0;
		end = s->chain.nout;
		while (first < end && skip >= iov[first].iov_len)
			skip -= iov[first++].iov_len;
		if (first < end && skip) {
			iov[first].iov_base = (char *)iov[first].iov_base + skip;
			iov[first].iov_len -= skip;
		}
	}
	s->data_iov = first;
	s->data_cnt = end - first;
	for (unsigned i = first; i < end; i++)
		len += iov[i].iov_len;
	return len;
}

/* One buffer: the request points into the guest; more: the iovecs, or the
 * bounce buffer (filled for a write) for a backend that takes one buffer
 * only.  Returns 0 or -ENOMEM. */
static int attach_data(struct sb_vu_slot *s, bool write, uint32_t len)
{
	s->req.iovcnt = 0;
	if (s->data_cnt == 1) {
		s->req.buf = s->iov[s->data_iov].iov_base;
		return 0;
	}
	if (sb_disk_backend(s->q->dev->exp->disk)->caps & SB_CAP_IOVEC) {
		s->req.buf = NULL;
		s->req.iov = s->iov + s->data_iov;
		s->req.iovcnt = s->data_cnt;
		return 0;
	}
	if (s->bounce_cap < len) {
		void *b = NULL;
		if (posix_memalign(&b, 4096, len))
			return -ENOMEM;
		free(s->bounce);
		s->bounce = b;
		s->bounce_cap = len;
	}
	s->req.buf = s->bounce;
	if (write)
		sb_iov_to_buf(s->iov + s->data_iov, s->data_cnt, 0, s->bounce, len);
	return 0;
}

static void blk_done(struct sb_request *req, int err)
{
	struct sb_vu_slot *s = SB_CONTAINER_OF(req, struct sb_vu_slot, req);

	if (err == -ECANCELED || s->inst->detached) {
		/* Fenced, or of an instance that has ended (a reset, the front
		 * end gone): nothing goes into its memory or its ring. */
		sb_vu_device_slot_done(s, false);
		return;
	}
	if (err == 0 && req->op == SB_OP_READ && req->buf && req->buf == s->bounce)
		sb_iov_from_buf(s->iov + s->data_iov, s->data_cnt, 0, s->bounce, req->length);
	finish(s, err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK,
	       err == 0 && req->op == SB_OP_READ ? req->length : 0);
}

/* Is [@sector, + @bytes) a whole number of sectors on the disk? */
static bool in_bounds(const struct sb_vu_export *exp, uint64_t sector, uint64_t bytes)
{
	uint64_t size = sb_disk_backend(exp->disk)->size;

	return bytes % VIRTIO_BLK_SECTOR_SIZE == 0 && sector <= size / VIRTIO_BLK_SECTOR_SIZE &&
	       bytes <= size - sector * VIRTIO_BLK_SECTOR_SIZE;
}

static void submit(struct sb_vu_slot *s, enum sb_op op, uint32_t flags, uint64_t offset,
		   uint32_t length)
{
	struct sb_vu_device *dev = s->q->dev;

	s->req.op = op;
	s->req.flags = flags;
	s->req.offset = offset;
	s->req.length = length;
	s->req.session = &s->inst->session;
	s->req.done = blk_done;
	if (op != SB_OP_READ && op != SB_OP_WRITE) {
		s->req.buf = NULL;
		s->req.iovcnt = 0;
	}
	sb_disk_submit(dev->exp->disk, &s->req);
}

void sb_vu_blk_start(struct sb_vu_slot *s)
{
	const struct sb_vu_export *exp = s->q->dev->exp;
	struct virtio_blk_outhdr h;
	uint64_t len;
	uint32_t type;

	s->status = NULL;
	/* The status byte: the last byte of the last writable buffer. */
	if (s->chain.in_bytes >= 1) {
		struct iovec *last = &s->iov[s->chain.nout + s->chain.nin - 1];
		s->status = (unsigned char *)last->iov_base + last->iov_len - 1;
	}
	if (!s->status || sb_iov_to_buf(s->iov, s->chain.nout, 0, &h, sizeof(h)) != sizeof(h)) {
		sb_warn("%s: a request without its header or status byte", s->q->dev->name);
		finish(s, VIRTIO_BLK_S_IOERR, 0);
		return;
	}
	type = le32toh(h.type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool write = type == VIRTIO_BLK_T_OUT;
		uint64_t sector = le64toh(h.sector);

		len = data_range(s, !write, sizeof(h));
		if ((write && writes_refused(exp)) || len > SB_VU_MAX_REQUEST || len == 0 ||
		    !in_bounds(exp, sector, len) || attach_data(s, write, (uint32_t)len) < 0) {
			finish(s, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		submit(s, write ? SB_OP_WRITE : SB_OP_READ, 0, sector * VIRTIO_BLK_SECTOR_SIZE,
		       (uint32_t)len);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (!(sb_disk_backend(exp->disk)->caps & SB_CAP_FLUSH)) {
			finish(s, VIRTIO_BLK_S_OK, 0); /* nothing volatile to flush */
			return;
		}
		submit(s, SB_OP_FLUSH, 0, 0, 0);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		size_t room = s->chain.in_bytes - 1;

		memcpy(id, exp->serial, strnlen(exp->serial, sizeof(id)));
		data_range(s, true, 0);
		room = sb_iov_from_buf(s->iov + s->data_iov, s->data_cnt, 0, id,
				       SB_MIN(room, sizeof(id)));
		finish(s, VIRTIO_BLK_S_OK, (uint32_t)room);
		return;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes seg;
		bool zero = type == VIRTIO_BLK_T_WRITE_ZEROES;
		uint32_t cap = zero ? SB_CAP_ZERO : SB_CAP_TRIM;
		uint64_t sector, bytes;

		if (writes_refused(exp) || !(sb_disk_backend(exp->disk)->caps & cap)) {
			finish(s, VIRTIO_BLK_S_UNSUPP, 0);
			return;
		}
		/* One segment, as the config space says (max_*_seg = 1). */
		if (s->chain.out_bytes != sizeof(h) + sizeof(seg) ||
		    sb_iov_to_buf(s->iov, s->chain.nout, sizeof(h), &seg, sizeof(seg)) !=
			    sizeof(seg)) {
			finish(s, VIRTIO_BLK_S_UNSUPP, 0);
			return;
		}
		sector = le64toh(seg.sector);
		bytes = (uint64_t)le32toh(seg.num_sectors) * VIRTIO_BLK_SECTOR_SIZE;
		if ((le32toh(seg.flags) & ~VIRTIO_BLK_WRITE_ZEROES_F_UNMAP) ||
		    (!zero && (le32toh(seg.flags) & VIRTIO_BLK_WRITE_ZEROES_F_UNMAP))) {
			finish(s, VIRTIO_BLK_S_UNSUPP, 0);
			return;
		}
		if (bytes == 0 || bytes > SB_VU_MAX_REQUEST || !in_bounds(exp, sector, bytes)) {
			finish(s, VIRTIO_BLK_S_IOERR, 0);
			return;
		}
		submit(s, zero ? SB_OP_ZERO : SB_OP_TRIM,
		       zero && !(le32toh(seg.flags) & VIRTIO_BLK_WRITE_ZEROES_F_UNMAP)
			       ? SB_REQ_NO_HOLE : 0,
		       sector * VIRTIO_BLK_SECTOR_SIZE, (uint32_t)bytes);
		return;
	}
	default:
		finish(s, VIRTIO_BLK_S_UNSUPP, 0);
		return;
	}
}
