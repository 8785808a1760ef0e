# SPDX-License-Identifier: BSD-3-Clause
"""migrate.py SOCKET URI : live-migrates the QEMU whose QMP monitor is on
SOCKET to URI (a destination started with -incoming URI), waits for the
end, and prints "total_ms=N downtime_ms=N"; exits 1 if the migration fails
or takes more than 120 s.  The source QEMU is told to quit afterwards."""
import json
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX)
s.settimeout(130)
s.connect(sys.argv[1])
f = s.makefile('rw')
f.readline()


def run(cmd, **args):
    f.write(json.dumps({'execute': cmd, 'arguments': args}) + '\n')
    f.flush()
    while True:
        r = json.loads(f.readline())
        if 'return' in r:
            return r['return']
        if 'error' in r:
            sys.exit(f'{cmd}: {r["error"]}')


run('qmp_capabilities')
# The default (128 MiB/s) would stretch 512 MiB of guest over seconds.
run('migrate-set-parameters', **{'max-bandwidth': 8 << 30, 'downtime-limit': 300})
run('migrate', uri=sys.argv[2])
deadline = time.monotonic() + 120
while True:
    st = run('query-migrate')
    if st.get('status') == 'completed':
        break
    if st.get('status') in ('failed', 'cancelled'):
        sys.exit(f'migration {st.get("status")}: {st.get("error-desc", "")}')
    if time.monotonic() > deadline:
        sys.exit(f'migration not done after 120 s: {st.get("status")}')
    time.sleep(0.1)
print(f'total_ms={st.get("total-time", -1)} downtime_ms={st.get("downtime", -1)}')
run('quit')
