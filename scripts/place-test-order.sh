#!/usr/bin/env bash
# Places one real order through a running shop API, as a shop would: registers and logs in a
# new customer, logs in the admin to create a product with stock, then orders two with the test
# card that succeeds, so the API charges it through the payment gateway. Fails unless the order
# comes back FULFILLED with a charge; prints one line about it.
#
#   scripts/place-test-order.sh http://127.0.0.1:50051 ADMIN_EMAIL ADMIN_PASSWORD
#
# Used by scripts/test-container.sh and scripts/test-compose.sh. Needs `npm ci` done (buf).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/json.sh

api=$1
admin_email=$2
admin_password=$3
run="$(date +%s)-$$"

call() {
  local method=$1 token=$2 body=$3
  npx --no-install buf curl --protocol grpc --http2-prior-knowledge \
    ${token:+-H "authorization: Bearer $token"} -d "$body" "$api/$method"
}

buyer="buyer-$run@example.com"
password="correct horse battery $run"
call shop.v1.AuthService/Register "" \
  "{\"email\": \"$buyer\", \"password\": \"$password\", \"display_name\": \"Test buyer\"}" >/dev/null
buyer_token=$(call shop.v1.AuthService/Login "" "{\"email\": \"$buyer\", \"password\": \"$password\"}" | json accessToken)
admin_token=$(call shop.v1.AuthService/Login "" \
  "{\"email\": \"$admin_email\", \"password\": \"$admin_password\"}" | json accessToken)
product_id=$(call shop.v1.InventoryService/CreateProduct "$admin_token" \
  "{\"sku\": \"TEST-$run\", \"name\": \"Test mug $run\",
    \"unit_price\": {\"currency_code\": \"EUR\", \"amount_minor\": \"1250\"}, \"initial_stock\": 3}" |
  json product.id)
order=$(call shop.v1.OrderService/PlaceOrder "$buyer_token" \
  "{\"request_id\": \"test-order-$run\", \"lines\": [{\"product_id\": \"$product_id\", \"quantity\": 2}],
    \"card\": {\"number\": \"4242424242424242\", \"exp_month\": 12, \"exp_year\": $(($(date +%Y) + 3)), \"cvc\": \"123\"}}")

state=$(json order.state <<<"$order")
charge=$(json order.chargeId <<<"$order" || true)
if [ "$state" != ORDER_STATE_FULFILLED ] || [ -z "$charge" ]; then
  echo "place-test-order: expected a FULFILLED order with a charge, got: $order" >&2
  exit 1
fi
echo "order $(json order.id <<<"$order") for $buyer: $state, charge $charge"
