#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the Debian packages steadyblk needs that are missing, from the lists
# given (default: tools/deps.txt and tests/vm/deps.txt).  Quiet and quick when
# nothing is missing, so `make run` and `make check` can call it every time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lists=("$@")
if ((${#lists[@]} == 0)); then
    lists=("$top/tools/deps.txt")
    [[ -f $top/tests/vm/deps.txt ]] && lists+=("$top/tests/vm/deps.txt")
fi

missing=()
while read -r pkg; do
    [[ -z $pkg || $pkg == \#* ]] && continue
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done < <(cat "${lists[@]}" | sed 's/#.*//; s/[[:space:]]*$//' | sort -u)

((${#missing[@]} == 0)) && exit 0

echo "steadyblk: installing missing packages: ${missing[*]}"
if ((EUID == 0)); then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "steadyblk: not root and no sudo: install these first: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
