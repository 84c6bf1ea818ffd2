#!/bin/sh
# Starts three counters and, with `vcl local`, three members and the client side; Ctrl-C stops all.
# Then, in another terminal:  printf 'add 5\nget\n' | nc 127.0.0.1 7400
# VCL_EXAMPLE_PORT_BASE=27400 moves every port (74xx -> 274xx) when 7400-7433 are taken.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
base=${VCL_EXAMPLE_PORT_BASE:-7400}
p=$((base / 100))
stack="$here/stack.yaml"
if [ "$base" != 7400 ]; then
  stack=$(mktemp "${TMPDIR:-/tmp}/vcl-counter-XXXXXX.yaml")
  sed "s/\b74\([0-9][0-9]\)\b/${p}\1/g" "$here/stack.yaml" >"$stack"
fi
pids=""
for i in 1 2 3; do
  node "$here/counter.mjs" "${p}1$i" &
  pids="$pids $!"
done
trap 'kill $pids 2>/dev/null || true' EXIT INT TERM
# The checkout's vcl (npx vcl does the same once npm ci linked it; it builds the libraries on first use).
node "$here/../../packages/vcl-core/bin/vcl.cjs" local --config "$stack" \
  --service-endpoints "n1=127.0.0.1:${p}11,n2=127.0.0.1:${p}12,n3=127.0.0.1:${p}13"
