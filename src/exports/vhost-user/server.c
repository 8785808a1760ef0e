/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the vhost-user-blk listeners (server.h): the address
 * parsed, the socket, and one front end at a time on it (a second one is
 * refused until the first goes: two front ends on one device would each
 * believe the rings theirs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/listen.h"
#include "base/log.h"
#include "exports/vhost-user/internal.h"
#include "exports/vhost-user/server.h"

#define SCHEME "vhost-user-blk://"

/* Front ends are numbered across every export, so that a log line names
 * one (a migration has two at once, on two sockets). */
static unsigned clients;

struct sb_vu_server {
	struct sb_loop *loop;
	TAILQ_HEAD(, sb_vu_export) exports;
	unsigned nexports;
};

bool sb_vu_is_uri(const char *uri)
{
	return strncmp(uri, SCHEME, strlen(SCHEME)) == 0;
}

struct sb_vu_server *sb_vu_server_new(struct sb_loop *loop)
{
	struct sb_vu_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	TAILQ_INIT(&srv->exports);
	return srv;
}

/* Is the option name [@key, + @klen) @name? */
static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

static int parse_option(struct sb_vu_export *exp, const char *opt, size_t len,
			struct sb_error **errp)
{
	const char *eq = memchr(opt, '=', len);
	size_t klen = eq ? (size_t)(eq - opt) : len;
	const char *v = eq ? eq + 1 : opt + len;
	size_t vlen = (size_t)(opt + len - v);

	if (!eq)
		return sb_error_set(errp, "option '%.*s' has no value", (int)len, opt);
	if (key_is(opt, klen, "num-queues")) {
		char buf[8], *end;
		unsigned long n;
		if (vlen == 0 || vlen >= sizeof(buf))
			return sb_error_set(errp, "num-queues must be 1 to %d", SB_VU_MAX_QUEUES);
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		n = strtoul(buf, &end, 10);
		if (*end || n < 1 || n > SB_VU_MAX_QUEUES)
			return sb_error_set(errp, "num-queues must be 1 to %d", SB_VU_MAX_QUEUES);
		exp->num_queues = (unsigned)n;
	} else if (key_is(opt, klen, "read-only")) {
		if (key_is(v, vlen, "on"))
			exp->read_only = true;
		else if (key_is(v, vlen, "off"))
			exp->read_only = false;
		else
			return sb_error_set(errp, "read-only must be on or off");
	} else if (key_is(opt, klen, "serial")) {
		if (vlen > VIRTIO_BLK_ID_BYTES)
			return sb_error_set(errp, "serial is at most %d characters",
					    VIRTIO_BLK_ID_BYTES);
		memcpy(exp->serial, v, vlen);
		exp->serial[vlen] = '\0';
	} else {
		return sb_error_set(errp, "unknown option '%.*s' (num-queues, read-only, serial)",
				    (int)klen, opt);
	}
	return 0;
}

static int parse_uri(struct sb_vu_export *exp, const char *uri, struct sb_error **errp)
{
	const char *path = uri + strlen(SCHEME), *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);

	if (plen == 0 || path[0] != '/')
		return sb_error_set(errp, "the socket path must be absolute: "
				    "vhost-user-blk:///run/vm1.sock");
	exp->path = strndup(path, plen);
	if (!exp->path)
		return sb_error_set(errp, "out of memory");
	for (const char *o = q ? q + 1 : NULL; o && *o;) {
		const char *amp = strchr(o, '&');
		size_t len = amp ? (size_t)(amp - o) : strlen(o);
		if (parse_option(exp, o, len, errp) < 0)
			return -1;
		o = amp ? amp + 1 : NULL;
	}
	return 0;
}

static void format_uri(const struct sb_vu_export *exp, char *buf, size_t len)
{
	int n = snprintf(buf, len, SCHEME "%s?num-queues=%u%s%s%s", exp->path, exp->num_queues,
			 exp->read_only ? "&read-only=on" : "", exp->serial[0] ? "&serial=" : "",
			 exp->serial);
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

static void accept_ready(void *opaque, uint32_t events)
{
	struct sb_vu_export *exp = opaque;

	(void)events;
	for (;;) {
		int fd = sb_listen_accept(exp->listen_fd, NULL, NULL);

		if (fd < 0)
			return;
		if (exp->dev) {
			sb_warn("vhost-user-blk %s: a second front end refused: %s is connected",
				exp->path, exp->dev->name);
			close(fd);
			continue;
		}
		exp->dev = sb_vu_device_new(exp, fd, ++clients);
		if (!exp->dev) {
			sb_warn("vhost-user-blk %s: out of memory for a front end", exp->path);
			close(fd);
			continue;
		}
		sb_info("vhost-user-blk %s: %s connected", exp->path, exp->dev->name);
	}
}

static void export_free(struct sb_vu_export *exp)
{
	free(exp->path);
	free(exp->uri);
	free(exp);
}

int sb_vu_server_add_export(struct sb_vu_server *srv, const char *uri, struct sb_disk *disk,
			    bool read_only, struct sb_error **errp)
{
	struct sb_vu_export *exp = calloc(1, sizeof(*exp));
	char canon[512];

	if (!exp)
		return sb_error_set(errp, "out of memory");
	exp->loop = srv->loop;
	exp->disk = disk;
	exp->num_queues = 1;
	exp->listen_fd = -1;
	TAILQ_INIT(&exp->closing);
	if (parse_uri(exp, uri, errp) < 0) {
		export_free(exp);
		return -1;
	}
	exp->read_only |= read_only; /* --read-only wins over read-only=off */
	format_uri(exp, canon, sizeof(canon));
	exp->uri = strdup(canon);
	if (!exp->uri) {
		export_free(exp);
		return sb_error_set(errp, "out of memory");
	}
	exp->listen_fd = sb_listen_unix(exp->path, 0660, errp);
	if (exp->listen_fd < 0) {
		sb_error_prefix(*errp, "%s", exp->path);
		export_free(exp);
		return -1;
	}
	sb_watch_init(&exp->listen_watch, exp->listen_fd, accept_ready, exp);
	if (sb_loop_watch_add(srv->loop, &exp->listen_watch, EPOLLIN) < 0) {
		close(exp->listen_fd);
		unlink(exp->path);
		export_free(exp);
		return sb_error_set(errp, "cannot watch the socket");
	}
	TAILQ_INSERT_TAIL(&srv->exports, exp, link);
	srv->nexports++;
	return 0;
}

bool sb_vu_server_export_uri(const struct sb_vu_server *srv, unsigned i, char *buf, size_t len)
{
	const struct sb_vu_export *exp;

	TAILQ_FOREACH(exp, &srv->exports, link)
		if (i-- == 0) {
			if (strlen(exp->uri) >= len)
				return false;
			strcpy(buf, exp->uri);
			return true;
		}
	return false;
}

void sb_vu_server_shutdown(struct sb_vu_server *srv)
{
	struct sb_vu_export *exp;

	if (!srv)
		return;
	TAILQ_FOREACH(exp, &srv->exports, link) {
		if (exp->listen_fd >= 0) {
			sb_loop_watch_del(srv->loop, &exp->listen_watch);
			close(exp->listen_fd);
			exp->listen_fd = -1;
			unlink(exp->path);
		}
		if (exp->dev)
			sb_vu_device_close(exp->dev, "steadyblk stops");
	}
}

uint64_t sb_vu_server_inflight(const struct sb_vu_server *srv)
{
	const struct sb_vu_export *exp;
	const struct sb_vu_device *dev;
	uint64_t n = 0;

	if (!srv)
		return 0;
	TAILQ_FOREACH(exp, &srv->exports, link)
		TAILQ_FOREACH(dev, &exp->closing, link)
			n += dev->inflight;
	return n;
}

void sb_vu_server_free(struct sb_vu_server *srv)
{
	struct sb_vu_export *exp;

	if (!srv)
		return;
	sb_vu_server_shutdown(srv);
	while ((exp = TAILQ_FIRST(&srv->exports))) {
		struct sb_vu_device *dev;
		TAILQ_REMOVE(&srv->exports, exp, link);
		while ((dev = TAILQ_FIRST(&exp->closing))) {
			TAILQ_REMOVE(&exp->closing, dev, link);
			sb_vu_device_free(dev);
		}
		export_free(exp);
	}
	free(srv);
}
