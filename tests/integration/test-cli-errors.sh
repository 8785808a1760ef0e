#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad configuration: one clear line naming the option and the problem, exit
# status 2, never a crash; --help and --version work.
. "$(dirname "$0")/functions.sh"

make_image "$T/disk.img" 1M

# expect_bad WORD ARGS... : exit 2, one line on stderr that mentions WORD.
expect_bad() {
    local word=$1; shift
    local rc=0 err
    err=$("$STEADYBLK" "$@" 2>&1 >/dev/null) || rc=$?
    ((rc == 2)) || fail "'$*' exited with $rc, not 2 ($err)"
    (($(wc -l <<<"$err") == 1)) || fail "'$*' printed more than one line: $err"
    grep -q -- "$word" <<<"$err" || fail "'$*': message does not name '$word': $err"
}

expect_bad --rerror --rerror bogus "$T/disk.img"
expect_bad --werror --werror "" "$T/disk.img"
expect_bad --retry-interval --retry-interval 5x "$T/disk.img"
expect_bad --retry-timeout --retry-timeout -1 "$T/disk.img"
expect_bad --stall-timeout --stall-timeout 2x "$T/disk.img"
expect_bad --retry-then --retry-then ignore "$T/disk.img"
expect_bad --retry-errors --retry-errors EIO,ENOTANERRNO "$T/disk.img"
expect_bad --max-held-bytes --max-held-bytes 12Q "$T/disk.img"
expect_bad --max-held-requests --max-held-requests lots "$T/disk.img"
expect_bad --cache --cache sometimes "$T/disk.img"
expect_bad retry-max-interval --retry-interval 10s --retry-max-interval 1s "$T/disk.img"
expect_bad --frobnicate --frobnicate "$T/disk.img"
expect_bad BACKEND
expect_bad BACKEND "$T/disk.img" "$T/other.img"
expect_bad missing --export
expect_bad --tls --tls maybe "$T/disk.img"
expect_bad 'TLS is off' --tls-certificates "$T" "$T/disk.img"
expect_bad 'TLS is off' --tls-psk "$T/keys.psk" "$T/disk.img"
expect_bad --tls-certificates --tls on "$T/disk.img"
expect_bad 'one of them' --tls require --tls-certificates "$T" --tls-psk "$T/k" "$T/disk.img"
expect_bad --tls-verify-peer --tls on --tls-psk "$T/k" --tls-verify-peer "$T/disk.img"

help=$("$STEADYBLK" --help) || fail "--help failed"
for opt in --werror --tls --tls-certificates --tls-psk --tls-verify-peer; do
    grep -q -- "$opt" <<<"$help" || fail "--help does not explain $opt"
done
"$STEADYBLK" --version | grep -Eq '^steadyblk [0-9]+\.[0-9]+' || fail "--version"

# Problems found at start-up are runtime failures: status 1, one clear line.
rc=0
err=$("$STEADYBLK" --foreground "$T/no-such.img" 2>&1) || rc=$?
((rc == 1)) || fail "a missing backend file exited with $rc, not 1"
grep -q 'no-such.img' <<<"$err" || fail "the message does not name the file: $err"
rc=0
err=$("$STEADYBLK" --foreground --export 'nbd+unix:///?socket=' "$T/disk.img" 2>&1) || rc=$?
((rc != 0)) || fail "an export without a socket path was accepted"
grep -q -- '--export' <<<"$err" || fail "the message does not name --export: $err"

# TLS credentials are loaded at start: a missing one is named, nothing is served.
for bad in "--tls-certificates $T/no-such-dir|certificate directory '$T/no-such-dir'" \
           "--tls-certificates $T|server certificate or key '$T/server-cert.pem'" \
           "--tls-psk $T/no-such.psk|PSK file '$T/no-such.psk'"; do
    args=${bad%|*} want=${bad#*|}
    rc=0
    # shellcheck disable=SC2086
    err=$("$STEADYBLK" --foreground --tls on $args --export "nbd+unix:///?socket=$T/t.sock" \
        "$T/disk.img" 2>&1) || rc=$?
    ((rc == 1)) || fail "$args exited with $rc, not 1 ($err)"
    grep -qF -- "$want" <<<"$err" || fail "$args: unclear message: $err"
    [[ ! -e $T/t.sock ]] || fail "$args left its socket behind"
done

# vhost-user-blk addresses: the problem named, nothing left listening.
for bad in 'vhost-user-blk://relative.sock|must be absolute' \
           "vhost-user-blk://$T/vu.sock?num-queues=0|num-queues must be 1 to 16" \
           "vhost-user-blk://$T/vu.sock?num-queues=17|num-queues must be 1 to 16" \
           "vhost-user-blk://$T/vu.sock?queues=2|unknown option 'queues'" \
           "vhost-user-blk://$T/vu.sock?read-only=yes|read-only must be on or off" \
           "vhost-user-blk://$T/vu.sock?serial=123456789012345678901|serial is at most 20"; do
    uri=${bad%|*} want=${bad#*|}
    rc=0
    err=$("$STEADYBLK" --foreground --export "$uri" "$T/disk.img" 2>&1) || rc=$?
    ((rc == 1)) || fail "--export $uri exited with $rc, not 1 ($err)"
    grep -q -- "--export $uri: .*$want" <<<"$err" || fail "--export $uri: unclear message: $err"
    [[ ! -e $T/vu.sock ]] || fail "--export $uri left its socket behind"
done
