#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend's first connection (before the daemon serves) may wait up
# to --backend-timeout for a server that takes the connection and never
# answers the handshake.  A SIGTERM or SIGINT then must still stop the
# daemon promptly: within 2 s (it takes a few ms), exit status 1, "interrupted
# during start-up".  Over a unix socket and over TCP.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/startup-signal.sh"
requires socat python3

mute_unix_listener "$T/be.sock"
expect_prompt_stop TERM "$(sb_uri "$T/be.sock")"
expect_prompt_stop INT "$(sb_uri "$T/be.sock")"
mute_tcp_listener
expect_prompt_stop TERM "nbd://127.0.0.1:$MUTE_PORT/"
