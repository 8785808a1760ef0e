/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: logging to stderr (foreground) or syslog (daemonised).
 *
 * Objects are named in log lines by their disk, export or backend name, never
 * by pointer.  Debug output is per subsystem, switched on with -v (all) so a
 * production log stays quiet on the fast path.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdbool.h>

#include "base/compiler.h"

enum sb_log_level { SB_LOG_ERR, SB_LOG_WARN, SB_LOG_INFO, SB_LOG_DEBUG };

extern int sb_log_verbosity; /* messages above this level are dropped */

void sb_log_use_syslog(bool on);
void sb_log(enum sb_log_level level, const char *fmt, ...) SB_PRINTF(2, 3);

#define sb_err(...) sb_log(SB_LOG_ERR, __VA_ARGS__)
#define sb_warn(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_debug(...)                                   \
	do {                                            \
		if (SB_UNLIKELY(sb_log_verbosity >= SB_LOG_DEBUG)) \
			sb_log(SB_LOG_DEBUG, __VA_ARGS__);      \
	} while (0)

#endif
