#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The metrics endpoint as HTTP: GET /metrics (and HEAD) answer 200 in the
# Prometheus text format 0.0.4 with a correct length and Connection: close,
# on a TCP port (0: one is picked and logged) or a unix socket (mode 0660);
# other paths 404, other methods 405, other protocols 505, garbage 400, an
# oversized request head 431; idle clients do not block the others; bad
# --metrics addresses are refused at start with a message.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires curl socat python3

make_image "$T/disk.img" 1M
start_steadyblk sb --metrics 127.0.0.1:0 --export "$(sb_uri "$T/s.sock")" "$T/disk.img"
url=$(grep -o 'metrics served at http://127.0.0.1:[0-9]*/metrics' "$T/sb.log" | awk '{print $4}')
[[ -n $url ]] || fail "no metrics URL in the log: $(cat "$T/sb.log")"
base=${url%/metrics}
port=${base##*:}

body=$(curl -sS --max-time 10 -D "$T/h" "$url") || fail "curl $url"
metrics_check "$body"
tr -d '\r' <"$T/h" >"$T/headers"
grep -qx 'HTTP/1.1 200 OK' "$T/headers" || fail "status: $(head -1 "$T/headers")"
grep -qx 'Content-Type: text/plain; version=0.0.4; charset=utf-8' "$T/headers" || fail "type"
grep -qx 'Connection: close' "$T/headers" || fail "no Connection: close"
len=$(awk -F': ' '$1 == "Content-Length" { print $2 }' "$T/headers")
[[ $len == $(curl -sS --max-time 10 "$url" | wc -c) ]] || fail "Content-Length $len is not the body's"
grep -q '^steadyblk_build_info{version="[0-9.]*"} 1$' <<<"$body" || fail "no build info"

# HEAD: the same head, no body.
curl -sS --max-time 10 -I "$url" | tr -d '\r' >"$T/head"
grep -qx 'HTTP/1.1 200 OK' "$T/head" && grep -qx "Content-Length: $len" "$T/head" || fail "HEAD: $(cat "$T/head")"
# A query string is not part of the path.
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url?name[]=x") == 200 ]] || fail "query string"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
[[ $(code "$base/") == 404 && $(code "$base/metricsx") == 404 ]] || fail "other paths"
[[ $(code -X POST "$url") == 405 ]] || fail "POST"
curl -s -D - -o /dev/null -X DELETE "$url" | tr -d '\r' | grep -qx 'Allow: GET, HEAD' || fail "no Allow"
raw() { printf "$1" | timeout 10 socat -t 5 - "TCP:127.0.0.1:$port" | head -1 | tr -d '\r'; }
[[ $(raw 'GET /metrics HTTP/2.0\r\n\r\n') == "HTTP/1.1 505 HTTP Version Not Supported" ]] || fail "HTTP/2.0"
[[ $(raw 'hello\r\n\r\n') == "HTTP/1.1 400 Bad Request" ]] || fail "garbage"
[[ $(raw 'GET metrics HTTP/1.1\r\n\r\n') == "HTTP/1.1 400 Bad Request" ]] || fail "a target without /"
big=$(head -c 9000 /dev/zero | tr '\0' a)
[[ $(raw "GET /metrics HTTP/1.1\r\nX-Big: $big\r\n\r\n") == "HTTP/1.1 431 Request Header Fields Too Large" ]] ||
    fail "an oversized head"
# A request sent in pieces, then more input than we read: still answered.
[[ $( { printf 'GET /met'; sleep 0.3; printf 'rics HTTP/1.1\r\nHost: x\r\n\r\nEXTRA'; sleep 1; } |
     timeout 10 socat -t 5 - "TCP:127.0.0.1:$port" | head -1 | tr -d '\r') == "HTTP/1.1 200 OK" ]] ||
    fail "a request in pieces"

# Idle clients hold a slot each, not the endpoint.
for i in 1 2 3 4 5; do
    sleep 30 | timeout 30 socat -u - "TCP:127.0.0.1:$port" &
    cleanup_add "kill $!"
done
sleep 0.3
[[ $(code "$url") == 200 ]] || fail "idle clients blocked the endpoint"
kill -0 "$SB_PID_sb" || fail "the daemon died"

# Bad addresses: status 1 and a message naming the option.
bad() {
    local rc=0
    timeout 10 "$STEADYBLK" --foreground --metrics "$1" --export "$(sb_uri "$T/s3.sock")" \
        "$T/disk.img" >"$T/bad.out" 2>&1 || rc=$?
    ((rc == 1)) || fail "--metrics $1: status $rc"
    grep -F -- "steadyblk: --metrics $1: " "$T/bad.out" | grep -qF -- "$2" ||
        fail "--metrics $1: $(cat "$T/bad.out")"
}
bad nonsense "'nonsense' is not HOST:PORT"
bad 'unix:' "'unix:' needs a socket path"
bad 127.0.0.1:99999 "port: '99999' is larger than 65535"
bad localhost:9187 "a numeric address and port are expected"
bad "127.0.0.1:$port" "Address already in use"
stop_steadyblk sb

# A unix socket, for the owner and its group.
start_steadyblk sb2 --metrics "unix:$T/m.sock" --export "$(sb_uri "$T/s2.sock")" "$T/disk.img"
[[ $(stat -c %a "$T/m.sock") == 660 ]] || fail "socket mode $(stat -c %a "$T/m.sock")"
metrics_check "$(metrics_get "$T/m.sock")"
stop_steadyblk sb2

