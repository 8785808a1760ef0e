/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the metrics endpoint: every disk's state, held requests and
 * counters in the Prometheus text exposition format (version 0.0.4), served
 * over HTTP at /metrics.  The families are listed in steadyblk(8).
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"

struct sb_metrics;

/* Serves the metrics of @ndisks disks (which must outlive it) at
 * http://ADDR/metrics, @addr being "HOST:PORT" (numeric: "127.0.0.1:9187",
 * "[::1]:9187") or "unix:PATH".  Observes the disks from now on, for the
 * histogram of hang durations.  Returns it or NULL with *errp set. */
struct sb_metrics *sb_metrics_new(struct sb_loop *loop, const char *addr,
				  struct sb_disk *const *disks, size_t ndisks,
				  struct sb_error **errp);

/* Where it listens, for the start-up message: "127.0.0.1:9187" (the port
 * actually bound, if 0 was asked) or "unix:PATH". */
const char *sb_metrics_where(const struct sb_metrics *m);

/* Writes every family, in the text format, to @out.  Returns 0, or -1 if
 * writing failed. */
int sb_metrics_write(struct sb_metrics *m, FILE *out);

/* Stops serving and observing; removes a unix socket file. */
void sb_metrics_free(struct sb_metrics *m);

#endif
