/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: control-path error objects. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static int error_vset(struct sb_error **errp, enum sb_error_class cls,
		      const char *fmt, va_list ap)
{
	if (!errp || *errp)
		return -1;
	struct sb_error *e = calloc(1, sizeof(*e));
	if (!e)
		abort(); /* an error we cannot report is worse than a crash */
	e->cls = cls;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	*errp = e;
	return -1;
}

int sb_error_set(struct sb_error **errp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(errp, SB_ERR_GENERIC, fmt, ap);
	va_end(ap);
	return -1;
}

int sb_error_set_class(struct sb_error **errp, enum sb_error_class cls,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(errp, cls, fmt, ap);
	va_end(ap);
	return -1;
}

void sb_error_prefix(struct sb_error *err, const char *fmt, ...)
{
	char prefix[sizeof(err->msg)], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Keep the end of the old message if both do not fit: it says what failed. */
	size_t plen = strlen(prefix);
	if (plen > sizeof(err->msg) / 2)
		plen = sizeof(err->msg) / 2;
	snprintf(err->msg, sizeof(err->msg), "%.*s: %.*s", (int)plen, prefix,
		 (int)(sizeof(err->msg) - plen - 3), old);
}

void sb_error_free(struct sb_error *err)
{
	free(err);
}
