/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD backend's URIs, in the syntax of the NBD URI
 * specification (the one libnbd and QEMU accept):
 *
 *   nbd://HOST[:PORT][/NAME]           TCP; HOST may be [IPv6]; PORT 10809
 *   nbd+unix:///[NAME]?socket=PATH     unix socket
 *   nbds://[USER@]HOST[:PORT][/NAME]?TLS-KEYS
 *   nbds+unix://[USER@]/[NAME]?socket=PATH&TLS-KEYS   the same over TLS
 *
 * TLS keys, libnbd's names: tls-psk-file=FILE (USER is the PSK identity,
 * the login name if none), or tls-certificates=DIR with tls-verify-peer=false.
 * libnbd 1.14 checks a server's certificate only against a host name it
 * resolved itself, and we hand it a socket we connected, so it would not
 * check it at all: an X.509 backend is accepted only where the URI says
 * that it is not verified.  A PSK authenticates both ends.
 *
 * We parse them ourselves instead of letting libnbd do it, because we open
 * the socket ourselves (non-blocking, with our TCP options) on every
 * reconnect.  vsock is refused with a clear message.
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

/* Does key=value @q (@klen bytes of key) name @key? */
static bool key_is(const char *q, size_t klen, const char *key)
{
	return klen == strlen(key) && strncmp(q, key, klen) == 0;
}

/* The string a query key sets, or NULL if the key is not one we know. */
static char **query_slot(struct nbdbe_target *t, const char *q, size_t klen)
{
	if (key_is(q, klen, "socket") && t->is_unix)
		return &t->socket;
	if (!t->tls)
		return NULL;
	if (key_is(q, klen, "tls-certificates"))
		return &t->tls_certificates;
	if (key_is(q, klen, "tls-psk-file"))
		return &t->tls_psk_file;
	return NULL;
}

/* Reads the query: socket=PATH (unix) and the TLS keys (nbds). */
static int parse_query(const char *uri, const char *q, struct nbdbe_target *t,
		       struct sb_error **errp)
{
	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		char **slot = eq ? query_slot(t, q, klen) : NULL;
		bool verify = eq && t->tls && key_is(q, klen, "tls-verify-peer");
		char *value;

		if (!slot && !verify)
			return sb_error_set(errp, "backend '%s': unsupported query parameter "
					    "'%.*s' (%s)", uri, (int)len, q,
					    t->tls ? "known: socket, tls-certificates, tls-psk-file, "
						     "tls-verify-peer"
					    : t->is_unix ? "only socket= is known; TLS keys need nbds+unix://"
							 : "TLS keys need nbds://");
		value = decode(eq + 1, len - klen - 1);
		if (!value || !*value ||
		    (verify && strcmp(value, "true") && strcmp(value, "false"))) {
			free(value);
			return sb_error_set(errp, "backend '%s': bad value in '%.*s'", uri, (int)len, q);
		}
		if (verify) {
			t->tls_verify_peer = !strcmp(value, "true");
			free(value);
		} else {
			free(*slot);
			*slot = value;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* Splits "USER@" off the authority [@a, @a + *len) of an nbds URI: the PSK
 * identity, as libnbd reads it.  Returns the authority after it. */
static const char *parse_user(const char *uri, const char *a, size_t *len,
			      struct nbdbe_target *t, struct sb_error **errp)
{
	const char *at = memchr(a, '@', *len);

	if (!at)
		return a;
	if (!t->tls) {
		sb_error_set(errp, "backend '%s': user names are not supported (only a PSK "
			     "identity, with nbds://)", uri);
		return NULL;
	}
	t->tls_username = decode(a, (size_t)(at - a));
	if (!t->tls_username || !*t->tls_username) {
		sb_error_set(errp, "backend '%s': bad user name", uri);
		return NULL;
	}
	*len -= (size_t)(at + 1 - a);
	return at + 1;
}

/* The TLS keys make sense together. */
static int check_tls(const char *uri, const struct nbdbe_target *t, struct sb_error **errp)
{
	if (!t->tls)
		return 0;
	if (!!t->tls_certificates == !!t->tls_psk_file)
		return sb_error_set(errp, "backend '%s': nbds needs tls-psk-file=FILE or "
				    "tls-certificates=DIR, one of them", uri);
	if (t->tls_certificates && t->tls_verify_peer)
		return sb_error_set(errp, "backend '%s': libnbd cannot check the server's "
				    "certificate on a socket steadyblk connects; use a PSK "
				    "(tls-psk-file=FILE), or add tls-verify-peer=false to accept "
				    "an unverified server", uri);
	if (t->tls_username && !t->tls_psk_file)
		return sb_error_set(errp, "backend '%s': a user name is a PSK identity: it "
				    "needs tls-psk-file=FILE", uri);
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

	a = parse_user(uri, a, &len, t, errp);
	if (!a)
		return -1;
	host = a;
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
	const char *rest, *path, *query, *uri_scheme_tail = NULL;

	memset(t, 0, sizeof(*t));
	t->tls_verify_peer = true;
	if (!strncmp(uri, "nbds", 4)) {
		t->tls = true;
		uri_scheme_tail = uri + 4;
	} else if (!strncmp(uri, "nbd", 3)) {
		uri_scheme_tail = uri + 3;
	}
	if (uri_scheme_tail && !strncmp(uri_scheme_tail, "://", 3)) {
		rest = uri_scheme_tail + 3;
	} else if (uri_scheme_tail && !strncmp(uri_scheme_tail, "+unix://", 8)) {
		rest = uri_scheme_tail + 8;
		t->is_unix = true;
	} else {
		sb_error_set(errp, "backend '%s': only nbd://, nbd+unix://, nbds:// and "
			     "nbds+unix:// are supported (no vsock)", uri);
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
		size_t alen = (size_t)(path - rest);
		/* Only a PSK identity may stand before the (empty) host. */
		const char *host = parse_user(uri, rest, &alen, t, errp);

		if (!host)
			goto fail;
		if (alen) {
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
		if (*query && parse_query(uri, query + 1, t, errp) < 0)
			goto fail;
	}
	if (check_tls(uri, t, errp) < 0)
		goto fail;

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
	free(t->tls_certificates);
	free(t->tls_psk_file);
	free(t->tls_username);
	memset(t, 0, sizeof(*t));
}
