#!/usr/bin/env bash
# Measures POST /api/v0/orders (durable: each 202 waits for its fsync'd group commit) next to a
# bare axum route, in the same run, with wrk. Usage: bench/api.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10}"
connections="${2:-64}"
api_port=3201
hello_port=3202

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p orderflow --bin orderflow --example hello
target=$(scripts/target-dir)

data_dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data_dir"; }
trap cleanup EXIT

# The API alone: workflows paused, so orders are accepted and held (the saga is bench/saga.sh).
WORKFLOWS=paused RUST_LOG=warn PORT=$api_port DATA_DIR="$data_dir" "$target/release/orderflow" & pids+=($!)
PORT=$hello_port "$target/release/examples/hello" & pids+=($!)
for port in $api_port $hello_port; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" -o /dev/null -w '' 2>/dev/null && break
    curl -s "http://127.0.0.1:$port/" -o /dev/null && break; sleep 0.1; done
done

script=$(mktemp --suffix=.lua)
cat > "$script" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"customer":{"id":"cus_bench","email":"bench@example.com","name":"Bench Mark"},
"items":[{"sku":"MUG-CLASSIC-WHT","quantity":1},{"sku":"BEANS-ETH-250","quantity":2}],
"shippingAddress":{"name":"Bench Mark","line1":"1 Main Street","city":"Portland","region":"OR","postalCode":"97201","country":"US"},
"paymentMethod":"pm_card_visa","promoCode":"WELCOME10"}]]
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("non-2xx: %d\n", non2xx))
end
LUA

echo "== bare axum GET /hello (${duration}s, ${connections} connections)"
wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$hello_port/hello" | grep -E "Requests/sec|99%|50%"
echo "== POST /api/v0/orders, durable (${duration}s, ${connections} connections)"
wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$script" "http://127.0.0.1:$api_port/api/v0/orders" | grep -E "Requests/sec|99%|50%|non-2xx"
orders=$(sqlite3 "$data_dir/orders.db" "select count(*) from orders")
echo "orders stored: $orders"
rm -f "$script"
