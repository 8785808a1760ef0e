/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the iSCSI backend's LUN checks: the SCSI exchanges of a
 * session's bring-up, after login.
 *
 *   TEST UNIT READY (again while it answers UNIT ATTENTION, the greeting of
 *   a fresh login) -> READ CAPACITY(16) -> first session only: VPD pages
 *   (supported, Block Limits, Logical Block Provisioning) -> MODE SENSE(6)
 *   -> REPORT SUPPORTED OPERATION CODES for WRITE SAME(16),
 *   SYNCHRONIZE CACHE(16) and (a thin LUN) GET LBA STATUS -> up
 *
 * The first session decides the capabilities, declared once; a later one
 * must find the same block size and at least the same capacity, or it is
 * refused (and tried again): the clients already know the geometry.  The
 * optional exchanges may fail with CHECK CONDITION; the defaults then hold
 * (no unmap, no write same, no FUA).
 */
#include <errno.h>
#include <inttypes.h>

#include "backends/iscsi-internal.h"

/* A later session must show the LUN the clients already know. */
static void lun_check_same(struct iscsibe *ib)
{
	if (ib->probe.block_size != ib->lun.block_size)
		sb_iscsibe_fail(ib, -ENXIO, "the LUN's block size changed from %u to %u bytes",
				ib->lun.block_size, ib->probe.block_size);
	else if (ib->probe.blocks < ib->lun.blocks)
		sb_iscsibe_fail(ib, -ENXIO, "the LUN shrank from %" PRIu64 " to %" PRIu64 " blocks",
				ib->lun.blocks, ib->probe.blocks);
}

static void bringup_capacity(struct iscsibe *ib, struct scsi_task *task)
{
	struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(task);
	uint32_t bs;

	if (!rc) {
		sb_iscsibe_fail(ib, -EIO, "READ CAPACITY(16): malformed answer");
		return;
	}
	bs = rc->block_length;
	if (bs < 512 || bs > 65536 || (bs & (bs - 1))) {
		sb_iscsibe_fail(ib, -ENXIO, "unsupported logical block size %u", bs);
		return;
	}
	ib->probe.block_size = bs;
	ib->probe.blocks = rc->returned_lba + 1;
	ib->probe.phys_exp = rc->lbppbe;
	ib->probe.lbpme = rc->lbpme;
	ib->probe.lbprz = rc->lbprz;
	if (ib->running)
		lun_check_same(ib);
}

static void bringup_vpd_pages(struct iscsibe *ib, struct scsi_task *task)
{
	struct scsi_inquiry_supported_pages *sp = scsi_datain_unmarshall(task);

	for (int i = 0; sp && i < sp->num_pages; i++) {
		if (sp->pages[i] == SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS)
			ib->probe.vpd_limits = true;
		if (sp->pages[i] == SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING)
			ib->probe.vpd_lbp = true;
	}
}

static void bringup_vpd_limits(struct iscsibe *ib, struct scsi_task *task)
{
	struct scsi_inquiry_block_limits *bl = scsi_datain_unmarshall(task);

	if (!bl)
		return;
	ib->probe.max_xfer = bl->max_xfer_len;
	ib->probe.max_unmap = bl->max_unmap;
	ib->probe.max_ws = bl->max_ws_len;
}

static void bringup_vpd_lbp(struct iscsibe *ib, struct scsi_task *task)
{
	struct scsi_inquiry_logical_block_provisioning *lbp = scsi_datain_unmarshall(task);

	if (!lbp)
		return;
	ib->probe.lbpu = lbp->lbpu;
	ib->probe.lbpws = lbp->lbpws;
}

static void bringup_mode_sense(struct iscsibe *ib, struct scsi_task *task)
{
	/* The mode parameter header's device-specific byte: WP and DPOFUA. */
	if (task->datain.size >= 4) {
		ib->probe.write_protected = task->datain.data[2] & 0x80;
		ib->probe.dpofua = task->datain.data[2] & 0x10;
	}
}

/* REPORT SUPPORTED OPERATION CODES for one opcode: 3 = as the standard
 * says, 5 = in a vendor-specific way; both mean usable. */
static bool opcode_supported(struct scsi_task *task)
{
	struct scsi_report_supported_op_codes_one_command *one = scsi_datain_unmarshall(task);

	return one && (one->support == 3 || one->support == 5);
}

/* The same for GET LBA STATUS, which is only worth trying: "not supported"
 * (1) rules it out, anything else (3, 5, or 0 = not known now) lets the
 * first block status try it, and a refusal then rules it out for good. */
static bool opcode_not_refused(struct scsi_task *task)
{
	struct scsi_report_supported_op_codes_one_command *one = scsi_datain_unmarshall(task);

	return !one || one->support != 1;
}

/* Tolerated failures of the optional exchanges: the defaults hold. */
static void bringup_optional_failed(struct iscsibe *ib)
{
	if (ib->step == STEP_OPCODE_WS16) {
		/* No REPORT SUPPORTED OPERATION CODES: WRITE SAME(16) with
		 * UNMAP implies WRITE SAME(16); SYNCHRONIZE CACHE(16) is
		 * assumed, as for any LUN that takes READ CAPACITY(16). */
		ib->probe.ws16 = ib->probe.lbpws;
		ib->probe.sync16 = true;
		ib->probe.get_lba_status = ib->probe.lbpme; /* tried, remembered */
		ib->step = STEP_DONE;
		return;
	}
	if (ib->step == STEP_OPCODE_GLS)
		ib->probe.get_lba_status = true; /* a thin LUN: tried, remembered */
	ib->step++;
}

static void bringup_good(struct iscsibe *ib, struct scsi_task *task)
{
	switch (ib->step) {
	case STEP_TUR:
		break;
	case STEP_CAPACITY:
		bringup_capacity(ib, task);
		if (ib->running) {
			ib->step = STEP_DONE; /* capabilities were declared once */
			return;
		}
		break;
	case STEP_VPD_PAGES:
		bringup_vpd_pages(ib, task);
		break;
	case STEP_VPD_LIMITS:
		bringup_vpd_limits(ib, task);
		break;
	case STEP_VPD_LBP:
		bringup_vpd_lbp(ib, task);
		break;
	case STEP_MODE_SENSE:
		bringup_mode_sense(ib, task);
		break;
	case STEP_OPCODE_WS16:
		ib->probe.ws16 = opcode_supported(task);
		break;
	case STEP_OPCODE_SYNC16:
		ib->probe.sync16 = opcode_supported(task);
		break;
	case STEP_OPCODE_GLS:
		ib->probe.get_lba_status = opcode_not_refused(task);
		break;
	default:
		break;
	}
	ib->step++;
}

/* One SCSI exchange of the bring-up finished. */
static void bringup_done(struct iscsi_context *ctx, int status, void *data, void *opaque)
{
	struct iscsibe *ib = opaque;
	struct scsi_task *task = data;
	char why[160];
	int err;

	if (ib->ctx != ctx || ib->state != ISCSIBE_CONNECTING || ib->fail_err) {
		scsi_free_scsi_task(task); /* cancelled: the attempt is over */
		return;
	}
	if (status == SCSI_STATUS_GOOD) {
		bringup_good(ib, task);
	} else if (status == SCSI_STATUS_CANCELLED) {
		sb_iscsibe_connection_failed(ib);
	} else if (ib->step == STEP_TUR && sb_iscsi_is_unit_attention(status, &task->sense) &&
		   ++ib->uas <= ISCSIBE_MAX_UAS) {
		/* The usual greeting of a fresh login: ask again.  A power on
		 * or reset among them is told to the core once the session is
		 * up, before any request (sb_iscsibe_established). */
		if (sb_iscsi_ua_cache_lost(status, &task->sense) && !ib->ua_reset) {
			ib->ua_reset = true;
			sb_iscsi_describe(status, &task->sense, ib->ua_reset_why,
					  sizeof(ib->ua_reset_why));
		}
	} else if (ib->step > STEP_CAPACITY && status == SCSI_STATUS_CHECK_CONDITION) {
		bringup_optional_failed(ib);
	} else {
		sb_iscsi_describe(status, &task->sense, why, sizeof(why));
		err = sb_iscsi_errno(status, &task->sense);
		/* Not ready, busy: the LUN comes later.  Anything else (no such
		 * LUN ...) is a configuration problem, which start-up reports
		 * at once; a reconnect tries again all the same. */
		if (err != -EAGAIN)
			err = -ENXIO;
		sb_iscsibe_fail(ib, err, "%s: %s",
				ib->step == STEP_TUR ? "TEST UNIT READY"
				: ib->step == STEP_CAPACITY ? "READ CAPACITY(16)" : "LUN inquiry",
				why);
	}
	scsi_free_scsi_task(task);
	if (!ib->fail_err)
		sb_iscsibe_lun_step(ib);
}

static void bringup_finish(struct iscsibe *ib)
{
	if (!ib->running)
		ib->lun = ib->probe;
	sb_iscsibe_established(ib);
}

/* Sends the command of the current step, skipping those that do not apply. */
void sb_iscsibe_lun_step(struct iscsibe *ib)
{
	struct iscsi_context *ctx = ib->ctx;
	struct scsi_task *t = NULL;
	int lun = ib->lun_nr;

	if (ib->step == STEP_VPD_LIMITS && !ib->probe.vpd_limits)
		ib->step++;
	if (ib->step == STEP_VPD_LBP && !(ib->probe.vpd_lbp && ib->probe.lbpme))
		ib->step++;
	if (ib->step == STEP_OPCODE_GLS && !ib->probe.lbpme)
		ib->step++; /* fully provisioned: every block is mapped, all data */
	switch (ib->step) {
	case STEP_TUR:
		t = iscsi_testunitready_task(ctx, lun, bringup_done, ib);
		break;
	case STEP_CAPACITY:
		t = iscsi_readcapacity16_task(ctx, lun, bringup_done, ib);
		break;
	case STEP_VPD_PAGES:
		t = iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_SUPPORTED_VPD_PAGES,
				       255, bringup_done, ib);
		break;
	case STEP_VPD_LIMITS:
		t = iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255,
				       bringup_done, ib);
		break;
	case STEP_VPD_LBP:
		t = iscsi_inquiry_task(ctx, lun, 1,
				       SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, 255,
				       bringup_done, ib);
		break;
	case STEP_MODE_SENSE:
		t = iscsi_modesense6_task(ctx, lun, 1, SCSI_MODESENSE_PC_CURRENT,
					  SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255, bringup_done, ib);
		break;
	case STEP_OPCODE_WS16:
	case STEP_OPCODE_SYNC16:
		t = iscsi_report_supported_opcodes_task(
			ctx, lun, 0, SCSI_REPORT_SUPPORTING_OPCODE,
			ib->step == STEP_OPCODE_WS16 ? SCSI_OPCODE_WRITE_SAME16
						     : SCSI_OPCODE_SYNCHRONIZECACHE16,
			0, 64, bringup_done, ib);
		break;
	case STEP_OPCODE_GLS:
		/* SERVICE ACTION IN(16), service action GET LBA STATUS. */
		t = iscsi_report_supported_opcodes_task(ctx, lun, 0,
							SCSI_REPORT_SUPPORTING_SERVICEACTION,
							SCSI_OPCODE_SERVICE_ACTION_IN,
							SCSI_GET_LBA_STATUS, 64, bringup_done, ib);
		break;
	case STEP_DONE:
		bringup_finish(ib);
		return;
	default:
		return;
	}
	if (!t)
		sb_iscsibe_fail(ib, -ENOMEM, "cannot queue a command: %s", iscsi_get_error(ctx));
}
