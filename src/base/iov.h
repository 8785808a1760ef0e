/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: scatter-gather lists (struct iovec arrays): their length,
 * where a byte offset falls in one, and copies between one and a flat
 * buffer.  The lists are only read: a request's list belongs to its
 * frontend and must survive a retry unchanged. */
#ifndef SB_IOV_H
#define SB_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Bytes in [@iov, @iov + @n). */
size_t sb_iov_length(const struct iovec *iov, unsigned n);

/* The index of the iovec that byte @off of the list falls in, and in *@skip
 * the offset within it; @n when @off is at or past the end. */
unsigned sb_iov_seek(const struct iovec *iov, unsigned n, size_t off, size_t *skip);

/* The list from byte @off on, left as it is: the array's tail when @off falls
 * between two buffers (or is 0), else *@one set to the rest of the buffer it
 * falls in (the buffers after that one are for a later call).  *@cnt is the
 * number of iovecs returned, 0 when @off is at or past the end. */
const struct iovec *sb_iov_rest(const struct iovec *iov, unsigned n, size_t off,
				struct iovec *one, unsigned *cnt);

/* Copies up to @len bytes from byte @off of the list into @dst.  Returns the
 * bytes copied (fewer when the list ends first). */
size_t sb_iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);

/* Copies up to @len bytes of @src into the list from byte @off on. */
size_t sb_iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *src,
		       size_t len);

/* Sets up to @len bytes of the list from byte @off on to @byte. */
size_t sb_iov_memset(const struct iovec *iov, unsigned n, size_t off, int byte, size_t len);

#endif
