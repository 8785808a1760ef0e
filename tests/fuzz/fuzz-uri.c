/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: fuzzes both NBD URI parsers with the same input (a string;
 * it ends at its first NUL): the export's (exports/nbd/uri.c, for
 * --export) and the NBD backend's (backends/nbd-uri.c, for --backend).
 * For an export URI that parses, the canonical form nbd_uri_format writes
 * must parse back to the same export: same transport, name, socket and
 * address (a form that does not would be announced to clients, --run's
 * $uri, and be wrong). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/nbd-internal.h"
#include "exports/nbd/internal.h"
#include "fuzz.h"

static void check_export_uri(const char *s)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct nbd_uri u, again;
	char canon[16384], canon2[16384], where[64];

	if (nbd_uri_parse(s, &u, &err) < 0) {
		if (!err || u.name || u.socket)
			fuzz_fail("a refused URI left no error, or left memory behind");
		return;
	}
	nbd_uri_where(&u, where, sizeof(where)); /* truncates, never overflows */
	nbd_uri_port(&u);
	if (!nbd_uri_format(&u, canon, sizeof(canon))) {
		nbd_uri_clear(&u);
		return;
	}
	if (nbd_uri_parse(canon, &again, &err) < 0)
		fuzz_fail("'%s' parses, its canonical form '%s' does not: %s", s, canon, err->msg);
	if (again.transport != u.transport || strcmp(again.name, u.name) != 0 ||
	    (u.socket == NULL) != (again.socket == NULL) ||
	    (u.socket && strcmp(u.socket, again.socket) != 0) ||
	    !nbd_uri_format(&again, canon2, sizeof(canon2)) || strcmp(canon, canon2) != 0)
		fuzz_fail("'%s' and its canonical form '%s' name different exports", s, canon);
	nbd_uri_clear(&again);
	nbd_uri_clear(&u);
}

static void check_backend_uri(const char *s)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct nbdbe_target t;

	if (sb_nbdbe_target_parse(s, &t, &err) < 0) {
		if (!err || t.host || t.port || t.socket || t.export_name)
			fuzz_fail("a refused backend URI left no error, or left memory behind");
		return;
	}
	if (!t.export_name || (t.is_unix ? !t.socket || t.socket[0] != '/' : !t.host || !t.port))
		fuzz_fail("backend URI '%s' parsed with fields missing", s);
	sb_nbdbe_target_clear(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	fuzz_init();
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_export_uri(s);
	check_backend_uri(s);
	free(s);
	return 0;
}
