#!/usr/bin/env bash
# Zero-configuration smoke test of the README's run command: `npm start` on embedded defaults
# (fresh DATA_DIR, no DATABASE_URL), then health SERVING and reflection listing the three shop
# services through `buf curl`, a real gRPC client we did not write, then SIGTERM and a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/free-ports.sh

data_dir=$(mktemp -d)
chmod 755 "$data_dir" # as root, the embedded server runs as the postgres user
log="$data_dir/npm-start.log"
# Six ports: the API, the gateway, the worker, then their /metrics in the same order.
port=$(free_ports 6)
gateway_port=$((port + 1))
worker_port=$((port + 2))
metrics_port=$((port + 3))
cleanup() {
  if [ -n "${group:-}" ] && kill -0 "-$group" 2>/dev/null; then kill -KILL "-$group" 2>/dev/null || true; fi
  rm -rf "$data_dir"
}
trap cleanup EXIT

# Its own process group, so nothing it starts can outlive the test.
env -u DATABASE_URL DATA_DIR="$data_dir" PORT="$port" PAYMENT_GATEWAY_PORT="$gateway_port" WORKER_PORT="$worker_port" \
  METRICS_PORT="$metrics_port" setsid npm start >"$log" 2>&1 &
group=$!

buf_curl() { npx --no-install buf curl --protocol grpc --http2-prior-knowledge "$@"; }

for _ in $(seq 1 120); do
  if buf_curl "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '"SERVING"'; then
    break
  fi
  kill -0 "$group" 2>/dev/null || { cat "$log"; echo "smoke: npm start exited early" >&2; exit 1; }
  sleep 1
done
buf_curl "http://127.0.0.1:$port/grpc.health.v1.Health/Check" | grep -q '"SERVING"' \
  || { cat "$log"; echo "smoke: health never reported SERVING" >&2; exit 1; }
echo "smoke: health SERVING on port $port"

services=$(buf_curl --list-services "http://127.0.0.1:$port")
for service in shop.v1.AuthService shop.v1.InventoryService shop.v1.OrderService; do
  grep -qx "$service" <<<"$services" || { echo "smoke: reflection does not list $service" >&2; exit 1; }
done
echo "smoke: reflection lists the shop services"

buf_curl "http://127.0.0.1:$worker_port/grpc.health.v1.Health/Check" | grep -q '"SERVING"' \
  || { cat "$log"; echo "smoke: the email worker's health is not SERVING" >&2; exit 1; }
echo "smoke: email worker health SERVING on port $worker_port"

curl -fsS "http://127.0.0.1:$port/mailbox" | grep -q 'Template previews' \
  || { cat "$log"; echo "smoke: the development mailbox page is not served" >&2; exit 1; }
echo "smoke: development mailbox at http://127.0.0.1:$port/mailbox"

for part in "0 rpc_server_duration_bucket" "1 db_client_connection_count" "2 shop_emails_waiting"; do
  set -- $part
  curl -fsS "http://127.0.0.1:$((metrics_port + $1))/metrics" | grep -q "^$2" \
    || { cat "$log"; echo "smoke: /metrics on port $((metrics_port + $1)) has no $2" >&2; exit 1; }
done
echo "smoke: /metrics on ports $metrics_port to $((metrics_port + 2))"

# SIGTERM to npm, as a process manager sends it to what it started: npm hands it on to the
# server, which npm's shell has become (exec), and exits with the server's own exit code.
kill -TERM "$group"
status=0
wait "$group" || status=$?
if [ "$status" -ne 0 ]; then cat "$log"; echo "smoke: npm start exited with $status after SIGTERM" >&2; exit 1; fi
grep -q '"event":"process.stopped"' "$log" || { cat "$log"; echo "smoke: no clean stop logged" >&2; exit 1; }
echo "smoke: SIGTERM, clean exit 0"
