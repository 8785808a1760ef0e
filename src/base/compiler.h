/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: small compiler helpers used across steadyblk. */
#ifndef SB_COMPILER_H
#define SB_COMPILER_H

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define SB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SB_CONTAINER_OF(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define SB_LIKELY(x) __builtin_expect(!!(x), 1)
#define SB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SB_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Scoped cleanup: `SB_AUTOFREE char *s = strdup(...);` */
static inline void sb_freep(void *p) { free(*(void **)p); }
static inline void sb_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define SB_AUTOFREE __attribute__((cleanup(sb_freep)))
#define SB_AUTOCLOSE __attribute__((cleanup(sb_closep)))

/* glibc's <sys/queue.h> lacks the _SAFE iterators. */
#include <sys/queue.h>
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)             \
	for ((var) = TAILQ_FIRST(head);                        \
	     (var) && ((tvar) = TAILQ_NEXT(var, field), 1);    \
	     (var) = (tvar))
#endif

#endif
