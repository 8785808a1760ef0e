# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the tests of the NBD export (test-nbd-*.sh): sourced after
# functions.sh, never run.

_nbd_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The python with python3-libnbd: the system's, which a python3 earlier in
# PATH (pyenv, a virtualenv) may hide.  Skips the test if there is none.
nbd_python() {
    local py
    for py in python3 /usr/bin/python3; do
        if "$py" -c 'import nbd' 2>/dev/null; then
            NBD_PY=$py
            return 0
        fi
    done
    skip "python3-libnbd is not installed"
}

# nbd_py SCRIPT-ON-STDIN ARGS... : runs python (libnbd and nbdraw importable),
# bounded; fails the test if the script fails.
nbd_py() {
    [[ -n ${NBD_PY:-} ]] || nbd_python
    PYTHONPATH=$_nbd_here timeout 60 "$NBD_PY" - "$@" || fail "python check failed"
}

# raw_py SCRIPT-ON-STDIN ARGS... : the same with any python3 (nbdraw only).
raw_py() {
    PYTHONPATH=$_nbd_here timeout 60 python3 - "$@" || fail "raw protocol check failed"
}

# served_uri NAME PATTERN : the URI the daemon NAME announced that matches
# PATTERN (e.g. 'nbd://127' for a TCP export on port 0).
served_uri() {
    grep -o "served at $2[^ ]*" "$T/$1.log" | head -1 | cut -d' ' -f3
}
