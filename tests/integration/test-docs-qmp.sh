#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# docs/qmp.md cannot drift from the implementation: the commands it
# documents (its "### NAME" headings under "## Commands") are exactly those
# `query-commands` returns, and the events it documents (the event tables
# and "### NAME" headings under "## Events") are exactly those
# src/control/events.c sends.  Adding a command or an event without
# documenting it fails here.
. "$(dirname "$0")/functions.sh"
requires socat jq

top=$(cd "$(dirname "$0")/../.." && pwd)
doc=$top/docs/qmp.md

# section TITLE : the lines of "## TITLE", up to the next "## ".
section() { awk -v t="## $1" '$0 == t { on = 1; next } /^## / { on = 0 } on' "$doc"; }
same() {
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") >"$T/diff" ||
        fail "$1: implemented (<) and documented (>) differ: $(grep '^[<>]' "$T/diff" | tr '\n' ' ')"
}

make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"
implemented=$(qmp_reply "$T/qmp.sock" '{"execute":"query-commands"}' | jq -r '.return[].name' | sort)
[[ $(wc -l <<<"$implemented") -ge 10 ]] || fail "query-commands: $implemented"
documented=$(section Commands | sed -n 's/^### //p' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort)
same commands "$implemented" "$documented"
stop_steadyblk sb

sent=$(grep -oE '"(DISK|BACKEND|BLOCK)_[A-Z_]+"' "$top/src/control/events.c" | tr -d '"' | sort -u)
[[ $(wc -l <<<"$sent") -ge 9 ]] || fail "events.c: $sent"
documented=$( { section Events | sed -nE 's/^\| `([A-Z][A-Z_]+)` \|.*/\1/p'
                section Events | sed -nE 's/^### ([A-Z][A-Z_]+)$/\1/p'; } | sort -u)
same events "$sent" "$documented"
