/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes the QMP input framing (control/json-stream.c) on
 * its own, with a small bound so oversized texts and their skipping are
 * reached often.  Input: byte 0 sets the bound (64..4144 bytes), byte 1
 * the size of each write (1..64 bytes: a text split anywhere), the rest
 * is the stream.  Checked: the contract of json-stream.h (room is never 0
 * after MORE, BAD always says why, VALUE is a value), and that every
 * reference is given back. */
#include <string.h>

#include "base/compiler.h"
#include "control/json-stream.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_json_stream js;
	size_t cap, chunk;

	fuzz_init();
	if (size < 2)
		return 0;
	cap = 64 + ((size_t)data[0] << 4);
	chunk = 1 + data[1] % 64;
	data += 2;
	size -= 2;
	if (sb_json_stream_init(&js, cap) < 0)
		fuzz_fail("out of memory");
	while (size) {
		size_t room;
		char *p = sb_json_stream_space(&js, &room);
		size_t n = SB_MIN(SB_MIN(size, room), chunk);

		if (!p || room == 0)
			fuzz_fail("no room for input after SB_JSON_MORE");
		memcpy(p, data, n);
		sb_json_stream_added(&js, n);
		data += n;
		size -= n;
		for (;;) {
			struct sb_error *err = NULL;
			json_t *v = NULL;
			enum sb_json_result r = sb_json_stream_next(&js, &v, &err);

			if (r == SB_JSON_MORE) {
				if (err || v)
					fuzz_fail("SB_JSON_MORE with an error or a value");
				break;
			}
			if (r == SB_JSON_BAD) {
				if (!err || v)
					fuzz_fail("SB_JSON_BAD without an error, or with a value");
				sb_error_free(err);
				continue;
			}
			if (!v || err)
				fuzz_fail("SB_JSON_VALUE without a value, or with an error");
			json_decref(v);
		}
	}
	sb_json_stream_fini(&js);
	return 0;
}
