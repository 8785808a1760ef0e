#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Random reads at queue depth 1 for bench/tls.sh.

  nbdqd1.py URI BYTES SECONDS   prints the reads per second

One libnbd connection (URIs may name local TLS files), reads of BYTES at
aligned random offsets for SECONDS.  Debian's python3-libnbd provides nbd.
"""

import random
import sys
import time

import nbd


def main():
    uri, size, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    h.connect_uri(uri)
    blocks = h.get_size() // size
    rnd = random.Random(1)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        h.pread(size, rnd.randrange(blocks) * size)
        n += 1
    print("%.0f" % (n / (time.monotonic() - t0)))
    h.shutdown()


main()
