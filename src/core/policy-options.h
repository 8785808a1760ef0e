/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the error policy's long options, one table for the daemon's
 * command line and for `steadyblkctl set-policy`, so that both spell every
 * option the same way (the values go through policy.h's and parse.h's
 * parsers in both). */
#ifndef SB_POLICY_OPTIONS_H
#define SB_POLICY_OPTIONS_H

#include <getopt.h>

enum sb_policy_option {
	SB_OPT_RERROR = 256,
	SB_OPT_WERROR,
	SB_OPT_RETRY_INTERVAL,
	SB_OPT_RETRY_MAX_INTERVAL,
	SB_OPT_RETRY_TIMEOUT,
	SB_OPT_RETRY_THEN,
	SB_OPT_RETRY_ERRORS,
	SB_OPT_MAX_HELD_REQUESTS,
	SB_OPT_MAX_HELD_BYTES,
	SB_OPT_POLICY_END, /* the first value a program may use for its own options */
};

#define SB_POLICY_LONG_OPTIONS                                                      \
	{ "rerror", required_argument, NULL, SB_OPT_RERROR },                       \
	{ "werror", required_argument, NULL, SB_OPT_WERROR },                       \
	{ "retry-interval", required_argument, NULL, SB_OPT_RETRY_INTERVAL },       \
	{ "retry-max-interval", required_argument, NULL, SB_OPT_RETRY_MAX_INTERVAL }, \
	{ "retry-timeout", required_argument, NULL, SB_OPT_RETRY_TIMEOUT },         \
	{ "retry-then", required_argument, NULL, SB_OPT_RETRY_THEN },               \
	{ "retry-errors", required_argument, NULL, SB_OPT_RETRY_ERRORS },           \
	{ "max-held-requests", required_argument, NULL, SB_OPT_MAX_HELD_REQUESTS }, \
	{ "max-held-bytes", required_argument, NULL, SB_OPT_MAX_HELD_BYTES }

#endif
