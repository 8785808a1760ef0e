/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: captive mode (--run), daemonising and the pidfile. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/daemon.h"

pid_t sb_captive_start(const char *cmd, const char *uri, struct sb_error **errp)
{
	pid_t pid = fork();

	if (pid < 0) {
		sb_error_set(errp, "--run: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks them for signalfd */
		signal(SIGPIPE, SIG_DFL);
		setenv("uri", uri, 1);
		setenv("nbd_uri", uri, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		fprintf(stderr, "steadyblk: --run: /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	return pid;
}

static int ready_fd = -1;

void sb_daemon_fork(void)
{
	int fds[2];
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		sb_err("pipe: %m");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		sb_err("fork: %m");
		exit(1);
	}
	if (pid > 0) {
		/* The parent reports the child's start-up: success once it is
		 * ready, its exit status if it failed first. */
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1)
			exit(0);
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			exit(WEXITSTATUS(status));
		exit(1);
	}
	close(fds[0]);
	ready_fd = fds[1];
	setsid();
}

void sb_daemon_ready(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (ready_fd < 0)
		return;
	if (chdir("/") < 0)
		sb_warn("chdir /: %m");
	sb_log_use_syslog(true);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	if (write(ready_fd, "", 1) != 1)
		sb_warn("could not tell the parent we are ready");
	close(ready_fd);
	ready_fd = -1;
}

int sb_pidfile_write(const char *path, struct sb_error **errp)
{
	char tmp[4096], buf[32];
	int fd, n;

	/* Write then rename, so a reader never sees an empty or partial file. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return sb_error_set(errp, "--pidfile: path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return sb_error_set(errp, "--pidfile: %s: %s", tmp, strerror(errno));
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	bool written = write(fd, buf, (size_t)n) == n;
	int e = errno;
	if (close(fd) < 0 && written) {
		written = false;
		e = errno;
	}
	if (!written) {
		unlink(tmp);
		return sb_error_set(errp, "--pidfile: %s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return sb_error_set(errp, "--pidfile: %s: %s", path, strerror(errno));
	}
	return 0;
}
