#!/usr/bin/env bash
# The saga soak of the test command (local/tests/soak.rs) at any size, in release: orders through
# transient faults before and after every Task state, business failures on retries, customer
# cancellations and SIGKILL restarts, then every guarantee checked from the stores. Prints the
# orders per outcome, the violations (each one; the run fails if there is any) and the wall time.
# Usage: bench/soak.sh [orders] [kills]   (SOAK_SEED=n replays a run; SOAK_KEEP=1 keeps its data)
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_ORDERS="${1:-2000}" SOAK_KILLS="${2:-5}" SOAK_SEED="${SOAK_SEED:-$RANDOM}"
cargo test --release -q -p orderflow --test soak -- --nocapture
