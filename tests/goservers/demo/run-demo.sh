#!/usr/bin/env bash
# `make demo`: start the demo shop, trace it with `sonde trace` for 15 s while
# hey sends it traffic on several routes, print the summary, stop everything.
set -euo pipefail
sonde=${SONDE:-out/sonde}
demo=${DEMO:-out/goservers/demo}
port=${DEMO_PORT:-18090}
base=http://127.0.0.1:$port

"$demo" -addr 127.0.0.1:$port &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true; wait $demo_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fsS -o /dev/null "$base/" 2>/dev/null && break || sleep 0.1
done

echo "demo shop (pid $demo_pid) listening on $base; tracing it for 15 s" >&2
"$sonde" trace --pid "$demo_pid" --duration 15s &
sonde_pid=$!
sleep 2   # attach takes well under a second; leave room on a busy machine

hey -z 11s -c 4 -q 300 "$base/products/7" >/dev/null &
hey -z 11s -c 2 -q 100 "$base/products/404" >/dev/null &
hey -z 11s -c 2 -q 100 "$base/products" >/dev/null &
hey -z 11s -c 2 -q 20 -m POST "$base/cart/3/checkout" >/dev/null &
hey -z 11s -c 1 -q 50 "$base/" >/dev/null &
wait "$sonde_pid"
