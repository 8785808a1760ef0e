#!/bin/bash
# scenario-vhost-user-migrate-outage.sh - scenario-vhost-user-migrate.sh with
# the storage failing every request from 2 s before the migration until 8 s
# after it: the switch-over waits for steadyblk's held writes, which then
# complete on the source and reach the destination with the guest's memory.
# Exit: 0 pass, 1 fail, 77 skip.
SB_MIGRATE_OUTAGE=1 exec "$(dirname "${BASH_SOURCE[0]}")/scenario-vhost-user-migrate.sh" "$@"
