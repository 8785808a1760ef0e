/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the iSCSI backend's GET LBA STATUS
 * descriptors -> block status extents (sb_iscsi_lba_extents): mapped is
 * data, deallocated and anchored a hole (zero only with LBPRZ), clipped to
 * the byte range asked, neighbours merged, and an answer that is short,
 * has a gap, or is nonsense says only what it can. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/iscsi-internal.h"

#define MAPPED SCSI_PROVISIONING_TYPE_MAPPED
#define DEALLOC SCSI_PROVISIONING_TYPE_DEALLOCATED
#define ANCHORED SCSI_PROVISIONING_TYPE_ANCHORED
#define HZ (SB_EXTENT_HOLE | SB_EXTENT_ZERO)
#define H SB_EXTENT_HOLE

/* @n descriptors into a GET LBA STATUS answer, then into extents. */
static uint32_t run(const struct scsi_lba_status_descriptor *d, uint32_t n, uint32_t bs,
		    bool lbprz, uint64_t offset, uint32_t length, struct sb_extent *ext,
		    uint32_t max)
{
	struct scsi_get_lba_status gls = {
		.num_descriptors = n,
		.descriptors = (struct scsi_lba_status_descriptor *)d,
	};
	return sb_iscsi_lba_extents(&gls, bs, lbprz, offset, length, ext, max);
}

static void expect(const struct sb_extent *ext, uint32_t n, const uint32_t (*want)[2],
		   uint32_t nwant)
{
	assert_int_equal(n, nwant);
	for (uint32_t i = 0; i < n; i++) {
		if (ext[i].length != want[i][0] || ext[i].flags != want[i][1])
			fail_msg("extent %u: (%u, %u), expected (%u, %u)", i, ext[i].length,
				 ext[i].flags, want[i][0], want[i][1]);
	}
}

/* What tgtd answered for a 64 MiB sparse file on this machine: hole, 2 MiB
 * data at 4 MiB, hole, 192 KiB data at 32000 KiB, hole to the end. */
static const struct scsi_lba_status_descriptor tgtd[] = {
	{ 0, 8192, DEALLOC },     { 8192, 4096, MAPPED }, { 12288, 51712, DEALLOC },
	{ 64000, 384, MAPPED },   { 64384, 66688, DEALLOC },
};

static void test_whole_lun(void **state)
{
	struct sb_extent ext[16];
	const uint32_t want[][2] = { { 4u << 20, HZ }, { 2u << 20, 0 }, { 25856u << 10, HZ },
				     { 192u << 10, 0 }, { 33344u << 10, HZ } };

	(void)state;
	expect(ext, run(tgtd, 5, 512, true, 0, 64u << 20, ext, 16), want, 5);
}

static void test_lbprz_off_is_hole_only(void **state)
{
	struct sb_extent ext[16];
	const uint32_t want[][2] = { { 4u << 20, H }, { 2u << 20, 0 }, { 1u << 20, H } };

	(void)state;
	expect(ext, run(tgtd, 5, 512, false, 0, 7u << 20, ext, 16), want, 3);
}

/* The range starts inside a block and ends inside another: the extents are
 * in bytes, from the offset asked, and stop at its end. */
static void test_clipped_unaligned(void **state)
{
	struct sb_extent ext[16];
	const struct scsi_lba_status_descriptor d[] = { { 8191, 1, DEALLOC },
							{ 8192, 4096, MAPPED },
							{ 12288, 51712, DEALLOC } };
	const uint32_t want[][2] = { { 12, HZ }, { 2u << 20, 0 }, { 100, HZ } };
	uint64_t offset = 8191 * 512 + 500;

	(void)state;
	expect(ext, run(d, 3, 512, true, offset, 12 + (2u << 20) + 100, ext, 16), want, 3);
}

/* A first descriptor that starts before the request (its block) is clipped
 * at the offset; one wholly before it is skipped. */
static void test_starts_before(void **state)
{
	struct sb_extent ext[4];
	const struct scsi_lba_status_descriptor d[] = { { 0, 8, MAPPED }, { 8, 8, DEALLOC },
							{ 16, 8, MAPPED } };
	const uint32_t want[][2] = { { 4096 - 1000, HZ }, { 1000, 0 } };

	(void)state;
	expect(ext, run(d, 3, 512, true, 5096, 4096, ext, 4), want, 2);
}

static void test_anchored_and_unknown(void **state)
{
	struct sb_extent ext[4];
	const struct scsi_lba_status_descriptor d[] = { { 0, 1, ANCHORED }, { 1, 1, 3 },
							{ 2, 1, 7 } };
	const uint32_t want[][2] = { { 4096, HZ }, { 8192, 0 } };

	(void)state;
	expect(ext, run(d, 3, 4096, true, 0, 3 * 4096, ext, 4), want, 2);
}

/* Neighbours of one kind (a target that splits its answer) become one
 * extent, which costs no slot. */
static void test_merged(void **state)
{
	struct sb_extent ext[2];
	const struct scsi_lba_status_descriptor d[] = { { 0, 2, MAPPED }, { 2, 2, MAPPED },
							{ 4, 2, DEALLOC }, { 6, 2, ANCHORED },
							{ 8, 2, MAPPED } };
	const uint32_t want[][2] = { { 2048, 0 }, { 2048, HZ } };

	(void)state;
	expect(ext, run(d, 5, 512, true, 0, 5120, ext, 2), want, 2);
}

/* REQ_ONE: one extent, the first. */
static void test_max_one(void **state)
{
	struct sb_extent ext[1];
	const uint32_t want[][2] = { { 4u << 20, HZ } };

	(void)state;
	expect(ext, run(tgtd, 5, 512, true, 0, 64u << 20, ext, 1), want, 1);
}

/* A gap: what lies in it is unknown, so the extents end before it; a gap
 * at the very start says nothing (the caller answers all data). */
static void test_gap(void **state)
{
	struct sb_extent ext[4];
	const struct scsi_lba_status_descriptor d[] = { { 0, 4, DEALLOC }, { 8, 4, MAPPED } };
	const struct scsi_lba_status_descriptor late[] = { { 9, 4, DEALLOC } };
	const uint32_t want[][2] = { { 2048, HZ } };

	(void)state;
	expect(ext, run(d, 2, 512, true, 0, 6144, ext, 4), want, 1);
	assert_int_equal(run(late, 1, 512, true, 4096, 4096, ext, 4), 0);
}

/* A short answer (fewer blocks than asked): what it covers. */
static void test_short(void **state)
{
	struct sb_extent ext[4];
	const struct scsi_lba_status_descriptor d[] = { { 0, 4, MAPPED } };
	const uint32_t want[][2] = { { 2048, 0 } };

	(void)state;
	expect(ext, run(d, 1, 512, true, 0, 1u << 20, ext, 4), want, 1);
}

/* Nonsense says nothing from where it starts: no answer, no descriptors,
 * an empty descriptor, an LBA whose byte offset does not fit. */
static void test_nonsense(void **state)
{
	struct sb_extent ext[4];
	const struct scsi_lba_status_descriptor empty[] = { { 0, 4, DEALLOC }, { 4, 0, MAPPED },
							    { 4, 4, MAPPED } };
	const struct scsi_lba_status_descriptor huge[] = { { UINT64_MAX / 2, 4, MAPPED } };
	const struct scsi_lba_status_descriptor huge_len[] = { { 0, UINT32_MAX, DEALLOC } };
	const uint32_t want[][2] = { { 2048, HZ } };
	const uint32_t want_len[][2] = { { UINT32_MAX, HZ } };

	(void)state;
	assert_int_equal(sb_iscsi_lba_extents(NULL, 512, true, 0, 4096, ext, 4), 0);
	assert_int_equal(run(empty, 0, 512, true, 0, 4096, ext, 4), 0);
	assert_int_equal(run(empty, 1, 512, true, 0, 4096, ext, 0), 0);
	expect(ext, run(empty, 3, 512, true, 0, 4096, ext, 4), want, 1);
	assert_int_equal(run(huge, 1, 512, true, 0, 4096, ext, 4), 0);
	/* 2 TiB of hole: one extent of the whole (largest) request. */
	expect(ext, run(huge_len, 1, 512, true, 0, UINT32_MAX, ext, 4), want_len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_lun),
		cmocka_unit_test(test_lbprz_off_is_hole_only),
		cmocka_unit_test(test_clipped_unaligned),
		cmocka_unit_test(test_starts_before),
		cmocka_unit_test(test_anchored_and_unknown),
		cmocka_unit_test(test_merged),
		cmocka_unit_test(test_max_one),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_nonsense),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
