/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the iSCSI backend's block status: what a GET LBA STATUS
 * answer (SBC-3, its LBA status descriptors) says about a byte range, as
 * the extents of an NBD base:allocation reply.
 *
 *   descriptors:  |-- mapped --|--- deallocated ---|-- mapped --| ...
 *   request:           [offset ................ offset+length)
 *   extents:           |data   |hole (+zero if LBPRZ)|data|
 *
 * Pure: no session, no I/O, so that tests/unit/test-iscsi-lba.c can walk
 * every odd answer a target may give.
 */
#include "backends/iscsi-internal.h"
#include "base/compiler.h"

/* The base:allocation flags of one descriptor.  Deallocated and anchored
 * blocks are both unmapped: a hole, which reads as zeroes only when the LUN
 * says so (LBPRZ).  Anything else (mapped, or a provisioning status this
 * file does not know) is data, which is never wrong. */
static uint32_t lba_flags(enum scsi_provisioning_type prov, bool lbprz)
{
	switch (prov) {
	case SCSI_PROVISIONING_TYPE_DEALLOCATED:
	case SCSI_PROVISIONING_TYPE_ANCHORED:
		return SB_EXTENT_HOLE | (lbprz ? SB_EXTENT_ZERO : 0);
	default:
		return 0;
	}
}

uint32_t sb_iscsi_lba_extents(const struct scsi_get_lba_status *gls, uint32_t block_size,
			      bool lbprz, uint64_t offset, uint32_t length,
			      struct sb_extent *extents, uint32_t max_extents)
{
	uint64_t pos = offset, end = offset + length;
	uint32_t n = 0;

	if (!gls || !block_size || !max_extents)
		return 0;
	for (uint32_t i = 0; i < gls->num_descriptors && pos < end; i++) {
		const struct scsi_lba_status_descriptor *d = &gls->descriptors[i];
		uint64_t first, last, stop;
		uint32_t flags;

		if (!d->num_blocks || d->lba > UINT64_MAX / block_size)
			break; /* nonsense: say nothing from here on */
		first = d->lba * block_size;
		last = (uint64_t)d->num_blocks * block_size;
		last = first > UINT64_MAX - last ? UINT64_MAX : first + last;
		if (first > pos)
			break; /* a gap: what lies in it is unknown */
		if (last <= pos)
			continue; /* before what is asked (an overlap) */
		stop = SB_MIN(last, end);
		flags = lba_flags(d->provisioning, lbprz);
		if (n && extents[n - 1].flags == flags) {
			extents[n - 1].length += (uint32_t)(stop - pos);
		} else {
			if (n == max_extents)
				break;
			extents[n++] = (struct sb_extent){ .length = (uint32_t)(stop - pos),
							   .flags = flags };
		}
		pos = stop;
	}
	return n;
}
