/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the metrics endpoint: the exposition follows
 * the disk (state, held requests, counters), a hang is observed once in the
 * histogram, in the right bucket, whatever event ends it, and the HTTP side
 * answers GET /metrics and 404 on a unix socket, driven by the loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/loop.h"
#include "control/metrics.h"
#include "core/disk.h"
#include "stub-backend.h"

struct fx {
	struct sb_loop *loop;
	struct stub_backend *stub;
	struct sb_disk *disk;
	struct sb_metrics *m;
	struct sb_session session;
	struct sb_request *req[4];
	char buf[4][512];
	char dir[64];
	char sock[96];
};

static int done_count; /* requests completed, whatever their result */

static void count_done(struct sb_request *req, int err)
{
	done_count++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sb_error *err = NULL;
	struct sb_policy p;
	char addr[128];

	f->loop = sb_loop_new();
	f->stub = stub_new(f->loop);
	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_RETRY);
	p.retry_interval_ns = 5 * SB_NS_PER_MS;
	p.retry_max_interval_ns = 5 * SB_NS_PER_MS;
	f->disk = sb_disk_new(f->loop, "d\"0", &f->stub->be, &p, &err);
	assert_non_null(f->disk);
	f->session.name = "client";
	sb_disk_attach(f->disk, &f->session);
	for (int i = 0; i < 4; i++)
		f->req[i] = calloc(1, sizeof(struct sb_request) + 64);
	strcpy(f->dir, "/tmp/sbmetrics.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/m.sock", f->dir);
	snprintf(addr, sizeof(addr), "unix:%s", f->sock);
	f->m = sb_metrics_new(f->loop, addr, &f->disk, 1, &err);
	assert_non_null(f->m);
	done_count = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sb_metrics_free(f->m);
	assert_int_equal(access(f->sock, F_OK), -1); /* the socket file is gone */
	sb_disk_detach(&f->session, "disconnected");
	sb_disk_free(f->disk);
	sb_loop_free(f->loop);
	for (int i = 0; i < 4; i++)
		free(f->req[i]);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void submit(struct fx *f, int i, uint64_t off)
{
	struct sb_request *r = f->req[i];

	r->op = SB_OP_WRITE;
	r->offset = off;
	r->length = 512;
	r->buf = f->buf[i];
	r->session = &f->session;
	r->done = count_done;
	sb_disk_submit(f->disk, r);
}

static void run_for(struct fx *f, unsigned ms)
{
	uint64_t end = sb_now_ns() + ms * SB_NS_PER_MS, now;

	while ((now = sb_now_ns()) < end)
		sb_loop_run_once(f->loop, end - now);
}

/* The exposition, as a scraper would get it (caller frees). */
static char *scrape(struct fx *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(sb_metrics_write(f->m, out), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* True if the exposition has this exact line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void test_healthy_exposition(void **state)
{
	struct fx *f = *state;
	char *t = scrape(f);

	/* The disk's name is a label value: its quote is escaped. */
	assert_true(has_line(t, "steadyblk_disk_state{disk=\"d\\\"0\",state=\"healthy\"} 1"));
	assert_true(has_line(t, "steadyblk_disk_state{disk=\"d\\\"0\",state=\"hung\"} 0"));
	assert_true(has_line(t, "steadyblk_held_requests{disk=\"d\\\"0\"} 0"));
	assert_true(has_line(t, "steadyblk_clients{disk=\"d\\\"0\"} 1"));
	assert_true(has_line(t, "# TYPE steadyblk_hang_duration_seconds histogram"));
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_count{disk=\"d\\\"0\"} 0"));
	assert_null(strstr(t, "steadyblk_errors_total{")); /* no error yet, no series */
	free(t);
}

static void test_hang_observed_once(void **state)
{
	struct fx *f = *state;
	char *t;

	f->stub->fail_err = -EIO;
	submit(f, 0, 0);
	submit(f, 1, 4096);
	run_for(f, 20);
	t = scrape(f);
	assert_true(has_line(t, "steadyblk_disk_state{disk=\"d\\\"0\",state=\"hung\"} 1"));
	assert_true(has_line(t, "steadyblk_held_requests{disk=\"d\\\"0\"} 2"));
	assert_true(has_line(t, "steadyblk_held_bytes{disk=\"d\\\"0\"} 1024"));
	assert_true(has_line(t, "steadyblk_hangs_total{disk=\"d\\\"0\"} 1"));
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_count{disk=\"d\\\"0\"} 0"));
	free(t);

	f->stub->fail_err = 0;
	run_for(f, 20);
	assert_int_equal(done_count, 2);
	t = scrape(f);
	assert_true(has_line(t, "steadyblk_disk_state{disk=\"d\\\"0\",state=\"healthy\"} 1"));
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_count{disk=\"d\\\"0\"} 1"));
	/* 20 ms or so: in every bucket, the first (0.1 s) included. */
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_bucket{disk=\"d\\\"0\",le=\"0.1\"} 1"));
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_bucket{disk=\"d\\\"0\",le=\"+Inf\"} 1"));
	assert_non_null(strstr(t, "steadyblk_errors_total{disk=\"d\\\"0\",errno=\"EIO\"} "));
	assert_true(has_line(t, "steadyblk_requests_total{disk=\"d\\\"0\",op=\"write\"} 2"));
	assert_true(has_line(t, "steadyblk_bytes_total{disk=\"d\\\"0\",op=\"write\"} 1024"));
	free(t);
}

/* A hang given up with fail-held ends too, and is measured. */
static void test_hang_ended_by_fail_held(void **state)
{
	struct fx *f = *state;
	char *t;

	f->stub->fail_err = -EIO;
	submit(f, 0, 0);
	run_for(f, 10);
	assert_int_equal(sb_disk_fail_held(f->disk), 1);
	run_for(f, 10);
	t = scrape(f);
	assert_true(has_line(t, "steadyblk_hang_duration_seconds_count{disk=\"d\\\"0\"} 1"));
	assert_true(has_line(t, "steadyblk_disk_state{disk=\"d\\\"0\",state=\"healthy\"} 1"));
	free(t);
}

/* GET over the unix socket: the text format; another path: 404. */
static void http_get(struct fx *f, const char *path, char *reply, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[128];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	uint64_t end = sb_now_ns() + 2 * SB_NS_PER_SEC;

	strcpy(sa.sun_path, f->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while (sb_now_ns() < end) {
		ssize_t n;

		sb_loop_run_once(f->loop, 10 * SB_NS_PER_MS);
		n = recv(fd, reply + got, len - 1 - got, 0);
		if (n == 0)
			break; /* the server closed: the answer is whole */
		if (n > 0)
			got += (size_t)n;
	}
	reply[got] = '\0';
	close(fd);
}

static void test_http(void **state)
{
	struct fx *f = *state;
	static char reply[65536];

	http_get(f, "/metrics", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(reply, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(reply, "Connection: close\r\n"));
	assert_non_null(strstr(reply, "\r\n\r\n# HELP steadyblk_build_info "));
	http_get(f, "/", reply, sizeof(reply));
	assert_non_null(strstr(reply, "HTTP/1.1 404 Not Found\r\n"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_healthy_exposition),
		T(test_hang_observed_once),
		T(test_hang_ended_by_fail_held),
		T(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
