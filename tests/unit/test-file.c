/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the file backend: reads, writes, flush, FUA,
 * trim and write-zeroes through io_uring on a real file, checked with
 * pread(), in both cache modes; data scattered over buffers (iovecs), on
 * every I/O path; many requests at once; and the zeroing fallbacks on tmpfs.
 *
 * The temporary files live next to this executable (the build directory,
 * on a real disk), because O_DIRECT may not work in /tmp.  The test plays
 * the core: a completion is recorded in the request's last_err and counted
 * in its attempts field. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "base/iov.h"
#include "base/loop.h"

#define DISK_SIZE (4u << 20)
#define MANY 5000

extern const struct sb_backend_driver sb_file_driver;

struct harness {
	struct sb_loop *loop;
	struct sb_backend *be;
	char path[PATH_MAX];
	int fd;                        /* our own view of the file, for checks */
	unsigned completions;
	unsigned connection_changes;
	unsigned target;               /* run_until waits for this many completions */
	struct sb_timer wake;          /* ends run_until's wait when they are in */
};

static void woken(void *opaque)
{
	(void)opaque;
}

static void on_complete(void *opaque, struct sb_request *req, int err)
{
	struct harness *h = opaque;
	h->completions++;
	req->last_err = err;
	req->attempts++;
	/* A timer due now ends the loop's wait, once all that run_until waits
	 * for is in: an earlier wake-up could start a step that the backend
	 * left behind, which is what the tests must catch. */
	if (h->completions >= h->target)
		sb_timer_arm(h->loop, &h->wake, 0);
}

static void on_connection(void *opaque, bool up, int err)
{
	struct harness *h = opaque;
	h->connection_changes++;
}

/* Creates a DISK_SIZE file of pattern bytes in @dir (NULL: next to this
 * executable). */
static void make_file(struct harness *h, const char *dir)
{
	char exe[PATH_MAX - 32]; /* room for the file name in h->path */
	ssize_t n;

	if (!dir) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		dir = exe;
	}
	snprintf(h->path, sizeof(h->path), "%s/test-file.XXXXXX", dir);
	h->fd = mkstemp(h->path);
	assert_true(h->fd >= 0);
	char *buf = malloc(DISK_SIZE);
	for (unsigned i = 0; i < DISK_SIZE; i++)
		buf[i] = (char)(i * 7 + 1);
	assert_int_equal(pwrite(h->fd, buf, DISK_SIZE, 0), DISK_SIZE);
	free(buf);
}

/* Opens the backend on h->path.  Returns 0 or -1 with the error in @msg. */
static int open_backend(struct harness *h, bool read_only, enum sb_cache_mode cache)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct sb_backend_config cfg = { .read_only = read_only, .cache = cache };
	char spec[PATH_MAX + 8];

	snprintf(spec, sizeof(spec), "file:%s", h->path);
	if (sb_backend_open(h->loop, spec, &cfg, &h->be, &err) < 0) {
		print_message("open: %s\n", err->msg);
		return -1;
	}
	h->be->up = (struct sb_backend_upcalls){ .complete = on_complete, .connection = on_connection, .opaque = h };
	return 0;
}

static int setup_common(void **state, const char *dir, bool read_only, enum sb_cache_mode cache)
{
	struct harness *h = calloc(1, sizeof(*h));

	*state = h;
	h->loop = sb_loop_new();
	sb_timer_init(&h->wake, woken, h);
	make_file(h, dir);
	return open_backend(h, read_only, cache);
}

static int setup(void **state)
{
	return setup_common(state, NULL, false, SB_CACHE_WRITEBACK);
}

static int setup_ro(void **state)
{
	return setup_common(state, NULL, true, SB_CACHE_WRITEBACK);
}

static int teardown(void **state)
{
	struct harness *h = *state;

	sb_backend_close(h->be);
	sb_loop_free(h->loop);
	close(h->fd);
	unlink(h->path);
	free(h);
	return 0;
}

static struct sb_request *new_req(struct harness *h, enum sb_op op, uint32_t flags,
				  uint64_t offset, uint32_t length, void *buf)
{
	struct sb_request *req = calloc(1, sizeof(*req) + h->be->ctx_size);
	req->op = op;
	req->flags = flags;
	req->offset = offset;
	req->length = length;
	req->buf = buf;
	return req;
}

/* Runs the loop until the completions reach @target (bounded: 10 s).  The
 * loop may sleep until the deadline, as the daemon's sleeps for ever: a
 * backend that leaves work behind with nothing to wake the loop for it
 * fails here. */
static void run_until(struct harness *h, unsigned target)
{
	uint64_t deadline = sb_now_ns() + 10 * SB_NS_PER_SEC, now;

	h->target = target;
	while (h->completions < target) {
		now = sb_now_ns();
		if (now >= deadline)
			fail_msg("%u of %u completions after 10 s", h->completions, target);
		assert_int_equal(sb_loop_run_once(h->loop, deadline - now), 0);
	}
}

/* Submits @req, waits for it and frees it; returns its result. */
static int do_req(struct harness *h, struct sb_request *req)
{
	int r = sb_backend_submit(h->be, req);

	if (r == 0) {
		run_until(h, h->completions + 1);
		assert_int_equal(req->attempts, 1); /* exactly once */
		r = req->last_err;
	}
	free(req);
	return r;
}

/* Submits one request and waits for it; returns its result. */
static int do_io(struct harness *h, enum sb_op op, uint32_t flags, uint64_t offset,
		 uint32_t length, void *buf)
{
	return do_req(h, new_req(h, op, flags, offset, length, buf));
}

/* The same with the data scattered over [@iov, @iov + @n). */
static int do_iov(struct harness *h, enum sb_op op, uint32_t flags, uint64_t offset,
		  const struct iovec *iov, unsigned n)
{
	struct sb_request *req = new_req(h, op, flags, offset, (uint32_t)sb_iov_length(iov, n),
					 NULL);

	req->iov = iov;
	req->iovcnt = n;
	return do_req(h, req);
}

static void expect_bytes(struct harness *h, uint64_t offset, uint32_t length, int byte)
{
	unsigned char *buf = malloc(length);

	assert_int_equal(pread(h->fd, buf, length, (off_t)offset), length);
	for (uint32_t i = 0; i < length; i++)
		if (buf[i] != (unsigned char)byte)
			fail_msg("byte %u at %llu is 0x%02x, wanted 0x%02x", i,
				 (unsigned long long)offset, buf[i], byte);
	free(buf);
}

/* Writes @byte over [offset, offset + length) with the backend. */
static void fill(struct harness *h, uint64_t offset, uint32_t length, int byte, uint32_t flags)
{
	char *buf = malloc(length);
	memset(buf, byte, length);
	assert_int_equal(do_io(h, SB_OP_WRITE, flags, offset, length, buf), 0);
	free(buf);
}

static void test_match(void **state)
{
	assert_true(sb_file_driver.match("/srv/disk.img"));
	assert_true(sb_file_driver.match("disk.img"));
	assert_true(sb_file_driver.match("file:/dev/sdb"));
	assert_false(sb_file_driver.match("nbd://127.0.0.1/x"));
	assert_false(sb_file_driver.match("nbd+unix:///x?socket=/s"));
	assert_false(sb_file_driver.match("iscsi://127.0.0.1/iqn.x/1"));
}

static void test_open_facts(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h->be->size, DISK_SIZE);
	assert_int_equal(h->be->block_min, 1);
	assert_int_equal(h->be->block_pref, 4096);
	assert_int_equal(h->be->block_max, 32 << 20);
	assert_true(h->be->connected);
	assert_int_equal(h->be->caps & (SB_CAP_FLUSH | SB_CAP_FUA | SB_CAP_TRIM | SB_CAP_ZERO |
					SB_CAP_FAST_ZERO | SB_CAP_MULTI_CONN | SB_CAP_READ_ONLY),
			 SB_CAP_FLUSH | SB_CAP_FUA | SB_CAP_TRIM | SB_CAP_ZERO |
			 SB_CAP_FAST_ZERO | SB_CAP_MULTI_CONN);
	assert_string_equal(h->be->ops->name, "file");
}

static void test_read_write_flush(void **state)
{
	struct harness *h = *state;
	char buf[10000], want[10000];

	fill(h, 1000, 5000, 0xab, 0);
	expect_bytes(h, 1000, 5000, 0xab);
	fill(h, 3 * 4096, 4096, 0xcd, SB_REQ_FUA);
	expect_bytes(h, 3 * 4096, 4096, 0xcd);
	assert_int_equal(do_io(h, SB_OP_FLUSH, 0, 0, 0, NULL), 0);

	assert_int_equal(pread(h->fd, want, sizeof(want), 500), sizeof(want));
	assert_int_equal(do_io(h, SB_OP_READ, 0, 500, sizeof(buf), buf), 0);
	assert_memory_equal(buf, want, sizeof(buf));
	/* The last byte of the disk. */
	assert_int_equal(do_io(h, SB_OP_READ, 0, DISK_SIZE - 1, 1, buf), 0);
	assert_int_equal(buf[0], (char)((DISK_SIZE - 1) * 7 + 1));
	assert_int_equal(h->connection_changes, 0);
}

static void test_trim_and_zero(void **state)
{
	struct harness *h = *state;
	struct stat st;

	assert_int_equal(do_io(h, SB_OP_TRIM, 0, 64 << 10, 64 << 10, NULL), 0);
	expect_bytes(h, 64 << 10, 64 << 10, 0); /* a hole on this file system */
	assert_int_equal(do_io(h, SB_OP_TRIM, SB_REQ_FUA, 0, 4096, NULL), 0);

	assert_int_equal(do_io(h, SB_OP_ZERO, 0, 1 << 20, 1 << 20, NULL), 0);
	expect_bytes(h, 1 << 20, 1 << 20, 0);
	assert_int_equal(do_io(h, SB_OP_ZERO, SB_REQ_NO_HOLE | SB_REQ_FUA, 100, 3000, NULL), 0);
	expect_bytes(h, 100, 3000, 0);
	assert_int_equal(do_io(h, SB_OP_ZERO, SB_REQ_FAST_ZERO | SB_REQ_NO_HOLE,
			       2 << 20, 1 << 20, NULL), 0);
	expect_bytes(h, 2 << 20, 1 << 20, 0);
	/* Neither changes the size. */
	assert_int_equal(fstat(h->fd, &st), 0);
	assert_int_equal(st.st_size, DISK_SIZE);
}

/* A block status of [@offset, + @length) into @x (room for @max); returns
 * the number of extents, after checking it succeeded once. */
static uint32_t block_status(struct harness *h, uint64_t offset, uint32_t length,
			     struct sb_extent *x, uint32_t max)
{
	struct sb_request *req = new_req(h, SB_OP_BLOCK_STATUS, 0, offset, length, NULL);
	uint32_t n;

	req->extents = x;
	req->max_extents = max;
	assert_int_equal(sb_backend_submit(h->be, req), 0);
	run_until(h, h->completions + 1);
	assert_int_equal(req->attempts, 1);
	assert_int_equal(req->last_err, 0);
	n = req->nextents;
	free(req);
	return n;
}

/* Block status from SEEK_DATA/SEEK_HOLE: the holes a trim punched, the
 * data around them, at most max extents, within the range. */
static void test_block_status(void **state)
{
	struct harness *h = *state;
	struct sb_extent x[8];

	/* Data, then a 1 MiB hole at 1 MiB (punched), then data. */
	assert_int_equal(do_io(h, SB_OP_TRIM, 0, 1 << 20, 1 << 20, NULL), 0);
	if (lseek(h->fd, 1 << 20, SEEK_DATA) != 2 << 20)
		skip(); /* this file system keeps no holes */
	assert_int_equal(block_status(h, 512 << 10, 3 << 20, x, 8), 3);
	assert_int_equal(x[0].length, 512 << 10);
	assert_int_equal(x[0].flags, 0);
	assert_int_equal(x[1].length, 1 << 20);
	assert_int_equal(x[1].flags, SB_EXTENT_HOLE | SB_EXTENT_ZERO);
	assert_int_equal(x[2].length, (3 << 20) - (512 << 10) - (1 << 20));
	assert_int_equal(x[2].flags, 0);

	/* One extent asked for: the first only. */
	assert_int_equal(block_status(h, 1 << 20, 2 << 20, x, 1), 1);
	assert_int_equal(x[0].length, 1 << 20);
	assert_int_equal(x[0].flags, SB_EXTENT_HOLE | SB_EXTENT_ZERO);
}

/* Pages of [@offset, + @length) of h->path in the page cache (mincore). */
static size_t resident_pages(struct harness *h, uint64_t offset, uint32_t length)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = length / page, in = 0;
	unsigned char vec[DISK_SIZE / 4096];
	void *map = mmap(NULL, DISK_SIZE, PROT_READ, MAP_SHARED, h->fd, 0);

	assert_true(map != MAP_FAILED && n <= sizeof(vec));
	assert_int_equal(mincore((char *)map + offset, length, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	munmap(map, DISK_SIZE);
	return in;
}

/* A cache warms the page cache over its whole range (POSIX_FADV_WILLNEED,
 * a chunk at a time: the kernel reads at most its readahead window per
 * call), and nothing much beyond it. */
static void test_cache_prefetches(void **state)
{
	struct harness *h = *state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t deadline;

	assert_true(h->be->caps & SB_CAP_CACHE);
	assert_int_equal(fdatasync(h->fd), 0);
	assert_int_equal(posix_fadvise(h->fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	if (resident_pages(h, 0, DISK_SIZE) != 0)
		skip(); /* this file system keeps its pages */
	assert_int_equal(do_io(h, SB_OP_CACHE, 0, 512 << 10, 3 << 20, NULL), 0);
	deadline = sb_now_ns() + 5 * SB_NS_PER_SEC;
	while (resident_pages(h, 512 << 10, 3 << 20) < (3 << 20) / page &&
	       sb_now_ns() < deadline)
		usleep(10000);
	assert_int_equal(resident_pages(h, 512 << 10, 3 << 20), (3 << 20) / page);
	assert_int_equal(resident_pages(h, 0, 256 << 10), 0);
}

/* Nothing to warm on tmpfs (the data is the page cache) or with O_DIRECT
 * (reads bypass it): no capability, the core answers a cache itself. */
static void test_cache_not_offered(void **state)
{
	struct harness *h = *state;

	if (!h)
		skip();
	assert_false(h->be->caps & SB_CAP_CACHE);
}

static void test_many_at_once(void **state)
{
	struct harness *h = *state;
	struct sb_request **reqs = calloc(MANY, sizeof(*reqs));
	char *bufs = malloc((size_t)MANY * 512);
	unsigned start = h->completions;

	/* More than the ring's SQ (256) and CQ (4096): nothing may be dropped. */
	for (unsigned i = 0; i < MANY; i++) {
		memset(bufs + (size_t)i * 512, (int)(i % 251), 512);
		reqs[i] = new_req(h, SB_OP_WRITE, 0, (uint64_t)i * 512, 512, bufs + (size_t)i * 512);
		assert_int_equal(sb_backend_submit(h->be, reqs[i]), 0);
	}
	run_until(h, start + MANY);
	for (unsigned i = 0; i < MANY; i++) {
		assert_int_equal(reqs[i]->attempts, 1);
		assert_int_equal(reqs[i]->last_err, 0);
		free(reqs[i]);
	}
	for (unsigned i = 0; i < MANY; i += 97)
		expect_bytes(h, (uint64_t)i * 512, 512, (int)(i % 251));
	free(bufs);
	free(reqs);
}

static void test_read_past_eof_gives_zeroes(void **state)
{
	struct harness *h = *state;
	char buf[8192];

	/* Someone shrank the file under us: NBD reads the missing part as zeroes. */
	assert_int_equal(ftruncate(h->fd, DISK_SIZE - 4096), 0);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(do_io(h, SB_OP_READ, 0, DISK_SIZE - sizeof(buf), sizeof(buf), buf), 0);
	for (size_t i = 4096; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[0], (char)((DISK_SIZE - sizeof(buf)) * 7 + 1));
}

static void test_read_only(void **state)
{
	struct harness *h = *state;
	char buf[4096];

	assert_true(h->be->caps & SB_CAP_READ_ONLY);
	assert_false(h->be->caps & (SB_CAP_TRIM | SB_CAP_ZERO | SB_CAP_FUA));
	assert_int_equal(do_io(h, SB_OP_WRITE, 0, 0, sizeof(buf), buf), -EROFS);
	assert_int_equal(do_io(h, SB_OP_TRIM, 0, 0, 4096, NULL), -EROFS);
	assert_int_equal(do_io(h, SB_OP_ZERO, 0, 0, 4096, NULL), -EROFS);
	assert_int_equal(do_io(h, SB_OP_READ, 0, 0, sizeof(buf), buf), 0);
	assert_int_equal(do_io(h, SB_OP_FLUSH, 0, 0, 0, NULL), 0);
}

/* ---- cache=none ---- */

static int setup_direct(void **state)
{
	struct harness *h;
	int fd;

	if (setup_common(state, NULL, false, SB_CACHE_WRITEBACK) < 0)
		return -1;
	h = *state;
	sb_backend_close(h->be);
	h->be = NULL;
	fd = open(h->path, O_RDWR | O_DIRECT);
	if (fd < 0 && errno == EINVAL)
		return 0; /* no O_DIRECT here: the tests skip */
	assert_true(fd >= 0);
	close(fd);
	/* A tail that is not a whole block is not exported. */
	assert_int_equal(ftruncate(h->fd, DISK_SIZE + 100), 0);
	return open_backend(h, false, SB_CACHE_NONE);
}

static void test_direct_aligned_and_bounced(void **state)
{
	struct harness *h = *state;
	uint32_t bs;
	char *buf = NULL;

	if (!h->be)
		skip();
	bs = h->be->block_min;
	assert_true(bs == 512 || bs == 4096);
	assert_int_equal(h->be->size, DISK_SIZE);
	assert_int_equal(posix_memalign((void **)&buf, 4096, 4 * 4096 + 4096), 0);

	/* Aligned: straight from the buffer. */
	memset(buf, 0x11, 4 * 4096);
	assert_int_equal(do_io(h, SB_OP_WRITE, 0, 8 * 4096, 4 * 4096, buf), 0);
	expect_bytes(h, 8 * 4096, 4 * 4096, 0x11);
	memset(buf, 0, 4 * 4096);
	assert_int_equal(do_io(h, SB_OP_READ, 0, 8 * 4096, 4 * 4096, buf), 0);
	for (int i = 0; i < 4 * 4096; i++)
		assert_int_equal(buf[i], 0x11);

	/* Misaligned in memory: through a bounce buffer, same result. */
	memset(buf + 1, 0x22, 2 * 4096);
	assert_int_equal(do_io(h, SB_OP_WRITE, SB_REQ_FUA, 16 * 4096, 2 * 4096, buf + 1), 0);
	expect_bytes(h, 16 * 4096, 2 * 4096, 0x22);
	memset(buf, 0, 3 * 4096);
	assert_int_equal(do_io(h, SB_OP_READ, 0, 16 * 4096, 2 * 4096, buf + 3), 0);
	for (int i = 3; i < 3 + 2 * 4096; i++)
		assert_int_equal(buf[i], 0x22);
	assert_int_equal(buf[0], 0);

	/* Misaligned on disk: refused, the backend never guesses. */
	assert_int_equal(do_io(h, SB_OP_WRITE, 0, 100, bs, buf), -EINVAL);
	assert_int_equal(do_io(h, SB_OP_READ, 0, 0, bs + 1, buf), -EINVAL);

	assert_int_equal(do_io(h, SB_OP_ZERO, SB_REQ_NO_HOLE, 8 * 4096, 4096, NULL), 0);
	expect_bytes(h, 8 * 4096, 4096, 0);
	assert_int_equal(do_io(h, SB_OP_TRIM, 0, 9 * 4096, 4096, NULL), 0);
	assert_int_equal(do_io(h, SB_OP_FLUSH, 0, 0, 0, NULL), 0);
	free(buf);
}

/* ---- scattered data ---- */

#define SCATTER_MAX 8

struct scatter {
	struct iovec iov[SCATTER_MAX];
	struct iovec copy[SCATTER_MAX]; /* the list as made: nobody may change it */
	unsigned n;
	size_t len;
};

/* Makes a list of @n buffers of @lens bytes, each in its own allocation at
 * @misalign bytes past a page boundary (so neighbours never touch). */
static void scatter_make(struct scatter *sc, const size_t *lens, unsigned n, size_t misalign)
{
	memset(sc, 0, sizeof(*sc));
	sc->n = n;
	for (unsigned i = 0; i < n; i++) {
		void *p = NULL;
		assert_int_equal(posix_memalign(&p, 4096, lens[i] + misalign), 0);
		sc->iov[i] = (struct iovec){ (char *)p + misalign, lens[i] };
		sc->len += lens[i];
	}
	memcpy(sc->copy, sc->iov, sizeof(sc->iov));
}

static void scatter_free(struct scatter *sc, size_t misalign)
{
	assert_memory_equal(sc->copy, sc->iov, sizeof(sc->iov));
	for (unsigned i = 0; i < sc->n; i++)
		free((char *)sc->iov[i].iov_base - misalign);
}

/* Writes a pattern at @offset from buffers of @wlens and reads it back into
 * buffers of @rlens (another split): the file holds the pattern in order,
 * the read brings it back, and neither list was changed. */
static void scatter_round_trip(struct harness *h, uint64_t offset, const size_t *wlens,
			       unsigned wn, const size_t *rlens, unsigned rn, size_t misalign,
			       uint32_t flags)
{
	struct scatter w, r;
	unsigned char *want, *got;

	scatter_make(&w, wlens, wn, misalign);
	scatter_make(&r, rlens, rn, misalign);
	assert_int_equal(w.len, r.len);
	want = malloc(w.len);
	got = malloc(w.len);
	for (size_t i = 0; i < w.len; i++)
		want[i] = (unsigned char)(i * 13 + offset + 5);
	assert_int_equal(sb_iov_from_buf(w.iov, w.n, 0, want, w.len), w.len);
	assert_int_equal(do_iov(h, SB_OP_WRITE, flags, offset, w.iov, w.n), 0);
	assert_int_equal(pread(h->fd, got, w.len, (off_t)offset), (ssize_t)w.len);
	assert_memory_equal(got, want, w.len);

	/* Out of the page cache: the read goes to io_uring as a readv, not
	 * to the inline path (where a file system lets it go: tmpfs keeps it). */
	assert_int_equal(fdatasync(h->fd), 0);
	assert_int_equal(posix_fadvise(h->fd, (off_t)offset, (off_t)w.len, POSIX_FADV_DONTNEED), 0);
	sb_iov_memset(r.iov, r.n, 0, 0xee, r.len);
	assert_int_equal(do_iov(h, SB_OP_READ, 0, offset, r.iov, r.n), 0);
	memset(got, 0, w.len);
	assert_int_equal(sb_iov_to_buf(r.iov, r.n, 0, got, r.len), r.len);
	assert_memory_equal(got, want, w.len);
	scatter_free(&w, misalign);
	scatter_free(&r, misalign);
	free(want);
	free(got);
}

/* A read over the end of a shrunk file: the part past the end reads as
 * zeroes, after a short read that stopped inside a buffer (@cut_inside) or
 * between two. */
static void scatter_read_eof(struct harness *h, bool cut_inside)
{
	static const size_t lens[] = { 4096, 4096, 8192 };
	struct scatter r;
	unsigned char *got;
	uint64_t eof = DISK_SIZE - (cut_inside ? 10240 : 8192);
	uint64_t offset = DISK_SIZE - 16384;

	assert_int_equal(ftruncate(h->fd, (off_t)eof), 0);
	scatter_make(&r, lens, 3, 0);
	sb_iov_memset(r.iov, r.n, 0, 0x55, r.len);
	assert_int_equal(do_iov(h, SB_OP_READ, 0, offset, r.iov, r.n), 0);
	got = malloc(r.len);
	sb_iov_to_buf(r.iov, r.n, 0, got, r.len);
	for (size_t i = 0; i < r.len; i++)
		assert_int_equal(got[i], offset + i < eof ? (unsigned char)((offset + i) * 7 + 1) : 0);
	scatter_free(&r, 0);
	free(got);
	assert_int_equal(ftruncate(h->fd, DISK_SIZE), 0);
}

/* Writes through io_uring, reads from the page cache on the loop. */
static void test_scattered(void **state)
{
	struct harness *h = *state;
	static const size_t odd[] = { 1, 4095, 3000, 9000, 512 };
	static const size_t other[] = { 7000, 7000, 2608 };
	static const size_t pages[] = { 4096, 4096, 4096, 4096 };

	if (!h)
		skip();
	scatter_round_trip(h, 777, odd, 5, other, 3, 0, 0);
	scatter_round_trip(h, 1 << 20, pages, 4, pages, 4, 0, SB_REQ_FUA);
	/* In this order: growing the file back leaves zeroes past the cut. */
	scatter_read_eof(h, false);
	scatter_read_eof(h, true);
}

/* cache=none: pages go as they lie; a buffer of a misaligned length or
 * address goes through the bounce buffer. */
static void test_direct_scattered(void **state)
{
	struct harness *h = *state;
	static const size_t pages[] = { 4096, 8192, 4096 };
	static const size_t odd[] = { 100, 12188, 4096 };
	static const size_t sectors[] = { 512, 3584, 8192, 4096 }; /* bounced where blocks are 4k */

	if (!h->be)
		skip();
	scatter_round_trip(h, 64 * 4096, pages, 3, pages, 3, 0, 0);
	scatter_round_trip(h, 80 * 4096, odd, 3, pages, 3, 0, SB_REQ_FUA);
	scatter_round_trip(h, 96 * 4096, pages, 3, odd, 3, 0, 0);
	scatter_round_trip(h, 112 * 4096, pages, 3, pages, 3, 1, 0);
	scatter_round_trip(h, 128 * 4096, sectors, 4, pages, 3, 0, 0);
}

/* ---- tmpfs: no ZERO_RANGE, so the fallbacks run ---- */

static int setup_shm(void **state)
{
	if (access("/dev/shm", W_OK) < 0) {
		*state = NULL;
		return 0;
	}
	return setup_common(state, "/dev/shm", false, SB_CACHE_WRITEBACK);
}

static int teardown_shm(void **state)
{
	return *state ? teardown(state) : 0;
}

static void test_zero_fallbacks(void **state)
{
	struct harness *h = *state;
	struct sb_request *req;
	int r;

	if (!h)
		skip();
	/* ZERO_RANGE fails on tmpfs; a hole is allowed, so PUNCH_HOLE. */
	assert_int_equal(do_io(h, SB_OP_ZERO, 0, 4096, 8192, NULL), 0);
	expect_bytes(h, 4096, 8192, 0);
	/* No hole allowed: zeroes are written, over more than one chunk. */
	assert_int_equal(do_io(h, SB_OP_ZERO, SB_REQ_NO_HOLE | SB_REQ_FUA, 100, (2 << 20) + 5,
			       NULL), 0);
	expect_bytes(h, 100, (2 << 20) + 5, 0);
	/* No hole and fast only: there is no fast way, ENOTSUP at once. */
	fill(h, 0, 4096, 0x77, 0);
	req = new_req(h, SB_OP_ZERO, SB_REQ_NO_HOLE | SB_REQ_FAST_ZERO, 0, 4096, NULL);
	r = sb_backend_submit(h->be, req);
	assert_int_equal(r, -ENOTSUP);
	free(req);
	expect_bytes(h, 0, 4096, 0x77);
	/* Fast with a hole allowed: PUNCH_HOLE is fast. */
	assert_int_equal(do_io(h, SB_OP_ZERO, SB_REQ_FAST_ZERO, 0, 4096, NULL), 0);
	expect_bytes(h, 0, 4096, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test_setup_teardown(test_open_facts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_and_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_status, setup_shm, teardown_shm),
		cmocka_unit_test_setup_teardown(test_cache_prefetches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_not_offered, setup_shm, teardown_shm),
		cmocka_unit_test_setup_teardown(test_cache_not_offered, setup_direct, teardown),
		cmocka_unit_test_setup_teardown(test_read_past_eof_gives_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_direct_aligned_and_bounced, setup_direct,
						teardown),
		cmocka_unit_test_setup_teardown(test_zero_fallbacks, setup_shm, teardown_shm),
		cmocka_unit_test_setup_teardown(test_scattered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scattered, setup_shm, teardown_shm),
		cmocka_unit_test_setup_teardown(test_direct_scattered, setup_direct, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
