/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the QMP input framing (control/json-stream.c):
 * several texts per write, one text over many writes, recovery after bad
 * input, the reset byte, the size bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "control/json-stream.h"

#define CAP 256

/* What came out of the stream: "V" for a value (with its "n" member, or -1),
 * "B" for a bad text. */
struct outcome {
	char kind[32];
	int n[32];
	int count;
};

static void feed(struct sb_json_stream *js, const char *data, size_t len, struct outcome *o)
{
	while (len) {
		size_t room;
		char *p = sb_json_stream_space(js, &room);
		size_t n = len < room ? len : room;

		assert_true(room > 0);
		memcpy(p, data, n);
		sb_json_stream_added(js, n);
		data += n;
		len -= n;
		for (;;) {
			struct sb_error *err = NULL;
			json_t *v = NULL;
			enum sb_json_result r = sb_json_stream_next(js, &v, &err);

			if (r == SB_JSON_MORE) {
				assert_null(err);
				break;
			}
			assert_true(o->count < 32);
			if (r == SB_JSON_BAD) {
				assert_non_null(err);
				o->kind[o->count] = 'B';
				o->n[o->count++] = -1;
				sb_error_free(err);
			} else {
				json_t *num = json_is_object(v) ? json_object_get(v, "n") : NULL;
				o->kind[o->count] = 'V';
				o->n[o->count++] = num ? (int)json_integer_value(num) : -1;
				json_decref(v);
			}
		}
	}
}

static void feed_str(struct sb_json_stream *js, const char *s, struct outcome *o)
{
	feed(js, s, strlen(s), o);
}

static int setup(void **state)
{
	static struct sb_json_stream js;
	assert_int_equal(sb_json_stream_init(&js, CAP), 0);
	*state = &js;
	return 0;
}

static int teardown(void **state)
{
	sb_json_stream_fini(*state);
	return 0;
}

static void test_several_per_write(void **state)
{
	struct outcome o = { 0 };
	feed_str(*state, "{\"n\":1}{\"n\":2}\r\n  {\"n\":3}\n", &o);
	assert_int_equal(o.count, 3);
	assert_string_equal(o.kind, "VVV");
	assert_int_equal(o.n[0], 1);
	assert_int_equal(o.n[2], 3);
}

static void test_byte_by_byte(void **state)
{
	/* Splits land inside strings, escapes, numbers, literals and UTF-8. */
	const char *s = "{\"n\": 42, \"s\": \"a \\\"}\\\" \xc3\xa9 {[\", \"t\": true,\n"
			"  \"l\": [null, -1.5e3, {\"x\": {}}]}";
	struct outcome o = { 0 };
	for (size_t i = 0; s[i]; i++)
		feed(*state, s + i, 1, &o);
	assert_int_equal(o.count, 1);
	assert_string_equal(o.kind, "V");
	assert_int_equal(o.n[0], 42);
}

static void test_malformed_then_valid(void **state)
{
	struct outcome o = { 0 };
	feed_str(*state, "{\"n\": }\n{\"n\":5}\n{\"n\":1,\"n\":2}{\"n\":6}", &o);
	assert_string_equal(o.kind, "BVBV");
	assert_int_equal(o.n[1], 5);
	assert_int_equal(o.n[3], 6);
}

static void test_scalars_and_arrays(void **state)
{
	/* Not objects, but texts all the same: the caller refuses them. */
	struct outcome o = { 0 };
	feed_str(*state, "42 \"x\" [1,2] junk}\n{\"n\":7}", &o);
	assert_string_equal(o.kind, "VVVBV");
	assert_int_equal(o.n[4], 7);
}

static void test_reset_byte(void **state)
{
	/* An unfinished object is abandoned by a control character (QMP's way
	 * to force the parser into a known state) or 0xFF. */
	struct outcome o = { 0 };
	feed_str(*state, "{\"n\": {\"unfinished\": \x01{\"n\":8}", &o);
	feed_str(*state, "{\"n\": \"also\xff{\"n\":9}", &o);
	assert_string_equal(o.kind, "BVBV");
	assert_int_equal(o.n[1], 8);
	assert_int_equal(o.n[3], 9);
}

static void test_oversized_is_skipped(void **state)
{
	char big[4 * CAP];
	struct outcome o = { 0 };

	/* {"n":1,"pad":"xxxx...."} far over the bound, then a normal one. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"n\":1,\"pad\":\"", 14);
	memcpy(big + sizeof(big) - 2, "\"}", 2);
	feed(*state, big, sizeof(big), &o);
	feed_str(*state, "{\"n\":10}", &o);
	assert_string_equal(o.kind, "BV");
	assert_int_equal(o.n[1], 10);
}

static void test_fits_exactly(void **state)
{
	char text[CAP];
	struct outcome o = { 0 };

	memset(text, ' ', sizeof(text));
	memcpy(text, "{\"n\":11,\"p\":\"", 13);
	memcpy(text + sizeof(text) - 2, "\"}", 2);
	feed(*state, text, sizeof(text), &o);
	assert_string_equal(o.kind, "V");
	assert_int_equal(o.n[0], 11);
}

static void test_whitespace_never_fills(void **state)
{
	char spaces[3 * CAP];
	struct outcome o = { 0 };

	memset(spaces, '\n', sizeof(spaces));
	feed(*state, spaces, sizeof(spaces), &o);
	feed_str(*state, "{\"n\":12}", &o);
	assert_string_equal(o.kind, "V");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_several_per_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_then_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scalars_and_arrays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fits_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whitespace_never_fills, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
