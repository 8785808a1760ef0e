# SPDX-License-Identifier: BSD-3-Clause
"""libnbd clients that ask for block status (the base:allocation context),
and a check of a command held through an outage, for the integration
tests' python checks (nbd_py puts this folder on the path)."""
import os
import time

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


def held_then_answered(h, cookie, fault_file, hold=1.5, limit=10):
    """Command @cookie of handle @h, sent during an outage that the fault
    file @fault_file makes, is still unanswered after @hold seconds, and is
    answered within @limit seconds once the file is removed."""
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        h.poll(50)
    assert not h.aio_command_completed(cookie), "answered during the outage"
    os.unlink(fault_file)
    deadline = time.monotonic() + limit
    while not h.aio_command_completed(cookie):
        assert time.monotonic() < deadline, "not answered after the outage"
        h.poll(100)
