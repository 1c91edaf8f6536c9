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

source scripts/servers.sh
port=$(free_port)
scripts/localstripe-serve.sh "$port" >"$(log_of localstripe)" 2>&1 &
started
wait_for localstripe "http://127.0.0.1:$port/v1/customers" -u sk_test_ready:

export LOCALSTRIPE_URL="http://127.0.0.1:$port"
status=0
cargo test --quiet --locked -p orderflow-adapters-stripe --test localstripe -- --ignored "$@" || status=$?
cargo test --quiet --locked -p orderflow-tests --test saga stripe:: -- --ignored "$@" || status=$?
if [ "$status" -ne 0 ]; then
  show_log localstripe
fi
exit "$status"
