/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: what the fuzz harnesses share: the libFuzzer entry point
 * each one defines, quiet logging, a scratch directory, and the checks
 * that every iteration gave back what it took (descriptors) and ended
 * (bounded loops). */
#ifndef SB_FUZZ_H
#define SB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The harness: libFuzzer calls it per input, replay.c per corpus file.
 * Returns 0 (libFuzzer's convention); a bug aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once per process: logging off (SB_FUZZ_LOG=1 keeps it, at debug level),
 * SIGPIPE ignored. */
void fuzz_init(void);

/* A directory of this process for sockets and files, removed at exit. */
const char *fuzz_tmpdir(void);

/* Descriptors open now (/proc/self/fd). */
int fuzz_count_fds(void);

/* Aborts with @what when @before descriptors were open at the start of the
 * iteration and a different number is open now: a leak (or a double
 * close) in the code under test. */
void fuzz_check_fds(int before, const char *what);

/* Aborts with a message: the harness found a bug (an invariant broken, a
 * loop that does not end). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Reads and throws away what @fd has (non-blocking). */
void fuzz_drain(int fd);

#endif
