/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: splitting a byte stream into JSON texts (see json-stream.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/json-stream.h"

int sb_json_stream_init(struct sb_json_stream *js, size_t cap)
{
	memset(js, 0, sizeof(*js));
	js->buf = malloc(cap);
	if (!js->buf)
		return -ENOMEM;
	js->cap = cap;
	return 0;
}

void sb_json_stream_fini(struct sb_json_stream *js)
{
	free(js->buf);
	js->buf = NULL;
}

char *sb_json_stream_space(struct sb_json_stream *js, size_t *room)
{
	*room = js->cap - js->len;
	return js->buf + js->len;
}

void sb_json_stream_added(struct sb_json_stream *js, size_t n)
{
	js->len += n;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Bytes that can appear nowhere in JSON text: QMP clients send one to reset
 * the parser (0xFF is what older QEMU needed). */
static bool is_reset_byte(unsigned char c)
{
	return (c < 0x20 && !is_space(c)) || c == 0xfe || c == 0xff;
}

/* Drops the first @n bytes, all of them scanned already. */
static void consume(struct sb_json_stream *js, size_t n)
{
	memmove(js->buf, js->buf + n, js->len - n);
	js->len -= n;
	js->scan -= n;
}

static void forget_text(struct sb_json_stream *js)
{
	js->depth = 0;
	js->in_string = false;
	js->escape = false;
	js->bare = false;
	js->skipping = false;
}

/* The pending text ends before buf[end]: parse it (unless it is the tail of
 * an oversized one, already refused) and consume it. */
static enum sb_json_result text_end(struct sb_json_stream *js, size_t end, json_t **out,
				    struct sb_error **errp)
{
	bool skipped = js->skipping;
	json_error_t jerr;
	json_t *v = NULL;

	if (!skipped)
		v = json_loadb(js->buf, end, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	consume(js, end);
	forget_text(js);
	if (skipped)
		return SB_JSON_MORE;
	if (!v) {
		sb_error_set(errp, "JSON parse error: %s", jerr.text);
		return SB_JSON_BAD;
	}
	*out = v;
	return SB_JSON_VALUE;
}

enum sb_json_result sb_json_stream_next(struct sb_json_stream *js, json_t **out,
					struct sb_error **errp)
{
	enum sb_json_result r;

	while (js->scan < js->len) {
		unsigned char c = (unsigned char)js->buf[js->scan];

		if (is_reset_byte(c)) {
			consume(js, ++js->scan);
			forget_text(js);
			sb_error_set(errp, "JSON parse error: invalid byte 0x%02x, pending input discarded", c);
			return SB_JSON_BAD;
		}
		if (js->in_string) {
			if (js->escape)
				js->escape = false;
			else if (c == '\\')
				js->escape = true;
			else if (c == '"')
				js->in_string = false;
			js->scan++;
			continue;
		}
		if (!js->depth && !js->bare) {
			/* Between texts: whitespace is skipped; anything else
			 * starts a text at buf[0]. */
			if (!is_space(c)) {
				consume(js, js->scan);
				if (c == '{' || c == '[')
					js->depth = 1;
				else
					js->bare = true;
			}
			js->scan++;
			continue;
		}
		if (js->bare) {
			/* A scalar or stray bytes where an object belongs: it
			 * ends where a new token obviously starts. */
			if (is_space(c) || c == '{' || c == '[') {
				if ((r = text_end(js, js->scan, out, errp)) != SB_JSON_MORE)
					return r;
				continue;
			}
			js->scan++;
			continue;
		}
		js->scan++;
		if (c == '"') {
			js->in_string = true;
		} else if (c == '{' || c == '[') {
			js->depth++;
		} else if ((c == '}' || c == ']') && --js->depth == 0) {
			if ((r = text_end(js, js->scan, out, errp)) != SB_JSON_MORE)
				return r;
		}
	}

	if (!js->depth && !js->bare) {
		consume(js, js->scan); /* whitespace only */
	} else if (js->skipping) {
		consume(js, js->scan); /* the oversized text is not stored */
	} else if (js->len == js->cap) {
		consume(js, js->len);
		js->skipping = true;
		sb_error_set(errp, "input exceeds %zu bytes without a complete command: discarded",
			     js->cap);
		return SB_JSON_BAD;
	}
	return SB_JSON_MORE;
}
