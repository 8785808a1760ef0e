# SPDX-License-Identifier: BSD-3-Clause
"""libnbd clients that ask for block status (the base:allocation context),
for the integration tests' python checks (nbd_py puts this folder on the
path)."""
import nbd


def client(uri):
    """A libnbd handle connected to URI with base:allocation asked for."""
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_uri(uri)
    return h


class Extents(list):
    """A block status callback that collects the (length, flags) pairs the
    server sent."""

    def __call__(self, ctx, offset, entries, err):
        self.extend(zip(entries[0::2], entries[1::2]))
        return 0
