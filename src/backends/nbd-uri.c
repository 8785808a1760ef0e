/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD backend's URIs, in the syntax of the NBD URI
 * specification (the one libnbd and QEMU accept):
 *
 *   nbd://HOST[:PORT][/NAME]           TCP; HOST may be [IPv6]; PORT 10809
 *   nbd+unix:///[NAME]?socket=PATH     unix socket
 *
 * We parse them ourselves instead of letting libnbd do it, because we open
 * the socket ourselves (non-blocking, with our TCP options) on every
 * reconnect.  Schemes we do not implement (TLS, vsock) are refused with a
 * clear message rather than silently connecting without TLS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/nbd-internal.h"
#include "base/compiler.h"

#define NBD_DEFAULT_PORT "10809"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A decoded copy of @s[0..len), or NULL if an escape is malformed or
 * decodes to a NUL byte (or memory runs out: errno tells). */
static char *decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
		int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* Reads the query "socket=PATH": the only key we know. */
static int parse_query(const char *uri, const char *q, struct nbdbe_target *t,
		       struct sb_error **errp)
{
	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);

		if (!eq || (size_t)(eq - q) != strlen("socket") || strncmp(q, "socket", 6))
			return sb_error_set(errp, "backend '%s': unsupported query parameter "
					    "'%.*s' (only socket= is known)", uri, (int)len, q);
		free(t->socket);
		t->socket = decode(eq + 1, len - (size_t)(eq + 1 - q));
		if (!t->socket)
			return sb_error_set(errp, "backend '%s': bad socket path", uri);
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int make_absolute(const char *uri, struct nbdbe_target *t, struct sb_error **errp)
{
	char cwd[4096], *abs;

	if (t->socket[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return sb_error_set(errp, "backend '%s': getcwd: %s", uri, strerror(errno));
		if (asprintf(&abs, "%s/%s", cwd, t->socket) < 0)
			return sb_error_set(errp, "backend '%s': out of memory", uri);
		free(t->socket);
		t->socket = abs;
	}
	if (strlen(t->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return sb_error_set(errp, "backend '%s': socket path too long", uri);
	return 0;
}

/* Splits "HOST[:PORT]" (HOST maybe "[v6]") of length @len. */
static int parse_authority(const char *uri, const char *a, size_t len,
			   struct nbdbe_target *t, struct sb_error **errp)
{
	const char *host = a, *port = NULL;
	size_t hlen;

	if (memchr(a, '@', len))
		return sb_error_set(errp, "backend '%s': user names are not supported", uri);
	if (len && a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (!close)
			return sb_error_set(errp, "backend '%s': unterminated '[' in host", uri);
		host = a + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < a + len) {
			if (close[1] != ':')
				return sb_error_set(errp, "backend '%s': junk after ']'", uri);
			port = close + 2;
		}
	} else {
		const char *colon = memchr(a, ':', len);
		hlen = colon ? (size_t)(colon - a) : len;
		if (colon)
			port = colon + 1;
	}
	if (hlen == 0)
		return sb_error_set(errp, "backend '%s': no host name", uri);
	t->host = strndup(host, hlen);
	if (port) {
		size_t plen = (size_t)(a + len - port);
		char *end;
		unsigned long n = strtoul(port, &end, 10);
		if (plen == 0 || end != a + len || n == 0 || n > 65535)
			return sb_error_set(errp, "backend '%s': bad port", uri);
		t->port = strndup(port, plen);
	} else {
		t->port = strdup(NBD_DEFAULT_PORT);
	}
	if (!t->host || !t->port)
		return sb_error_set(errp, "backend '%s': out of memory", uri);
	return 0;
}

int sb_nbdbe_target_parse(const char *uri, struct nbdbe_target *t, struct sb_error **errp)
{
	const char *rest, *path, *query;

	memset(t, 0, sizeof(*t));
	if (!strncmp(uri, "nbd://", 6)) {
		rest = uri + 6;
	} else if (!strncmp(uri, "nbd+unix://", 11)) {
		rest = uri + 11;
		t->is_unix = true;
	} else {
		sb_error_set(errp, "backend '%s': only nbd:// and nbd+unix:// are supported "
			     "(no TLS, no vsock)", uri);
		goto fail;
	}

	/* authority [/ path] [? query]; no fragments in NBD URIs */
	if (strchr(rest, '#')) {
		sb_error_set(errp, "backend '%s': fragments are not allowed", uri);
		goto fail;
	}
	path = rest + strcspn(rest, "/?");
	query = strchr(path, '?');
	if (!query)
		query = path + strlen(path);

	if (t->is_unix) {
		if (path != rest) {
			sb_error_set(errp, "backend '%s': nbd+unix:// takes no host "
				     "(nbd+unix:///NAME?socket=PATH)", uri);
			goto fail;
		}
		if (*query && parse_query(uri, query + 1, t, errp) < 0)
			goto fail;
		if (!t->socket || !t->socket[0]) {
			sb_error_set(errp, "backend '%s': socket=PATH is missing", uri);
			goto fail;
		}
		if (make_absolute(uri, t, errp) < 0)
			goto fail;
	} else {
		if (parse_authority(uri, rest, (size_t)(path - rest), t, errp) < 0)
			goto fail;
		if (*query) {
			sb_error_set(errp, "backend '%s': nbd:// takes no query parameters", uri);
			goto fail;
		}
	}

	/* The export name is the path without its leading slash. */
	if (*path == '/')
		path++;
	t->export_name = decode(path, (size_t)(query > path ? query - path : 0));
	if (!t->export_name) {
		sb_error_set(errp, "backend '%s': bad export name", uri);
		goto fail;
	}
	return 0;

fail:
	sb_nbdbe_target_clear(t);
	return -1;
}

void sb_nbdbe_target_clear(struct nbdbe_target *t)
{
	free(t->host);
	free(t->port);
	free(t->socket);
	free(t->export_name);
	memset(t, 0, sizeof(*t));
}
