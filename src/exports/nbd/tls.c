/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: TLS for the NBD server (GnuTLS): the server's credentials
 * (X.509 from a directory, or a PSK file), and each connection's session,
 * driven without blocking by the connection's socket events.
 *
 * NBD_OPT_STARTTLS switches a connection to TLS in the middle of the
 * handshake.  Bytes the client sent after the option, before our ACK, can
 * only be the start of its TLS handshake: they are handed to GnuTLS (the
 * pull function reads them before the socket), never parsed as options.
 * What the plaintext options negotiated is forgotten once TLS is on
 * (handshake.c), so a man in the middle cannot plant it.
 *
 * GnuTLS reads a record's header and then its body, two recv(2) calls a
 * record; the pull function reads up to NBD_TLS_IN_SIZE at once instead
 * and serves both from that (a 1 MiB write: 64 records, 2 calls instead
 * of 130).  Bytes waiting there are pending like GnuTLS's own.
 *
 * Sending follows GnuTLS's rule for non-blocking sockets: a record that
 * could not be written in full is sent again with NULL data, and the call
 * then reports the length first asked for.  The output queue's head is
 * what that record holds, and it moves only once the record is out.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "exports/nbd/internal.h"

/* PSK needs its key exchanges added to the defaults (nbdkit and QEMU ask
 * for the same). */
#define PRIORITY_X509 "NORMAL"
#define PRIORITY_PSK  "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"

struct nbd_tls {
	enum sb_nbd_tls_mode mode;
	bool verify_peer;
	gnutls_certificate_credentials_t x509;  /* one of these two */
	gnutls_psk_server_credentials_t psk;
	gnutls_priority_t priority;
};

struct nbd_tls_session {
	gnutls_session_t s;
	bool retry;                 /* a record is half written: send it again */
	/* Received, not yet pulled by GnuTLS: [in_off, in_len) of in.  It
	 * starts with the plaintext-phase bytes that followed STARTTLS. */
	unsigned char in[NBD_TLS_IN_SIZE];
	size_t in_off, in_len;
};

/* ---- credentials ---- */

static int tls_fail(struct sb_error **errp, const char *what, const char *path, int r)
{
	return sb_error_set(errp, "TLS: %s '%s': %s", what, path, gnutls_strerror(r));
}

static int set_priority(struct nbd_tls *t, const char *prio, struct sb_error **errp)
{
	int r = gnutls_priority_init(&t->priority, prio, NULL);

	return r < 0 ? sb_error_set(errp, "TLS: priority '%s': %s", prio, gnutls_strerror(r)) : 0;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int load_x509(struct nbd_tls *t, const char *dir, struct sb_error **errp)
{
	char ca[PATH_MAX], crl[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	struct stat st;
	int r;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return sb_error_set(errp, "TLS: certificate directory '%s': %s", dir,
				    errno ? strerror(errno) : "not a directory");
	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
	snprintf(crl, sizeof(crl), "%s/ca-crl.pem", dir);
	snprintf(cert, sizeof(cert), "%s/server-cert.pem", dir);
	snprintf(key, sizeof(key), "%s/server-key.pem", dir);

	r = gnutls_certificate_allocate_credentials(&t->x509);
	if (r < 0)
		return sb_error_set(errp, "TLS: %s", gnutls_strerror(r));
	r = gnutls_certificate_set_x509_key_file(t->x509, cert, key, GNUTLS_X509_FMT_PEM);
	if (r < 0)
		return tls_fail(errp, "server certificate or key", cert, r);
	if (file_exists(ca)) {
		r = gnutls_certificate_set_x509_trust_file(t->x509, ca, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return tls_fail(errp, "CA certificate", ca, r);
	} else if (t->verify_peer) {
		return sb_error_set(errp, "TLS: --tls-verify-peer needs '%s', the CA that "
				    "signs client certificates", ca);
	}
	if (file_exists(crl)) {
		r = gnutls_certificate_set_x509_crl_file(t->x509, crl, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return tls_fail(errp, "revocation list", crl, r);
	}
	return set_priority(t, PRIORITY_X509, errp);
}

static int load_psk(struct nbd_tls *t, const char *file, struct sb_error **errp)
{
	int fd, r;

	/* GnuTLS reads the file at each handshake: find a typo now. */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sb_error_set(errp, "TLS: PSK file '%s': %s", file, strerror(errno));
	close(fd);
	r = gnutls_psk_allocate_server_credentials(&t->psk);
	if (r < 0)
		return sb_error_set(errp, "TLS: %s", gnutls_strerror(r));
	r = gnutls_psk_set_server_credentials_file(t->psk, file);
	if (r < 0)
		return tls_fail(errp, "PSK file", file, r);
	return set_priority(t, PRIORITY_PSK, errp);
}

void nbd_tls_free(struct nbd_tls *t)
{
	if (!t)
		return;
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk)
		gnutls_psk_free_server_credentials(t->psk);
	if (t->priority)
		gnutls_priority_deinit(t->priority);
	free(t);
}

int nbd_tls_new(const struct sb_nbd_tls_config *cfg, struct nbd_tls **out,
		struct sb_error **errp)
{
	struct nbd_tls *t;
	int r;

	*out = NULL;
	if (cfg->mode == SB_NBD_TLS_OFF)
		return 0;
	if (!!cfg->certificates == !!cfg->psk_file)
		return sb_error_set(errp, "TLS: give a certificate directory or a PSK file, "
				    "one of them");
	if (cfg->verify_peer && !cfg->certificates)
		return sb_error_set(errp, "TLS: --tls-verify-peer checks X.509 client "
				    "certificates; a PSK identifies the client already");
	t = calloc(1, sizeof(*t));
	if (!t)
		return sb_error_set(errp, "TLS: out of memory");
	t->mode = cfg->mode;
	t->verify_peer = cfg->verify_peer;
	r = cfg->certificates ? load_x509(t, cfg->certificates, errp)
			      : load_psk(t, cfg->psk_file, errp);
	if (r < 0) {
		nbd_tls_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

bool nbd_tls_required(const struct nbd_tls *t)
{
	return t && t->mode == SB_NBD_TLS_REQUIRE;
}

/* ---- a connection's session ---- */

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct nbd_conn *c = p;
	struct nbd_tls_session *ts = c->tls;

	size_t n;

	if (ts->in_off == ts->in_len) {
		ssize_t r;

		if (len >= sizeof(ts->in))
			return recv(c->fd, buf, len, 0);  /* no use going through in */
		r = recv(c->fd, ts->in, sizeof(ts->in), 0);
		if (r <= 0)
			return r;
		ts->in_off = 0;
		ts->in_len = (size_t)r;
	}
	n = SB_MIN(len, ts->in_len - ts->in_off);
	memcpy(buf, ts->in + ts->in_off, n);
	ts->in_off += n;
	return (ssize_t)n;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct nbd_conn *c = p;

	return send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int nbd_tls_start(struct nbd_conn *c, const void *pre, size_t pre_len)
{
	const struct nbd_tls *t = c->srv->tls;
	struct nbd_tls_session *ts = calloc(1, sizeof(*ts));
	int r;

	if (!ts)
		return -ENOMEM;
	if (pre_len > sizeof(ts->in)) {  /* never: the input buffer is no larger */
		free(ts);
		return -EPROTO;
	}
	memcpy(ts->in, pre, pre_len);
	ts->in_len = pre_len;
	r = gnutls_init(&ts->s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
	if (r < 0) {
		free(ts);
		return -ENOMEM;
	}
	c->tls = ts;
	r = gnutls_priority_set(ts->s, t->priority);
	if (r >= 0 && t->x509) {
		r = gnutls_credentials_set(ts->s, GNUTLS_CRD_CERTIFICATE, t->x509);
		if (r >= 0 && t->verify_peer) {
			/* The handshake itself fails on a missing or untrusted
			 * client certificate. */
			gnutls_certificate_server_set_request(ts->s, GNUTLS_CERT_REQUIRE);
			gnutls_session_set_verify_cert(ts->s, NULL, 0);
		}
	} else if (r >= 0) {
		r = gnutls_credentials_set(ts->s, GNUTLS_CRD_PSK, t->psk);
	}
	if (r < 0) {
		sb_warn("%s: TLS: %s", c->name, gnutls_strerror(r));
		return -EPROTO;
	}
	gnutls_transport_set_ptr(ts->s, c);
	gnutls_transport_set_pull_function(ts->s, tls_pull);
	gnutls_transport_set_push_function(ts->s, tls_push);
	return 0;
}

static void tls_describe(struct nbd_conn *c)
{
	gnutls_session_t s = c->tls->s;
	char *desc = gnutls_session_get_desc(s);
	const char *user = c->srv->tls->psk ? gnutls_psk_server_get_username(s) : NULL;

	sb_debug("%s: TLS on, %s%s%s", c->name, desc ? desc : "?",
		 user ? ", PSK identity " : "", user ? user : "");
	gnutls_free(desc);
}

enum nbd_tls_step nbd_tls_handshake(struct nbd_conn *c)
{
	int r;

	for (;;) {
		r = gnutls_handshake(c->tls->s);
		if (r == GNUTLS_E_SUCCESS) {
			tls_describe(c);
			return NBD_TLS_DONE;
		}
		if (r == GNUTLS_E_AGAIN)
			return gnutls_record_get_direction(c->tls->s) ? NBD_TLS_WANT_WRITE
								       : NBD_TLS_WANT_READ;
		if (r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(r))
			continue;
		/* A wrong certificate or key is worth an operator's eye, but a
		 * flood of them must not fill the log. */
		if (nbd_ratelog_due(&c->srv->tls_failed)) {
			sb_warn("%s: TLS handshake failed: %s; %" PRIu64 " since the last "
				"such message", c->name, gnutls_strerror(r),
				c->srv->tls_failed.count);
			c->srv->tls_failed.count = 0;
		} else {
			sb_debug("%s: TLS handshake failed: %s", c->name, gnutls_strerror(r));
		}
		return NBD_TLS_FAILED;
	}
}

/* GnuTLS codes as the socket calls' errno, so one error path serves both. */
static ssize_t tls_result(struct nbd_conn *c, ssize_t r)
{
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_AGAIN) {
		errno = EAGAIN;
	} else if (r == GNUTLS_E_INTERRUPTED) {
		errno = EINTR;
	} else if (r == GNUTLS_E_PREMATURE_TERMINATION) {
		return 0;  /* closed without close_notify: a hang-up like any other */
	} else {
		sb_debug("%s: TLS: %s", c->name, gnutls_strerror((int)r));
		errno = EPROTO;
	}
	return -1;
}

ssize_t nbd_tls_recv(struct nbd_conn *c, void *buf, size_t len)
{
	return tls_result(c, gnutls_record_recv(c->tls->s, buf, len));
}

ssize_t nbd_tls_sendv(struct nbd_conn *c, const struct iovec *iov, size_t n)
{
	struct nbd_tls_session *ts = c->tls;
	unsigned char rec[NBD_TLS_RECORD];
	const void *buf = iov[0].iov_base;
	size_t len = iov[0].iov_len;
	ssize_t r;

	/* Short buffers (a reply's header, 4 KiB of data) share a record:
	 * one encryption and one send(2) for both.  GnuTLS keeps the record
	 * it could not send whole, so rec need not outlive this call. */
	if (!ts->retry && len < NBD_TLS_RECORD && n > 1) {
		len = 0;
		for (size_t i = 0; i < n && len < sizeof(rec); i++) {
			size_t k = SB_MIN(iov[i].iov_len, sizeof(rec) - len);
			memcpy(rec + len, iov[i].iov_base, k);
			len += k;
		}
		buf = rec;
	}
	r = ts->retry ? gnutls_record_send(ts->s, NULL, 0) : gnutls_record_send(ts->s, buf, len);

	ts->retry = r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED;
	return tls_result(c, r);
}

size_t nbd_tls_pending(const struct nbd_conn *c)
{
	const struct nbd_tls_session *ts = c->tls;

	return ts ? gnutls_record_check_pending(ts->s) + (ts->in_len - ts->in_off) : 0;
}

void nbd_tls_close(struct nbd_conn *c)
{
	struct nbd_tls_session *ts = c->tls;

	if (!ts)
		return;
	/* One try at close_notify, without waiting for the client's. */
	if (c->tls_state == NBD_TLS_ON && c->fd >= 0)
		gnutls_bye(ts->s, GNUTLS_SHUT_WR);
	gnutls_deinit(ts->s);
	free(ts);
	c->tls = NULL;
}
