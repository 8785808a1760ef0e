#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""report.py RESULTS.json : the markdown tables of a guest benchmark run
(bench/vhost-user.sh): per job the median over rounds of each server's
IOPS (4k jobs) or MB/s (1M jobs) and its CPU time per I/O, and the ratios
of steadyblk's vhost-user-blk export to each other server.  Higher is
better for throughput ratios; for CPU, the ratio is the other's CPU per
I/O over steadyblk's, so higher is better there too."""
import json
import statistics
import sys

FIRST = 'steadyblk-vhost-user'
JOBS = ['randread-qd1', 'randread-qd32', 'randwrite-qd1', 'randwrite-qd32',
        'seqread-1m', 'seqwrite-1m']


def main():
    rows = json.load(open(sys.argv[1]))
    servers = [FIRST] + sorted({r['server'] for r in rows} - {FIRST})
    others = servers[1:]
    rounds = len({r['round'] for r in rows})

    def med(job, server, what):
        v = [what(r) for r in rows if r['job'] == job and r['server'] == server]
        return statistics.median(v) if v else None

    def thr(r):
        return r['mbps'] if r['job'].endswith('1m') else r['iops']

    def cpu_us(r):
        return 1e6 * r['cpu_s'] / r['ios'] if r['ios'] else float('nan')

    jobs = [j for j in JOBS if any(r['job'] == j for r in rows)]
    print(f'Medians of {rounds} round(s). Throughput: IOPS for 4k jobs, MB/s for 1M.\n')
    print('| job | ' + ' | '.join(servers) + ' | ' +
          ' | '.join(f'{FIRST} / {o}' for o in others) + ' |')
    print('|---' * (1 + len(servers) + len(others)) + '|')
    for j in jobs:
        t = [med(j, s, thr) for s in servers]
        cells = [f'{v:.0f}' if v is not None else '-' for v in t]
        ratios = [f'{t[0] / v:.2f}' if v and t[0] else '-' for v in t[1:]]
        print(f'| {j} | ' + ' | '.join(cells) + ' | ' + ' | '.join(ratios) + ' |')
    print('\nServer CPU per I/O (microseconds of user + system time, all threads):\n')
    print('| job | ' + ' | '.join(servers) + ' | ' +
          ' | '.join(f'{o} / {FIRST}' for o in others) + ' |')
    print('|---' * (1 + len(servers) + len(others)) + '|')
    for j in jobs:
        c = [med(j, s, cpu_us) for s in servers]
        cells = [f'{v:.1f}' if v is not None else '-' for v in c]
        ratios = [f'{v / c[0]:.2f}' if v and c[0] else '-' for v in c[1:]]
        print(f'| {j} | ' + ' | '.join(cells) + ' | ' + ' | '.join(ratios) + ' |')


if __name__ == '__main__':
    main()
