/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: what a SCSI status and its sense data mean to steadyblk: the
 * errno a failed iSCSI command completes with.
 *
 * The table is deliberate and documented in docs/backend-iscsi.md; the unit
 * test tests/unit/test-iscsi-sense.c walks it row by row.  The errno decides
 * what the error policy does: the ones in the default retry set (EIO,
 * EAGAIN, ENOTCONN, ETIMEDOUT, ENOSPC ...) are held and retried with
 * werror/rerror=retry, the others (EINVAL, EROFS, EOPNOTSUPP, EBADE) are
 * reported at once, because no retry can fix them.
 */
#include <errno.h>
#include <stdio.h>

#include "backends/iscsi-internal.h"

/* ASC/ASCQ pairs the table singles out, as libiscsi packs them (ASC << 8 | ASCQ). */
#define ASC_INVALID_OPCODE     0x2000 /* ILLEGAL REQUEST: the LUN lacks the command */
#define ASC_INVALID_FIELD_CDB  0x2400 /* ILLEGAL REQUEST: ... or its service action */
#define ASC_LUN_NOT_SUPPORTED  0x2500 /* ILLEGAL REQUEST: the LUN left the target */
#define ASC_SPACE_ALLOC_FAILED 0x2707 /* DATA PROTECT: a thin pool ran out of space */
#define ASC_POWER_ON_RESET     0x29   /* UNIT ATTENTION: POWER ON, RESET, OR BUS DEVICE
					 RESET OCCURRED and its ASCQs (the ASC alone) */

bool sb_iscsi_is_unit_attention(int status, const struct scsi_sense *sense)
{
	return status == SCSI_STATUS_CHECK_CONDITION && sense->key == SCSI_SENSE_UNIT_ATTENTION;
}

bool sb_iscsi_ua_cache_lost(int status, const struct scsi_sense *sense)
{
	/* Every ASCQ of ASC 29h: power on (01), SCSI bus reset (02), bus
	 * device reset function (03), device internal reset (04), a LUN
	 * reset by another initiator (00 on tgtd), I_T nexus loss (07) ...
	 * Not all of them lose a cache, but none says it was kept, and a
	 * needless replay costs time where a missed one loses data. */
	return sb_iscsi_is_unit_attention(status, sense) &&
	       ((unsigned)sense->ascq >> 8) == ASC_POWER_ON_RESET;
}

static int sense_errno(const struct scsi_sense *sense)
{
	switch (sense->key) {
	case SCSI_SENSE_RECOVERED_ERROR:
		/* The command completed, the target had to work at it. */
		return 0;
	case SCSI_SENSE_NOT_READY:
		/* Becoming ready, an ALUA transition, standby, no medium yet:
		 * the LUN will answer later. */
		return -EAGAIN;
	case SCSI_SENSE_UNIT_ATTENTION:
		/* A state change (reset, capacity, mode), not a data error.
		 * The data path re-sends once; a second one lands here. */
		return -EAGAIN;
	case SCSI_SENSE_MEDIUM_ERROR:
	case SCSI_SENSE_HARDWARE_ERROR:
	case SCSI_SENSE_COMMAND_ABORTED:
		return -EIO;
	case SCSI_SENSE_ILLEGAL_REQUEST:
		if (sense->ascq == ASC_INVALID_OPCODE)
			return -EOPNOTSUPP;
		if (sense->ascq == ASC_LUN_NOT_SUPPORTED)
			return -ENOTCONN; /* reconnect: the bring-up re-checks the LUN */
		return -EINVAL;
	case SCSI_SENSE_DATA_PROTECTION:
		if (sense->ascq == ASC_SPACE_ALLOC_FAILED)
			return -ENOSPC; /* as Linux does: werror=enospc applies */
		return -EROFS;
	case SCSI_SENSE_OVERFLOW_COMMAND:
		return -ENOSPC;
	default:
		/* NO SENSE with CHECK CONDITION, BLANK CHECK, vendor specific,
		 * COPY ABORTED, MISCOMPARE: never claim success for a command the
		 * target failed. */
		return -EIO;
	}
}

int sb_iscsi_errno(int status, const struct scsi_sense *sense)
{
	switch (status) {
	case SCSI_STATUS_GOOD:
	case SCSI_STATUS_CONDITION_MET:
		return 0;
	case SCSI_STATUS_CHECK_CONDITION:
		return sense_errno(sense);
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_TASK_SET_FULL:
	case SCSI_STATUS_TASK_ABORTED:
		/* The target asks us to come back later. */
		return -EAGAIN;
	case SCSI_STATUS_RESERVATION_CONFLICT:
		/* Another initiator holds a reservation: Linux's choice, EBADE,
		 * reported at once unless --retry-errors adds it. */
		return -EBADE;
	case SCSI_STATUS_CANCELLED:
		/* libiscsi cancels every task when the session dies. */
		return -ENOTCONN;
	case SCSI_STATUS_TIMEOUT:
		return -ETIMEDOUT;
	default:
		/* SCSI_STATUS_ERROR (a transport or protocol failure of this
		 * task), ACA ACTIVE, anything unknown. */
		return -EIO;
	}
}

bool sb_iscsi_is_unsupported(int status, const struct scsi_sense *sense)
{
	return status == SCSI_STATUS_CHECK_CONDITION && sense->key == SCSI_SENSE_ILLEGAL_REQUEST &&
	       (sense->ascq == ASC_INVALID_OPCODE || sense->ascq == ASC_INVALID_FIELD_CDB);
}

void sb_iscsi_describe(int status, const struct scsi_sense *sense, char *buf, size_t len)
{
	const char *key, *ascq;

	switch (status) {
	case SCSI_STATUS_CHECK_CONDITION:
		/* libiscsi names the common ones only. */
		key = scsi_sense_key_str(sense->key);
		ascq = scsi_sense_ascq_str(sense->ascq);
		snprintf(buf, len, "CHECK CONDITION, %s%s%s (0x%04x)", key ? key : "sense key ?",
			 ascq ? ", " : "", ascq ? ascq : "", (unsigned)sense->ascq);
		break;
	case SCSI_STATUS_BUSY:
		snprintf(buf, len, "BUSY");
		break;
	case SCSI_STATUS_RESERVATION_CONFLICT:
		snprintf(buf, len, "RESERVATION CONFLICT");
		break;
	case SCSI_STATUS_TASK_SET_FULL:
		snprintf(buf, len, "TASK SET FULL");
		break;
	case SCSI_STATUS_TASK_ABORTED:
		snprintf(buf, len, "TASK ABORTED");
		break;
	case SCSI_STATUS_CANCELLED:
		snprintf(buf, len, "cancelled (session lost)");
		break;
	case SCSI_STATUS_TIMEOUT:
		snprintf(buf, len, "timed out");
		break;
	case SCSI_STATUS_ERROR:
		snprintf(buf, len, "transport error");
		break;
	default:
		snprintf(buf, len, "SCSI status 0x%x", (unsigned)status);
		break;
	}
}
