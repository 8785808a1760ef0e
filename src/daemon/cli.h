/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the command line: options into a struct sb_config. */
#ifndef SB_CLI_H
#define SB_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "base/error.h"
#include "core/policy.h"
#include "exports/nbd/server.h"

#define SB_MAX_EXPORTS 16
#define SB_DEFAULT_EXPORT "nbd://127.0.0.1:10809/"
#define SB_DEFAULT_UNFLUSHED_BYTES (64u << 20)

struct sb_config {
	const char *backend;                 /* BACKEND argument */
	const char *name;                    /* disk name, "disk0" */
	const char *exports[SB_MAX_EXPORTS]; /* --export URIs */
	unsigned nexports;
	struct sb_policy policy;
	struct sb_backend_config backend_cfg;/* --read-only, --cache, --backend-timeout */
	bool read_only;
	unsigned max_connections;            /* --max-connections */
	uint64_t stall_timeout_ns;           /* --stall-timeout; 0 = never */
	struct sb_nbd_tls_config tls;        /* --tls ... */
	const char *qmp_path;
	const char *metrics_addr;            /* --metrics: HOST:PORT or unix:PATH */
	const char *pidfile;
	const char *run_cmd;                 /* captive mode */
	bool foreground;
	bool fault_injection;
	const char *fault_file;
	uint64_t shutdown_timeout_ns;
	uint64_t max_unflushed_bytes;        /* the unflushed-write log; 0 = off */
	int verbose;
};

enum sb_cli_result {
	SB_CLI_RUN,      /* serve */
	SB_CLI_EXIT_OK,  /* --help or --version printed */
	SB_CLI_ERROR,    /* *errp set: print it, exit 2 */
};

/* Parses argv into @cfg (filled with defaults first).  Prints --help and
 * --version itself.  Strings in @cfg point into argv. */
enum sb_cli_result sb_cli_parse(int argc, char **argv, struct sb_config *cfg,
				struct sb_error **errp);

#endif
