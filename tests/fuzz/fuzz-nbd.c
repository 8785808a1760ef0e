/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the NBD server's handshake and transmission parsers
 * as a client would reach them: the input is the byte stream a client
 * sends.  Each input gets a fresh loop, a disk over the in-memory stub
 * backend (requests complete on the next loop turn), a server with two
 * exports ("" read-write, "ro" read-only) and one connection on a
 * socketpair.  The input is written to the client's end (as fast as the
 * socket takes it), which is then shut for writing; the loop runs until
 * the connection is gone, and what the server sends is read and dropped.
 *
 *   input --> client end ==socketpair==> nbd_conn --> disk --> stub
 *
 * Bugs it reports besides the sanitizers': a connection still open
 * MAX_ROUNDS loop turns after the client hung up (a hang), and a
 * descriptor left open once everything is freed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/policy.h"
#include "exports/nbd/internal.h"
#include "fuzz.h"
#include "stub-backend.h"

#define MAX_ROUNDS 20000 /* loop turns: the slowest real input needs a few hundred */

static void run_until_idle(struct sb_loop *loop, struct sb_nbd_server *srv, int client)
{
	for (int i = 0; i < MAX_ROUNDS && sb_nbd_server_inflight(srv); i++) {
		sb_loop_run_once(loop, 0);
		fuzz_drain(client);
	}
	if (sb_nbd_server_inflight(srv))
		fuzz_fail("requests still in flight after %d loop turns", MAX_ROUNDS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_error *err = NULL;
	struct sb_policy policy;
	struct sb_nbd_server *srv;
	struct stub_backend *stub;
	struct sb_disk *disk;
	struct sb_loop *loop;
	char uri[256];
	size_t off = 0;
	bool shut = false;
	int sv[2], fds, round;

	fuzz_init();
	fds = fuzz_count_fds();
	loop = sb_loop_new();
	stub = stub_new(loop);
	stub->be.caps |= SB_CAP_TRIM | SB_CAP_ZERO;
	sb_policy_init(&policy);
	disk = sb_disk_new(loop, "d0", &stub->be, &policy, &err);
	srv = sb_nbd_server_new(loop, NULL);
	if (!disk || !srv)
		fuzz_fail("set-up: %s", err ? err->msg : "out of memory");
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/nbd.sock", fuzz_tmpdir());
	if (sb_nbd_server_add_export(srv, uri, disk, false, &err) < 0)
		fuzz_fail("export: %s", err->msg);
	snprintf(uri, sizeof(uri), "nbd+unix:///ro?socket=%s/nbd.sock", fuzz_tmpdir());
	if (sb_nbd_server_add_export(srv, uri, disk, true, &err) < 0)
		fuzz_fail("export: %s", err->msg);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	if (nbd_conn_new(srv, TAILQ_FIRST(&srv->listeners), sv[1], "fuzz") < 0)
		fuzz_fail("nbd_conn_new refused the connection");

	for (round = 0; round < MAX_ROUNDS; round++) {
		if (off < size) {
			ssize_t n = send(sv[0], data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = size; /* the server closed: the rest is never read */
		}
		if (off == size && !shut) {
			shutdown(sv[0], SHUT_WR);
			shut = true;
		}
		sb_loop_run_once(loop, 0);
		fuzz_drain(sv[0]);
		if (shut && TAILQ_EMPTY(&srv->conns))
			break;
	}
	if (!TAILQ_EMPTY(&srv->conns))
		fuzz_fail("the connection is still open %d loop turns after the client hung up "
			  "(%zu of %zu bytes sent)", MAX_ROUNDS, off, size);

	sb_nbd_server_shutdown(srv);
	run_until_idle(loop, srv, sv[0]);
	sb_nbd_server_free(srv);
	sb_disk_free(disk);
	sb_loop_free(loop);
	close(sv[0]);
	fuzz_check_fds(fds, "nbd");
	return 0;
}
