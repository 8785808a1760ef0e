/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblk's entry point: wires backend, disk, exports and the
 * management socket onto one event loop, and shuts them down in order.
 *
 * Shutdown (SIGTERM, SIGINT, QMP quit, end of the --run command) pauses
 * retry the way a client disconnect does: every held request is dropped
 * unanswered, never re-issued (a client that reconnects, such as QEMU with
 * reconnect-delay, sends it again to the next daemon), and requests already
 * at the backend are waited for, at most --shutdown-timeout.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/fault.h"
#include "base/budget.h"
#include "base/log.h"
#include "base/parse.h"
#include "control/metrics.h"
#include "control/qmp.h"
#include "core/disk.h"
#include "daemon/cli.h"
#include "daemon/daemon.h"
#include "exports/nbd/server.h"
#include "exports/vhost-user/server.h"

struct daemon {
	struct sb_config cfg;
	struct sb_loop *loop;
	struct sb_disk *disk;
	struct sb_nbd_server *nbd;
	struct sb_vu_server *vu;   /* vhost-user-blk exports */
	struct sb_budget budget;  /* payload memory of every client (invariant 6) */
	struct sb_qmp_server *qmp;
	struct sb_metrics *metrics;
	int sigfd;
	struct sb_watch sigwatch;
	pid_t captive_pid;
	int exit_status;
	char run_dir[64];        /* private socket folder for --run without --export */
	char run_export[128];
};

static void daemon_quit(void *opaque)
{
	struct daemon *d = opaque;

	sb_loop_stop(d->loop);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct daemon *d = opaque;
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD: {
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid != d->captive_pid)
					continue;
				d->captive_pid = 0;
				d->exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
								   : 128 + WTERMSIG(status);
				sb_loop_stop(d->loop);
			}
			break;
		}
		case SIGTERM:
		case SIGINT:
		case SIGHUP:
			if (sb_loop_stopping(d->loop)) {
				sb_warn("second signal: exiting at once");
				_exit(1);
			}
			sb_info("signal %s: shutting down", strsignal((int)si.ssi_signo));
			sb_loop_stop(d->loop);
			break;
		}
	}
}

static int setup_signals(struct daemon *d, struct sb_error **errp)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return sb_error_set(errp, "signalfd: %s", strerror(errno));
	sb_watch_init(&d->sigwatch, d->sigfd, on_signal, d);
	if (sb_loop_watch_add(d->loop, &d->sigwatch, EPOLLIN) < 0)
		return sb_error_set(errp, "signalfd: cannot watch it");
	return 0;
}

static int open_disk(struct daemon *d, struct sb_error **errp)
{
	struct sb_backend *be;

	if (sb_backend_open(d->loop, d->cfg.backend, &d->cfg.backend_cfg, &be, errp) < 0)
		return -1;
	if (d->cfg.fault_injection &&
	    sb_fault_wrap(d->loop, be, d->cfg.fault_file, &be, errp) < 0)
		return -1;
	d->disk = sb_disk_new(d->loop, d->cfg.name, be, &d->cfg.policy, errp);
	if (!d->disk) {
		sb_backend_close(be);
		return -1;
	}
	if (sb_disk_set_unflushed_limit(d->disk, d->cfg.max_unflushed_bytes, errp) < 0)
		return -1;
	return 0;
}

static int open_exports(struct daemon *d, struct sb_error **errp)
{
	/* One number for every client of the daemon: the disk's bound on held
	 * bytes also bounds what all connections together read and buffer. */
	sb_budget_init(&d->budget, d->cfg.policy.max_held_bytes);
	d->nbd = sb_nbd_server_new(d->loop, &(struct sb_nbd_limits){
		.budget = &d->budget, .max_connections = d->cfg.max_connections,
		.stall_ns = d->cfg.stall_timeout_ns });
	d->vu = sb_vu_server_new(d->loop);
	if (!d->nbd || !d->vu)
		return sb_error_set(errp, "out of memory");
	if (sb_nbd_server_set_tls(d->nbd, &d->cfg.tls, errp) < 0)
		return -1;
	if (d->cfg.nexports == 0) {
		/* Captive mode without --export: a private unix socket. */
		strcpy(d->run_dir, "/tmp/steadyblk.XXXXXX");
		if (!mkdtemp(d->run_dir))
			return sb_error_set(errp, "--run: mkdtemp: %s", strerror(errno));
		snprintf(d->run_export, sizeof(d->run_export), "nbd+unix:///?socket=%s/sock",
			 d->run_dir);
		d->cfg.exports[d->cfg.nexports++] = d->run_export;
	}
	for (unsigned i = 0; i < d->cfg.nexports; i++) {
		const char *uri = d->cfg.exports[i];
		int r = sb_vu_is_uri(uri)
				? sb_vu_server_add_export(d->vu, uri, d->disk, d->cfg.read_only, errp)
				: sb_nbd_server_add_export(d->nbd, uri, d->disk, d->cfg.read_only,
							   errp);
		if (r < 0) {
			sb_error_prefix(*errp, "--export %s", d->cfg.exports[i]);
			return -1;
		}
	}
	return 0;
}

static void announce(struct daemon *d)
{
	struct sb_backend *be = sb_disk_backend(d->disk);
	char uri[512];

	for (unsigned i = 0; sb_nbd_server_export_uri(d->nbd, i, uri, sizeof(uri)); i++)
		sb_info("disk %s (%s, %" PRIu64 " bytes) served at %s", d->cfg.name, be->name,
			be->size, uri);
	for (unsigned i = 0; sb_vu_server_export_uri(d->vu, i, uri, sizeof(uri)); i++)
		sb_info("disk %s (%s, %" PRIu64 " bytes) served at %s", d->cfg.name, be->name,
			be->size, uri);
	if (d->metrics)
		sb_info("metrics served at http://%s/metrics", sb_metrics_where(d->metrics));
}

/* Requests of closed clients, of every export, still at the backend. */
static uint64_t exports_inflight(const struct daemon *d)
{
	return sb_nbd_server_inflight(d->nbd) + sb_vu_server_inflight(d->vu);
}

/* Waits for the requests in flight at the backend, at most the bound. */
static void drain(struct daemon *d)
{
	uint64_t deadline = sb_now_ns() + d->cfg.shutdown_timeout_ns;
	uint64_t now;

	while (exports_inflight(d) > 0 && (now = sb_now_ns()) < deadline)
		sb_loop_run_once(d->loop, deadline - now);
}

static void shutdown_all(struct daemon *d)
{
	bool drained = true;

	if (d->nbd) {
		sb_nbd_server_shutdown(d->nbd);
		sb_vu_server_shutdown(d->vu);
		drain(d);
		uint64_t left = exports_inflight(d);
		if (left > 0) {
			drained = false;
			sb_warn("%" PRIu64 " requests still at the backend after the shutdown "
				"timeout; exiting without them", left);
		}
	}
	sb_qmp_server_free(d->qmp);
	sb_metrics_free(d->metrics);
	if (drained) {
		/* Freeing with requests in flight would let a late completion
		 * touch freed memory; when the bound passed, the exit frees. */
		sb_nbd_server_free(d->nbd);
		sb_vu_server_free(d->vu);
		sb_disk_free(d->disk);
	}
	if (d->cfg.pidfile)
		unlink(d->cfg.pidfile);
	if (d->run_dir[0]) {
		char sock[96];
		snprintf(sock, sizeof(sock), "%s/sock", d->run_dir);
		unlink(sock);
		rmdir(d->run_dir);
	}
	if (d->sigfd >= 0) {
		sb_loop_watch_del(d->loop, &d->sigwatch);
		close(d->sigfd);
	}
	if (drained)
		sb_loop_free(d->loop);
}

static int start(struct daemon *d, struct sb_error **errp)
{
	if (!(d->loop = sb_loop_new()))
		return sb_error_set(errp, "epoll: %s", strerror(errno));
	if (setup_signals(d, errp) < 0 || open_disk(d, errp) < 0 || open_exports(d, errp) < 0)
		return -1;
	if (d->cfg.qmp_path) {
		struct sb_qmp_hooks hooks = { .quit = daemon_quit, .opaque = d, .nbd = d->nbd };
		d->qmp = sb_qmp_server_new(d->loop, d->cfg.qmp_path, &d->disk, 1, &hooks, errp);
		if (!d->qmp) {
			sb_error_prefix(*errp, "--qmp %s", d->cfg.qmp_path);
			return -1;
		}
	}
	if (d->cfg.metrics_addr) {
		d->metrics = sb_metrics_new(d->loop, d->cfg.metrics_addr, &d->disk, 1, errp);
		if (!d->metrics) {
			sb_error_prefix(*errp, "--metrics %s", d->cfg.metrics_addr);
			return -1;
		}
	}
	if (d->cfg.pidfile && sb_pidfile_write(d->cfg.pidfile, errp) < 0)
		return -1;
	announce(d);
	if (d->cfg.run_cmd) {
		char uri[512];
		if (!sb_nbd_server_export_uri(d->nbd, 0, uri, sizeof(uri)) &&
		    !sb_vu_server_export_uri(d->vu, 0, uri, sizeof(uri)))
			uri[0] = '\0';
		d->captive_pid = sb_captive_start(d->cfg.run_cmd, uri, errp);
		if (d->captive_pid < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sigfd = -1 };
	SB_AUTOERR struct sb_error *err = NULL;

	switch (sb_cli_parse(argc, argv, &d.cfg, &err)) {
	case SB_CLI_EXIT_OK:
		return 0;
	case SB_CLI_ERROR:
		fprintf(stderr, "steadyblk: %s\n", err->msg);
		return 2;
	case SB_CLI_RUN:
		break;
	}
	if (d.cfg.verbose)
		sb_log_verbosity = SB_LOG_DEBUG;
	/* The daemon changes to / once ready: keep naming the same pidfile. */
	SB_AUTOFREE char *pidfile = NULL;
	if (d.cfg.pidfile) {
		if (!(pidfile = sb_absolute_path(d.cfg.pidfile))) {
			fprintf(stderr, "steadyblk: --pidfile %s: %s\n", d.cfg.pidfile,
				strerror(errno));
			return 1;
		}
		d.cfg.pidfile = pidfile;
	}
	if (!d.cfg.foreground)
		sb_daemon_fork();

	if (start(&d, &err) < 0) {
		fprintf(stderr, "steadyblk: %s\n", err->msg);
		shutdown_all(&d);
		return 1;
	}
	sb_daemon_ready();

	int r = sb_loop_run(d.loop);
	if (r < 0)
		sb_err("event loop: %s", strerror(-r));
	if (d.captive_pid > 0) {
		/* The daemon is going away under the command: end it too. */
		kill(d.captive_pid, SIGTERM);
		waitpid(d.captive_pid, NULL, 0);
	}
	shutdown_all(&d);
	return r < 0 ? 1 : d.exit_status;
}
