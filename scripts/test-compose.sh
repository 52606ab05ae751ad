#!/usr/bin/env bash
# `docker compose up` proven: builds the image and starts compose.yaml, waits until Docker
# reports the payment gateway, the shop API and the email worker healthy, places an order
# through the API (place-test-order.sh), finds its confirmation email in Mailpit, the order
# counted in Prometheus and the three deployables' traces in Jaeger, then removes everything
# it started, volumes included. Needs Docker with the compose plugin and `npm ci` done; CI runs
# it on GitHub's runners, since these machines have no Docker engine. Uses the ports
# compose.yaml publishes (50051, 50052, 8025, 16686, 9090, 3000 on 127.0.0.1): stop anything
# on them first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/json.sh
source scripts/lib/report.sh

JWT_SECRET=$(head -c 36 /dev/urandom | base64)
ADMIN_EMAIL=admin@shop.localhost
ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64)
export JWT_SECRET ADMIN_EMAIL ADMIN_PASSWORD
compose() { docker compose --project-name "order-backend-compose-test-$$" "$@"; }
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then compose logs --no-color --tail=50 || true; fi
  compose down --volumes --remove-orphans >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT

compose up --build --detach
for service in payment-gateway api worker; do
  health=""
  for _ in $(seq 1 90); do
    container=$(compose ps --quiet "$service")
    if [ -n "$container" ]; then
      health=$(docker inspect --format '{{.State.Health.Status}}' "$container")
      [ "$health" = healthy ] && break
    fi
    sleep 2
  done
  [ "$health" = healthy ] || fail "$service is not healthy (${health:-not started})"
  say "$service healthy"
done

order=$(scripts/place-test-order.sh http://127.0.0.1:50051 "$ADMIN_EMAIL" "$ADMIN_PASSWORD") ||
  fail "no order could be placed through the API"
say "$order"

# The worker sends the confirmation email through Mailpit's SMTP; its web API lists it.
for _ in $(seq 1 30); do
  subject=$(curl -fsS http://127.0.0.1:8025/api/v1/messages | json messages.0.Subject || true)
  [ -n "$subject" ] && break
  sleep 1
done
[ -n "$subject" ] || fail "no email reached Mailpit"
say "Mailpit received \"$subject\""

# Prometheus scrapes the API every 15 s: the order is counted within a few scrapes.
query='sum(shop_orders_placed_total{job="shop-api",outcome="fulfilled"})'
for _ in $(seq 1 30); do
  placed=$(curl -fsS --get --data-urlencode "query=$query" http://127.0.0.1:9090/api/v1/query |
    json data.result.0.value.1 || true)
  [ "${placed:-0}" -ge 1 ] 2>/dev/null && break
  sleep 2
done
[ "${placed:-0}" -ge 1 ] 2>/dev/null || fail "Prometheus does not count the order ($query: ${placed:-none})"
say "Prometheus: $query = $placed"

# The order's trace went through the three deployables: each reported its spans to Jaeger.
for _ in $(seq 1 30); do
  services=$(curl -fsS http://127.0.0.1:16686/api/services | json data || true)
  missing=""
  for service in shop-api payment-gateway email-worker; do
    grep -q "\"$service\"" <<<"$services" || missing="$missing $service"
  done
  [ -z "$missing" ] && break
  sleep 2
done
[ -z "$missing" ] || fail "Jaeger has no traces of:$missing"
say "Jaeger has traces of shop-api, payment-gateway and email-worker"
say "passed"
