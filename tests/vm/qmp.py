# SPDX-License-Identifier: BSD-3-Clause
"""qmp.py SOCKET CMD... : runs QEMU QMP commands one after the other and
prints, per command, "CMD SECONDS" (how long QEMU took to answer); exits 1
if one fails or takes longer than 60 s."""
import json
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
f = s.makefile('rw')
f.readline()


def run(cmd):
    f.write(json.dumps({'execute': cmd}) + '\n')
    f.flush()
    while True:
        r = json.loads(f.readline())
        if 'return' in r:
            return
        if 'error' in r:
            sys.exit(f'{cmd}: {r["error"]}')


run('qmp_capabilities')
for cmd in sys.argv[2:]:
    t = time.monotonic()
    run(cmd)
    print(cmd, f'{time.monotonic() - t:.3f}')
