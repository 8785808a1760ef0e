#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend's first session (before the daemon serves) may wait up
# to --backend-timeout for a portal that takes the TCP connection and never
# answers the login.  A SIGTERM or SIGINT then must still stop the daemon
# promptly: within 2 s, exit status 1, "interrupted during start-up".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/startup-signal.sh"
requires python3

mute_tcp_listener
expect_prompt_stop TERM "iscsi://127.0.0.1:$MUTE_PORT/iqn.2026-01.org.steadyblk.test:mute/1"
expect_prompt_stop INT "iscsi://127.0.0.1:$MUTE_PORT/iqn.2026-01.org.steadyblk.test:mute/1"
