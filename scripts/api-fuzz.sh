#!/usr/bin/env bash
# Property-based tests of the HTTP API from its own OpenAPI document (schemathesis): no input
# may produce a 5xx, and every answer must match the documented status codes, content types,
# headers and schemas. Runs the local server (workflows paused) on a free loopback port. Then
# scripts/api-contract.sh validates the document and drives the API through a generated client.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/venv"

source scripts/venv.sh
venv_with "$venv" "schemathesis==4.32.5"
cargo build --quiet --locked -p orderflow --bin orderflow

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d)
WORKFLOWS=paused RUST_LOG=warn HOST=127.0.0.1 PORT="$port" DATA_DIR="$data_dir" "$target/debug/orderflow" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data_dir"' EXIT

"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --wait-for-schema 30 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${API_FUZZ_EXAMPLES:-100}" \
  --workers 2 \
  --seed 2026

kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
scripts/api-contract.sh
