/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the command line: options, defaults, validation, --help. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/loop.h"
#include "base/parse.h"
#include "core/policy-options.h"
#include "daemon/cli.h"
#include "exports/nbd/server.h"

enum {
	OPT_CACHE = SB_OPT_POLICY_END, OPT_QMP, OPT_RUN, OPT_NAME, OPT_FAULT_INJECTION,
	OPT_FAULT_FILE, OPT_SHUTDOWN_TIMEOUT, OPT_BACKEND_TIMEOUT, OPT_METRICS,
	OPT_MAX_CONNECTIONS, OPT_STALL_TIMEOUT,
	OPT_BACKEND_TIMEOUT_ACTION, OPT_MAX_UNFLUSHED_BYTES,
	OPT_TLS, OPT_TLS_CERTIFICATES, OPT_TLS_PSK, OPT_TLS_VERIFY_PEER,
};

static const struct option long_options[] = {
	{ "export", required_argument, NULL, 'e' },
	SB_POLICY_LONG_OPTIONS,
	{ "read-only", no_argument, NULL, 'r' },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT },
	{ "tls", required_argument, NULL, OPT_TLS },
	{ "tls-certificates", required_argument, NULL, OPT_TLS_CERTIFICATES },
	{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
	{ "tls-verify-peer", no_argument, NULL, OPT_TLS_VERIFY_PEER },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "pidfile", required_argument, NULL, 'P' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "run", required_argument, NULL, OPT_RUN },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "fault-injection", no_argument, NULL, OPT_FAULT_INJECTION },
	{ "fault-file", required_argument, NULL, OPT_FAULT_FILE },
	{ "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "backend-timeout", required_argument, NULL, OPT_BACKEND_TIMEOUT },
	{ "backend-timeout-action", required_argument, NULL, OPT_BACKEND_TIMEOUT_ACTION },
	{ "max-unflushed-bytes", required_argument, NULL, OPT_MAX_UNFLUSHED_BYTES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: steadyblk [OPTIONS] BACKEND\n"
"\n"
"Serve BACKEND as a virtual disk over NBD or vhost-user-blk and, when the\n"
"storage fails, hold and retry the I/O instead of failing it, so clients see a\n"
"slow disk, not a broken one.\n"
"\n"
"BACKEND:\n"
"  PATH | file:PATH          a regular file or block device (io_uring)\n"
"  nbd://HOST[:PORT]/NAME    a remote NBD server (libnbd), reconnected on loss\n"
"  nbd+unix:///NAME?socket=PATH\n"
"  nbds://..., nbds+unix://...  the same over TLS: ?tls-psk-file=FILE, or\n"
"                            ?tls-certificates=DIR&tls-verify-peer=false\n"
"  iscsi://[USER[%%PASSWORD]@]HOST[:PORT]/TARGET-IQN/LUN\n"
"                            an iSCSI LUN (libiscsi), reconnected on loss\n"
"\n"
"Exports:\n"
"  -e, --export URI          serve at URI (repeatable); default " SB_DEFAULT_EXPORT "\n"
"                              nbd+unix:///NAME?socket=PATH   unix socket\n"
"                              nbd://127.0.0.1:PORT/NAME      TCP\n"
"                              vhost-user-blk:///PATH[?num-queues=N&read-only=on&serial=ID]\n"
"                                the VM's virtio-blk device itself, for QEMU's\n"
"                                vhost-user-blk-pci (guest memory shared as memfd)\n"
"  -r, --read-only           refuse writes (EPERM)\n"
"      --max-connections N   clients at once, handshakes included (256); one more\n"
"                            is accepted and closed at once\n"
"      --stall-timeout D     a client that holds memory other clients wait for\n"
"                            and moves almost none of it for D is disconnected\n"
"                            (30s); 0 = never\n"
"      --name NAME           the disk's name in events and queries (disk0)\n"
"\n"
"TLS for NBD clients (GnuTLS, NBD_OPT_STARTTLS):\n"
"      --tls MODE            off, on (clients choose) or require (off)\n"
"      --tls-certificates DIR  X.509: server-cert.pem, server-key.pem, and\n"
"                            optionally ca-cert.pem and ca-crl.pem\n"
"      --tls-verify-peer     clients must show a certificate ca-cert.pem signed\n"
"      --tls-psk FILE        pre-shared keys instead, as psktool writes them\n"
"\n"
"Error policy (QEMU's vocabulary):\n"
"      --rerror ACTION       on a failed read (block status, cache):\n"
"                            report|ignore|stop|enospc|retry (report)\n"
"      --werror ACTION       on a failed write, flush, trim, zero: same actions (report)\n"
"      --retry-interval D    first delay between probes (1s)\n"
"      --retry-max-interval D  backoff ceiling (30s); delays double, with jitter\n"
"      --retry-timeout D     per request, from its first failure; 0 = forever (0)\n"
"      --retry-then ACTION   after retry-timeout: report|stop (report)\n"
"      --retry-errors LIST   errno names to retry, e.g. EIO,ETIMEDOUT (transient ones)\n"
"      --max-held-requests N memory bound: held+queued requests (1024) ...\n"
"      --max-held-bytes SIZE ... and their bytes (256M); beyond it clients wait\n"
"  Durations: 250ms, 2s, 1m; at most 8760h.  Sizes: 4096, 64k, 512M, 2G.\n"
"\n"
"Backend:\n"
"      --cache MODE          writeback (page cache) or none (O_DIRECT) (writeback)\n"
"      --max-unflushed-bytes SIZE  writes kept since the backend's last flush,\n"
"                            written again if it loses its cache (64M); when\n"
"                            half full the backend is flushed; 0 = off (unsafe)\n"
"      --backend-timeout D   per request, for network backends (30s)\n"
"      --backend-timeout-action wait|reconnect\n"
"                            nbd: a request past the timeout is waited for and\n"
"                            logged, or abandons the connection (wait)\n"
"      --fault-injection     insert the fault filter, controlled over --qmp\n"
"      --fault-file PATH     insert the fault filter; its rules apply while PATH exists\n"
"\n"
"Daemon:\n"
"      --qmp PATH            management socket (QMP wire protocol)\n"
"      --metrics ADDR        Prometheus metrics at http://ADDR/metrics; ADDR is\n"
"                            127.0.0.1:PORT, [::1]:PORT or unix:PATH\n"
"  -P, --pidfile PATH        written once every listener is ready\n"
"  -f, --foreground          do not daemonise; log to stderr\n"
"      --run CMD             captive mode: serve while CMD runs (its $uri is the\n"
"                            first export), then exit with CMD's status\n"
"      --shutdown-timeout D  on SIGTERM, wait this long for requests in flight (10s)\n"
"  -v, --verbose             debug messages\n"
"  -h, --help                this text\n"
"  -V, --version             the version\n"
"\n"
"Exit status: 0 on a clean shutdown, 1 on a failure at run time, 2 on bad\n"
"options; in captive mode, the command's status.  See steadyblk(8).\n");
}

/* Each option's parser names the option in its error, so the user knows
 * which of twenty flags was wrong. */
static int opt_error(struct sb_error **errp, const char *opt)
{
	sb_error_prefix(*errp, "--%s", opt);
	return -1;
}

static int parse_duration_opt(const char *opt, const char *arg, uint64_t *out,
			      struct sb_error **errp)
{
	return sb_parse_duration(arg, out, errp) < 0 ? opt_error(errp, opt) : 0;
}

static int parse_option(int c, const char *arg, struct sb_config *cfg, struct sb_error **errp)
{
	struct sb_policy *p = &cfg->policy;
	enum sb_action a;
	uint64_t v;

	switch (c) {
	case 'e':
		if (cfg->nexports == SB_MAX_EXPORTS)
			return sb_error_set(errp, "--export: at most %d exports", SB_MAX_EXPORTS);
		cfg->exports[cfg->nexports++] = arg;
		return 0;
	case SB_OPT_RERROR:
	case SB_OPT_WERROR:
		if (sb_action_parse(arg, &a, errp) < 0)
			return opt_error(errp, c == SB_OPT_RERROR ? "rerror" : "werror");
		if (c == SB_OPT_RERROR)
			sb_policy_set_rerror(p, a);
		else
			sb_policy_set_werror(p, a);
		return 0;
	case SB_OPT_RETRY_INTERVAL:
		return parse_duration_opt("retry-interval", arg, &p->retry_interval_ns, errp);
	case SB_OPT_RETRY_MAX_INTERVAL:
		return parse_duration_opt("retry-max-interval", arg, &p->retry_max_interval_ns, errp);
	case SB_OPT_RETRY_TIMEOUT:
		return parse_duration_opt("retry-timeout", arg, &p->retry_timeout_ns, errp);
	case SB_OPT_RETRY_THEN:
		if (sb_action_parse(arg, &a, errp) < 0)
			return opt_error(errp, "retry-then");
		if (a != SB_ACTION_REPORT && a != SB_ACTION_STOP)
			return sb_error_set(errp, "--retry-then: '%s' must be report or stop", arg);
		p->retry_then = a;
		return 0;
	case SB_OPT_RETRY_ERRORS:
		return sb_errset_parse(arg, &p->retry_errors, errp) < 0
			       ? opt_error(errp, "retry-errors") : 0;
	case SB_OPT_MAX_HELD_REQUESTS:
		if (sb_parse_uint(arg, UINT32_MAX, &v, errp) < 0)
			return opt_error(errp, "max-held-requests");
		p->max_held_requests = (uint32_t)v;
		return 0;
	case SB_OPT_MAX_HELD_BYTES:
		return sb_parse_size(arg, &p->max_held_bytes, errp) < 0
			       ? opt_error(errp, "max-held-bytes") : 0;
	case 'r':
		cfg->read_only = true;
		cfg->backend_cfg.read_only = true;
		return 0;
	case OPT_CACHE:
		if (strcmp(arg, "writeback") == 0)
			cfg->backend_cfg.cache = SB_CACHE_WRITEBACK;
		else if (strcmp(arg, "none") == 0)
			cfg->backend_cfg.cache = SB_CACHE_NONE;
		else
			return sb_error_set(errp, "--cache: '%s' must be writeback or none", arg);
		return 0;
	case OPT_TLS:
		if (strcmp(arg, "off") == 0)
			cfg->tls.mode = SB_NBD_TLS_OFF;
		else if (strcmp(arg, "on") == 0)
			cfg->tls.mode = SB_NBD_TLS_ON;
		else if (strcmp(arg, "require") == 0)
			cfg->tls.mode = SB_NBD_TLS_REQUIRE;
		else
			return sb_error_set(errp, "--tls: '%s' must be off, on or require", arg);
		return 0;
	case OPT_TLS_CERTIFICATES:
		cfg->tls.certificates = arg;
		return 0;
	case OPT_TLS_PSK:
		cfg->tls.psk_file = arg;
		return 0;
	case OPT_TLS_VERIFY_PEER:
		cfg->tls.verify_peer = true;
		return 0;
	case OPT_QMP:
		cfg->qmp_path = arg;
		return 0;
	case OPT_MAX_CONNECTIONS:
		if (sb_parse_uint(arg, SB_NBD_MAX_CONNECTIONS_LIMIT, &v, errp) < 0)
			return opt_error(errp, "max-connections");
		if (v == 0)
			return sb_error_set(errp, "--max-connections: must be at least 1");
		cfg->max_connections = (unsigned)v;
		return 0;
	case OPT_STALL_TIMEOUT:
		return parse_duration_opt("stall-timeout", arg, &cfg->stall_timeout_ns, errp);
	case OPT_METRICS:
		cfg->metrics_addr = arg;
		return 0;
	case 'P':
		cfg->pidfile = arg;
		return 0;
	case 'f':
		cfg->foreground = true;
		return 0;
	case OPT_RUN:
		cfg->run_cmd = arg;
		cfg->foreground = true;
		return 0;
	case OPT_NAME:
		if (!*arg || strpbrk(arg, " \t\n\"\\"))
			return sb_error_set(errp, "--name: '%s' must be a non-empty word", arg);
		cfg->name = arg;
		return 0;
	case OPT_FAULT_INJECTION:
		cfg->fault_injection = true;
		return 0;
	case OPT_FAULT_FILE:
		cfg->fault_file = arg;
		cfg->fault_injection = true;
		return 0;
	case OPT_SHUTDOWN_TIMEOUT:
		return parse_duration_opt("shutdown-timeout", arg, &cfg->shutdown_timeout_ns, errp);
	case OPT_BACKEND_TIMEOUT:
		return parse_duration_opt("backend-timeout", arg, &cfg->backend_cfg.timeout_ns, errp);
	case OPT_BACKEND_TIMEOUT_ACTION:
		if (strcmp(arg, "wait") == 0)
			cfg->backend_cfg.timeout_action = SB_TIMEOUT_WAIT;
		else if (strcmp(arg, "reconnect") == 0)
			cfg->backend_cfg.timeout_action = SB_TIMEOUT_RECONNECT;
		else
			return sb_error_set(errp, "--backend-timeout-action: '%s' must be wait or "
					    "reconnect", arg);
		return 0;
	case OPT_MAX_UNFLUSHED_BYTES:
		return sb_parse_size(arg, &cfg->max_unflushed_bytes, errp) < 0
			       ? opt_error(errp, "max-unflushed-bytes") : 0;
	case 'v':
		cfg->verbose++;
		return 0;
	default:
		return sb_error_set(errp, "unknown option (see --help)");
	}
}

static int validate_tls(const struct sb_nbd_tls_config *t, struct sb_error **errp)
{
	const char *given = t->certificates ? "--tls-certificates"
			    : t->psk_file   ? "--tls-psk"
			    : t->verify_peer ? "--tls-verify-peer" : NULL;

	if (t->mode == SB_NBD_TLS_OFF)
		return given ? sb_error_set(errp, "%s: TLS is off; add --tls on or --tls require",
					    given) : 0;
	if (t->certificates && t->psk_file)
		return sb_error_set(errp, "--tls-certificates and --tls-psk: give one of them");
	if (!t->certificates && !t->psk_file)
		return sb_error_set(errp, "--tls: give --tls-certificates DIR or --tls-psk FILE");
	if (t->verify_peer && !t->certificates)
		return sb_error_set(errp, "--tls-verify-peer: checks X.509 client certificates; "
				    "with --tls-psk the key identifies the client");
	return 0;
}

enum sb_cli_result sb_cli_parse(int argc, char **argv, struct sb_config *cfg,
				struct sb_error **errp)
{
	int c;

	memset(cfg, 0, sizeof(*cfg));
	sb_policy_init(&cfg->policy);
	cfg->name = "disk0";
	cfg->shutdown_timeout_ns = 10 * SB_NS_PER_SEC;
	cfg->max_connections = SB_NBD_DEFAULT_MAX_CONNECTIONS;
	cfg->stall_timeout_ns = SB_NBD_DEFAULT_STALL_NS;
	cfg->backend_cfg.timeout_ns = 30 * SB_NS_PER_SEC;
	cfg->max_unflushed_bytes = SB_DEFAULT_UNFLUSHED_BYTES;

	opterr = 0; /* we print our own one-line errors */
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:e:rP:fvhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return SB_CLI_EXIT_OK;
		case 'V':
			printf("steadyblk %s\n", SB_VERSION);
			return SB_CLI_EXIT_OK;
		case '?':
			if (optopt)
				sb_error_set(errp, "-%c: unknown option or missing argument (see --help)", optopt);
			else
				sb_error_set(errp, "%s: unknown option or missing argument (see --help)",
					     argv[optind - 1]);
			return SB_CLI_ERROR;
		case ':':
			sb_error_set(errp, "%s: missing argument", argv[optind - 1]);
			return SB_CLI_ERROR;
		default:
			if (parse_option(c, optarg, cfg, errp) < 0)
				return SB_CLI_ERROR;
		}
	}
	if (optind >= argc) {
		sb_error_set(errp, "BACKEND is missing: give a file, e.g. 'steadyblk disk.img' (see --help)");
		return SB_CLI_ERROR;
	}
	if (argc - optind > 1) {
		sb_error_set(errp, "'%s': only one BACKEND is served per daemon", argv[optind + 1]);
		return SB_CLI_ERROR;
	}
	cfg->backend = argv[optind];
	if (sb_policy_validate(&cfg->policy, errp) < 0) {
		sb_error_prefix(*errp, "error policy");
		return SB_CLI_ERROR;
	}
	if (validate_tls(&cfg->tls, errp) < 0)
		return SB_CLI_ERROR;
	if (cfg->nexports == 0 && !cfg->run_cmd)
		cfg->exports[cfg->nexports++] = SB_DEFAULT_EXPORT;
	return SB_CLI_RUN;
}
