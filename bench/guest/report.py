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

    def table(what, fmt, ratio_names, ratio):
        """One row per job: each server's median of @what, and @ratio of
        steadyblk's median to each other server's."""
        print('| job | ' + ' | '.join(servers) + ' | ' + ' | '.join(ratio_names) + ' |')
        print('|---' * (1 + len(servers) + len(others)) + '|')
        for j in jobs:
            m = [med(j, s, what) for s in servers]
            cells = [fmt.format(v) if v is not None else '-' for v in m]
            ratios = [f'{ratio(m[0], v):.2f}' if v and m[0] else '-' for v in m[1:]]
            print(f'| {j} | ' + ' | '.join(cells) + ' | ' + ' | '.join(ratios) + ' |')

    print(f'Medians of {rounds} round(s). Throughput: IOPS for 4k jobs, MB/s for 1M.\n')
    table(thr, '{:.0f}', [f'{FIRST} / {o}' for o in others], lambda first, o: first / o)
    print('\nServer CPU per I/O (microseconds of user + system time, all threads):\n')
    table(cpu_us, '{:.1f}', [f'{o} / {FIRST}' for o in others], lambda first, o: o / first)

if __name__ == '__main__':
    main()
