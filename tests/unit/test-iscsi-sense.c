/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the iSCSI backend's SCSI status and sense ->
 * errno table (docs/backend-iscsi.md), row by row, and of what the error
 * policy then does with each errno by default. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backends/iscsi-internal.h"
#include "core/policy.h"

struct row {
	int status;
	enum scsi_sense_key key;
	int ascq;
	int err;
};

static int map(int status, enum scsi_sense_key key, int ascq)
{
	struct scsi_sense sense = { .key = key, .ascq = ascq };
	return sb_iscsi_errno(status, &sense);
}

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = map(rows[i].status, rows[i].key, rows[i].ascq);
		if (got != rows[i].err)
			fail_msg("status 0x%x key 0x%x ascq 0x%04x: got %d, expected %d",
				 (unsigned)rows[i].status, (unsigned)rows[i].key,
				 (unsigned)rows[i].ascq, got, rows[i].err);
	}
}

static void test_status_without_sense(void **state)
{
	/* The sense data is ignored unless the status is CHECK CONDITION. */
	static const struct row rows[] = {
		{ SCSI_STATUS_GOOD, SCSI_SENSE_MEDIUM_ERROR, 0x1100, 0 },
		{ SCSI_STATUS_CONDITION_MET, 0, 0, 0 },
		{ SCSI_STATUS_BUSY, 0, 0, -EAGAIN },
		{ SCSI_STATUS_TASK_SET_FULL, 0, 0, -EAGAIN },
		{ SCSI_STATUS_TASK_ABORTED, 0, 0, -EAGAIN },
		{ SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, -EBADE },
		{ SCSI_STATUS_ACA_ACTIVE, 0, 0, -EIO },
		{ SCSI_STATUS_CANCELLED, 0, 0, -ENOTCONN },
		{ SCSI_STATUS_TIMEOUT, 0, 0, -ETIMEDOUT },
		{ SCSI_STATUS_ERROR, 0, 0, -EIO },
		{ 0x7e, 0, 0, -EIO }, /* unknown */
	};
	check_rows(rows, SB_ARRAY_SIZE(rows));
}

static void test_sense_keys(void **state)
{
	static const struct row rows[] = {
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NO_SENSE, 0, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_RECOVERED_ERROR, 0x1701, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x0401, -EAGAIN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x040a, -EAGAIN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x3a00, -EAGAIN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MEDIUM_ERROR, 0x1100, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MEDIUM_ERROR, 0x0c00, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_HARDWARE_ERROR, 0x4400, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2100, -EINVAL },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2400, -EINVAL },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2000, -EOPNOTSUPP },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2500, -ENOTCONN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, 0x2900, -EAGAIN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, 0x2a09, -EAGAIN },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_DATA_PROTECTION, 0x2700, -EROFS },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_DATA_PROTECTION, 0x2702, -EROFS },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_DATA_PROTECTION, 0x2707, -ENOSPC },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_BLANK_CHECK, 0, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_VENDOR_SPECIFIC, 0, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_COPY_ABORTED, 0, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_COMMAND_ABORTED, 0x4700, -EIO },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_OVERFLOW_COMMAND, 0, -ENOSPC },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MISCOMPARE, 0x1d00, -EIO },
	};
	check_rows(rows, SB_ARRAY_SIZE(rows));
}

static void test_unit_attention(void **state)
{
	struct scsi_sense ua = { .key = SCSI_SENSE_UNIT_ATTENTION, .ascq = 0x2900 };
	struct scsi_sense me = { .key = SCSI_SENSE_MEDIUM_ERROR, .ascq = 0x1100 };

	assert_true(sb_iscsi_is_unit_attention(SCSI_STATUS_CHECK_CONDITION, &ua));
	assert_false(sb_iscsi_is_unit_attention(SCSI_STATUS_CHECK_CONDITION, &me));
	/* Stale sense data with another status is not a unit attention. */
	assert_false(sb_iscsi_is_unit_attention(SCSI_STATUS_GOOD, &ua));
	assert_false(sb_iscsi_is_unit_attention(SCSI_STATUS_BUSY, &ua));
}

static bool cache_lost(int status, enum scsi_sense_key key, int ascq)
{
	struct scsi_sense sense = { .key = key, .ascq = ascq };
	return sb_iscsi_ua_cache_lost(status, &sense);
}

/* A UNIT ATTENTION with ASC 29h, whatever its ASCQ, means the LUN may have
 * lost its volatile cache (invariant 2); no other condition does. */
static void test_unit_attention_cache_lost(void **state)
{
	static const int resets[] = {
		0x2900, /* POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
		0x2901, /* POWER ON OCCURRED */
		0x2902, /* SCSI BUS RESET OCCURRED */
		0x2903, /* BUS DEVICE RESET FUNCTION OCCURRED */
		0x2904, /* DEVICE INTERNAL RESET */
		0x2907, /* I_T NEXUS LOSS OCCURRED */
	};
	static const int others[] = {
		0x2a01, /* MODE PARAMETERS CHANGED */
		0x2a09, /* CAPACITY DATA HAS CHANGED */
		0x3f0e, /* REPORTED LUNS DATA HAS CHANGED */
		0x2800, /* NOT READY TO READY CHANGE */
		0x0029, /* ASCQ 29h of ASC 00h: the halves must not be confused */
		0x2a29,
	};

	for (size_t i = 0; i < SB_ARRAY_SIZE(resets); i++)
		if (!cache_lost(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, resets[i]))
			fail_msg("UNIT ATTENTION 0x%04x: not taken for a cache loss", resets[i]);
	for (size_t i = 0; i < SB_ARRAY_SIZE(others); i++)
		if (cache_lost(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, others[i]))
			fail_msg("UNIT ATTENTION 0x%04x: taken for a cache loss", others[i]);
	/* ASC 29h under another sense key, or stale sense with another status. */
	assert_false(cache_lost(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x2900));
	assert_false(cache_lost(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_HARDWARE_ERROR, 0x2904));
	assert_false(cache_lost(SCSI_STATUS_GOOD, SCSI_SENSE_UNIT_ATTENTION, 0x2900));
	assert_false(cache_lost(SCSI_STATUS_BUSY, SCSI_SENSE_UNIT_ATTENTION, 0x2900));
	/* It stays a transient error for the policy (re-sent, then EAGAIN). */
	assert_int_equal(map(SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, 0x2901),
			 -EAGAIN);
}

/* The table's intent, through the default policy: transient conditions are
 * held and retried, those no retry can fix are reported at once. */
static void test_default_policy(void **state)
{
	struct sb_policy p;

	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_RETRY);
	static const struct row retried[] = {
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_NOT_READY, 0x0401, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_MEDIUM_ERROR, 0x1100, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_UNIT_ATTENTION, 0x2900, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_COMMAND_ABORTED, 0, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_DATA_PROTECTION, 0x2707, 0 },
		{ SCSI_STATUS_BUSY, 0, 0, 0 },
		{ SCSI_STATUS_TASK_SET_FULL, 0, 0, 0 },
		{ SCSI_STATUS_CANCELLED, 0, 0, 0 },
		{ SCSI_STATUS_TIMEOUT, 0, 0, 0 },
		{ SCSI_STATUS_ERROR, 0, 0, 0 },
	};
	static const struct row reported[] = {
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2400, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_ILLEGAL_REQUEST, 0x2000, 0 },
		{ SCSI_STATUS_CHECK_CONDITION, SCSI_SENSE_DATA_PROTECTION, 0x2700, 0 },
		{ SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0 },
	};
	for (size_t i = 0; i < SB_ARRAY_SIZE(retried); i++)
		assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, map(retried[i].status,
								       retried[i].key,
								       retried[i].ascq)),
				 SB_VERDICT_RETRY);
	for (size_t i = 0; i < SB_ARRAY_SIZE(reported); i++)
		assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, map(reported[i].status,
								       reported[i].key,
								       reported[i].ascq)),
				 SB_VERDICT_REPORT);
}

static void test_describe(void **state)
{
	struct scsi_sense sense = { .key = SCSI_SENSE_MEDIUM_ERROR, .ascq = 0x1100 };
	char buf[160];

	sb_iscsi_describe(SCSI_STATUS_CHECK_CONDITION, &sense, buf, sizeof(buf));
	assert_non_null(strstr(buf, "CHECK CONDITION"));
	assert_non_null(strstr(buf, "0x1100"));
	/* An ASC/ASCQ libiscsi has no name for still shows its number. */
	sense = (struct scsi_sense){ .key = SCSI_SENSE_UNIT_ATTENTION, .ascq = 0x3f0e };
	sb_iscsi_describe(SCSI_STATUS_CHECK_CONDITION, &sense, buf, sizeof(buf));
	assert_null(strstr(buf, "null"));
	assert_non_null(strstr(buf, "0x3f0e"));
	sb_iscsi_describe(SCSI_STATUS_RESERVATION_CONFLICT, &sense, buf, sizeof(buf));
	assert_string_equal(buf, "RESERVATION CONFLICT");
	/* Truncation is safe. */
	sb_iscsi_describe(SCSI_STATUS_CHECK_CONDITION, &sense, buf, 8);
	assert_int_equal(strlen(buf), 7);
}

/* How a LUN refuses a command or service action it lacks (GET LBA STATUS):
 * remembered as "not supported"; every other ILLEGAL REQUEST is not. */
static void test_unsupported(void **state)
{
	struct scsi_sense invalid_opcode = { .key = SCSI_SENSE_ILLEGAL_REQUEST, .ascq = 0x2000 };
	struct scsi_sense invalid_field = { .key = SCSI_SENSE_ILLEGAL_REQUEST, .ascq = 0x2400 };
	struct scsi_sense out_of_range = { .key = SCSI_SENSE_ILLEGAL_REQUEST, .ascq = 0x2100 };
	struct scsi_sense lun_gone = { .key = SCSI_SENSE_ILLEGAL_REQUEST, .ascq = 0x2500 };
	struct scsi_sense medium = { .key = SCSI_SENSE_MEDIUM_ERROR, .ascq = 0x2000 };

	(void)state;
	assert_true(sb_iscsi_is_unsupported(SCSI_STATUS_CHECK_CONDITION, &invalid_opcode));
	assert_true(sb_iscsi_is_unsupported(SCSI_STATUS_CHECK_CONDITION, &invalid_field));
	assert_false(sb_iscsi_is_unsupported(SCSI_STATUS_CHECK_CONDITION, &out_of_range));
	assert_false(sb_iscsi_is_unsupported(SCSI_STATUS_CHECK_CONDITION, &lun_gone));
	assert_false(sb_iscsi_is_unsupported(SCSI_STATUS_CHECK_CONDITION, &medium));
	assert_false(sb_iscsi_is_unsupported(SCSI_STATUS_GOOD, &invalid_opcode));
	assert_false(sb_iscsi_is_unsupported(SCSI_STATUS_BUSY, &invalid_opcode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_without_sense),
		cmocka_unit_test(test_sense_keys),
		cmocka_unit_test(test_unit_attention),
		cmocka_unit_test(test_unit_attention_cache_lost),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
