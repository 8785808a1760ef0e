/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: splits a byte stream into JSON texts, one at a time.
 *
 * A QMP client may send several objects in one write or one object over many
 * writes, pretty-printed or not.  jansson parses complete texts only, so this
 * scanner finds where each text ends (brackets counted outside strings) and
 * hands exactly that span to the parser.  Recovery follows QMP's rules:
 *
 *   - a text that does not parse is answered with an error and skipped
 *     whole; the next text starts right after it;
 *   - a control character (other than tab, CR, LF) or a 0xFE/0xFF byte is a
 *     lexical error that discards everything pending: the way a client
 *     forces the parser back into a known-good state;
 *   - a text longer than the bound is refused and skipped to its end
 *     without being stored, so memory stays bounded.
 */
#ifndef SB_JSON_STREAM_H
#define SB_JSON_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct sb_json_stream {
	char *buf;          /* unconsumed input; a pending text starts at buf[0] */
	size_t len;         /* bytes in buf */
	size_t cap;         /* the bound on one text, and buf's size */
	size_t scan;        /* bytes of buf already scanned */
	size_t depth;       /* brackets open in the pending text */
	bool in_string;     /* inside a string of the pending text */
	bool escape;        /* the previous byte was a backslash in a string */
	bool bare;          /* a text that does not start with a bracket */
	bool skipping;      /* dropping the rest of an oversized text */
};

enum sb_json_result {
	SB_JSON_MORE,       /* no complete text: read more */
	SB_JSON_VALUE,      /* a text was parsed */
	SB_JSON_BAD,        /* a text was refused (and consumed) */
};

/* Prepares @js for texts of at most @cap bytes.  Returns 0 or -ENOMEM. */
int sb_json_stream_init(struct sb_json_stream *js, size_t cap);
void sb_json_stream_fini(struct sb_json_stream *js);

/* Where the next bytes read go: returns the address, and in *room how many
 * bytes fit.  *room is never 0 after sb_json_stream_next() returned
 * SB_JSON_MORE. */
char *sb_json_stream_space(struct sb_json_stream *js, size_t *room);
/* Records that @n bytes were written at the address above. */
void sb_json_stream_added(struct sb_json_stream *js, size_t n);

/* Takes the next text.  SB_JSON_VALUE: *out is a new reference to it (any
 * JSON value: checking that it is an object is the caller's business).
 * SB_JSON_BAD: *errp says why.  SB_JSON_MORE: wait for input.  Call it until
 * it returns SB_JSON_MORE. */
enum sb_json_result sb_json_stream_next(struct sb_json_stream *js, json_t **out,
					struct sb_error **errp);

#endif
