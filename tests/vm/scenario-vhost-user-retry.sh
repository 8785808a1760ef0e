#!/bin/bash
# scenario-vhost-user-retry.sh - the retry scenario with steadyblk as the
# guest's virtio-blk device (vhost-user-blk): guest -> steadyblk's
# vhost-user-blk export (werror/rerror=retry) -> nbdkit (error filter, file
# plugin) -> ext4 image.  nbdkit fails every request with EIO for 10 s while
# the guest writes; the guest must see nothing but a long write.
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
SB_TRANSPORT=vhost-user SB_NAME_SUFFIX=-vhost-user \
    exec "$(dirname "${BASH_SOURCE[0]}")/scenario-retry-nbdkit.sh" "$@"
