/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the scatter-gather helpers: seeking to a byte,
 * the rest of a list after a short transfer (between buffers and inside
 * one), and the copies and fills from an offset, bounded by the list's end.
 * The list is never changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/iov.h"

struct list {
	char a[3], b[5], c[8];
	struct iovec iov[3];
	struct iovec copy[3];
};

static void list_init(struct list *l)
{
	memset(l, 0, sizeof(*l));
	l->iov[0] = (struct iovec){ l->a, sizeof(l->a) };
	l->iov[1] = (struct iovec){ l->b, sizeof(l->b) };
	l->iov[2] = (struct iovec){ l->c, sizeof(l->c) };
	memcpy(l->copy, l->iov, sizeof(l->iov));
}

static void list_unchanged(const struct list *l)
{
	assert_memory_equal(l->copy, l->iov, sizeof(l->iov));
}

static void test_length_and_seek(void **state)
{
	struct list l;
	size_t skip;

	(void)state;
	list_init(&l);
	assert_int_equal(sb_iov_length(l.iov, 3), 16);
	assert_int_equal(sb_iov_length(l.iov, 0), 0);
	assert_int_equal(sb_iov_seek(l.iov, 3, 0, &skip), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(sb_iov_seek(l.iov, 3, 2, &skip), 0);
	assert_int_equal(skip, 2);
	assert_int_equal(sb_iov_seek(l.iov, 3, 3, &skip), 1);
	assert_int_equal(skip, 0);
	assert_int_equal(sb_iov_seek(l.iov, 3, 9, &skip), 2);
	assert_int_equal(skip, 1);
	assert_int_equal(sb_iov_seek(l.iov, 3, 16, &skip), 3);
	assert_int_equal(skip, 0);
	assert_int_equal(sb_iov_seek(l.iov, 3, 100, &skip), 3);
	list_unchanged(&l);
}

static void test_rest(void **state)
{
	struct list l;
	struct iovec one = { 0 };
	const struct iovec *r;
	unsigned cnt;

	(void)state;
	list_init(&l);
	/* From the start: the whole list. */
	r = sb_iov_rest(l.iov, 3, 0, &one, &cnt);
	assert_ptr_equal(r, l.iov);
	assert_int_equal(cnt, 3);
	/* Between two buffers: the array's tail, no copy. */
	r = sb_iov_rest(l.iov, 3, 8, &one, &cnt);
	assert_ptr_equal(r, l.iov + 2);
	assert_int_equal(cnt, 1);
	/* Inside a buffer: the rest of that buffer only. */
	r = sb_iov_rest(l.iov, 3, 5, &one, &cnt);
	assert_ptr_equal(r, &one);
	assert_int_equal(cnt, 1);
	assert_ptr_equal(one.iov_base, l.b + 2);
	assert_int_equal(one.iov_len, 3);
	/* At the end: nothing. */
	sb_iov_rest(l.iov, 3, 16, &one, &cnt);
	assert_int_equal(cnt, 0);
	list_unchanged(&l);
}

static void test_copies(void **state)
{
	struct list l;
	char src[16], dst[20];

	(void)state;
	list_init(&l);
	for (int i = 0; i < 16; i++)
		src[i] = (char)('a' + i);
	assert_int_equal(sb_iov_from_buf(l.iov, 3, 0, src, 16), 16);
	assert_memory_equal(l.a, "abc", 3);
	assert_memory_equal(l.b, "defgh", 5);
	assert_memory_equal(l.c, "ijklmnop", 8);

	/* From an offset inside a buffer, across two boundaries. */
	memset(dst, 0, sizeof(dst));
	assert_int_equal(sb_iov_to_buf(l.iov, 3, 2, dst, 8), 8);
	assert_memory_equal(dst, "cdefghij", 8);
	/* Bounded by the list's end. */
	assert_int_equal(sb_iov_to_buf(l.iov, 3, 12, dst, 20), 4);
	assert_memory_equal(dst, "mnop", 4);
	assert_int_equal(sb_iov_to_buf(l.iov, 3, 16, dst, 20), 0);

	/* Into the list from an offset; the bytes around it stay. */
	assert_int_equal(sb_iov_from_buf(l.iov, 3, 7, "XYZ", 3), 3);
	assert_memory_equal(l.b, "defgX", 5);
	assert_memory_equal(l.c, "YZklmnop", 8);
	assert_int_equal(sb_iov_memset(l.iov, 3, 1, 0, 3), 3);
	assert_memory_equal(l.a, "a\0\0", 3);
	assert_memory_equal(l.b, "\0efgX", 5);
	assert_int_equal(sb_iov_memset(l.iov, 3, 14, '.', 10), 2);
	assert_memory_equal(l.c, "YZklmn..", 8);
	list_unchanged(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_and_seek),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_copies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
