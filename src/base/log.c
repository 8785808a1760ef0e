/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: logging to stderr or syslog. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "base/log.h"

int sb_log_verbosity = SB_LOG_INFO;
static bool use_syslog;

void sb_log_use_syslog(bool on)
{
	use_syslog = on;
	if (on)
		openlog("steadyblk", LOG_PID, LOG_DAEMON);
}

void sb_log(enum sb_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	va_list ap;

	if ((int)level > sb_log_verbosity)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[level], fmt, ap);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "steadyblk %02d:%02d:%02d.%03ld %s: ", tm.tm_hour,
			tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
