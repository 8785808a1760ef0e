/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: control-path errors (configuration, management commands).
 *
 * The data path carries -errno in an int; everything else reports through a
 * `struct sb_error **errp` last argument and also returns success or failure,
 * so a caller never has to guess.  The management socket turns the message into
 * a QMP error reply, the command line prints it and exits with status 2.
 */
#ifndef SB_ERROR_H
#define SB_ERROR_H

#include "base/compiler.h"

/* Classes follow QMP's so the management socket can pass them through. */
enum sb_error_class {
	SB_ERR_GENERIC,      /* "GenericError" */
	SB_ERR_NOT_FOUND,    /* "DeviceNotFound" */
	SB_ERR_NO_COMMAND,   /* "CommandNotFound" */
};

struct sb_error {
	enum sb_error_class cls;
	char msg[512];
};

/* Sets *errp to a new error with a printf-style message, if errp is not NULL
 * and *errp is still NULL (the first error wins).  Always returns -1 so that
 * callers can `return sb_error_set(errp, ...)`. */
int sb_error_set(struct sb_error **errp, const char *fmt, ...) SB_PRINTF(2, 3);
int sb_error_set_class(struct sb_error **errp, enum sb_error_class cls,
		       const char *fmt, ...) SB_PRINTF(3, 4);
/* Prefixes an existing error's message with "PREFIX: ". */
void sb_error_prefix(struct sb_error *err, const char *fmt, ...) SB_PRINTF(2, 3);
void sb_error_free(struct sb_error *err);

static inline void sb_error_freep(struct sb_error **e) { sb_error_free(*e); }
#define SB_AUTOERR __attribute__((cleanup(sb_error_freep)))

#endif
