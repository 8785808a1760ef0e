/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: NBD export URIs (doc/uri.md of the NBD project): parsing
 * what the user typed, formatting the canonical form we announce.
 *
 *   nbd+unix:///NAME?socket=PATH       a unix socket
 *   nbd://HOST[:PORT][/NAME]           TCP; HOST is numeric: 127.0.0.1, [::1]
 *
 * The export name is the path without its leading '/'; both the name and
 * the socket path are percent-decoded.  We listen on what the URI names, so
 * anything we would have to guess (host names, unknown parameters) is an
 * error with a message saying what is wrong.  TLS is the server's (--tls):
 * an nbds URI is refused here, and formatted for clients when TLS is on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exports/nbd/internal.h"

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes @len bytes of @s into a new string.  @what names the
 * component in error messages. */
static char *uri_decode(const char *s, size_t len, const char *what, struct sb_error **errp)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		hi = i + 2 < len ? hexval(s[i + 1]) : -1;
		lo = i + 2 < len ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			sb_error_set(errp, "%s: bad percent-escape '%.3s'", what, s + i);
			goto fail;
		}
		if (hi == 0 && lo == 0) {
			sb_error_set(errp, "%s: NUL characters (%%00) are not allowed", what);
			goto fail;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

/* Parses "HOST[:PORT]" into u->addr. */
static int parse_authority(const char *a, size_t len, struct nbd_uri *u, struct sb_error **errp)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end = a + len;
	size_t hlen;
	unsigned long p = NBD_DEFAULT_PORT;

	if (memchr(a, '@', len))
		return sb_error_set(errp, "user names in NBD URIs are not supported");
	if (len > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (!close)
			return sb_error_set(errp, "missing ']' after the IPv6 address");
		hlen = (size_t)(close - a - 1);
		if (hlen >= sizeof(host))
			return sb_error_set(errp, "bad IPv6 address '%.*s'", (int)len, a);
		memcpy(host, a + 1, hlen);
		if (close + 1 < end) {
			if (close[1] != ':')
				return sb_error_set(errp, "unexpected '%.*s' after the IPv6 address",
						    (int)(end - close - 1), close + 1);
			port = close + 2;
		}
	} else {
		const char *colon = memchr(a, ':', len);
		hlen = colon ? (size_t)(colon - a) : len;
		if (hlen >= sizeof(host))
			return sb_error_set(errp, "bad host '%.*s'", (int)len, a);
		memcpy(host, a, hlen);
		if (colon)
			port = colon + 1;
	}
	host[hlen] = '\0';
	if (hlen == 0)
		return sb_error_set(errp, "missing host: use nbd://127.0.0.1:PORT/NAME");

	if (port) {
		char *e;
		if (port == end || *port < '0' || *port > '9')
			return sb_error_set(errp, "bad port '%.*s'", (int)(end - port), port);
		errno = 0;
		p = strtoul(port, &e, 10);
		if (e != end || errno || p > 65535)
			return sb_error_set(errp, "bad port '%.*s' (0-65535)", (int)(end - port), port);
	}

	memset(&u->addr, 0, sizeof(u->addr));
	if (a[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&u->addr;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return sb_error_set(errp, "bad IPv6 address '%s'", host);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		u->addrlen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&u->addr;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return sb_error_set(errp, "host '%s' must be a numeric IPv4 address or a "
					    "bracketed IPv6 address such as [::1]", host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		u->addrlen = sizeof(*sin);
	}
	return 0;
}

/* Parses "key=value&..." ; only nbd+unix has a parameter, "socket". */
static int parse_query(const char *q, size_t len, struct nbd_uri *u, struct sb_error **errp)
{
	const char *end = q + len;

	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *next = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(next - q));
		size_t klen = (size_t)((eq ? eq : next) - q);

		if (klen == 6 && memcmp(q, "socket", 6) == 0 && u->transport == NBD_UNIX) {
			if (u->socket)
				return sb_error_set(errp, "'socket' is given twice");
			if (!eq || eq + 1 == next)
				return sb_error_set(errp, "'socket' needs a path: ?socket=PATH");
			u->socket = uri_decode(eq + 1, (size_t)(next - eq - 1), "socket path", errp);
			if (!u->socket)
				return -1;
		} else if (klen > 0) {
			return sb_error_set(errp, "unknown URI parameter '%.*s'", (int)klen, q);
		}
		q = amp ? amp + 1 : end;
	}
	return 0;
}

int nbd_uri_parse(const char *s, struct nbd_uri *u, struct sb_error **errp)
{
	const char *sep = strstr(s, "://");
	const char *rest, *path, *query, *end;
	size_t slen;

	memset(u, 0, sizeof(*u));
	if (!sep)
		return sb_error_set(errp, "'%s' is not an NBD URI: use nbd+unix:///NAME?socket=PATH "
				    "or nbd://HOST:PORT/NAME", s);
	slen = (size_t)(sep - s);
	if ((slen == 3 && strncmp(s, "nbd", 3) == 0) || (slen == 7 && strncmp(s, "nbd+tcp", 7) == 0))
		u->transport = NBD_TCP;
	else if (slen == 8 && strncmp(s, "nbd+unix", 8) == 0)
		u->transport = NBD_UNIX;
	else if (strncmp(s, "nbds", 4) == 0)
		return sb_error_set(errp, "%.*s://: TLS is set for every export with --tls (and "
				    "--tls-certificates or --tls-psk); write the export as nbd:// "
				    "or nbd+unix://", (int)slen, s);
	else
		return sb_error_set(errp, "unknown scheme '%.*s': use nbd+unix:// or nbd://",
				    (int)slen, s);

	rest = sep + 3;
	if (strchr(rest, '#'))
		return sb_error_set(errp, "fragments ('#') are not allowed in an NBD URI");
	end = rest + strlen(rest);
	query = strchr(rest, '?');
	if (!query)
		query = end;
	path = memchr(rest, '/', (size_t)(query - rest));
	if (!path)
		path = query;

	if (u->transport == NBD_UNIX) {
		if (path != rest)
			return sb_error_set(errp, "a unix socket URI takes no host ('%.*s'): use "
					    "nbd+unix:///NAME?socket=PATH", (int)(path - rest), rest);
	} else if (parse_authority(rest, (size_t)(path - rest), u, errp) < 0) {
		goto fail;
	}

	/* The export name is the path without its leading '/'. */
	if (path < query)
		path++;
	u->name = uri_decode(path, (size_t)(query - path), "export name", errp);
	if (!u->name)
		goto fail;
	if (strlen(u->name) > NBD_MAX_STRING) {
		sb_error_set(errp, "export name longer than %d bytes", NBD_MAX_STRING);
		goto fail;
	}
	if (query < end && parse_query(query + 1, (size_t)(end - query - 1), u, errp) < 0)
		goto fail;
	if (u->transport == NBD_UNIX && !u->socket) {
		sb_error_set(errp, "missing socket: use nbd+unix:///NAME?socket=PATH");
		goto fail;
	}
	return 0;
fail:
	nbd_uri_clear(u);
	return -1;
}

void nbd_uri_clear(struct nbd_uri *u)
{
	free(u->name);
	free(u->socket);
	memset(u, 0, sizeof(*u));
}

uint16_t nbd_uri_port(const struct nbd_uri *u)
{
	if (u->addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&u->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&u->addr)->sin_port);
}

/* "127.0.0.1" or "[::1]" */
static void format_host(const struct nbd_uri *u, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (u->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&u->addr)->sin6_addr, ip,
			  sizeof(ip));
		snprintf(buf, len, "[%s]", ip);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&u->addr)->sin_addr, ip,
			  sizeof(ip));
		snprintf(buf, len, "%s", ip);
	}
}

/* Appends @s percent-encoded (unreserved characters and '/' stay) at *pos. */
static bool append_encoded(char *buf, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~/", ch);
		size_t need = plain ? 1 : 3;

		if (*pos + need >= len)
			return false;
		if (plain) {
			buf[(*pos)++] = (char)ch;
		} else {
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[ch >> 4];
			buf[(*pos)++] = hex[ch & 15];
		}
	}
	buf[*pos] = '\0';
	return true;
}

static bool append_plain(char *buf, size_t len, size_t *pos, const char *s)
{
	int n = snprintf(buf + *pos, len - *pos, "%s", s);

	if (n < 0 || (size_t)n >= len - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

bool nbd_uri_format(const struct nbd_uri *u, char *buf, size_t len)
{
	size_t pos = 0;

	if (len == 0)
		return false;
	buf[0] = '\0';
	if (u->transport == NBD_UNIX)
		return append_plain(buf, len, &pos, u->tls ? "nbds+unix:///" : "nbd+unix:///") &&
		       append_encoded(buf, len, &pos, u->name) &&
		       append_plain(buf, len, &pos, "?socket=") &&
		       append_encoded(buf, len, &pos, u->socket);

	char host[INET6_ADDRSTRLEN + 2], port[8];
	format_host(u, host, sizeof(host));
	snprintf(port, sizeof(port), ":%u", nbd_uri_port(u));
	return append_plain(buf, len, &pos, u->tls ? "nbds://" : "nbd://") &&
	       append_plain(buf, len, &pos, host) &&
	       append_plain(buf, len, &pos, port) && append_plain(buf, len, &pos, "/") &&
	       append_encoded(buf, len, &pos, u->name);
}

void nbd_uri_where(const struct nbd_uri *u, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + 2];

	if (u->transport == NBD_UNIX) {
		snprintf(buf, len, "unix:%s", u->socket);
		return;
	}
	format_host(u, host, sizeof(host));
	snprintf(buf, len, "%s:%u", host, nbd_uri_port(u));
}
