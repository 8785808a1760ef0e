/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of one queue's share of the vhost-user
 * in-flight region (inflight-queue.c): pops and pushes as they are
 * recorded, and what a restarted steadyblk reads back from a record the
 * one before left, including one killed in the middle of a push, and
 * records a hostile front end made up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exports/vhost-user/inflight-queue.h"

#define QSIZE 8

struct fixture {
	struct vhost_user_inflight_queue *r;
	struct sb_vu_vring vq;
	unsigned char used[4 + 8 * QSIZE + 2];
	uint16_t heads[QSIZE];
	uint64_t newest;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->r = calloc(1, sb_vu_inflight_queue_size(QSIZE));
	assert_non_null(f->r);
	f->r->version = 1;
	f->r->desc_num = QSIZE;
	/* A ring with only a used side: what a push writes. */
	f->vq.num = QSIZE;
	f->vq.used = (volatile struct virtq_used *)f->used;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->r);
	free(f);
	return 0;
}

static int scan(struct fixture *f)
{
	return sb_vu_inflight_scan(f->r, QSIZE, f->vq.used_idx, f->heads, &f->newest);
}

static void test_share_is_aligned(void **state)
{
	(void)state;
	assert_int_equal(sb_vu_inflight_queue_size(QSIZE) % VHOST_USER_INFLIGHT_ALIGN, 0);
	assert_true(sb_vu_inflight_queue_size(QSIZE) >=
		    sizeof(struct vhost_user_inflight_queue) +
			    QSIZE * sizeof(struct vhost_user_inflight_desc));
	/* 16 bytes of header and 2048 of entries, rounded up to the alignment. */
	assert_int_equal(sb_vu_inflight_queue_size(128), 128 * 16 + 64);
}

static void test_fresh_record_has_nothing(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(scan(f), 0);
	f->r->version = 0; /* never written at all: made ours */
	f->r->desc_num = 0;
	assert_int_equal(scan(f), 0);
	assert_int_equal(f->newest, 0);
	assert_int_equal(f->r->version, 1);
	assert_int_equal(f->r->desc_num, QSIZE);
}

/* Chains come back in the order they were popped, not in head order. */
static void test_in_flight_oldest_first(void **state)
{
	struct fixture *f = *state;

	sb_vu_inflight_popped(f->r, 5, 10);
	sb_vu_inflight_popped(f->r, 2, 11);
	sb_vu_inflight_popped(f->r, 7, 12);
	sb_vu_inflight_popped(f->r, 0, 13);
	sb_vu_inflight_push(f->r, &f->vq, 2, 512); /* one answered */
	assert_int_equal(f->r->used_idx, 1);
	assert_int_equal(f->r->desc[2].inflight, 0);
	assert_int_equal(scan(f), 3);
	assert_int_equal(f->heads[0], 5);
	assert_int_equal(f->heads[1], 7);
	assert_int_equal(f->heads[2], 0);
	assert_int_equal(f->newest, 13);
}

/* Killed after the used ring's update, before the record's: the chain the
 * push was about is used, and is not resubmitted. */
static void test_push_cut_short(void **state)
{
	struct fixture *f = *state;

	sb_vu_inflight_popped(f->r, 3, 1);
	sb_vu_inflight_popped(f->r, 4, 2);
	f->r->last_batch_head = 3;
	sb_vu_vring_push(&f->vq, 3, 0); /* the ring moved, the record did not */
	assert_int_equal(f->r->used_idx, 0);
	assert_int_equal(scan(f), 1);
	assert_int_equal(f->heads[0], 4);
	assert_int_equal(f->r->used_idx, 1);
	assert_int_equal(f->r->desc[3].inflight, 0);
	/* Read again, the record is whole: the same answer. */
	assert_int_equal(scan(f), 1);
	assert_int_equal(f->heads[0], 4);
}

/* What the front end may have written: a record for another queue size,
 * an unknown version, a batch head past the queue. */
static void test_hostile_records(void **state)
{
	struct fixture *f = *state;

	f->r->desc_num = QSIZE * 2;
	assert_int_equal(scan(f), -1);
	f->r->desc_num = QSIZE;
	f->r->version = 7;
	assert_int_equal(scan(f), -1);
	f->r->version = 1;
	f->r->last_batch_head = 0xffff;
	f->r->used_idx = 40; /* not the ring's: the fix-up must stay inside */
	sb_vu_inflight_popped(f->r, QSIZE - 1, 99);
	f->r->desc[1].inflight = 0xaa; /* any non-zero counts as in flight */
	assert_int_equal(scan(f), 2);
	assert_int_equal(f->heads[0], 1);
	assert_int_equal(f->heads[1], QSIZE - 1);
	assert_int_equal(f->r->used_idx, 0);
}

static void test_every_entry_in_flight(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < QSIZE; i++)
		sb_vu_inflight_popped(f->r, (uint16_t)(QSIZE - 1 - i), 100 + i);
	assert_int_equal(scan(f), QSIZE);
	for (unsigned i = 0; i < QSIZE; i++)
		assert_int_equal(f->heads[i], QSIZE - 1 - i);
	assert_int_equal(f->newest, 100 + QSIZE - 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_share_is_aligned),
		T(test_fresh_record_has_nothing),
		T(test_in_flight_oldest_first),
		T(test_push_cut_short),
		T(test_hostile_records),
		T(test_every_entry_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
