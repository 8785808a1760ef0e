/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the fixture of the disk's unit tests: a disk over the stub
 * backend, two sessions, NREQ requests with their buffers, and a record of
 * completions and events. */
#ifndef DISK_FIXTURE_H
#define DISK_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "core/disk.h"
#include "stub-backend.h"

#define NREQ 64

struct fx {
	struct sb_loop *loop;
	struct stub_backend *stub;
	struct sb_disk *disk;
	struct sb_policy policy;
	struct sb_session session, other;
	struct sb_request *req[NREQ];
	char buf[NREQ][4096];
	int err[NREQ];
	int ndone[NREQ];
	int order[NREQ];           /* completion order: indexes */
	int norder;
	uint64_t done_at[NREQ];
	enum sb_disk_event_kind ev[256];
	struct sb_disk_event evdata[256];
	int nev;
	int resumed;
	struct sb_disk_observer obs;
};

int fx_setup(void **state);
int fx_teardown(void **state);
/* Creates the disk with the fixture's policy, once the test has set it. */
void open_disk(struct fx *f);
/* Submits request @i (@s NULL: the first session). */
void submit(struct fx *f, int i, enum sb_op op, uint64_t off, uint32_t len,
	    struct sb_session *s);
/* Runs the loop for @ms milliseconds. */
void run_for(struct fx *f, unsigned ms);
/* Runs the loop until request @i is done, at most 2 s. */
void run_until_done(struct fx *f, int i);
bool saw_event(struct fx *f, enum sb_disk_event_kind k);
/* Index in the stub's queue of request @i, or -1. */
int queued_at(struct fx *f, int i);

#endif
