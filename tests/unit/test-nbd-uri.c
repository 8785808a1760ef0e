/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the NBD export URI parser and formatter. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "exports/nbd/internal.h"

/* Parses @s, which must succeed. */
static void parse_ok(const char *s, struct nbd_uri *u)
{
	SB_AUTOERR struct sb_error *err = NULL;

	if (nbd_uri_parse(s, u, &err) < 0)
		fail_msg("'%s' refused: %s", s, err->msg);
}

/* Parses @s, which must fail with a message containing @needle. */
static void parse_bad(const char *s, const char *needle)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct nbd_uri u;

	if (nbd_uri_parse(s, &u, &err) == 0)
		fail_msg("'%s' accepted", s);
	assert_non_null(err);
	if (!strstr(err->msg, needle))
		fail_msg("'%s': message '%s' lacks '%s'", s, err->msg, needle);
	assert_null(u.name);
	assert_null(u.socket);
}

static void test_unix_default_export(void **state)
{
	struct nbd_uri u;

	parse_ok("nbd+unix:///?socket=/run/sb.sock", &u);
	assert_int_equal(u.transport, NBD_UNIX);
	assert_string_equal(u.name, "");
	assert_string_equal(u.socket, "/run/sb.sock");
	nbd_uri_clear(&u);

	/* No path at all is the default export too. */
	parse_ok("nbd+unix://?socket=/run/sb.sock", &u);
	assert_string_equal(u.name, "");
	nbd_uri_clear(&u);
}

static void test_unix_named_and_decoded(void **state)
{
	struct nbd_uri u;

	parse_ok("nbd+unix:///my%20disk?socket=/tmp/a%26b.sock", &u);
	assert_string_equal(u.name, "my disk");
	assert_string_equal(u.socket, "/tmp/a&b.sock");
	nbd_uri_clear(&u);

	/* Only the leading '/' goes: "//disk" names "/disk". */
	parse_ok("nbd+unix:////disk?socket=s", &u);
	assert_string_equal(u.name, "/disk");
	assert_string_equal(u.socket, "s");
	nbd_uri_clear(&u);
}

static void test_tcp(void **state)
{
	struct nbd_uri u;
	char ip[INET6_ADDRSTRLEN];

	parse_ok("nbd://127.0.0.1/", &u);
	assert_int_equal(u.transport, NBD_TCP);
	assert_int_equal(u.addr.ss_family, AF_INET);
	assert_int_equal(nbd_uri_port(&u), 10809);
	assert_string_equal(u.name, "");
	nbd_uri_clear(&u);

	parse_ok("nbd://127.0.0.1:10900/disk1", &u);
	assert_int_equal(nbd_uri_port(&u), 10900);
	assert_string_equal(u.name, "disk1");
	nbd_uri_clear(&u);

	parse_ok("nbd://[::1]:0", &u);
	assert_int_equal(u.addr.ss_family, AF_INET6);
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&u.addr)->sin6_addr, ip, sizeof(ip));
	assert_string_equal(ip, "::1");
	assert_int_equal(nbd_uri_port(&u), 0);
	assert_string_equal(u.name, "");
	nbd_uri_clear(&u);

	parse_ok("nbd+tcp://[::1]/x", &u);
	assert_int_equal(nbd_uri_port(&u), 10809);
	nbd_uri_clear(&u);
}

static void test_errors(void **state)
{
	parse_bad("/tmp/sock", "not an NBD URI");
	parse_bad("http://127.0.0.1/", "unknown scheme");
	parse_bad("nbds://127.0.0.1/", "TLS");
	parse_bad("nbds+unix:///?socket=/s", "TLS");
	parse_bad("nbd+unix:///disk", "missing socket");
	parse_bad("nbd+unix:///?socket=", "needs a path");
	parse_bad("nbd+unix:///?socket=/a&socket=/b", "twice");
	parse_bad("nbd+unix:///?socket=/a&tls=on", "unknown URI parameter 'tls'");
	parse_bad("nbd+unix://host/?socket=/a", "takes no host");
	parse_bad("nbd://localhost/", "numeric IPv4");
	parse_bad("nbd:///disk", "missing host");
	parse_bad("nbd://127.0.0.1:/", "bad port");
	parse_bad("nbd://127.0.0.1:70000/", "bad port");
	parse_bad("nbd://127.0.0.1:12x/", "bad port");
	parse_bad("nbd://[::1/", "missing ']'");
	parse_bad("nbd://[zz]/", "bad IPv6");
	parse_bad("nbd://user@127.0.0.1/", "user names");
	parse_bad("nbd://127.0.0.1/?socket=/a", "unknown URI parameter");
	parse_bad("nbd://127.0.0.1/a%2", "percent-escape");
	parse_bad("nbd://127.0.0.1/a%zz", "percent-escape");
	parse_bad("nbd://127.0.0.1/a%00b", "NUL");
	parse_bad("nbd://127.0.0.1/a#frag", "fragments");
}

static void test_long_name(void **state)
{
	char uri[5200];

	strcpy(uri, "nbd://127.0.0.1/");
	memset(uri + strlen(uri), 'x', 4097);
	uri[16 + 4097] = '\0';
	parse_bad(uri, "longer than 4096");
}

static void test_format_round_trip(void **state)
{
	static const char *const canon[] = {
		"nbd+unix:///?socket=/run/sb.sock",
		"nbd+unix:///my%20disk?socket=/tmp/a%26b.sock",
		"nbd://127.0.0.1:10809/",
		"nbd://[::1]:10900/disk1",
	};
	char buf[256];
	struct nbd_uri u;

	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		parse_ok(canon[i], &u);
		assert_true(nbd_uri_format(&u, buf, sizeof(buf)));
		assert_string_equal(buf, canon[i]);
		nbd_uri_clear(&u);
	}

	/* The default port is written out; a short buffer is reported. */
	parse_ok("nbd://10.0.0.2", &u);
	assert_true(nbd_uri_format(&u, buf, sizeof(buf)));
	assert_string_equal(buf, "nbd://10.0.0.2:10809/");
	assert_false(nbd_uri_format(&u, buf, 10));
	nbd_uri_where(&u, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2:10809");
	nbd_uri_clear(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix_default_export),
		cmocka_unit_test(test_unix_named_and_decoded),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_format_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
