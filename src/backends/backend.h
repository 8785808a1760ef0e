/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the backend contract: where a disk's data lives.
 *
 * The submit contract (as in SPDK's bdev modules):
 *   ops->submit(be, req) returns 0, and then the completion fires exactly
 *   once, later, through sb_backend_complete(); or it returns -errno, and
 *   the completion never fires.  Completions carry 0 or -errno.
 *
 * A backend never applies the error policy: it reports what happened.  It
 * tells the core about its connection through sb_backend_set_connected(), so a
 * reconnect can trigger a probe at once.  Filters (fault injection) are
 * backends that wrap another one.
 *
 * Volatile caches: a backend with SB_CAP_FLUSH may hold acknowledged writes
 * in a cache that a flush makes durable.  The core keeps the writes
 * acknowledged since the last successful flush and writes them again after
 * any event that may have lost that cache (DESIGN.md invariant 2).  It treats
 * a reconnect (sb_backend_set_connected(be, true) after a loss) and a failed
 * flush as such events by itself; a backend that learns of a loss in any
 * other way (an iSCSI POWER ON / RESET unit attention) calls
 * sb_backend_cache_lost() before it completes any request after the loss.
 */
#ifndef SB_BACKEND_H
#define SB_BACKEND_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/request.h"

/* Capabilities, declared once at open. */
#define SB_CAP_FLUSH      (1u << 0)
#define SB_CAP_FUA        (1u << 1)
#define SB_CAP_TRIM       (1u << 2)
#define SB_CAP_ZERO       (1u << 3)
#define SB_CAP_FAST_ZERO  (1u << 4)
#define SB_CAP_MULTI_CONN (1u << 5) /* a flush on one connection covers all */
#define SB_CAP_READ_ONLY  (1u << 6)
#define SB_CAP_IOVEC      (1u << 7) /* takes data as iovecs (sb_request.iov) */
#define SB_CAP_BLOCK_STATUS (1u << 8) /* answers SB_OP_BLOCK_STATUS; without it the
				       * core answers "all data" itself */
#define SB_CAP_CACHE      (1u << 9) /* prefetches for SB_OP_CACHE; without it the
				     * core answers success itself */

/* Can a backend (or one connection of it) with @caps do @op?  Only a block
 * status and a cache may be missing, and for those the answer of
 * sb_request_ignored() is never wrong: whoever finds the capability
 * missing (the core for a backend, a backend for one of its connections)
 * gives that answer instead of asking. */
static inline bool sb_caps_allow(uint32_t caps, enum sb_op op)
{
	switch (op) {
	case SB_OP_BLOCK_STATUS:
		return caps & SB_CAP_BLOCK_STATUS;
	case SB_OP_CACHE:
		return caps & SB_CAP_CACHE;
	default:
		return true;
	}
}

struct sb_backend;

struct sb_backend_ops {
	const char *name; /* driver name: "file", "nbd", "iscsi", "fault" */
	/* Required.  See the submit contract above. */
	int (*submit)(struct sb_backend *be, struct sb_request *req);
	/* Required.  Frees the backend.  Called only when nothing is in flight. */
	void (*close)(struct sb_backend *be);
	/* Optional - may be NULL.  The core is about to probe a failing
	 * backend: a backend that reconnects may try at once. */
	void (*kick)(struct sb_backend *be);
	/* Optional - may be NULL.  Extra JSON-able facts for query-disks. */
	const char *(*describe_state)(struct sb_backend *be);
};

/* How the backend reports back to its user (the disk, or a filter above). */
struct sb_backend_upcalls {
	void (*complete)(void *opaque, struct sb_request *req, int err);
	void (*connection)(void *opaque, bool up, int err);
	/* Optional - may be NULL.  The backend may have lost writes it had
	 * acknowledged but not made durable; @why is for the log. */
	void (*cache_lost)(void *opaque, const char *why);
	void *opaque;
};

struct sb_backend {
	const struct sb_backend_ops *ops;
	char *name;                 /* for logs and query-disks, e.g. "file:/srv/a.img" */
	uint64_t size;              /* bytes */
	uint32_t caps;              /* SB_CAP_* */
	uint32_t block_min;         /* NBD block size constraints */
	uint32_t block_pref;
	uint32_t block_max;
	size_t ctx_size;            /* per-request private bytes (request->backend_ctx) */
	bool connected;
	struct sb_backend_upcalls up;
};

/* Options every driver understands. */
enum sb_cache_mode { SB_CACHE_WRITEBACK, SB_CACHE_NONE };

/* What the NBD backend does with a request that outlives timeout_ns. */
enum sb_timeout_action {
	SB_TIMEOUT_WAIT,      /* keep waiting on the live connection; log and count it */
	SB_TIMEOUT_RECONNECT, /* abandon the connection: its requests fail with ETIMEDOUT */
};

struct sb_backend_config {
	bool read_only;
	enum sb_cache_mode cache;
	uint64_t timeout_ns;        /* per request, for network backends; 0 = none */
	enum sb_timeout_action timeout_action; /* nbd only; iscsi always reconnects */
};

/* A backend driver, listed in the table in registry.c. */
struct sb_backend_driver {
	const char *name;
	/* True if @spec names this driver's kind of storage. */
	bool (*match)(const char *spec);
	/* Opens @spec.  Returns 0 and sets *out, or -1 with *errp set. */
	int (*open)(struct sb_loop *loop, const char *spec,
		    const struct sb_backend_config *cfg, struct sb_backend **out,
		    struct sb_error **errp);
};

/* Opens the backend that @spec names: "PATH", "file:PATH", "nbd://...",
 * "nbd+unix://...", "iscsi://...".  Returns 0 or -1 with *errp set. */
int sb_backend_open(struct sb_loop *loop, const char *spec,
		    const struct sb_backend_config *cfg, struct sb_backend **out,
		    struct sb_error **errp);

static inline int sb_backend_submit(struct sb_backend *be, struct sb_request *req)
{
	/* Scattered data only to a backend that takes it (a frontend checks
	 * the caps of the disk's backend, which never changes). */
	assert(!req->iovcnt || (be->caps & SB_CAP_IOVEC));
	return be->ops->submit(be, req);
}

static inline void sb_backend_complete(struct sb_backend *be, struct sb_request *req, int err)
{
	be->up.complete(be->up.opaque, req, err);
}

/* Records a connection change and tells the user of the backend. */
static inline void sb_backend_set_connected(struct sb_backend *be, bool up, int err)
{
	if (be->connected == up)
		return;
	be->connected = up;
	if (be->up.connection)
		be->up.connection(be->up.opaque, up, err);
}

/* Tells the user of the backend that its volatile cache may be gone. */
static inline void sb_backend_cache_lost(struct sb_backend *be, const char *why)
{
	if (be->up.cache_lost)
		be->up.cache_lost(be->up.opaque, why);
}

static inline void sb_backend_close(struct sb_backend *be)
{
	if (be)
		be->ops->close(be);
}

#endif
