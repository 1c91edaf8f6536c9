#!/usr/bin/env bash
# Pushes orders through the whole local runtime (API, engine, workers, simulators; durable
# commits) and reports orders completed per second, 202 -> shipped p50/p99 and peak RSS.
# Usage: bench/saga.sh [orders] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
RUST_LOG=warn cargo run --release -q -p orderflow --example saga_bench -- "${1:-1000}" "${2:-64}"
