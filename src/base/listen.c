/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: listening sockets for the QMP socket and the metrics
 * endpoint: unix sockets with their permissions set before they exist,
 * stale socket files replaced, numeric TCP addresses. */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/listen.h"

#define BACKLOG 16

/* A socket file whose owner died is replaced; a live one is left alone. */
static int remove_stale(const struct sockaddr_un *sa, struct sb_error **errp)
{
	struct stat st;
	int fd, r, e;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : sb_error_set(errp, "%s", strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return sb_error_set(errp, "it exists and is not a socket");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sb_error_set(errp, "%s", strerror(errno));
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN)
		return sb_error_set(errp, "another server is listening there");
	if (e != ECONNREFUSED)
		return sb_error_set(errp, "%s", strerror(e));
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return sb_error_set(errp, "cannot remove the stale socket: %s", strerror(errno));
	return 0;
}

int sb_listen_unix(const char *path, mode_t mode, struct sb_error **errp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path))
		return sb_error_set(errp, "the path is longer than %zu bytes",
				    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, len + 1);
	if (remove_stale(&sa, errp) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sb_error_set(errp, "%s", strerror(errno));
	/* Linux creates the socket file with the unbound socket's mode (less
	 * the umask): set it first, so that nobody else can connect even for an
	 * instant; then set it exactly, whatever the umask took away. */
	if (fchmod(fd, mode) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sb_error_set(errp, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, mode) < 0 || listen(fd, BACKLOG) < 0) {
		sb_error_set(errp, "%s", strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* "HOST:PORT" or "[HOST]:PORT" into its two parts. */
static int split_hostport(const char *hostport, char *host, size_t hlen, const char **port,
			  struct sb_error **errp)
{
	const char *s = hostport, *end, *colon;

	if (s[0] == '[') {
		end = strchr(s, ']');
		colon = end && end[1] == ':' ? end + 1 : NULL;
		s++;
	} else {
		colon = strrchr(s, ':');
		end = colon;
	}
	if (!colon || !colon[1] || end == s)
		return sb_error_set(errp, "'%s' is not HOST:PORT (e.g. 127.0.0.1:9187, [::1]:9187, "
				    "or unix:PATH)", hostport);
	if ((size_t)(end - s) >= hlen)
		return sb_error_set(errp, "the host is too long");
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	*port = colon + 1;
	return 0;
}

static void format_where(const struct sockaddr *sa, socklen_t salen, char *where, size_t len)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(where, len, "?");
		return;
	}
	snprintf(where, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

int sb_listen_tcp(const char *hostport, char *where, size_t len, struct sb_error **errp)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	};
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	struct addrinfo *ai;
	const char *port = NULL;
	uint64_t portnum;
	char host[64];
	int fd, r, one = 1;

	if (split_hostport(hostport, host, sizeof(host), &port, errp) < 0)
		return -1;
	/* getaddrinfo() would take port 99999 as 34463. */
	if (sb_parse_uint(port, 65535, &portnum, errp) < 0) {
		sb_error_prefix(errp ? *errp : NULL, "port");
		return -1;
	}
	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0)
		return sb_error_set(errp, "'%s': %s (a numeric address and port are expected)",
				    hostport, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sb_error_set(errp, "%s", strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
		sb_error_set(errp, "%s", strerror(errno));
		close(fd);
		fd = -1;
		goto out;
	}
	format_where((struct sockaddr *)&bound, blen, where, len);
out:
	freeaddrinfo(ai);
	return fd;
}

int sb_listen_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *plen)
{
	for (;;) {
		if (plen)
			*plen = sizeof(*peer);
		int fd = accept4(listen_fd, (struct sockaddr *)peer, plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
			return fd;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}
