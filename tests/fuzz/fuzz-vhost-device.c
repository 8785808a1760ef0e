/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the vhost-user-blk device's message handlers
 * (exports/vhost-user/device.c, inflight.c, log.c, mem.c) with a whole
 * session of a front end: the messages go one after the other into the
 * same device, so that state carries across them (a ring set up after
 * SET_MEM_TABLE, a GET_VRING_BASE while requests are out, a reset
 * half-way, a front end that reconnects).  Messages go to the handlers
 * through sb_vu_device_message, the reader's seam, with descriptors the
 * harness makes (a memfd of guest memory, eventfds, a dirty log, an
 * in-flight region), as if they had come with SCM_RIGHTS; while the
 * device drains a queue (and reads nothing) they go over the socket
 * instead, with their descriptors, for its reader to find afterwards.
 * The guest's side is in the input too: it writes rings and requests into
 * its memory and kicks queues, and a backend that the input parks
 * completes the requests.
 *
 *   input --> records --msg--> sb_vu_device_message --> device --> disk --> backend
 *                     --guest/kick--> guest memory, kick eventfds
 *
 * The input is a byte of set-up (bits 0-1: queues - 1; 2: read-only;
 * 3: the backend trims and zeroes; 4: it has no cache to flush; 5: it
 * starts parked), then records (u8 kind % 7, then, little endian):
 *
 *   0 message: u8 fds, the 12-byte header, the payload (header.size bytes)
 *     fds: bits 0-3 how many (0-8; 9-15: what the request takes), bits
 *     4-6 of which kind (0: what the request takes, 1: guest memory,
 *     2: an eventfd, 3: /dev/null, 4: a one-page memfd, 5: the dirty
 *     log's memfd, 6: the harness's in-flight memfd, 7: the in-flight fd
 *     the device gave last)
 *   1 loop turns: u8 n (n % 32 + 1)
 *   2 guest memory write: u32 offset, u16 length, bytes
 *   3 in-flight memfd write: u32 offset, u16 length, bytes
 *   4 kick: u8 queue
 *   5 backend: u8 mode % 4 (0: completes on the next turn, 1: parks,
 *     2: what is parked completes, 3: what is parked fails with EIO)
 *   6 the front end hangs up (the next message connects a new one)
 *
 * Checked besides the sanitizers': every reply is a well formed reply;
 * the device's request counts add up; a device sees its front end hang up
 * within a few loop turns, whatever it has at the backend; a closed device
 * is freed a bounded number of turns after its last request completes;
 * every descriptor is closed after each input. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fdpass.h"
#include "core/policy.h"
#include "exports/vhost-user/internal.h"
#include "fuzz.h"

#define GUEST_SIZE    (256u * 1024) /* the guest's memory: one memfd */
#define INFLIGHT_SIZE (64u * 1024)  /* the harness's in-flight region */
#define LOG_SIZE      4096u         /* a dirty log for 128 MiB of guest */
#define SMALL_SIZE    4096u         /* shorter than anything wants */
#define DISK_SIZE     (1u << 20)
#define MAX_TURNS     2000          /* loop turns for the last requests to end */
#define HANGUP_TURNS  8             /* for a device to see its front end gone */

enum kind { K_NATURAL, K_GUEST, K_EVENT, K_NULL, K_SMALL, K_LOG, K_INFLIGHT, K_GIVEN };

/* ---- a backend the input parks ---- */

struct fz_backend {
	struct sb_backend be;
	struct sb_loop *loop;
	struct sb_defer run;
	struct sb_request **pending; /* submitted, not completed, in order */
	size_t npending, cap;
	unsigned long submitted;
	bool park;
};

/* Completes every pending request with @err; completions may submit. */
static void be_finish(struct fz_backend *b, int err)
{
	while (b->npending) {
		struct sb_request *req = b->pending[0];
		unsigned char sum = 0;

		memmove(b->pending, b->pending + 1, --b->npending * sizeof(*b->pending));
		/* Touch every byte of the data: a buffer outside guest memory
		 * faults here. */
		if (err == 0 && (req->op == SB_OP_READ || req->op == SB_OP_WRITE)) {
			if (req->iovcnt) {
				for (uint32_t i = 0; i < req->iovcnt; i++) {
					unsigned char *p = req->iov[i].iov_base;
					if (req->op == SB_OP_READ)
						memset(p, 0x5a, req->iov[i].iov_len);
					else
						for (size_t j = 0; j < req->iov[i].iov_len; j++)
							sum ^= p[j];
				}
			} else if (req->op == SB_OP_READ) {
				memset(req->buf, 0x5a, req->length);
			} else {
				for (uint32_t j = 0; j < req->length; j++)
					sum ^= ((unsigned char *)req->buf)[j];
			}
		}
		(void)*(volatile unsigned char *)&sum;
		sb_backend_complete(&b->be, req, err);
	}
}

static void be_run(void *opaque)
{
	struct fz_backend *b = opaque;

	if (!b->park)
		be_finish(b, 0);
}

static int be_submit(struct sb_backend *be, struct sb_request *req)
{
	struct fz_backend *b = (struct fz_backend *)be;

	if (req->offset > DISK_SIZE || req->length > DISK_SIZE - req->offset)
		fuzz_fail("a request past the end of the disk reached the backend");
	if (b->npending == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		if (!(b->pending = realloc(b->pending, b->cap * sizeof(*b->pending))))
			fuzz_fail("out of memory");
	}
	b->pending[b->npending++] = req;
	b->submitted++;
	sb_loop_defer(b->loop, &b->run);
	return 0;
}

static void be_close(struct sb_backend *be)
{
	struct fz_backend *b = (struct fz_backend *)be;

	free(b->pending);
	free(b);
}

static const struct sb_backend_ops be_ops = {
	.name = "fuzz",
	.submit = be_submit,
	.close = be_close,
};

/* ---- the harness ---- */

struct fz {
	struct sb_loop *loop;
	struct fz_backend *be;
	struct sb_disk *disk;
	struct sb_vu_export exp;
	int front;                  /* the front end's end of the connection, or -1 */
	unsigned connections;
	unsigned char reply[4096];  /* replies read, not yet parsed */
	size_t reply_len;
	int guest_fd, log_fd, inflight_fd, small_fd, devnull;
	unsigned char *guest, *inflight; /* the harness's views of them */
	int given;                  /* the in-flight fd of GET_INFLIGHT_FD's last reply */
	int kick[SB_VU_MAX_QUEUES], call;
};

static int memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		fuzz_fail("memfd %s: %s", name, strerror(errno));
	return fd;
}

static unsigned char *map(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		fuzz_fail("mmap: %s", strerror(errno));
	return p;
}

static int eventfd_new(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0)
		fuzz_fail("eventfd: %s", strerror(errno));
	return fd;
}

static void connect_front_end(struct fz *f)
{
	int sv[2];

	if (f->front >= 0) /* the device closed the connection before */
		close(f->front);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	f->exp.dev = sb_vu_device_new(&f->exp, sv[1], ++f->connections);
	if (!f->exp.dev)
		fuzz_fail("sb_vu_device_new refused the front end");
	f->front = sv[0];
	f->reply_len = 0;
}

/* Reads the replies there are, keeping the fd GET_INFLIGHT_FD's carries;
 * each must be a reply of version 1 to a request we know. */
static void read_replies(struct fz *f)
{
	union {
		char buf[CMSG_SPACE(SB_FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} control;

	while (f->front >= 0) {
		struct iovec iov = { .iov_base = f->reply + f->reply_len,
				     .iov_len = sizeof(f->reply) - f->reply_len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(f->front, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		size_t pos = 0;

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[SB_FDPASS_MAX];

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
			for (size_t i = 0; i < nfds; i++) {
				if (f->given >= 0)
					close(f->given);
				f->given = fds[i];
			}
		}
		f->reply_len += (size_t)n;
		while (f->reply_len - pos >= sizeof(struct vhost_user_header)) {
			struct vhost_user_header h;

			memcpy(&h, f->reply + pos, sizeof(h));
			if (h.flags != (VHOST_USER_VERSION | VHOST_USER_REPLY) ||
			    h.request == 0 || h.request >= VHOST_USER_REQUEST_MAX ||
			    h.size > VHOST_USER_PAYLOAD_MAX)
				fuzz_fail("a reply that is not one: request %u, flags 0x%x, %u bytes",
					  h.request, h.flags, h.size);
			if (f->reply_len - pos < sizeof(h) + h.size)
				break;
			pos += sizeof(h) + h.size;
		}
		memmove(f->reply, f->reply + pos, f->reply_len - pos);
		f->reply_len -= pos;
	}
}

static void check_counts(const struct fz *f)
{
	const struct sb_vu_device *dev = f->exp.dev;
	unsigned sum = 0;

	if (!dev)
		return;
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		sum += dev->q[i].inflight;
	if (sum != dev->inflight)
		fuzz_fail("the queues have %u requests out, the device counts %u", sum,
			  dev->inflight);
}

/* What @req takes: how many fds, of which kind. */
static unsigned natural_fds(const struct sb_vu_msg *m, enum kind *kind)
{
	*kind = K_NULL;
	switch (m->hdr.request) {
	case VHOST_USER_SET_MEM_TABLE:
		*kind = K_GUEST;
		return SB_MIN(m->p.mem.nregions, (uint32_t)SB_VU_MSG_MAX_FDS);
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		*kind = K_GUEST;
		return 1;
	case VHOST_USER_SET_LOG_BASE:
		*kind = K_LOG;
		return 1;
	case VHOST_USER_SET_INFLIGHT_FD:
		*kind = K_GIVEN;
		return 1;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
	case VHOST_USER_SET_LOG_FD:
		*kind = K_EVENT;
		return 1;
	default:
		return 0;
	}
}

/* A descriptor of @kind for @m, the caller's to close or give away. */
static int make_fd(struct fz *f, const struct sb_vu_msg *m, enum kind kind)
{
	int src = f->devnull;

	switch (kind) {
	case K_GUEST:
		src = f->guest_fd;
		break;
	case K_EVENT:
		src = m->hdr.request == VHOST_USER_SET_VRING_KICK
			      ? f->kick[(m->p.u64 & VHOST_USER_VRING_IDX_MASK) % SB_VU_MAX_QUEUES]
			      : f->call;
		break;
	case K_SMALL:
		src = f->small_fd;
		break;
	case K_LOG:
		src = f->log_fd;
		break;
	case K_GIVEN:
		src = f->given >= 0 ? f->given : f->inflight_fd;
		break;
	case K_INFLIGHT:
		src = f->inflight_fd;
		break;
	default:
		break;
	}
	if ((src = fcntl(src, F_DUPFD_CLOEXEC, 3)) < 0)
		fuzz_fail("dup: %s", strerror(errno));
	return src;
}

/* Record 0.  Returns the bytes it took. */
static size_t message(struct fz *f, const uint8_t *p, size_t left)
{
	struct sb_vu_msg m;
	struct sb_vu_device *dev;
	size_t hdr = sizeof(m.hdr), size;
	unsigned nfds;
	enum kind kind, natural;
	bool oversized;

	if (left < 1 + hdr)
		return left;
	sb_vu_msg_init(&m);
	memcpy(&m.hdr, p + 1, hdr);
	oversized = m.hdr.size > VHOST_USER_PAYLOAD_MAX; /* the reader stops at the header */
	size = oversized ? 0 : m.hdr.size;
	if (left < 1 + hdr + size)
		return left; /* cut short: the front end never finished it */
	if (!f->exp.dev)
		connect_front_end(f);
	else if (f->front < 0)
		return 1 + hdr + size; /* a second front end is refused while one is there */
	dev = f->exp.dev;
	memcpy(&m.p, p + 1 + hdr, size);
	m.got = hdr + size;
	nfds = p[0] & 15;
	if (nfds > SB_VU_MSG_MAX_FDS)
		nfds = natural_fds(&m, &natural);
	else
		natural_fds(&m, &natural);
	kind = (enum kind)((p[0] >> 4) & 7);
	if (kind == K_NATURAL)
		kind = natural;
	for (unsigned i = 0; i < nfds; i++)
		m.fds[m.nfds++] = make_fd(f, &m, kind);

	if (dev->draining) {
		/* It reads nothing until the queue is whole: the message waits
		 * in the socket, as a front end's would. */
		struct iovec iov[2] = { { .iov_base = &m.hdr, .iov_len = hdr },
					{ .iov_base = &m.p, .iov_len = size } };
		sb_send_fds(f->front, iov, size ? 2 : 1, m.fds, m.nfds,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		sb_vu_msg_release(&m);
	} else if (oversized) {
		sb_vu_msg_release(&m);
		sb_vu_device_close(dev, "it sent a payload larger than any message has");
	} else {
		if (dev->msg.got || dev->msg.nfds)
			fuzz_fail("a message for the handlers while one is half read");
		sb_vu_device_message(dev, &m);
	}
	return 1 + hdr + size;
}

static void hang_up(struct fz *f)
{
	if (f->front < 0)
		return;
	close(f->front);
	f->front = -1;
	/* It finds out on its next turns, whatever it waits for. */
	for (int i = 0; i < HANGUP_TURNS && f->exp.dev; i++)
		sb_loop_run_once(f->loop, 0);
	if (f->exp.dev)
		fuzz_fail("the device has not seen its front end hang up after %d loop turns%s",
			  HANGUP_TURNS, f->exp.dev->draining ? " (it drains a queue)" : "");
}

/* Loop turns until the front end that hung up is gone and every device
 * freed, completing what the backend holds. */
static void settle(struct fz *f)
{
	for (int i = 0; i < MAX_TURNS; i++) {
		if (!f->exp.dev && TAILQ_EMPTY(&f->exp.closing) && f->be->npending == 0)
			return;
		be_finish(f->be, 0);
		sb_loop_run_once(f->loop, 0);
		check_counts(f);
	}
	fuzz_fail("%s %d loop turns after the front end hung up",
		  f->exp.dev ? "the device is still connected" : "a closed device is not freed",
		  MAX_TURNS);
}

static void setup(struct fz *f, uint8_t flags)
{
	struct sb_error *err = NULL;
	struct sb_policy policy;

	memset(f, 0, sizeof(*f));
	f->front = f->given = -1;
	f->loop = sb_loop_new();
	f->be = calloc(1, sizeof(*f->be));
	if (!f->loop || !f->be)
		fuzz_fail("out of memory");
	f->be->be.ops = &be_ops;
	f->be->be.name = "fuzz";
	f->be->be.size = DISK_SIZE;
	f->be->be.caps = SB_CAP_FLUSH | SB_CAP_FUA | SB_CAP_IOVEC;
	if (flags & 8)
		f->be->be.caps |= SB_CAP_TRIM | SB_CAP_ZERO;
	if (flags & 16)
		f->be->be.caps &= ~(SB_CAP_FLUSH | SB_CAP_FUA);
	f->be->be.connected = true;
	f->be->loop = f->loop;
	f->be->park = flags & 32;
	sb_defer_init(&f->be->run, be_run, f->be);
	sb_policy_init(&policy);
	f->disk = sb_disk_new(f->loop, "d0", &f->be->be, &policy, &err);
	if (!f->disk)
		fuzz_fail("disk: %s", err->msg);

	f->exp.loop = f->loop;
	f->exp.disk = f->disk;
	f->exp.num_queues = 1 + (flags & 3);
	f->exp.read_only = flags & 4;
	f->exp.listen_fd = -1;
	strcpy(f->exp.serial, "fuzz-serial");
	TAILQ_INIT(&f->exp.closing);

	f->guest_fd = memfd("guest", GUEST_SIZE);
	f->guest = map(f->guest_fd, GUEST_SIZE);
	f->inflight_fd = memfd("inflight", INFLIGHT_SIZE);
	f->inflight = map(f->inflight_fd, INFLIGHT_SIZE);
	f->log_fd = memfd("log", LOG_SIZE);
	f->small_fd = memfd("small", SMALL_SIZE);
	if ((f->devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		fuzz_fail("/dev/null: %s", strerror(errno));
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		f->kick[i] = eventfd_new();
	f->call = eventfd_new();
}

static void teardown(struct fz *f)
{
	hang_up(f);
	settle(f);
	if (getenv("SB_FUZZ_LOG"))
		fprintf(stderr, "fuzz harness: %lu requests reached the backend\n", f->be->submitted);
	sb_disk_free(f->disk);
	sb_loop_free(f->loop);
	munmap(f->guest, GUEST_SIZE);
	munmap(f->inflight, INFLIGHT_SIZE);
	close(f->guest_fd);
	close(f->inflight_fd);
	close(f->log_fd);
	close(f->small_fd);
	close(f->devnull);
	if (f->given >= 0)
		close(f->given);
	for (unsigned i = 0; i < SB_VU_MAX_QUEUES; i++)
		close(f->kick[i]);
	close(f->call);
}

/* Records 2 and 3: @len bytes at @offset of @mem, cut at its end. */
static size_t write_mem(unsigned char *mem, size_t mem_size, const uint8_t *p, size_t left)
{
	uint32_t off;
	uint16_t len;

	if (left < 6)
		return left;
	off = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24) % mem_size;
	len = (uint16_t)(p[4] | p[5] << 8);
	len = (uint16_t)SB_MIN((size_t)len, left - 6);
	memcpy(mem + off, p + 6, SB_MIN((size_t)len, mem_size - off));
	return 6 + (size_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	size_t pos = 1;
	int fds;

	fuzz_init();
	if (size < 1)
		return 0;
	fds = fuzz_count_fds();
	setup(&f, data[0]);
	while (pos < size) {
		const uint8_t *p = data + pos + 1;
		size_t left = size - pos - 1;
		uint64_t one = 1;

		switch (data[pos] % 7) {
		case 0:
			pos += 1 + message(&f, p, left);
			break;
		case 1:
			for (int i = 0; left >= 1 && i <= p[0] % 32; i++)
				sb_loop_run_once(f.loop, 0);
			pos += 2;
			break;
		case 2:
			pos += 1 + write_mem(f.guest, GUEST_SIZE, p, left);
			break;
		case 3:
			pos += 1 + write_mem(f.inflight, INFLIGHT_SIZE, p, left);
			break;
		case 4:
			if (left >= 1 && write(f.kick[p[0] % SB_VU_MAX_QUEUES], &one, sizeof(one)) < 0)
				fuzz_fail("kick: %s", strerror(errno));
			pos += 2;
			break;
		case 5:
			if (left >= 1) {
				f.be->park = p[0] % 4 != 0;
				if (p[0] % 4 == 0)
					sb_loop_defer(f.loop, &f.be->run);
				else if (p[0] % 4 >= 2)
					be_finish(f.be, p[0] % 4 == 3 ? -EIO : 0);
			}
			pos += 2;
			break;
		default:
			hang_up(&f);
			pos += 1;
			break;
		}
		read_replies(&f);
		check_counts(&f);
	}
	teardown(&f);
	fuzz_check_fds(fds, "vhost-device");
	return 0;
}
