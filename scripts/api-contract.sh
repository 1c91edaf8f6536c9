#!/usr/bin/env bash
# The published contract holds: the OpenAPI document the server serves is valid OpenAPI 3.1
# (openapi-spec-validator), and a Python client generated from it (openapi-python-client, into a
# temporary directory, never into the checkout) places, reads, lists and cancels orders, gets
# typed problems back for bad requests, and reads execution histories that match their schema.
# Runs the local server on a free loopback port: first with workflows paused, then again on the
# same data directory with them running, so the orders placed go through the saga.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/venv"

source scripts/venv.sh
venv_with "$venv" "openapi-spec-validator==0.9.0" "openapi-python-client==0.29.1"
cargo build --quiet --locked -p orderflow --bin orderflow

work=$(mktemp -d)
server=""
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
start_server() {
  WORKFLOWS="$1" TIME_SCALE=0.001 RUST_LOG=warn HOST=127.0.0.1 PORT="$port" DATA_DIR="$work/data" \
    "$target/debug/orderflow" &
  server=$!
  for _ in $(seq 300); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$base/openapi.json', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$server" 2>/dev/null || { echo "the server stopped before answering" >&2; return 1; }
    sleep 0.1
  done
  echo "the server did not answer on $base" >&2
  return 1
}

start_server paused
python3 -c "import urllib.request; print(urllib.request.urlopen('$base/openapi.json').read().decode())" >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"
# The generator formats its output with ruff, which comes with it into the venv.
PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate \
  --path "$work/openapi.json" --output-path "$work/orderflow_client" --meta none >/dev/null

cat >"$work/contract_test.py" <<'PY'
"""Drives the API through the client generated from its own OpenAPI document."""
import json
import sys
import time

from openapi_schema_validator import OAS31Validator
from orderflow_client import Client
from orderflow_client.api.orders import (cancel_order, get_execution, get_order, list_orders,
                                         patch_order, place_order)
from orderflow_client.models import (AddressInput, CustomerInput, CustomerPatch, Execution,
                                     ItemInput, OrderList, OrderPatch, OrderView, PlaceOrder,
                                     Problem)

phase, base, ids_file, document_file = sys.argv[1:5]
client = Client(base_url=base, raise_on_unexpected_status=True)


def order(quantity=2, promo=None):
    return PlaceOrder(
        customer=CustomerInput(id="cus_contract", email="ada@example.com", name="Ada Lovelace"),
        items=[ItemInput(sku="MUG-CLASSIC-WHT", quantity=quantity)],
        shipping_address=AddressInput(name="Ada Lovelace", line1="12 Market Street",
                                      city="San Francisco", region="CA", postal_code="94103",
                                      country="US"),
        payment_method="pm_card_visa",
        promo_code=promo,
    )


def expect(response, status, kind):
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, kind), type(response.parsed)
    return response.parsed


def problem(response, status, problem_type):
    parsed = expect(response, status, Problem)
    assert response.headers["content-type"] == "application/problem+json"
    assert parsed.type_ == f"/problems/{problem_type}", parsed
    assert parsed.status == status, parsed
    return parsed


if phase == "orders":
    placed = expect(place_order.sync_detailed(client=client, body=order(promo="WELCOME10"),
                                              idempotency_key="contract-1"), 202, OrderView)
    assert placed.status == "pending" and placed.pricing.discount > 0, placed
    replayed = place_order.sync_detailed(client=client, body=order(promo="WELCOME10"),
                                         idempotency_key="contract-1")
    assert expect(replayed, 202, OrderView).id == placed.id
    assert replayed.headers["idempotent-replayed"] == "true"
    read = expect(get_order.sync_detailed(placed.id, client=client), 200, OrderView)
    assert (read.id, read.pricing.total) == (placed.id, placed.pricing.total), read

    cancelled = expect(place_order.sync_detailed(client=client, body=order(quantity=1)), 202, OrderView)
    requested = expect(cancel_order.sync_detailed(cancelled.id, client=client), 202, OrderView)
    assert requested.cancellation_requested_at, requested

    page = expect(list_orders.sync_detailed(client=client, customer_id="cus_contract", limit="10"),
                  200, OrderList)
    assert [o.id for o in page.orders] == [cancelled.id, placed.id], page

    # Typed problems for bad requests.
    invalid = problem(place_order.sync_detailed(client=client, body=order(quantity=0)), 422, "validation")
    assert [e.pointer for e in invalid.errors] == ["/items/0/quantity"], invalid
    reused = place_order.sync_detailed(client=client, body=order(quantity=3), idempotency_key="contract-1")
    problem(reused, 422, "idempotency-key-reused")
    bad_limit = problem(list_orders.sync_detailed(client=client, limit="0"), 400, "invalid-parameters")
    assert [e.parameter for e in bad_limit.errors] == ["limit"], bad_limit
    problem(get_order.sync_detailed("ord_nothing", client=client), 404, "not-found")
    stale = patch_order.sync_detailed(placed.id, client=client, if_match='"stale"',
                                      body=OrderPatch(customer=CustomerPatch(email="ada@example.org")))
    problem(stale, 412, "precondition-failed")

    with open(ids_file, "w") as f:
        json.dump({"shipped": placed.id, "cancelled": cancelled.id}, f)
    print("contract: placed, replayed, read, listed, cancelled; typed problems for 400, 404, 412, 422")

elif phase == "executions":
    with open(ids_file) as f:
        ids = json.load(f)
    with open(document_file) as f:
        document = json.load(f)
    # The execution's schema, with the document's components for its references.
    schema = {"$ref": "#/components/schemas/Execution", "components": document["components"]}
    for expected, order_id in ids.items():
        deadline = time.monotonic() + 120
        while True:
            response = get_execution.sync_detailed(order_id, client=client)
            if response.status_code == 200 and response.parsed.execution.status != "RUNNING":
                break
            assert time.monotonic() < deadline, f"the workflow of {order_id} did not finish: {response.content}"
            time.sleep(0.05)
        execution = expect(response, 200, Execution)
        OAS31Validator(schema).validate(json.loads(response.content))
        assert execution.execution.status == "SUCCEEDED", execution.execution
        assert execution.events[0].type_ == "ExecutionStarted", execution.events[0]
        final = expect(get_order.sync_detailed(order_id, client=client), 200, OrderView)
        assert final.status == expected, (expected, final.status)
    print(f"contract: executions of {len(ids)} orders read through the client and valid against their schema")
PY

run_client() {
  PYTHONPATH="$work" "$venv/bin/python" "$work/contract_test.py" "$1" "$base" "$work/ids.json" "$work/openapi.json"
}
run_client orders
stop_server
start_server run
run_client executions
