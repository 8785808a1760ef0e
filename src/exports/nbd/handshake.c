/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the fixed newstyle handshake: greeting, client flags, and
 * option haggling until the client picks an export (GO or EXPORT_NAME).
 *
 *   S: NBDMAGIC IHAVEOPT flags      C: client flags
 *   C: IHAVEOPT option length data  S: option reply (NBD_REP_*) ...
 *   ... until GO succeeds, EXPORT_NAME, or ABORT
 *
 * Options we serve: GO, INFO, EXPORT_NAME, LIST, ABORT, STRUCTURED_REPLY
 * (reads are then answered in chunks, transmission.c), LIST_META_CONTEXT
 * and SET_META_CONTEXT (one context, base:allocation, for block status),
 * STARTTLS (tls.c); anything else gets NBD_REP_ERR_UNSUP.
 *
 * TLS: with --tls require, every option but STARTTLS and ABORT is refused
 * with NBD_REP_ERR_TLS_REQD until TLS is on (EXPORT_NAME, which cannot be
 * refused, hangs up).  Once TLS is on, what plaintext options chose
 * (structured replies, the meta context) is forgotten: a man in the middle
 * could have sent them (nbdkit's CVE-2021-3716).  An
 * option longer than we would ever need is skipped unread with
 * NBD_REP_ERR_TOO_BIG; the whole handshake has a deadline.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "exports/nbd/internal.h"

static void hs_timeout(void *opaque)
{
	struct nbd_conn *c = opaque;

	sb_warn("%s: no export chosen within %u s, disconnecting", c->name,
		(unsigned)(NBD_HANDSHAKE_NS / SB_NS_PER_SEC));
	nbd_conn_close(c, "handshake timeout");
}

int nbd_hs_start(struct nbd_conn *c)
{
	struct nbd_greeting g = {
		.magic = htobe64(NBD_MAGIC),
		.ihaveopt = htobe64(NBD_IHAVEOPT),
		.flags = htobe16(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
	};

	c->phase = NBD_HANDSHAKE;
	if (nbd_conn_hs_append(c, &g, sizeof(g)) < 0)
		return -ENOMEM;
	sb_timer_init(&c->timer, hs_timeout, c);
	sb_timer_arm(c->srv->loop, &c->timer, sb_now_ns() + NBD_HANDSHAKE_NS);
	return 0;
}

/* ---- replies ---- */

static int hs_reply(struct nbd_conn *c, uint32_t opt, uint32_t type, const void *data,
		    uint32_t len)
{
	struct nbd_option_reply r = {
		.magic = htobe64(NBD_REP_MAGIC),
		.option = htobe32(opt),
		.type = htobe32(type),
		.length = htobe32(len),
	};

	if (nbd_conn_hs_append(c, &r, sizeof(r)) < 0 ||
	    (len && nbd_conn_hs_append(c, data, len) < 0))
		return -ENOMEM;
	return 0;
}

/* An error reply with a message for humans (clients print it). */
static enum nbd_parse hs_error(struct nbd_conn *c, uint32_t opt, uint32_t type,
			       const char *fmt, ...) SB_PRINTF(4, 5);
static enum nbd_parse hs_error(struct nbd_conn *c, uint32_t opt, uint32_t type,
			       const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = SB_MIN(SB_MAX(n, 0), (int)sizeof(msg) - 1);
	sb_debug("%s: option %u refused: %s", c->name, opt, msg);
	return hs_reply(c, opt, type, msg, (uint32_t)n) < 0 ? NBD_PARSE_DROP : NBD_PARSE_AGAIN;
}

/* A name the client sent, as a log line or an error message echoes it: at
 * most NBD_ECHO_NAME of its bytes, each unprintable one as \xNN, and "..."
 * if it was cut, so that neither the line nor the reply grows with the
 * name and a newline cannot forge a log line.  Returns @buf. */
#define NBD_ECHO_NAME 64u
#define NBD_ECHO_SIZE (4 * NBD_ECHO_NAME + 4)
static const char *hs_quote(char buf[NBD_ECHO_SIZE], const char *name, uint32_t len)
{
	uint32_t n = SB_MIN(len, NBD_ECHO_NAME);
	char *p = buf;

	for (uint32_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			*p++ = (char)ch;
		else
			p += snprintf(p, 5, "\\x%02x", ch);
	}
	strcpy(p, len > n ? "..." : "");
	return buf;
}

static int hs_info(struct nbd_conn *c, uint32_t opt, const void *info, uint32_t len)
{
	return hs_reply(c, opt, NBD_REP_INFO, info, len);
}

static int hs_info_string(struct nbd_conn *c, uint32_t opt, uint16_t type, const char *s)
{
	unsigned char buf[2 + NBD_MAX_STRING];
	size_t n = SB_MIN(strlen(s), (size_t)NBD_MAX_STRING);
	uint16_t be = htobe16(type);

	memcpy(buf, &be, 2);
	memcpy(buf + 2, s, n);
	return hs_info(c, opt, buf, (uint32_t)(2 + n));
}

/* ---- options ---- */

static enum nbd_parse hs_enter(struct nbd_conn *c, struct nbd_export *e)
{
	if (nbd_tx_start(c, e) < 0) {
		sb_warn("%s: out of memory entering transmission", c->name);
		return NBD_PARSE_DROP;
	}
	sb_debug("%s: export '%s' (disk %s)%s", c->name, e->name, sb_disk_name(e->disk),
		 e->read_only ? " read-only" : "");
	return NBD_PARSE_AGAIN;
}

static enum nbd_parse hs_export_name(struct nbd_conn *c, const char *name, uint32_t len)
{
	struct nbd_export *e = nbd_export_find(c->listener, name, len);
	static const unsigned char zeroes[124];
	struct nbd_export_name_reply r;
	char q[NBD_ECHO_SIZE];

	if (!e) {
		/* This option cannot fail politely: the protocol says hang up. */
		sb_warn("%s: asked for unknown export '%s'", c->name, hs_quote(q, name, len));
		return NBD_PARSE_DROP;
	}
	r.size = htobe64(sb_disk_backend(e->disk)->size);
	r.flags = htobe16(nbd_conn_tx_flags(c, e));
	if (nbd_conn_hs_append(c, &r, sizeof(r)) < 0 ||
	    (!c->no_zeroes && nbd_conn_hs_append(c, zeroes, sizeof(zeroes)) < 0))
		return NBD_PARSE_DROP;
	return hs_enter(c, e);
}

static enum nbd_parse hs_list(struct nbd_conn *c, uint32_t len)
{
	struct nbd_export *e;

	if (len)
		return hs_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, "LIST takes no data");
	TAILQ_FOREACH(e, &c->listener->exports, lst_link) {
		unsigned char buf[4 + NBD_MAX_STRING];
		uint32_t n = (uint32_t)strlen(e->name), be = htobe32(n);

		memcpy(buf, &be, 4);
		memcpy(buf + 4, e->name, n);
		if (hs_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, buf, 4 + n) < 0)
			return NBD_PARSE_DROP;
	}
	return hs_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0) < 0 ? NBD_PARSE_DROP
								      : NBD_PARSE_AGAIN;
}

/* The export name that starts INFO, GO and the META_CONTEXT options (u32
 * length, name), with at least @tail bytes of the option after it.  Sets
 * *@nlen; returns NBD_PARSE_AGAIN, or the refusal to return when
 * *@refused is set. */
static enum nbd_parse hs_name_field(struct nbd_conn *c, uint32_t opt, const unsigned char *d,
				    uint32_t len, uint32_t tail, uint32_t *nlen, bool *refused)
{
	*refused = true;
	if (len < 4 + tail)
		return hs_error(c, opt, NBD_REP_ERR_INVALID, "option data too short");
	memcpy(nlen, d, 4);
	*nlen = be32toh(*nlen);
	if (*nlen > len - 4 - tail)
		return hs_error(c, opt, NBD_REP_ERR_INVALID, "export name length too large");
	*refused = false;
	return NBD_PARSE_AGAIN;
}

/* NBD_OPT_INFO and NBD_OPT_GO:
 *   u32 name length, name, u16 number of requests, u16 requests[] */
static enum nbd_parse hs_info_go(struct nbd_conn *c, uint32_t opt, const unsigned char *d,
				 uint32_t len)
{
	bool want_name = false, want_desc = false, refused;
	struct nbd_export *e;
	uint32_t nlen;
	uint16_t nreq;
	char q[NBD_ECHO_SIZE];
	enum nbd_parse named = hs_name_field(c, opt, d, len, 2, &nlen, &refused);

	if (refused)
		return named;
	memcpy(&nreq, d + 4 + nlen, 2);
	nreq = be16toh(nreq);
	if (6 + nlen + 2u * nreq != len)
		return hs_error(c, opt, NBD_REP_ERR_INVALID, "bad number of information requests");
	for (uint16_t i = 0; i < nreq; i++) {
		uint16_t r;
		memcpy(&r, d + 6 + nlen + 2u * i, 2);
		r = be16toh(r);
		want_name |= r == NBD_INFO_NAME;
		want_desc |= r == NBD_INFO_DESCRIPTION;
	}

	const char *name = (const char *)d + 4;
	e = nbd_export_find(c->listener, name, nlen);
	if (!e)
		return hs_error(c, opt, NBD_REP_ERR_UNKNOWN, "no export '%s' here",
				hs_quote(q, name, nlen));

	struct sb_backend *be = sb_disk_backend(e->disk);
	struct nbd_info_export ie = {
		.info = htobe16(NBD_INFO_EXPORT),
		.size = htobe64(be->size),
		.flags = htobe16(nbd_conn_tx_flags(c, e)),
	};
	/* Always sent: a client that did not ask still learns our limits,
	 * and requests outside them get EINVAL, never corrupt data. */
	struct nbd_info_block_size bs = {
		.info = htobe16(NBD_INFO_BLOCK_SIZE),
		.minimum = htobe32(e->block_min),
		.preferred = htobe32(e->block_pref),
		.maximum = htobe32(e->block_max),
	};
	char desc[256];
	snprintf(desc, sizeof(desc), "steadyblk disk %s (%s)", sb_disk_name(e->disk), be->name);

	if (hs_info(c, opt, &ie, sizeof(ie)) < 0 || hs_info(c, opt, &bs, sizeof(bs)) < 0 ||
	    (want_name && hs_info_string(c, opt, NBD_INFO_NAME, e->name) < 0) ||
	    (want_desc && hs_info_string(c, opt, NBD_INFO_DESCRIPTION, desc) < 0) ||
	    hs_reply(c, opt, NBD_REP_ACK, NULL, 0) < 0)
		return NBD_PARSE_DROP;
	return opt == NBD_OPT_GO ? hs_enter(c, e) : NBD_PARSE_AGAIN;
}

/* Does query @q (@len bytes) name base:allocation?  In a LIST, the
 * namespace alone ("base:") asks for all of its contexts too. */
static bool meta_query_matches(uint32_t opt, const unsigned char *q, uint32_t len)
{
	static const char name[] = NBD_META_BASE_ALLOCATION;

	if (len == sizeof(name) - 1 && memcmp(q, name, len) == 0)
		return true;
	return opt == NBD_OPT_LIST_META_CONTEXT && len == 5 && memcmp(q, "base:", 5) == 0;
}

/* NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT:
 *   u32 name length, name, u32 number of queries, { u32 length, query }[]
 * A LIST without queries lists every context; a SET replaces what an earlier
 * one chose, and needs structured replies (block status is a chunk). */
static enum nbd_parse hs_meta_context(struct nbd_conn *c, uint32_t opt, const unsigned char *d,
				      uint32_t len)
{
	static const char name[] = NBD_META_BASE_ALLOCATION;
	uint32_t nlen, nq, pos;
	bool match = false, refused;
	char q[NBD_ECHO_SIZE];
	enum nbd_parse r;
	struct nbd_export *e;

	if (opt == NBD_OPT_SET_META_CONTEXT) {
		c->meta_export = NULL;
		if (!c->structured)
			return hs_error(c, opt, NBD_REP_ERR_INVALID,
					"SET_META_CONTEXT needs structured replies first");
	}
	r = hs_name_field(c, opt, d, len, 4, &nlen, &refused);
	if (refused)
		return r;
	memcpy(&nq, d + 4 + nlen, 4);
	nq = be32toh(nq);
	pos = 8 + nlen;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t qlen;

		if (len - pos < 4)
			return hs_error(c, opt, NBD_REP_ERR_INVALID, "bad number of queries");
		memcpy(&qlen, d + pos, 4);
		qlen = be32toh(qlen);
		if (qlen > len - pos - 4)
			return hs_error(c, opt, NBD_REP_ERR_INVALID, "query length too large");
		match |= meta_query_matches(opt, d + pos + 4, qlen);
		pos += 4 + qlen;
	}
	if (pos != len)
		return hs_error(c, opt, NBD_REP_ERR_INVALID, "data after the last query");
	e = nbd_export_find(c->listener, (const char *)d + 4, nlen);
	if (!e)
		return hs_error(c, opt, NBD_REP_ERR_UNKNOWN, "no export '%s' here",
				hs_quote(q, (const char *)d + 4, nlen));
	if (nq == 0 && opt == NBD_OPT_LIST_META_CONTEXT)
		match = true;
	if (match) {
		unsigned char buf[4 + sizeof(name) - 1];
		/* A LIST's ids are reserved: zero. */
		uint32_t id = htobe32(opt == NBD_OPT_SET_META_CONTEXT ? NBD_META_ID : 0);

		memcpy(buf, &id, 4);
		memcpy(buf + 4, name, sizeof(name) - 1);
		if (hs_reply(c, opt, NBD_REP_META_CONTEXT, buf, sizeof(buf)) < 0)
			return NBD_PARSE_DROP;
		if (opt == NBD_OPT_SET_META_CONTEXT)
			c->meta_export = e;
	}
	return hs_reply(c, opt, NBD_REP_ACK, NULL, 0) < 0 ? NBD_PARSE_DROP : NBD_PARSE_AGAIN;
}

void nbd_hs_tls_on(struct nbd_conn *c)
{
	c->structured = false;
	c->meta_export = NULL;
}

static enum nbd_parse hs_starttls(struct nbd_conn *c, uint32_t len)
{
	if (!c->srv->tls)
		return hs_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP,
				"TLS is not enabled on this server");
	if (c->tls_state != NBD_TLS_NONE)
		return hs_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "TLS is on already");
	if (len)
		return hs_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
				"STARTTLS takes no data");
	/* Nothing more is parsed in plaintext; conn.c starts the TLS
	 * handshake once the ACK is sent. */
	c->tls_state = NBD_TLS_STARTING;
	return hs_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0) < 0 ? NBD_PARSE_DROP
									 : NBD_PARSE_PAUSE;
}

static enum nbd_parse hs_option(struct nbd_conn *c, uint32_t opt, const unsigned char *d,
				uint32_t len)
{
	if (c->tls_state != NBD_TLS_ON && nbd_tls_required(c->srv->tls) &&
	    opt != NBD_OPT_STARTTLS && opt != NBD_OPT_ABORT) {
		if (opt == NBD_OPT_EXPORT_NAME) {
			sb_debug("%s: export chosen without TLS, which is required", c->name);
			return NBD_PARSE_DROP;
		}
		return hs_error(c, opt, NBD_REP_ERR_TLS_REQD,
				"TLS is required: send NBD_OPT_STARTTLS first");
	}
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return hs_export_name(c, (const char *)d, len);
	case NBD_OPT_GO:
	case NBD_OPT_INFO:
		return hs_info_go(c, opt, d, len);
	case NBD_OPT_LIST:
		return hs_list(c, len);
	case NBD_OPT_ABORT:
		/* Data, if any, is ignored, as the protocol asks. */
		c->draining = true;
		sb_debug("%s: client aborted the handshake", c->name);
		return hs_reply(c, opt, NBD_REP_ACK, NULL, 0) < 0 ? NBD_PARSE_DROP
								  : NBD_PARSE_PAUSE;
	case NBD_OPT_STARTTLS:
		return hs_starttls(c, len);
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return hs_meta_context(c, opt, d, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len)
			return hs_error(c, opt, NBD_REP_ERR_INVALID,
					"STRUCTURED_REPLY takes no data");
		/* Asked again: already on, and acknowledged again. */
		c->structured = true;
		return hs_reply(c, opt, NBD_REP_ACK, NULL, 0) < 0 ? NBD_PARSE_DROP
								  : NBD_PARSE_AGAIN;
	default:
		return hs_error(c, opt, NBD_REP_ERR_UNSUP, "option %u is not supported", opt);
	}
}

/* ---- the parser ---- */

static enum nbd_parse hs_client_flags(struct nbd_conn *c)
{
	uint32_t flags;

	memcpy(&flags, c->rbuf + c->rpos, 4);
	c->rpos += 4;
	flags = be32toh(flags);
	if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		sb_warn("%s: unknown client flags 0x%x", c->name, flags);
		return NBD_PARSE_DROP;
	}
	if (!(flags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
		sb_warn("%s: client does not speak fixed newstyle NBD", c->name);
		return NBD_PARSE_DROP;
	}
	c->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
	c->got_client_flags = true;
	return NBD_PARSE_AGAIN;
}

enum nbd_parse nbd_hs_parse(struct nbd_conn *c)
{
	struct nbd_option h;
	uint32_t avail = c->rlen - c->rpos, opt, len;

	/* A client that sends options without reading the replies stops
	 * being read; a polite one waits for each reply anyway. */
	if (c->draining || c->tls_state == NBD_TLS_STARTING ||
	    c->hs_len - c->hs_off > NBD_HS_OUT_MAX)
		return NBD_PARSE_PAUSE;
	if (!c->got_client_flags)
		return avail < 4 ? NBD_PARSE_MORE : hs_client_flags(c);
	if (avail < sizeof(h))
		return NBD_PARSE_MORE;

	memcpy(&h, c->rbuf + c->rpos, sizeof(h));
	opt = be32toh(h.option);
	len = be32toh(h.length);
	if (be64toh(h.magic) != NBD_IHAVEOPT) {
		sb_warn("%s: bad option magic 0x%016llx", c->name,
			(unsigned long long)be64toh(h.magic));
		return NBD_PARSE_DROP;
	}
	if (len > NBD_MAX_OPTION) {
		if (opt == NBD_OPT_EXPORT_NAME) {
			sb_warn("%s: export name of %u bytes", c->name, len);
			return NBD_PARSE_DROP;
		}
		c->rpos += sizeof(h);
		c->skip = len;
		if (opt == NBD_OPT_SET_META_CONTEXT)
			c->meta_export = NULL; /* a SET replaces, even when it fails */
		return hs_error(c, opt, NBD_REP_ERR_TOO_BIG, "option data of %u bytes is too long",
				len);
	}
	if (avail < sizeof(h) + len)
		return NBD_PARSE_MORE;
	c->rpos += sizeof(h) + len;
	return hs_option(c, opt, c->rbuf + c->rpos - len, len);
}
