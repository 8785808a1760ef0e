/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the file backend: a regular file or a block device, served
 * through one io_uring per backend.
 *
 *   submit(req) --> SQE in the ring (no syscall), or the inline queue
 *   prepare hook --> inline reads/writes (below), then one io_uring_submit
 *                    per loop iteration for the batch, then drain the CQ;
 *                    a step queued by that drain runs the hook again
 *                    before the loop sleeps (file_prepare)
 *   eventfd readable (a completion posted after the hook) --> drain the CQ
 *   a step finished:
 *        short read/write, EAGAIN      --> queue the rest again
 *        zero: ZERO_RANGE unsupported  --> PUNCH_HOLE --> write zeroes
 *        trim or zero with FUA         --> fdatasync of the range
 *        cache, a chunk warmed         --> the next chunk
 *        done                          --> sb_backend_complete()
 *
 * Inline I/O: a worker-thread hop costs more than the copy itself when the
 * data is in memory.  On tmpfs and ramfs (no device behind them, and no
 * RWF_NOWAIT support, so io_uring would always hand the work to an io-wq
 * thread) reads and writes run on the loop as plain preadv2/pwritev2; on
 * other file systems reads first try preadv2(RWF_NOWAIT), which completes
 * from the page cache or says EAGAIN, and only misses go to io_uring.
 *
 * Scattered data (a guest's buffers, sb_request.iov) is read and written as
 * it lies, with readv/writev: no copy.  After a short transfer the rest
 * goes one buffer at a time (short transfers are rare; the list itself is
 * the frontend's and is never changed).
 *
 * With cache=none (O_DIRECT) offsets and lengths must be multiples of the
 * logical block size, which block_min advertises; data that is not aligned
 * in memory (a buffer's address, or a scattered buffer's length) is copied
 * through an aligned bounce buffer (the only allocation on the data path,
 * and only for such data).
 *
 * A cache (a client's hint that it will read a range) is readahead of the
 * range into the page cache: POSIX_FADV_WILLNEED through io_uring (which
 * runs it on an io-wq worker: it allocates pages and submits their reads,
 * it does not wait for them).  The kernel reads at most its readahead
 * window per call (max(read_ahead_kb, max_sectors_kb) of the device,
 * 128 KiB by default), so the range goes FILE_CACHE_CHUNK at a time.  Only
 * buffered files take it: with O_DIRECT reads bypass the page cache, and on
 * tmpfs or ramfs the data is the page cache; there is nothing to warm, no
 * SB_CAP_CACHE, and the core answers the hint itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backends/backend.h"
#include "base/compiler.h"
#include "base/iov.h"
#include "base/log.h"

/* valgrind does not see the kernel fill a buffer through io_uring: tell it,
 * so the project's valgrind runs stay meaningful.  A no-op otherwise. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void)0)
#endif

#define FILE_SQ_DEPTH 256
#define FILE_CQ_DEPTH 4096          /* in flight is not bounded by the SQ */
#define FILE_CQE_BATCH 32
#define FILE_BLOCK_PREF 4096u
#define FILE_BLOCK_MAX (32u << 20)
#define FILE_ZERO_CHUNK (1u << 20)  /* writes of zeroes, when nothing faster works */
#define FILE_DIO_FALLBACK 4096u     /* O_DIRECT alignment when the kernel won't say */
#define FILE_RESUBMIT_NS (1 * SB_NS_PER_MS)
#define FILE_CACHE_CHUNK (128u << 10) /* the smallest readahead window by default */

/* The zeroing steps are in the order file_zero_step() tries them. */
enum file_step {
	STEP_RW,         /* read or write of the request's buffer (or its bounce copy) */
	STEP_FLUSH,      /* fdatasync of the whole file */
	STEP_TRIM,       /* punch a hole; unsupported is fine, a trim is a hint */
	STEP_ZERO_RANGE, /* write zeroes: fallocate ZERO_RANGE */
	STEP_ZERO_PUNCH, /* write zeroes: punch a hole (no NO_HOLE flag) */
	STEP_ZERO_WRITE, /* write zeroes: write them, a chunk at a time */
	STEP_FUA_SYNC,   /* after a trim or zero with FUA: fdatasync of the range */
	STEP_CACHE,      /* cache: POSIX_FADV_WILLNEED, a chunk at a time */
};

/* Per-request context, in req->backend_ctx. */
struct file_ctx {
	enum file_step step;
	uint32_t done;                  /* bytes done (STEP_RW, STEP_ZERO_WRITE, STEP_CACHE) */
	char *bounce;                   /* aligned copy of misaligned data, or NULL */
	struct iovec cur;               /* the data from `done` on, when it is one buffer */
	STAILQ_ENTRY(file_ctx) backlog; /* waiting for a free SQE, or inline */
};

struct file_backend {
	struct sb_backend be;
	struct sb_loop *loop;
	int fd;
	bool blockdev;
	bool no_seek_data;               /* block status is all data: no SEEK_DATA, or not local */
	bool read_only;
	bool direct;                    /* cache=none: O_DIRECT */
	uint32_t mem_align;             /* O_DIRECT buffer alignment */
	bool no_zero_range;             /* ZERO_RANGE said EOPNOTSUPP: skip it from now on */
	bool no_punch;                  /* PUNCH_HOLE said EOPNOTSUPP */
	bool memfs;                     /* tmpfs/ramfs: reads and writes inline */
	bool read_nowait;               /* reads try preadv2(RWF_NOWAIT) first */
	char *zeroes;                   /* FILE_ZERO_CHUNK zero bytes, made on first need */
	struct io_uring ring;
	bool ring_ready;
	int efd;                        /* signalled by the ring on each completion */
	struct sb_watch efd_watch;
	struct sb_hook hook;
	struct sb_timer resubmit;       /* retries an io_uring_submit the kernel refused */
	struct sb_defer again;          /* the hook left work queued: run it once more */
	STAILQ_HEAD(, file_ctx) backlog;
	STAILQ_HEAD(, file_ctx) inline_q; /* tried on the loop by the prepare hook */
};

static inline struct file_ctx *req_ctx(struct sb_request *req)
{
	return (struct file_ctx *)req->backend_ctx;
}

static inline struct sb_request *ctx_req(struct file_ctx *c)
{
	return SB_CONTAINER_OF((unsigned char *)c, struct sb_request, backend_ctx);
}

/* ---- submission ---- */

/* The data still to move, from c->done on, as iovecs for readv/writev (see
 * the top of this file): all of the list at the start, and after a short
 * transfer the rest of the list from the buffer it stopped in (when it
 * stopped between two) or of that one buffer. */
static const struct iovec *file_rw_iov(struct sb_request *req, struct file_ctx *c,
				       unsigned *cnt)
{
	if (c->bounce || !req->iovcnt) {
		c->cur.iov_base = (c->bounce ? c->bounce : (char *)req->buf) + c->done;
		c->cur.iov_len = req->length - c->done;
		*cnt = 1;
		return &c->cur;
	}
	return sb_iov_rest(req->iov, req->iovcnt, c->done, &c->cur, cnt);
}

static void file_prep(struct file_backend *f, struct sb_request *req, struct io_uring_sqe *sqe)
{
	struct file_ctx *c = req_ctx(req);
	uint64_t off = req->offset + c->done;
	uint32_t len = req->length - c->done;
	const struct iovec *iov;
	unsigned cnt;

	switch (c->step) {
	case STEP_RW:
		iov = file_rw_iov(req, c, &cnt);
		if (req->op == SB_OP_READ) {
			if (cnt == 1)
				io_uring_prep_read(sqe, f->fd, iov->iov_base, iov->iov_len, off);
			else
				io_uring_prep_readv(sqe, f->fd, iov, cnt, off);
		} else {
			if (cnt == 1)
				io_uring_prep_write(sqe, f->fd, iov->iov_base, iov->iov_len, off);
			else
				io_uring_prep_writev(sqe, f->fd, iov, cnt, off);
			if (req->flags & SB_REQ_FUA)
				sqe->rw_flags = RWF_DSYNC;
		}
		break;
	case STEP_ZERO_WRITE:
		io_uring_prep_write(sqe, f->fd, f->zeroes, SB_MIN(len, FILE_ZERO_CHUNK), off);
		if (req->flags & SB_REQ_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case STEP_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case STEP_FUA_SYNC:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		sqe->off = req->offset;
		sqe->len = req->length;
		break;
	case STEP_TRIM:
	case STEP_ZERO_PUNCH:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, len);
		break;
	case STEP_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, len);
		break;
	case STEP_CACHE:
		io_uring_prep_fadvise(sqe, f->fd, off, SB_MIN(len, FILE_CACHE_CHUNK),
				      POSIX_FADV_WILLNEED);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
}

/* Hands the SQEs queued so far to the kernel.  A refusal (-EBUSY while the
 * completion queue overflows, -EAGAIN without memory) leaves them in the ring
 * for the next try; nothing is dropped. */
static void file_submit_batch(struct file_backend *f)
{
	int r;

	if (!io_uring_sq_ready(&f->ring))
		return;
	r = io_uring_submit(&f->ring);
	if (SB_UNLIKELY(r < 0)) {
		sb_debug("backend %s: io_uring_submit: %s, trying again", f->be.name, strerror(-r));
		if (!f->resubmit.armed)
			sb_timer_arm(f->loop, &f->resubmit, sb_now_ns() + FILE_RESUBMIT_NS);
	}
}

static void file_queue(struct file_backend *f, struct sb_request *req)
{
	struct io_uring_sqe *sqe = NULL;

	if (SB_LIKELY(STAILQ_EMPTY(&f->backlog))) {
		sqe = io_uring_get_sqe(&f->ring);
		if (SB_UNLIKELY(!sqe)) { /* the ring is full: make room */
			file_submit_batch(f);
			sqe = io_uring_get_sqe(&f->ring);
		}
	}
	if (SB_UNLIKELY(!sqe)) {
		STAILQ_INSERT_TAIL(&f->backlog, req_ctx(req), backlog);
		return;
	}
	file_prep(f, req, sqe);
}

/* Is a file system of type @f_type (fstatfs) one where SEEK_DATA answers
 * without the network? */
static bool seek_data_is_local(unsigned long f_type)
{
	switch (f_type) {
	case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case OVERLAYFS_SUPER_MAGIC: /* its upper layer: local too, in practice */
		return true;
	default:
		return false;
	}
}

/* Block status from the file system's map of the file (SEEK_DATA and
 * SEEK_HOLE: no data I/O).  lseek cannot be asked not to wait, and it runs
 * on the loop: only on local file systems, whose extent maps are in memory
 * or one metadata read away (seek_data_is_local).  A block device, a
 * network file system (NFS flushes and asks its server), or one without
 * SEEK_DATA is all data.  Returns 0 or -errno. */
static int file_block_status(struct file_backend *f, struct sb_request *req)
{
	uint64_t pos = req->offset, end = req->offset + req->length;

	req->nextents = 0;
	if (f->no_seek_data) {
		sb_request_all_data(req);
		return 0;
	}
	while (pos < end && req->nextents < req->max_extents) {
		off_t data = lseek(f->fd, (off_t)pos, SEEK_DATA), hole;
		uint64_t next;
		uint32_t flags = 0;

		if (data < 0 && errno == ENXIO) {
			data = (off_t)end; /* nothing but a hole up to the end */
		} else if (data < 0) {
			if (errno != EINVAL && errno != EOPNOTSUPP)
				return -errno;
			f->no_seek_data = true;
			if (req->nextents == 0)
				sb_request_all_data(req);
			return 0;
		}
		if ((uint64_t)data > pos) {
			next = SB_MIN((uint64_t)data, end);
			flags = SB_EXTENT_HOLE | SB_EXTENT_ZERO;
		} else {
			hole = lseek(f->fd, (off_t)pos, SEEK_HOLE);
			if (hole < 0 && errno == ENXIO)
				hole = (off_t)end; /* the file shrank under us: say data */
			else if (hole < 0)
				return -errno;
			next = SB_MIN((uint64_t)hole, end);
		}
		if (next <= pos) /* the file changed under us: say data */
			next = end, flags = 0;
		req->extents[req->nextents++] =
			(struct sb_extent){ .length = (uint32_t)(next - pos), .flags = flags };
		pos = next;
	}
	return 0;
}

static void file_drain(struct file_backend *f);
static void file_cqe(struct file_backend *f, struct sb_request *req, int res);
static void file_finish(struct file_backend *f, struct sb_request *req, int err);

/* Runs the inline queue (see the top of this file).  What would block goes
 * to io_uring instead. */
static void file_run_inline(struct file_backend *f)
{
	struct file_ctx *c;

	while ((c = STAILQ_FIRST(&f->inline_q))) {
		struct sb_request *req = ctx_req(c);
		const struct iovec *iov;
		unsigned cnt;
		off_t off = (off_t)(req->offset + c->done);
		ssize_t n;

		STAILQ_REMOVE_HEAD(&f->inline_q, backlog);
		if (req->op == SB_OP_BLOCK_STATUS) {
			file_finish(f, req, file_block_status(f, req));
			continue;
		}
		iov = file_rw_iov(req, c, &cnt);
		if (req->op == SB_OP_READ)
			n = preadv2(f->fd, iov, (int)cnt, off, f->memfs ? 0 : RWF_NOWAIT);
		else
			n = pwritev2(f->fd, iov, (int)cnt, off,
				     (req->flags & SB_REQ_FUA) ? RWF_DSYNC : 0);
		if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP)) {
			if (errno == EOPNOTSUPP)
				f->read_nowait = false; /* this file system cannot: stop asking */
			file_queue(f, req);
			continue;
		}
		file_cqe(f, req, n < 0 ? -errno : (int)n);
	}
}

/* Work that nothing but this hook will start: SQEs not yet submitted,
 * inline requests, a backlog. */
static bool file_has_queued(struct file_backend *f)
{
	return io_uring_sq_ready(&f->ring) || !STAILQ_EMPTY(&f->inline_q) ||
	       !STAILQ_EMPTY(&f->backlog);
}

/* The prepare hook: one io_uring_submit per loop iteration, then whatever
 * completed inside it (reads from the page cache usually do).
 *
 * Wake-ups: a completion can be posted at any moment, not only inside
 * io_uring_submit or from an io-wq worker.  A buffered read that waits for a
 * page completes through task work, which runs whenever this thread returns
 * to user space (from any syscall, or from an interrupt), so its CQE may land
 * between the last drain and epoll_wait.  The eventfd therefore signals every
 * completion, but is switched off while this hook reaps completions itself
 * (that costs no syscall: a flag in the shared ring) and switched on again
 * before the hook returns, with one more look at the CQ: whatever is posted
 * after that look signals the eventfd and wakes the loop.  The flag is a
 * store and the look a load, which the CPU may reorder; a full barrier
 * between them pairs with the kernel's between posting a CQE and reading
 * the flag, so that at least one side sees the other.
 *
 * Continuations: a completion reaped here may queue the request's next step
 * (the rest of a short transfer, the next chunk of zeroes, the next way of
 * zeroing, a FUA sync, a retry after EAGAIN) after this hook's submit.  No
 * event would ever start it, so the hook asks the loop to run it again
 * (a deferred call, which also keeps the loop from sleeping) rather than
 * leave it queued. */
static void file_prepare(void *opaque)
{
	struct file_backend *f = opaque;
	struct file_ctx *c;

	io_uring_cq_eventfd_toggle(&f->ring, false);
	if (!STAILQ_EMPTY(&f->inline_q))
		file_run_inline(f);
	while (SB_UNLIKELY(!STAILQ_EMPTY(&f->backlog))) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
		if (!sqe) {
			file_submit_batch(f);
			if (!(sqe = io_uring_get_sqe(&f->ring)))
				break;
		}
		c = STAILQ_FIRST(&f->backlog);
		STAILQ_REMOVE_HEAD(&f->backlog, backlog);
		file_prep(f, ctx_req(c), sqe);
	}
	file_submit_batch(f);
	file_drain(f);
	io_uring_cq_eventfd_toggle(&f->ring, true);
	io_uring_smp_mb();
	file_drain(f);
	/* A refused submit waits for its timer, not for another round. */
	if (file_has_queued(f) && !f->resubmit.armed)
		sb_loop_defer(f->loop, &f->again);
}

/* Can O_DIRECT move the request's data as it lies in memory?  Every
 * buffer's address must be aligned, and a scattered buffer's length too. */
static bool file_direct_aligned(const struct file_backend *f, const struct sb_request *req)
{
	uintptr_t bits = 0;

	if (!req->iovcnt)
		return ((uintptr_t)req->buf & (f->mem_align - 1)) == 0;
	for (uint32_t i = 0; i < req->iovcnt; i++)
		bits |= ((uintptr_t)req->iov[i].iov_base & (f->mem_align - 1)) |
			(req->iov[i].iov_len & (f->be.block_min - 1));
	return bits == 0;
}

/* For O_DIRECT: the range must be aligned; the data is copied when it is
 * not.  Returns 0 or -errno. */
static int file_direct_prepare(struct file_backend *f, struct sb_request *req)
{
	struct file_ctx *c = req_ctx(req);

	if ((req->offset | req->length) & (f->be.block_min - 1))
		return -EINVAL;
	if (req->op == SB_OP_ZERO || SB_LIKELY(file_direct_aligned(f, req)))
		return 0;
	if (posix_memalign((void **)&c->bounce, SB_MAX(f->mem_align, f->be.block_min), req->length))
		return -ENOMEM;
	if (req->op == SB_OP_WRITE)
		sb_request_copy_data(req, c->bounce);
	return 0;
}

/* The next way to write zeroes after @after (or the first one, after = -1),
 * as an enum file_step; -ENOTSUP if FAST_ZERO forbids every way left. */
static int file_zero_step(struct file_backend *f, const struct sb_request *req, int after)
{
	bool fast = req->flags & SB_REQ_FAST_ZERO;

	/* On a block device ZERO_RANGE may fall back to writing zeroes in the
	 * kernel, while PUNCH_HOLE never does: only the latter is fast. */
	if (after < STEP_ZERO_RANGE && !f->no_zero_range && !(fast && f->blockdev))
		return STEP_ZERO_RANGE;
	if (after < STEP_ZERO_PUNCH && !f->no_punch && !(req->flags & SB_REQ_NO_HOLE))
		return STEP_ZERO_PUNCH;
	if (fast)
		return -ENOTSUP;
	if (!f->zeroes) {
		if (posix_memalign((void **)&f->zeroes, FILE_DIO_FALLBACK, FILE_ZERO_CHUNK))
			return -ENOMEM;
		memset(f->zeroes, 0, FILE_ZERO_CHUNK);
	}
	return STEP_ZERO_WRITE;
}

static int file_submit(struct sb_backend *be, struct sb_request *req)
{
	struct file_backend *f = SB_CONTAINER_OF(be, struct file_backend, be);
	struct file_ctx *c = req_ctx(req);
	int r;

	c->done = 0;
	c->bounce = NULL;
	if (SB_UNLIKELY(f->read_only && sb_op_is_write(req->op) && req->op != SB_OP_FLUSH))
		return -EROFS;
	if (f->direct && req->op != SB_OP_FLUSH && req->op != SB_OP_TRIM &&
	    !sb_op_moves_no_data(req->op) && (r = file_direct_prepare(f, req)) < 0)
		return r;
	switch (req->op) {
	case SB_OP_READ:
	case SB_OP_WRITE:
		c->step = STEP_RW;
		if (f->memfs || (req->op == SB_OP_READ && f->read_nowait)) {
			STAILQ_INSERT_TAIL(&f->inline_q, c, backlog);
			return 0;
		}
		break;
	case SB_OP_BLOCK_STATUS:
		/* No I/O: answered on the loop, in order with the inline ones. */
		STAILQ_INSERT_TAIL(&f->inline_q, c, backlog);
		return 0;
	case SB_OP_CACHE:
		c->step = STEP_CACHE;
		break;
	case SB_OP_FLUSH:
		c->step = STEP_FLUSH;
		break;
	case SB_OP_TRIM:
		c->step = STEP_TRIM;
		break;
	case SB_OP_ZERO:
		if ((r = file_zero_step(f, req, -1)) < 0)
			return r;
		c->step = (enum file_step)r;
		break;
	default:
		return -EINVAL;
	}
	file_queue(f, req);
	return 0;
}

/* ---- completion ---- */

static void file_finish(struct file_backend *f, struct sb_request *req, int err)
{
	struct file_ctx *c = req_ctx(req);

	if (SB_UNLIKELY(c->bounce)) {
		if (req->op == SB_OP_READ && !err)
			sb_request_set_data(req, c->bounce);
		free(c->bounce);
		c->bounce = NULL;
	}
	sb_backend_complete(&f->be, req, err);
}

/* A read step put @len bytes at c->done of the request's data, or would
 * have (@zero: past the end of the file, which reads as zeroes). */
static void file_read_landed(struct sb_request *req, struct file_ctx *c, uint32_t len, bool zero)
{
	char *flat = c->bounce ? c->bounce : req->iovcnt ? NULL : (char *)req->buf;
	size_t skip;

	if (flat) {
		if (zero)
			memset(flat + c->done, 0, len);
		VALGRIND_MAKE_MEM_DEFINED(flat + c->done, len);
		return;
	}
	if (zero)
		sb_iov_memset(req->iov, req->iovcnt, c->done, 0, len);
	for (unsigned i = sb_iov_seek(req->iov, req->iovcnt, c->done, &skip);
	     i < req->iovcnt && len; i++, skip = 0) {
		uint32_t here = (uint32_t)SB_MIN(req->iov[i].iov_len - skip, len);
		VALGRIND_MAKE_MEM_DEFINED((char *)req->iov[i].iov_base + skip, here);
		len -= here;
	}
}

/* A read or write step moved @res bytes (or failed). */
static void file_rw_done(struct file_backend *f, struct sb_request *req, int res)
{
	struct file_ctx *c = req_ctx(req);

	if (res < 0) {
		file_finish(f, req, res);
		return;
	}
	if (SB_UNLIKELY(res == 0)) {
		if (req->op != SB_OP_READ) { /* a write that moves nothing would loop */
			file_finish(f, req, -EIO);
			return;
		}
		/* End of file: the file shrank under us.  NBD reads it as zeroes. */
		res = (int)(req->length - c->done);
		file_read_landed(req, c, (uint32_t)res, true);
	} else if (req->op == SB_OP_READ) {
		file_read_landed(req, c, (uint32_t)res, false);
	}
	c->done += (uint32_t)res;
	if (SB_UNLIKELY(c->done < req->length)) { /* short: queue the rest */
		file_queue(f, req);
		return;
	}
	file_finish(f, req, 0);
}

/* A fallocate step finished: fall back to the next way of zeroing when this
 * one is unsupported, then honour FUA. */
static void file_alloc_done(struct file_backend *f, struct sb_request *req, int res)
{
	struct file_ctx *c = req_ctx(req);
	int next;

	if (res == -EOPNOTSUPP) {
		if (c->step == STEP_ZERO_RANGE)
			f->no_zero_range = true;
		else
			f->no_punch = true;
		if (c->step == STEP_TRIM) {
			res = 0;
		} else {
			next = file_zero_step(f, req, (int)c->step);
			if (next < 0) {
				file_finish(f, req, next);
				return;
			}
			c->step = (enum file_step)next;
			file_queue(f, req);
			return;
		}
	}
	if (res == 0 && (req->flags & SB_REQ_FUA)) {
		c->step = STEP_FUA_SYNC;
		file_queue(f, req);
		return;
	}
	file_finish(f, req, res);
}

/* A chunk of a cache is advised (or failed): the next one, or done. */
static void file_cache_done(struct file_backend *f, struct sb_request *req, int res)
{
	struct file_ctx *c = req_ctx(req);

	if (res < 0) {
		file_finish(f, req, res);
		return;
	}
	c->done += SB_MIN(req->length - c->done, FILE_CACHE_CHUNK);
	if (c->done < req->length) {
		file_queue(f, req);
		return;
	}
	file_finish(f, req, 0);
}

static void file_cqe(struct file_backend *f, struct sb_request *req, int res)
{
	struct file_ctx *c = req_ctx(req);

	if (SB_UNLIKELY(res == -EAGAIN || res == -EINTR)) {
		file_queue(f, req);
		return;
	}
	switch (c->step) {
	case STEP_RW:
	case STEP_ZERO_WRITE:
		file_rw_done(f, req, res);
		break;
	case STEP_TRIM:
	case STEP_ZERO_RANGE:
	case STEP_ZERO_PUNCH:
		file_alloc_done(f, req, res);
		break;
	case STEP_FLUSH:
	case STEP_FUA_SYNC:
		file_finish(f, req, res);
		break;
	case STEP_CACHE:
		file_cache_done(f, req, res);
		break;
	}
}

/* Drains the completion queue.  Each batch is copied out and its slots
 * freed before the completions run, since they may queue more I/O. */
static void file_drain(struct file_backend *f)
{
	struct io_uring_cqe *cqes[FILE_CQE_BATCH];
	struct { struct sb_request *req; int res; } batch[FILE_CQE_BATCH];
	unsigned n;

	while ((n = io_uring_peek_batch_cqe(&f->ring, cqes, FILE_CQE_BATCH)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			batch[i].req = io_uring_cqe_get_data(cqes[i]);
			batch[i].res = cqes[i]->res;
		}
		io_uring_cq_advance(&f->ring, n);
		for (unsigned i = 0; i < n; i++)
			file_cqe(f, batch[i].req, batch[i].res);
	}
}

/* The eventfd fires for completions posted outside the prepare hook: by
 * io-wq workers, and by task work (see file_prepare). */
static void file_reap(void *opaque, uint32_t events)
{
	struct file_backend *f = opaque;
	uint64_t count;

	/* Reset the eventfd before draining: a completion posted meanwhile
	 * signals it again, so none waits for a later one. */
	if (read(f->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		sb_warn("backend %s: eventfd: %s", f->be.name, strerror(errno));
	file_drain(f);
}

/* ---- open and close ---- */

static void file_free(struct file_backend *f)
{
	sb_loop_watch_del(f->loop, &f->efd_watch);
	if (f->ring_ready)
		io_uring_queue_exit(&f->ring);
	if (f->efd >= 0)
		close(f->efd);
	if (f->fd >= 0)
		close(f->fd);
	free(f->zeroes);
	free(f->be.name);
	free(f);
}

static void file_close(struct sb_backend *be)
{
	struct file_backend *f = SB_CONTAINER_OF(be, struct file_backend, be);

	sb_loop_hook_del(f->loop, &f->hook);
	sb_timer_cancel(f->loop, &f->resubmit);
	sb_loop_defer_cancel(f->loop, &f->again);
	file_free(f);
}

static const struct sb_backend_ops file_ops = {
	.name = "file",
	.submit = file_submit,
	.close = file_close,
};

/* How requests reach the storage (see the top of this file), for the log. */
static const char *file_io_path(const struct file_backend *f)
{
	if (f->memfs)
		return "in memory: reads and writes on the loop";
	if (f->read_nowait)
		return "io_uring, reads from the page cache on the loop";
	return "io_uring";
}

/* Size and, for O_DIRECT or a block device, the alignment I/O needs. */
static int file_probe(struct file_backend *f, const char *path, struct sb_error **errp)
{
	struct statx stx;
	struct statfs sfs;
	struct stat st;
	uint32_t align = 1;
	int lbs;

	if (fstat(f->fd, &st) < 0)
		return sb_error_set(errp, "%s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		f->blockdev = true;
		if (ioctl(f->fd, BLKGETSIZE64, &f->be.size) < 0 || ioctl(f->fd, BLKSSZGET, &lbs) < 0)
			return sb_error_set(errp, "%s: %s", path, strerror(errno));
		/* fallocate on a block device wants whole logical blocks, in
		 * either cache mode. */
		align = f->mem_align = (uint32_t)lbs;
	} else if (S_ISREG(st.st_mode)) {
		f->be.size = (uint64_t)st.st_size;
	} else {
		return sb_error_set(errp, "%s: not a regular file or a block device", path);
	}
	/* For a block device fstatfs() describes the file system of its device
	 * node, devtmpfs, which says TMPFS_MAGIC: only a regular file can be in
	 * memory, and only a regular file has holes to find. */
	if (!f->blockdev && fstatfs(f->fd, &sfs) == 0) {
		f->memfs = !f->direct &&
			   (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
		f->no_seek_data = !seek_data_is_local((unsigned long)sfs.f_type);
	} else {
		f->no_seek_data = true;
	}
	f->read_nowait = !f->direct && !f->memfs;
	if (f->direct) {
		if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
			align = stx.stx_dio_offset_align;
			f->mem_align = stx.stx_dio_mem_align;
		} else if (!f->blockdev) {
			align = f->mem_align = FILE_DIO_FALLBACK;
		}
		if (f->be.size % align) {
			/* Writing the partial last block would have to grow the
			 * file; NBD wants a size in whole blocks anyway. */
			sb_warn("backend %s: cache=none: size %" PRIu64 " is not a multiple of %"
				PRIu32 ", the last %" PRIu64 " bytes are not exported", f->be.name,
				f->be.size, align, f->be.size % align);
			f->be.size -= f->be.size % align;
		}
	}
	f->be.block_min = align;
	f->be.block_pref = SB_MAX(FILE_BLOCK_PREF, align);
	f->be.block_max = FILE_BLOCK_MAX;
	return 0;
}

static int file_setup_ring(struct file_backend *f, const char *path, struct sb_error **errp)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
		.cq_entries = FILE_CQ_DEPTH,
	};
	int r;

	if ((r = io_uring_queue_init_params(FILE_SQ_DEPTH, &f->ring, &p)) < 0)
		return sb_error_set(errp, "%s: io_uring: %s", path, strerror(-r));
	f->ring_ready = true;
	if (!(p.features & IORING_FEAT_NODROP))
		return sb_error_set(errp, "%s: io_uring: the kernel is too old (no NODROP)", path);
	if ((f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return sb_error_set(errp, "%s: eventfd: %s", path, strerror(errno));
	if ((r = io_uring_register_eventfd(&f->ring, f->efd)) < 0)
		return sb_error_set(errp, "%s: io_uring eventfd: %s", path, strerror(-r));
	sb_watch_init(&f->efd_watch, f->efd, file_reap, f);
	if ((r = sb_loop_watch_add(f->loop, &f->efd_watch, EPOLLIN)) < 0)
		return sb_error_set(errp, "%s: %s", path, strerror(-r));
	return 0;
}

/* Does the kernel's io_uring know @op (IORING_OP_FADVISE came in 5.6)? */
static bool file_ring_can(struct file_backend *f, int op)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&f->ring);
	bool can = p && io_uring_opcode_supported(p, op);

	if (p)
		io_uring_free_probe(p);
	return can;
}

static bool file_match(const char *spec)
{
	/* "file:PATH" or a plain path; any other URI belongs to another driver. */
	return strncmp(spec, "file:", 5) == 0 || !strstr(spec, "://");
}

static int file_open(struct sb_loop *loop, const char *spec,
		     const struct sb_backend_config *cfg, struct sb_backend **out,
		     struct sb_error **errp)
{
	const char *path = strncmp(spec, "file:", 5) == 0 ? spec + 5 : spec;
	struct file_backend *f = calloc(1, sizeof(*f));
	int flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;

	if (!f)
		return sb_error_set(errp, "%s: out of memory", path);
	f->loop = loop;
	f->fd = f->efd = -1;
	f->read_only = cfg->read_only;
	f->direct = cfg->cache == SB_CACHE_NONE;
	STAILQ_INIT(&f->backlog);
	STAILQ_INIT(&f->inline_q);
	sb_timer_init(&f->resubmit, file_prepare, f);
	sb_defer_init(&f->again, file_prepare, f);
	if (asprintf(&f->be.name, "file:%s", path) < 0) {
		f->be.name = NULL;
		file_free(f);
		return sb_error_set(errp, "%s: out of memory", path);
	}
	if ((f->fd = open(path, flags | (f->direct ? O_DIRECT : 0))) < 0) {
		int e = errno;
		file_free(f);
		if (e == EINVAL && cfg->cache == SB_CACHE_NONE)
			return sb_error_set(errp, "%s: cache=none needs O_DIRECT, which this "
					    "file system does not support", path);
		return sb_error_set(errp, "%s: %s", path, strerror(e));
	}
	if (file_probe(f, path, errp) < 0 || file_setup_ring(f, path, errp) < 0) {
		file_free(f);
		return -1;
	}
	f->be.ops = &file_ops;
	f->be.ctx_size = sizeof(struct file_ctx);
	f->be.connected = true;
	/* One fd: a flush covers all. */
	f->be.caps = SB_CAP_FLUSH | SB_CAP_MULTI_CONN | SB_CAP_IOVEC | SB_CAP_BLOCK_STATUS;
	/* A page cache to warm (the top of this file). */
	if (!f->direct && !f->memfs && file_ring_can(f, IORING_OP_FADVISE))
		f->be.caps |= SB_CAP_CACHE;
	if (f->read_only)
		f->be.caps |= SB_CAP_READ_ONLY;
	else
		f->be.caps |= SB_CAP_FUA | SB_CAP_TRIM | SB_CAP_ZERO | SB_CAP_FAST_ZERO;
	sb_loop_hook_add(loop, &f->hook, file_prepare, f);
	sb_info("backend %s: %s, %" PRIu64 " bytes, cache=%s%s, block size %" PRIu32 ", %s",
		f->be.name, f->blockdev ? "block device" : "file", f->be.size,
		f->direct ? "none" : "writeback", f->read_only ? ", read-only" : "",
		f->be.block_min, file_io_path(f));
	*out = &f->be;
	return 0;
}

const struct sb_backend_driver sb_file_driver = {
	.name = "file",
	.match = file_match,
	.open = file_open,
};
