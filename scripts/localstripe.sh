#!/usr/bin/env bash
# Stripe against localstripe, a stateful fake Stripe: starts it on a free loopback port
# (scripts/localstripe-serve.sh, which installs the pinned version), runs the ignored tests that
# need it (the adapter's `localstripe` suite, then the saga with PAYMENTS=stripe), and stops it by
# PID. Extra arguments go to both test binaries (a filter such as `refund`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build first, so the fake does not sit idle through a compile.
cargo test --quiet --locked -p orderflow-adapters-stripe --test localstripe --no-run
cargo test --quiet --locked -p orderflow-tests --test saga --no-run

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
pid=
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -f "$log"
}
trap stop EXIT
scripts/localstripe-serve.sh "$port" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if curl --silent --output /dev/null "http://127.0.0.1:$port/v1/customers" -u sk_test_ready:; then break; fi
  sleep 0.2
done

export LOCALSTRIPE_URL="http://127.0.0.1:$port"
status=0
cargo test --quiet --locked -p orderflow-adapters-stripe --test localstripe -- --ignored "$@" || status=$?
cargo test --quiet --locked -p orderflow-tests --test saga stripe:: -- --ignored "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "== localstripe log (tail)" >&2; tail -n 40 "$log" >&2
fi
exit "$status"
