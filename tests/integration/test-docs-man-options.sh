#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The man pages cannot drift from the programs: every long option that
# `steadyblk --help` lists is described in steadyblk(8) and every option
# steadyblk(8) describes is in --help; the same for steadyblkctl(8) against
# `steadyblkctl --help` and each `steadyblkctl COMMAND --help`, commands
# included.  The pages must also be warning-free for the roff linters.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires groff

docs=$(cd "$(dirname "$0")/../../docs" && pwd)

# help_options : long options at the start of --help lines ("  -e, --export URI").
help_options() { sed -nE 's/^ +(-[a-zA-Z], )?--([a-z][a-z-]*).*/\2/p' | sort -u; }
# man_options PAGE : long options in the heads of the page's tagged paragraphs.
man_options() {
    awk 'head { print; head = 0 } /^\.T[PQ]/ { head = 1 }' "$1" | sed 's/\\-/-/g' |
        grep -oE -- '--[a-z][a-z-]*' | sed 's/^--//' | sort -u
}
# same WHAT A B : the two lists are equal, or the test fails naming the difference.
same() {
    local what=$1
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") >"$T/diff" ||
        fail "$what: --help (<) and the man page (>) differ: $(grep '^[<>]' "$T/diff" | tr '\n' ' ')"
}

# steadyblk
help=$("$STEADYBLK" --help | help_options)
[[ $(wc -l <<<"$help") -ge 20 ]] || fail "too few options found in --help: $help"
same steadyblk "$help" "$(man_options "$docs/steadyblk.8")"

# steadyblkctl: the global options and every command's.
help=$( { "$STEADYBLKCTL" --help
          for cmd in $("$STEADYBLKCTL" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
              [[ $cmd == help ]] || "$STEADYBLKCTL" "$cmd" --help
          done; } | help_options)
same steadyblkctl "$help" "$(man_options "$docs/steadyblkctl.8")"
cmds=$("$STEADYBLKCTL" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }' | sort)
man_cmds=$(awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH/ { on = 0 } on && head { print $2; head = 0 }
    on && /^\.TP/ { head = 1 } on && /^\.RS/ { skip = 1 } on && /^\.RE/ { skip = 0 }
    skip { head = 0 }' "$docs/steadyblkctl.8" | sed 's/\\-/-/g' | sort)
same "steadyblkctl commands" "$cmds" "$man_cmds"

# Lint: groff's warnings, and mandoc's when it is installed.
for page in steadyblk steadyblkctl; do
    out=$(groff -man -Tutf8 -ww -z "$docs/$page.8" 2>&1) || fail "groff $page.8: $out"
    [[ -z $out ]] || fail "groff warns about $page.8: $out"
    if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -W warning "$docs/$page.8" 2>&1) || fail "mandoc $page.8: $out"
    fi
    # The page names the version the program reports.
    grep -q "\"steadyblk $("$STEADYBLK" --version | awk '{print $2}')\"" "$docs/$page.8" ||
        fail "$page.8 is not for version $("$STEADYBLK" --version)"
done
