#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Timestamps for bench/proxy.sh's recovery measurement.

  nbdtime.py writer URI [GAP_S]   4 KiB writes at QD1 to URI, forever; prints
                                  "gap T_LAST T_NOW ERRORS" whenever two
                                  successful writes are more than GAP_S apart
  nbdtime.py waitaccept SOCK SECS prints "polling", then the time at which a
                                  unix socket first accepts a connection
                                  (polled every 1 ms)

All times are CLOCK_MONOTONIC seconds, so the two commands, run as separate
processes, can be compared.  Debian's python3-libnbd provides the nbd module.
"""

import random
import signal
import socket
import sys
import time


def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def say(*words):
    print(*words, flush=True)


def connect(nbd, uri):
    h = nbd.NBD()
    h.connect_uri(uri)
    return h


def writer(uri, gap):
    import nbd  # only here: waitaccept must work without libnbd

    stop = False

    def on_term(_sig, _frame):
        nonlocal stop
        stop = True

    # A flag, not an exception: a write in flight is allowed to finish.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    h = connect(nbd, uri)
    blocks = h.get_size() // 4096
    buf = bytearray(random.randbytes(4096))
    writes = errors = 0
    in_error = False
    last = None
    while not stop:
        off = random.randrange(blocks) * 4096
        try:
            h.pwrite(buf, off)
        except nbd.Error as e:
            errors += 1
            # One line per run of errors: a proxy that fails fast would
            # otherwise print thousands of lines a second.
            if not in_error:
                say("error", f"{now():.6f}", errors, str(e).replace("\n", " "))
                in_error = True
            if h.aio_is_dead() or h.aio_is_closed():
                # Our connection to the proxy itself died: the proxy did not
                # hide the outage.  Reconnect so the run can go on.
                h.close()
                while not stop:
                    time.sleep(0.1)
                    try:
                        h = connect(nbd, uri)
                        break
                    except nbd.Error:
                        pass
            else:
                time.sleep(0.001)
            continue
        in_error = False
        t = now()
        writes += 1
        if last is None:
            say("ready", f"{t:.6f}")
        elif t - last > gap:
            say("gap", f"{last:.6f}", f"{t:.6f}", errors)
        last = t
    say("done", "writes", writes, "errors", errors)


def waitaccept(path, secs):
    # Tell the caller we are polling: it must start the server only now, or
    # a fast server would be up before this interpreter is.
    say("polling")
    deadline = now() + secs
    while now() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            time.sleep(0.001)
            continue
        t = now()
        s.close()
        say(f"{t:.6f}")
        return 0
    print(f"waitaccept: {path} did not accept within {secs} s", file=sys.stderr)
    return 1


def main(argv):
    if len(argv) >= 3 and argv[1] == "writer":
        writer(argv[2], float(argv[3]) if len(argv) > 3 else 0.05)
        return 0
    if len(argv) == 4 and argv[1] == "waitaccept":
        return waitaccept(argv[2], float(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
