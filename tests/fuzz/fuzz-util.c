/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the helpers of fuzz.h. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "fuzz.h"

static char tmpdir[64];

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[sizeof(tmpdir) + 256];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

void fuzz_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	sb_log_verbosity = getenv("SB_FUZZ_LOG") ? SB_LOG_DEBUG : -1;
	signal(SIGPIPE, SIG_IGN);
}

const char *fuzz_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "%s/sbfuzz.XXXXXX",
			 getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 40 ? getenv("TMPDIR")
									: "/tmp");
		if (!mkdtemp(tmpdir))
			fuzz_fail("mkdtemp %s: %s", tmpdir, strerror(errno));
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		fuzz_fail("/proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void fuzz_check_fds(int before, const char *what)
{
	int now = fuzz_count_fds();

	if (now != before)
		fuzz_fail("%s: %d descriptors open before the input, %d after", what, before, now);
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void fuzz_drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}
