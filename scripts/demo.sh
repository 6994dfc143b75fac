#!/usr/bin/env bash
# make demo: starts edbp-server on a free loopback port with a temporary data dir,
# submits the reference Fashion-MNIST config for one epoch with `edbp-client submit
# --follow` (live progress, the epoch table and the per-layer gradient table), then
# stops the server. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
data=$(mktemp -d /tmp/edbp-demo.XXXXXX)
config="$data/fashion_mnist_1epoch.yaml"
sed 's/^  epochs: .*/  epochs: 1/' configs/fashion_mnist.yaml > "$config"

"$build/bin/edbp-server" --listen 127.0.0.1:0 --data-dir "$data/server" \
  > "$data/server.out" 2> "$data/server.log" &
server=$!
cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  echo "server stopped; its log and the job's files are in $data"
}
trap cleanup EXIT

for _ in $(seq 100); do
  grep -q '^listening on ' "$data/server.out" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$data/server.out")
[ -n "$address" ] || { echo "edbp-server did not start:"; cat "$data/server.log"; exit 1; }
echo "edbp-server on $address, data in $data/server"
"$build/bin/edbp-client" --server "$address" submit "$config" \
  --name fashion_mnist-demo --follow
