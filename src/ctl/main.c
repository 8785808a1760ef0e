/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblkctl's entry point: global options, the command
 * table, help texts, and the exit codes scripts rely on. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/loop.h"
#include "base/parse.h"
#include "ctl/ctl.h"

#define DEFAULT_TIMEOUT_NS (10 * SB_NS_PER_SEC)

struct command {
	const char *name;
	enum ctl_status (*fn)(struct ctl_globals *g, int argc, char **argv);
	const char *summary;      /* one line in the overview */
	const char *help;         /* usage and options */
};

static const struct command commands[] = {
	{ "status", ctl_cmd_status, "the disks: state, held requests, errors, backend",
	  "Usage: steadyblkctl status [--watch [--interval D]]\n"
	  "\n"
	  "A table of the disks: state (and for how long it has been hung), requests held\n"
	  "and their bytes, the age of the oldest, retries and errors since start, the\n"
	  "last error, the backend's connection, the clients connected.\n"
	  "\n"
	  "  -w, --watch          refresh in place until Ctrl-C, at once on every event\n"
	  "  -i, --interval D     refresh every D with --watch (1s); 500ms, 2s ...\n" },
	{ "events", ctl_cmd_events, "follow the event stream",
	  "Usage: steadyblkctl events [--json]\n"
	  "\n"
	  "Follows the daemon's events until Ctrl-C or until the daemon goes away: one\n"
	  "line per event, with its local time, its disk and what it means.\n"
	  "\n"
	  "  -j, --json           print each event as the JSON line the daemon sent\n" },
	{ "set-policy", ctl_cmd_set_policy, "change the error policy, live",
	  "Usage: steadyblkctl set-policy [--disk D] POLICY-OPTION...\n"
	  "\n"
	  "Changes the options given, and only those; the new policy applies at once,\n"
	  "to the requests already held too.  Names and values are the daemon's:\n"
	  "\n"
	  "  -d, --disk NAME            the disk (may be left out if there is one)\n"
	  "      --rerror ACTION        report|ignore|stop|enospc|retry for reads\n"
	  "      --werror ACTION        the same for writes, flushes, trims, zeroes\n"
	  "      --retry-interval D     first delay between probes\n"
	  "      --retry-max-interval D backoff ceiling\n"
	  "      --retry-timeout D      per request, from its first failure; 0 = forever\n"
	  "      --retry-then ACTION    after retry-timeout: report|stop\n"
	  "      --retry-errors LIST    errno names to retry, e.g. EIO,ETIMEDOUT\n"
	  "      --max-held-requests N  memory bound: held and queued requests ...\n"
	  "      --max-held-bytes SIZE  ... and their bytes\n"
	  "  Durations: 250ms, 2s, 1m (a bare number is seconds).  Sizes: 4096, 64k, 512M.\n" },
	{ "cont", ctl_cmd_cont, "resume a stopped disk",
	  "Usage: steadyblkctl cont [--disk D]\n"
	  "\n"
	  "Resumes a stopped disk: its requests are re-issued in their order.\n"
	  "\n"
	  "  -d, --disk NAME      the disk (may be left out if there is one)\n" },
	{ "fail-held", ctl_cmd_fail_held, "give up: fail every held request now",
	  "Usage: steadyblkctl fail-held [--disk D]\n"
	  "\n"
	  "Completes every request held on the disk with its error, now; the disk\n"
	  "serves new requests normally again.\n"
	  "\n"
	  "  -d, --disk NAME      the disk (may be left out if there is one)\n" },
	{ "retry-now", ctl_cmd_retry_now, "probe a hung disk at once",
	  "Usage: steadyblkctl retry-now [--disk D]\n"
	  "\n"
	  "Probes a hung disk now instead of at the end of its backoff: for when the\n"
	  "storage is known to be back.\n"
	  "\n"
	  "  -d, --disk NAME      the disk (may be left out if there is one)\n" },
	{ "query", ctl_cmd_query, "every disk, as JSON (QMP query-disks)",
	  "Usage: steadyblkctl query\n"
	  "\n"
	  "Prints what QMP query-disks returns, indented: every figure the daemon keeps,\n"
	  "for scripts (e.g. steadyblkctl query | jq '.[0].held').\n" },
};

static const char global_help[] =
	"Options (before or after the command):\n"
	"  -s, --socket PATH    the daemon's --qmp socket (default: $STEADYBLK_QMP)\n"
	"  -t, --timeout D      wait at most D for the daemon: to connect, for each\n"
	"                       answer (10s)\n"
	"  -h, --help           this text; COMMAND --help for a command's\n"
	"  -V, --version        the version\n"
	"\n"
	"Exit status: 0 done, 1 the daemon refused the command (its message on\n"
	"stderr), 2 bad command line, 3 the daemon cannot be reached (no socket,\n"
	"connection refused or lost, no answer in time).  See steadyblkctl(8).\n";

static void usage(FILE *out)
{
	fprintf(out, "Usage: steadyblkctl [OPTIONS] COMMAND [COMMAND OPTIONS]\n\n"
		     "Watches and steers a running steadyblk through its management socket.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < SB_ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-12s %s\n\n%s", "help", "this text, or a command's: help COMMAND",
		global_help);
}

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < SB_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

enum ctl_status ctl_fail(enum ctl_status status, const char *fmt, ...)
{
	va_list ap;

	fputs("steadyblkctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static enum ctl_status global_option(struct ctl_globals *g, int c, const char *arg)
{
	SB_AUTOERR struct sb_error *err = NULL;

	switch (c) {
	case 's':
		g->socket = arg;
		return CTL_CONTINUE;
	case 't':
		if (sb_parse_duration(arg, &g->timeout_ns, &err) < 0)
			return ctl_fail(CTL_USAGE, "--timeout: %s", err->msg);
		if (!g->timeout_ns)
			return ctl_fail(CTL_USAGE, "--timeout: must be more than 0");
		return CTL_CONTINUE;
	}
	return CTL_USAGE;
}

/* getopt's complaint (it returned @c, '?' or ':'), in our words. */
static enum ctl_status bad_option(const char *cmd, char **argv, int c)
{
	if (c == ':')
		return ctl_fail(CTL_USAGE, "%s: %s: missing argument", cmd, argv[optind - 1]);
	if (optopt)
		return ctl_fail(CTL_USAGE, "%s: -%c: unknown option (see --help)", cmd, optopt);
	return ctl_fail(CTL_USAGE, "%s: %s: unknown option (see --help)", cmd, argv[optind - 1]);
}

enum ctl_status ctl_common_option(struct ctl_globals *g, char **argv, int c)
{
	const struct command *cmd = command_find(argv[0]);

	switch (c) {
	case 's':
	case 't':
		return global_option(g, c, optarg);
	case 'h':
		fputs(cmd->help, stdout);
		printf("\n%s", global_help);
		return CTL_OK;
	}
	return bad_option(argv[0], argv, c);
}

enum ctl_status ctl_no_arguments(int argc, char **argv)
{
	if (optind < argc)
		return ctl_fail(CTL_USAGE, "%s: unexpected argument '%s' (see %s --help)", argv[0],
				argv[optind], argv[0]);
	return CTL_CONTINUE;
}

static const struct option global_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct ctl_globals g = { .socket = getenv("STEADYBLK_QMP"),
				 .timeout_ns = DEFAULT_TIMEOUT_NS };
	const struct command *cmd;
	enum ctl_status st;
	int c;

	if (g.socket && !*g.socket)
		g.socket = NULL;
	opterr = 0; /* our own one-line errors */
	while ((c = getopt_long(argc, argv, "+:s:t:hV", global_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CTL_OK;
		case 'V':
			printf("steadyblkctl %s\n", SB_VERSION);
			return CTL_OK;
		case 's':
		case 't':
			if ((st = global_option(&g, c, optarg)) != CTL_CONTINUE)
				return st;
			break;
		default:
			return bad_option("steadyblkctl", argv, c);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;

		if (!name) {
			usage(stdout);
			return CTL_OK;
		}
		if (!(cmd = command_find(name)))
			return ctl_fail(CTL_USAGE, "help: '%s' is not a command (see --help)", name);
		fputs(cmd->help, stdout);
		printf("\n%s", global_help);
		return CTL_OK;
	}
	if (!(cmd = command_find(argv[optind])))
		return ctl_fail(CTL_USAGE, "'%s' is not a command (see --help)", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0; /* a full reset of getopt for the command's own options */
	return cmd->fn(&g, argc, argv);
}
