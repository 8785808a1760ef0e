#!/bin/bash
# scenario-vhost-user-kill-tgtd.sh - scenario-kill-tgtd.sh with steadyblk as the
# guest's virtio-blk device (vhost-user-blk): guest -> steadyblk's
# vhost-user-blk export (werror/rerror=retry) -> iSCSI -> tgtd.  tgtd is
# SIGKILLed while the guest writes and started again, its configuration
# re-created, 10 s later; the guest must see nothing but a long write.
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
SB_TRANSPORT=vhost-user SB_NAME_SUFFIX=-vhost-user \
    exec "$(dirname "${BASH_SOURCE[0]}")/scenario-kill-tgtd.sh" "$@"
