/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of what protects data while the disk holds
 * (DESIGN.md invariants 2-5): the unflushed-write log and its replay after
 * a cache loss, the disk's own flush and parked writes, fencing by requests
 * of closed sessions and by the probe, and a flaky path that must not stall
 * the disk.  The stub backend has a volatile cache it can lose. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/disk-internal.h"
#include "core/unflushed.h"
#include "disk-fixture.h"

static void open_disk_with_log(struct fx *f, uint64_t log_bytes)
{
	open_disk(f);
	assert_int_equal(sb_disk_set_unflushed_limit(f->disk, log_bytes, NULL), 0);
}

static void fill(struct fx *f, int i, unsigned char byte)
{
	memset(f->buf[i], byte, sizeof(f->buf[i]));
}

/* Writes blocks 0..@n-1 (request i fills block i with @first + i), each
 * acknowledged before the next. */
static void write_blocks(struct fx *f, int n, unsigned char first)
{
	for (int i = 0; i < n; i++) {
		fill(f, i, (unsigned char)(first + i));
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 4096, 4096, NULL);
		run_until_done(f, i);
	}
}

/* The backend loses its cache with every request parked at it: the
 * replay's first writes wait there for the test to finish them. */
static void lose_cache_parked(struct fx *f)
{
	stub_lose_cache(f->stub);
	f->stub->park = true;
	sb_backend_cache_lost(&f->stub->be, "test");
	run_for(f, 1);
}

static int count_event(struct fx *f, enum sb_disk_event_kind k)
{
	int n = 0;
	for (int i = 0; i < f->nev; i++)
		n += f->ev[i] == k;
	return n;
}

static const struct sb_disk_event *last_event(struct fx *f, enum sb_disk_event_kind k)
{
	for (int i = f->nev - 1; i >= 0; i--)
		if (f->ev[i] == k)
			return &f->evdata[i];
	return NULL;
}

/* ---- the log itself ---- */

static void test_log_ring_wraps_in_order(void **state)
{
	struct sb_unflushed *log = sb_unflushed_new(4096);
	struct sb_request r = { .op = SB_OP_WRITE, .length = 960 };
	unsigned char data[960];
	uint64_t mark;
	int n = 0;

	(void)state;
	r.buf = data;
	memset(data, 0, sizeof(data));
	for (int i = 0; i < 3; i++) {
		r.offset = (uint64_t)i;
		assert_true(sb_unflushed_append(log, &r));
	}
	mark = sb_unflushed_mark(log);
	r.offset = 3;
	assert_true(sb_unflushed_append(log, &r));
	assert_false(sb_unflushed_append(log, &r)); /* 5 x (960 + 32) > 4096 */
	sb_unflushed_flushed(log, mark);           /* drops 0, 1, 2 */
	assert_int_equal(sb_unflushed_entries(log), 1);
	r.offset = 4;
	assert_true(sb_unflushed_append(log, &r)); /* wraps to the start */
	r.offset = 5;
	assert_true(sb_unflushed_append(log, &r));
	for (struct sb_unflushed_entry *e = sb_unflushed_first(log); e;
	     e = sb_unflushed_next(log, e))
		assert_int_equal(e->offset, 3 + n++);
	assert_int_equal(n, 3);
	assert_int_equal(sb_unflushed_bytes(log), 3 * 960);
	sb_unflushed_flushed(log, sb_unflushed_mark(log));
	assert_true(sb_unflushed_empty(log));
	assert_null(sb_unflushed_first(log));
	sb_unflushed_free(log);
}

/* ---- invariant 2: replay ---- */

/* Acknowledged writes, then the cache is lost: a read issued afterwards sees
 * them (the replay went first), and a flush then makes them durable. */
static void test_replay_before_anything_else(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 1 << 20);
	fill(f, 0, 0xa1);
	fill(f, 1, 0xb2);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	submit(f, 1, SB_OP_WRITE, 8192, 4096, NULL);
	run_until_done(f, 1);
	assert_int_equal(f->err[0] | f->err[1], 0);

	stub_lose_cache(f->stub);
	sb_backend_cache_lost(&f->stub->be, "test");
	unsigned before = f->stub->submitted;
	submit(f, 2, SB_OP_READ, 0, 4096, NULL);
	run_until_done(f, 2);
	assert_int_equal(f->err[2], 0);
	assert_int_equal((unsigned char)f->buf[2][0], 0xa1);
	assert_int_equal((unsigned char)f->buf[2][4095], 0xa1);
	/* the two replays, then the read */
	assert_int_equal(f->stub->submitted - before, 3);
	assert_ptr_equal(f->stub->log[f->stub->submitted - 1], f->req[2]);
	const struct sb_disk_event *ev = last_event(f, SB_EVENT_REPLAYED);
	assert_non_null(ev);
	assert_int_equal(ev->requests, 2);
	assert_int_equal(ev->bytes, 8192);

	submit(f, 3, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 3);
	assert_int_equal(f->err[3], 0);
	assert_int_equal(f->stub->durable[8192], 0xb2);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.unflushed, 0); /* the flush emptied the log */
}

/* Request @i, a flush, fails after the backend lost its cache (fsyncgate:
 * the kernel forgot the pages); returns once it has completed. */
static void flush_fails_losing_cache(struct fx *f, int i)
{
	f->stub->park = true;
	submit(f, i, SB_OP_FLUSH, 0, 0, NULL);
	run_for(f, 2);
	stub_lose_cache(f->stub);
	stub_finish_one(f->stub, 0, -EIO);
	f->stub->park = false;
	run_until_done(f, i);
}

/* A failed flush (fsyncgate: the kernel forgot the pages) replays the log,
 * so the next flush that succeeds covers the writes. */
static void test_failed_flush_replays(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 1 << 20);
	fill(f, 0, 0x5c);
	submit(f, 0, SB_OP_WRITE, 4096, 4096, NULL);
	run_until_done(f, 0);
	flush_fails_losing_cache(f, 1);
	assert_int_equal(f->err[1], -EIO); /* werror report: the client hears it */
	run_for(f, 5);
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
	assert_int_equal(f->stub->data[4096], 0x5c);
	submit(f, 2, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 2);
	assert_int_equal(f->err[2], 0);
	assert_int_equal(f->stub->durable[4096], 0x5c);
}

/* A write of data scattered over buffers is logged as its bytes in order,
 * and a replay after a failed flush writes them again: the guest's buffers
 * (vhost-user) may hold other data by then. */
static void test_scattered_write_replayed(void **state)
{
	struct fx *f = *state;
	struct iovec iov[2] = { { f->buf[1], 1000 }, { f->buf[2], 3096 } };

	open_disk_with_log(f, 1 << 20);
	memset(f->buf[1], 0x5a, sizeof(f->buf[1]));
	memset(f->buf[2], 0xa5, sizeof(f->buf[2]));
	f->req[0]->iov = iov;
	f->req[0]->iovcnt = 2;
	submit(f, 0, SB_OP_WRITE, 4096, 4096, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->stub->data[4096 + 999], 0x5a);
	assert_int_equal(f->stub->data[4096 + 1000], 0xa5);
	memset(f->buf[1], 0, sizeof(f->buf[1])); /* the guest reuses its buffers */
	memset(f->buf[2], 0, sizeof(f->buf[2]));
	flush_fails_losing_cache(f, 3);
	run_for(f, 5);
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
	for (int i = 0; i < 4096; i++)
		assert_int_equal((unsigned char)f->stub->data[4096 + i], i < 1000 ? 0x5a : 0xa5);
}

/* A flush in flight when the cache is lost proves nothing: it is held,
 * issued again after the replay, and only then succeeds. */
static void test_flush_across_cache_loss_reissued(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 1 << 20);
	fill(f, 0, 0x77);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	run_until_done(f, 0);
	f->stub->park = true;
	submit(f, 1, SB_OP_FLUSH, 0, 0, NULL);
	run_for(f, 2);
	assert_int_equal(queued_at(f, 1), 0);
	stub_lose_cache(f->stub);
	sb_backend_cache_lost(&f->stub->be, "test");
	stub_finish_parked(f->stub); /* the old flush "succeeds" */
	assert_int_equal(f->ndone[1], 0);
	f->stub->park = false;
	run_until_done(f, 1);
	assert_int_equal(f->err[1], 0);
	assert_int_equal(f->stub->durable[0], 0x77);
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
}

/* A reconnect is a possible cache loss: the held write's retry and the
 * logged writes land in order, newest data last. */
static void test_reconnect_replays_then_releases(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk_with_log(f, 1 << 20);
	fill(f, 0, 0x01);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	run_until_done(f, 0);
	f->stub->fail_err = -ENOTCONN;
	fill(f, 1, 0x02);
	submit(f, 1, SB_OP_WRITE, 0, 4096, NULL); /* held */
	run_for(f, 3);
	assert_int_equal(f->ndone[1], 0);
	sb_backend_set_connected(&f->stub->be, false, -ENOTCONN);
	stub_lose_cache(f->stub);
	f->stub->fail_err = 0;
	sb_backend_set_connected(&f->stub->be, true, 0);
	run_until_done(f, 1);
	assert_int_equal(f->err[1], 0);
	assert_int_equal(f->stub->data[0], 0x02); /* the replay of 0x01 went first */
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
}

/* A replay write that fails is held: the disk hangs, and the whole replay
 * runs again once the backend answers. */
static void test_replay_failure_holds_and_restarts(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	sb_policy_set_rerror(&f->policy, SB_ACTION_RETRY);
	open_disk_with_log(f, 1 << 20);
	fill(f, 0, 0x33);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	run_until_done(f, 0);
	stub_lose_cache(f->stub);
	f->stub->fail_err = -EIO;
	sb_backend_cache_lost(&f->stub->be, "test");
	submit(f, 1, SB_OP_READ, 0, 4096, NULL);
	run_for(f, 30);
	assert_int_equal(f->ndone[1], 0);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	f->stub->fail_err = 0;
	run_until_done(f, 1);
	assert_int_equal(f->err[1], 0);
	assert_int_equal((unsigned char)f->buf[1][0], 0x33);
	run_for(f, 5);
	assert_true(saw_event(f, SB_EVENT_REPLAYED));
	assert_true(saw_event(f, SB_EVENT_RECOVERED));
}

/* When the backend fails one entry persistently, the replay goes on from
 * the entry that failed: what was written before it is not written again,
 * so a replay needs no pass in which every entry succeeds. */
static void test_replay_resumes_at_failed_entry(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk_with_log(f, 1 << 20);
	write_blocks(f, 3, 0x41);
	assert_int_equal(f->stub->submitted, 3);
	stub_lose_cache(f->stub);
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 2 * 4096;
	f->stub->fail_to = 3 * 4096;
	sb_backend_cache_lost(&f->stub->be, "test");
	run_for(f, 150);
	/* The first pass wrote all three, then retried the third alone until
	 * SB_OUTAGE_STREAK failures in a row said the backend is down; each
	 * pass since, the third alone. */
	unsigned n = f->stub->submitted;
	assert_true(n >= 6 + SB_OUTAGE_STREAK);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	assert_false(saw_event(f, SB_EVENT_REPLAYED));
	for (unsigned i = 5; i < n && i < 4 * STUB_MAX; i++)
		assert_int_equal(f->stub->log_offset[i], 2 * 4096);
	f->stub->fail_range = false;
	f->stub->fail_err = 0;
	submit(f, 3, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 3);
	assert_int_equal(f->err[3], 0);
	/* Then the third entry once more (unless already on its way), and the
	 * flush: the first two were never written again. */
	assert_true(f->stub->submitted <= n + 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->stub->durable[i * 4096], 0x41 + i);
	const struct sb_disk_event *ev = last_event(f, SB_EVENT_REPLAYED);
	assert_non_null(ev);
	assert_int_equal(ev->requests, 3);
	assert_int_equal(ev->bytes, 3 * 4096);
}

/* On a flaky path a replay write that fails is retried on its own while
 * the entries after it go on; one that overlaps it waits until it landed.
 * Nothing is written twice but the failed entry, the disk never looks
 * down, and the replay ends in one pass. */
static void test_replay_retries_failed_entry_alone(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC; /* a probe tick: never here */
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk_with_log(f, 1 << 20);
	write_blocks(f, 6, 0x61);
	fill(f, 6, 0x7e); /* newer data over entry 1 */
	submit(f, 6, SB_OP_WRITE, 4096, 4096, NULL);
	run_until_done(f, 6);
	stub_lose_cache(f->stub);
	unsigned before = f->stub->submitted;
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 4096;
	f->stub->fail_to = 2 * 4096;
	f->stub->fail_times = 1;
	sb_backend_cache_lost(&f->stub->be, "test");
	submit(f, 7, SB_OP_READ, 4096, 4096, NULL);
	run_until_done(f, 7);
	assert_int_equal(f->err[7], 0);
	assert_int_equal((unsigned char)f->buf[7][0], 0x7e);
	/* seven entries, one retry, the read */
	assert_int_equal(f->stub->submitted - before, 9);
	assert_int_equal(f->stub->log_offset[before + 6], 4096); /* the retry... */
	assert_int_equal(f->stub->log_offset[before + 7], 4096); /* ...then entry 6 */
	assert_false(saw_event(f, SB_EVENT_HUNG));
	assert_true(saw_event(f, SB_EVENT_DEGRADED));
	const struct sb_disk_event *ev = last_event(f, SB_EVENT_REPLAYED);
	assert_non_null(ev);
	assert_int_equal(ev->requests, 7);
	submit(f, 8, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 8);
	assert_int_equal(f->err[8], 0);
	assert_int_equal(f->stub->durable[0], 0x61);
	assert_int_equal(f->stub->durable[4096], 0x7e);
	assert_int_equal(f->stub->durable[5 * 4096], 0x66);
}

/* The parked request at @offset, by its place in the stub's queue. */
static unsigned parked_at(struct fx *f, uint64_t offset)
{
	for (unsigned q = 0; q < f->stub->nqueue; q++)
		if (f->stub->queue[q]->offset == offset)
			return q;
	fail_msg("nothing parked at %" PRIu64, offset);
	return 0;
}

/* A pass whose first write fails hangs the disk (the backend may be
 * down); when the next pass, the probe, gets writes through and meets a
 * failure, the path is flaky: the disk says so (DEGRADED) and retries that
 * write alone instead of cutting the pass again. */
static void test_hung_replay_that_progresses_degrades(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk_with_log(f, 1 << 20);
	write_blocks(f, 4, 0x31);
	lose_cache_parked(f);
	assert_int_equal(f->stub->nqueue, 4);
	stub_finish_one(f->stub, parked_at(f, 0), -EIO); /* the first: down? */
	stub_finish_parked(f->stub);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	for (int ms = 0; ms < 100 && f->stub->nqueue < 4; ms++)
		run_for(f, 1);
	assert_int_equal(f->stub->nqueue, 4); /* the next pass, from entry 0 */
	stub_finish_one(f->stub, parked_at(f, 0), 0);
	stub_finish_one(f->stub, parked_at(f, 2 * 4096), -EIO);
	assert_true(saw_event(f, SB_EVENT_DEGRADED));
	unsigned cut = f->stub->submitted;
	stub_finish_parked(f->stub);
	f->stub->park = false;
	submit(f, 4, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 4);
	assert_int_equal(f->err[4], 0);
	/* entry 2 alone went again, not the pass from entry 2 on */
	assert_int_equal(f->stub->submitted - cut, 2);
	assert_int_equal(f->stub->log_offset[cut], 2 * 4096);
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->stub->durable[i * 4096], 0x31 + i);
}

/* Flaky retries are waiting when the failures add up to an outage and the
 * pass ends: the next pass must start at the oldest of them, not at the
 * entry whose failure ended the pass, or those acknowledged writes are
 * never written again (found by the chaos test: a read saw data older than
 * an acknowledged write). */
static void test_outage_during_flaky_replay_keeps_retries(void **state)
{
	struct fx *f = *state;
	enum { N = SB_OUTAGE_STREAK + 4 };
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_MS;
	open_disk_with_log(f, 1 << 20);
	write_blocks(f, N, 0x10);
	lose_cache_parked(f);
	assert_int_equal(f->stub->nqueue, N);
	stub_finish_one(f->stub, parked_at(f, 0), 0); /* progress: flaky from here */
	for (int i = 1; i < N; i++) /* then a streak: the backend looks down */
		stub_finish_one(f->stub, parked_at(f, (uint64_t)i * 4096), -EIO);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	f->stub->park = false;
	submit(f, N, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, N);
	assert_int_equal(f->err[N], 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(f->stub->durable[i * 4096], 0x10 + i);
}

/* A replay write whose retry is waiting when the cache is lost again does
 * not go out on its own: the new pass starts from the first entry. */
static void test_replay_retry_dropped_on_new_loss(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk_with_log(f, 1 << 20);
	write_blocks(f, 3, 0x21);
	stub_lose_cache(f->stub);
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 2 * 4096;
	f->stub->fail_to = 3 * 4096;
	sb_backend_cache_lost(&f->stub->be, "test");
	run_for(f, 1); /* 0 and 1 written, 2 waits for its retry */
	stub_lose_cache(f->stub);
	f->stub->fail_range = false;
	f->stub->fail_err = 0;
	sb_backend_cache_lost(&f->stub->be, "test");
	submit(f, 3, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 3);
	assert_int_equal(f->err[3], 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->stub->durable[i * 4096], 0x21 + i);
	assert_int_equal(count_event(f, SB_EVENT_REPLAYED), 1);
	assert_int_equal(last_event(f, SB_EVENT_REPLAYED)->requests, 3);
}

/* A replay that the policy gives up on (report) makes the next flush fail:
 * an acknowledged write may be gone. */
static void test_replay_given_up_fails_next_flush(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 1 << 20);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	run_until_done(f, 0);
	f->stub->fail_err = -EIO;
	sb_backend_cache_lost(&f->stub->be, "test");
	run_for(f, 5);
	f->stub->fail_err = 0;
	submit(f, 1, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 1);
	assert_int_equal(f->err[1], -EIO);
	submit(f, 2, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 2);
	assert_int_equal(f->err[2], 0);
}

/* When the log is half full the disk flushes by itself; a write that does
 * not fit is acknowledged only once a flush covers it. */
static void test_full_log_flushes_and_parks(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 3 * 4096);
	f->stub->park = true;
	for (int i = 0; i < 4; i++) {
		fill(f, i, (unsigned char)(0x10 + i));
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 4096, 4096, NULL);
	}
	run_for(f, 2);
	/* complete the writes only: the disk's own flush stays at the backend */
	for (int i = 0; i < 4; i++)
		stub_finish_one(f->stub, (unsigned)queued_at(f, i), 0);
	run_for(f, 2);
	/* two fit (each 4096 + a header), the others wait for a flush */
	assert_int_equal(f->ndone[0] + f->ndone[1], 2);
	assert_int_equal(f->ndone[2] + f->ndone[3], 0);
	assert_true(f->stub->nqueue >= 1);
	assert_int_equal(f->stub->queue[0]->op, SB_OP_FLUSH);
	f->stub->park = false;
	stub_finish_parked(f->stub);
	run_until_done(f, 3);
	assert_int_equal(f->err[2] | f->err[3], 0);
	assert_int_equal(f->stub->durable[3 * 4096], 0x13);
	assert_true(sb_disk_stats(f->disk)->own_flushes >= 1);
	assert_true(sb_disk_stats(f->disk)->parked >= 2);
}

/* The disk's own flush failing once on a live backend is a flaky path:
 * it goes again after a few milliseconds, not a --retry-interval, since
 * the writes parked behind it wait for it. */
static void test_own_flush_failure_retried_soon(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk_with_log(f, 3 * 4096);
	f->stub->park = true;
	for (int i = 0; i < 4; i++) {
		fill(f, i, (unsigned char)(0x50 + i));
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 4096, 4096, NULL);
	}
	run_for(f, 2);
	for (int i = 0; i < 4; i++)
		stub_finish_one(f->stub, (unsigned)queued_at(f, i), 0);
	run_for(f, 2);
	assert_int_equal(f->stub->queue[0]->op, SB_OP_FLUSH);
	stub_finish_one(f->stub, 0, -EIO);
	f->stub->park = false;
	stub_finish_parked(f->stub);
	run_until_done(f, 3);
	assert_int_equal(f->err[2] | f->err[3], 0);
	assert_true(sb_disk_stats(f->disk)->own_flushes >= 2);
	assert_int_equal(f->stub->durable[3 * 4096], 0x53);
	assert_int_equal(sb_disk_stats(f->disk)->errors, 1);
}

/* A cache loss sends parked writes back to the queue: never acknowledged,
 * they are issued again, after the replay. */
static void test_parked_writes_reissued_after_loss(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 2 * 4096);
	f->stub->park = true;
	fill(f, 0, 0x41);
	fill(f, 1, 0x42);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	submit(f, 1, SB_OP_WRITE, 4096, 4096, NULL);
	run_for(f, 2);
	stub_finish_one(f->stub, (unsigned)queued_at(f, 0), 0);
	stub_finish_one(f->stub, (unsigned)queued_at(f, 1), 0);
	run_for(f, 2);
	assert_int_equal(f->ndone[1], 0); /* parked */
	stub_lose_cache(f->stub);
	sb_backend_cache_lost(&f->stub->be, "test");
	stub_finish_parked(f->stub); /* the own flush, across the loss */
	f->stub->park = false;
	run_until_done(f, 1);
	assert_int_equal(f->err[1], 0);
	assert_int_equal(f->stub->data[0], 0x41);
	assert_int_equal(f->stub->data[4096], 0x42);
}

/* FUA writes with nothing older logged need no log. */
static void test_fua_not_logged(void **state)
{
	struct fx *f = *state;
	open_disk_with_log(f, 1 << 20);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL); /* a plain write: logged */
	run_until_done(f, 0);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.unflushed, 1);
	struct sb_request *r = f->req[1];
	submit(f, 2, SB_OP_FLUSH, 0, 0, NULL);
	run_until_done(f, 2);
	r->op = SB_OP_WRITE;
	r->flags = SB_REQ_FUA;
	r->offset = 0;
	r->length = 4096;
	r->buf = f->buf[1];
	r->session = &f->session;
	r->done = f->req[0]->done;
	sb_disk_submit(f->disk, r);
	run_until_done(f, 1);
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.unflushed, 0);
}

/* ---- invariants 3-4: fencing ---- */

/* A write of a client that vanished while it was at the backend fences a
 * newer overlapping write of another client until it lands. */
static void test_orphan_inflight_fences(void **state)
{
	struct fx *f = *state;
	open_disk(f);
	f->stub->park = true;
	fill(f, 0, 0xaa);
	submit(f, 0, SB_OP_WRITE, 0, 4096, &f->session);
	run_for(f, 2);
	sb_disk_detach(&f->session, "disconnected");
	fill(f, 1, 0xbb);
	submit(f, 1, SB_OP_WRITE, 0, 4096, &f->other);      /* overlaps: waits */
	submit(f, 2, SB_OP_WRITE, 65536, 4096, &f->other);  /* does not: goes */
	run_for(f, 2);
	assert_int_equal(queued_at(f, 1), -1);
	assert_true(queued_at(f, 2) >= 0);
	stub_finish_one(f->stub, (unsigned)queued_at(f, 0), 0); /* the old write lands */
	run_for(f, 2);
	assert_true(queued_at(f, 1) >= 0);
	f->stub->park = false;
	stub_finish_parked(f->stub);
	run_until_done(f, 1);
	assert_int_equal(f->stub->data[0], 0xbb);
}

/* fail-held while the probe is at the backend: a newer overlapping write
 * waits for the probe, and the probe's failure reaches its client instead
 * of being held and re-issued after the newer write. */
static void test_fail_held_keeps_probe_fencing(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	fill(f, 0, 0x01);
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	run_for(f, 3);
	f->stub->park = true;
	uint64_t end = sb_now_ns() + SB_NS_PER_SEC;
	while (queued_at(f, 0) < 0 && sb_now_ns() < end)
		sb_loop_run_once(f->loop, 5 * SB_NS_PER_MS);
	assert_int_equal(queued_at(f, 0), 0); /* the probe is out */
	sb_disk_fail_held(f->disk);
	fill(f, 1, 0x02);
	submit(f, 1, SB_OP_WRITE, 0, 4096, &f->other);
	run_for(f, 2);
	assert_int_equal(queued_at(f, 1), -1); /* waits for the probe */
	stub_finish_one(f->stub, 0, -EIO);
	f->stub->fail_err = 0;
	f->stub->park = false;
	run_until_done(f, 1);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], -EIO);
	run_for(f, 30);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->stub->data[0], 0x02);
}

/* ---- invariant 3: a flaky path does not stall the disk ---- */

/* One bad range: its request is held and retried on its own, the rest of
 * the disk flows, overlapping requests wait behind the held one. */
static void test_flaky_range_does_not_stall(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 20 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 40 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 0;
	f->stub->fail_to = 4096;
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	submit(f, 1, SB_OP_WRITE, 8192, 4096, NULL);
	run_until_done(f, 1);
	assert_int_equal(f->ndone[0], 0);
	assert_true(saw_event(f, SB_EVENT_DEGRADED));
	/* new requests that overlap nothing held go straight through */
	for (int i = 2; i < 12; i++)
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 8192, 4096, NULL);
	submit(f, 12, SB_OP_READ, 0, 512, NULL); /* overlaps the held write: waits */
	run_for(f, 5);
	for (int i = 2; i < 12; i++)
		assert_int_equal(f->ndone[i], 1);
	assert_int_equal(f->ndone[12], 0);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_DEGRADED);
	f->stub->fail_err = 0;
	run_until_done(f, 12);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], 0);
	int pos0 = -1, pos12 = -1;
	for (int i = 0; i < f->norder; i++) {
		if (f->order[i] == 0) pos0 = i;
		if (f->order[i] == 12) pos12 = i;
	}
	assert_true(pos0 < pos12);
	run_for(f, 80); /* a quiet spell ends the episode */
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_HEALTHY);
	assert_int_equal(count_event(f, SB_EVENT_RECOVERED), 1);
}

/* A run of failures with no success between them is an outage: every
 * request queues behind one probe per tick. */
static void test_failure_streak_is_an_outage(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk(f);
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 0;
	f->stub->fail_to = 4096;
	submit(f, 0, SB_OP_WRITE, 0, 4096, NULL);
	submit(f, 1, SB_OP_WRITE, 8192, 4096, NULL);
	run_until_done(f, 1);
	assert_true(saw_event(f, SB_EVENT_DEGRADED));
	f->stub->fail_range = false; /* now everything fails */
	for (int i = 2; i < 2 + SB_OUTAGE_STREAK; i++)
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 8192, 4096, NULL);
	run_for(f, 5);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_HUNG);
	unsigned before = f->stub->submitted;
	submit(f, 20, SB_OP_WRITE, 1 << 19, 4096, NULL);
	run_for(f, 5);
	assert_int_equal(f->stub->submitted, before); /* queued, not sent */
	assert_int_equal(count_event(f, SB_EVENT_HUNG), 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_ring_wraps_in_order),
		T(test_replay_before_anything_else),
		T(test_failed_flush_replays),
		T(test_scattered_write_replayed),
		T(test_flush_across_cache_loss_reissued),
		T(test_reconnect_replays_then_releases),
		T(test_replay_failure_holds_and_restarts),
		T(test_replay_resumes_at_failed_entry),
		T(test_replay_retries_failed_entry_alone),
		T(test_hung_replay_that_progresses_degrades),
		T(test_outage_during_flaky_replay_keeps_retries),
		T(test_replay_retry_dropped_on_new_loss),
		T(test_replay_given_up_fails_next_flush),
		T(test_full_log_flushes_and_parks),
		T(test_own_flush_failure_retried_soon),
		T(test_parked_writes_reissued_after_loss),
		T(test_fua_not_logged),
		T(test_orphan_inflight_fences),
		T(test_fail_held_keeps_probe_fencing),
		T(test_flaky_range_does_not_stall),
		T(test_failure_streak_is_an_outage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
