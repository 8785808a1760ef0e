/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: scatter-gather lists (see iov.h).  One walker serves the
 * three copies, so the offset arithmetic lives in one place. */
#include <string.h>

#include "base/compiler.h"
#include "base/iov.h"

size_t sb_iov_length(const struct iovec *iov, unsigned n)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

unsigned sb_iov_seek(const struct iovec *iov, unsigned n, size_t off, size_t *skip)
{
	unsigned i = 0;

	while (i < n && off >= iov[i].iov_len)
		off -= iov[i++].iov_len;
	*skip = i < n ? off : 0;
	return i;
}

const struct iovec *sb_iov_rest(const struct iovec *iov, unsigned n, size_t off,
				struct iovec *one, unsigned *cnt)
{
	size_t skip;
	unsigned i = sb_iov_seek(iov, n, off, &skip);

	if (!skip) {
		*cnt = n - i;
		return iov + i;
	}
	one->iov_base = (char *)iov[i].iov_base + skip;
	one->iov_len = iov[i].iov_len - skip;
	*cnt = 1;
	return one;
}

enum iov_op { IOV_TO_BUF, IOV_FROM_BUF, IOV_SET };

/* Applies @op to up to @len bytes of the list from byte @off on; @flat is
 * the flat buffer's next byte (IOV_TO_BUF, IOV_FROM_BUF) or unused. */
static size_t iov_walk(const struct iovec *iov, unsigned n, size_t off, enum iov_op op,
		       char *flat, int byte, size_t len)
{
	size_t skip, done = 0;

	for (unsigned i = sb_iov_seek(iov, n, off, &skip); i < n && done < len; i++, skip = 0) {
		char *seg = (char *)iov[i].iov_base + skip;
		size_t here = SB_MIN(iov[i].iov_len - skip, len - done);

		switch (op) {
		case IOV_TO_BUF:
			memcpy(flat + done, seg, here);
			break;
		case IOV_FROM_BUF:
			memcpy(seg, flat + done, here);
			break;
		case IOV_SET:
			memset(seg, byte, here);
			break;
		}
		done += here;
	}
	return done;
}

size_t sb_iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	return iov_walk(iov, n, off, IOV_TO_BUF, dst, 0, len);
}

size_t sb_iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *src,
		       size_t len)
{
	return iov_walk(iov, n, off, IOV_FROM_BUF, (char *)src, 0, len);
}

size_t sb_iov_memset(const struct iovec *iov, unsigned n, size_t off, int byte, size_t len)
{
	return iov_walk(iov, n, off, IOV_SET, NULL, byte, len);
}
