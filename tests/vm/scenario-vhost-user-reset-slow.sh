#!/bin/bash
# scenario-vhost-user-reset-slow.sh - scenario-vhost-user-reset.sh with the
# guest's write still at the backend at the reset (nbdkit takes 10 s to write
# it) instead of held in an outage: the rebooted guest's read and write over
# the same blocks wait for it, and its write lands last.
# Exit: 0 pass, 1 fail, 77 skip.
SB_RESET_FAULT=slow exec "$(dirname "${BASH_SOURCE[0]}")/scenario-vhost-user-reset.sh" "$@"
