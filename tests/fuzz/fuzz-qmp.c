/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the QMP server as a client reaches it: the input
 * is the byte stream a client sends to the management socket (framing in
 * control/json-stream.c, then dispatch and every command handler).  Each
 * input gets a fresh loop, two disks over stub backends (d0 behind the
 * fault filter, so the fault commands have something to act on, d1
 * without), an NBD server exporting d0 (query-disks lists it), and the QMP
 * server on a socket in a scratch directory.  One client connects, writes
 * the input, shuts its side for writing and reads everything sent until
 * the server has closed it.
 *
 * Bugs it reports besides the sanitizers': a client the server has not
 * closed MAX_ROUNDS loop turns after it hung up, and descriptors left
 * open once everything is freed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/fault.h"
#include "control/qmp-internal.h"
#include "core/policy.h"
#include "exports/nbd/server.h"
#include "fuzz.h"
#include "stub-backend.h"

#define MAX_ROUNDS 20000

static int quits;

static void on_quit(void *opaque)
{
	quits++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sb_error *err = NULL;
	struct sb_disk *disks[2];
	struct sb_qmp_server *srv;
	struct sb_nbd_server *nbd;
	struct sb_backend *be;
	struct sb_policy p;
	struct sb_loop *loop;
	char uri[256];
	size_t off = 0;
	bool shut = false;
	int fds, fd, round;

	fuzz_init();
	fds = fuzz_count_fds();
	loop = sb_loop_new();
	sb_policy_init(&p);
	p.retry_interval_ns = 10 * SB_NS_PER_MS;
	p.retry_max_interval_ns = 10 * SB_NS_PER_MS;
	if (sb_fault_wrap(loop, &stub_new(loop)->be, NULL, &be, &err) < 0 ||
	    !(disks[0] = sb_disk_new(loop, "d0", be, &p, &err)) ||
	    !(disks[1] = sb_disk_new(loop, "d1", &stub_new(loop)->be, &p, &err)))
		fuzz_fail("set-up: %s", err->msg);
	nbd = sb_nbd_server_new(loop, NULL);
	snprintf(uri, sizeof(uri), "nbd+unix:///d0?socket=%s/nbd.sock", fuzz_tmpdir());
	if (!nbd || sb_nbd_server_add_export(nbd, uri, disks[0], false, &err) < 0)
		fuzz_fail("export: %s", err ? err->msg : "out of memory");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", fuzz_tmpdir());
	srv = sb_qmp_server_new(loop, sa.sun_path, disks, 2,
				&(struct sb_qmp_hooks){ .quit = on_quit, .nbd = nbd }, &err);
	if (!srv)
		fuzz_fail("qmp server: %s", err->msg);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fuzz_fail("connect: %s", strerror(errno));

	/* The first turn accepts the client. */
	for (round = 0; round < MAX_ROUNDS; round++) {
		if (off < size) {
			ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = size;
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		sb_loop_run_once(loop, 0);
		fuzz_drain(fd);
		if (shut && round > 0 && TAILQ_EMPTY(&srv->clients))
			break;
	}
	if (!TAILQ_EMPTY(&srv->clients))
		fuzz_fail("the client is still connected %d loop turns after it hung up "
			  "(%zu of %zu bytes sent)", MAX_ROUNDS, off, size);

	sb_qmp_server_free(srv);
	sb_nbd_server_free(nbd);
	for (int i = 0; i < 2; i++)
		sb_disk_free(disks[i]);
	sb_loop_free(loop);
	close(fd);
	fuzz_check_fds(fds, "qmp");
	return 0;
}
