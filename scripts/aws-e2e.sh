#!/usr/bin/env bash
# The pipeline end to end on ministack, deployed as on AWS from our Lambda zips: starts the pinned
# ministack (the venv scripts/aws-emulators.sh installs) and localstripe on free loopback ports,
# runs the ignored tests of orderflow-lambda's `ministack` suite against them, and stops both by
# PID.
#
# The zips: by default this builds the three functions for this machine with cargo (the debug
# profile the tests already built, stripped) and packs each as `bootstrap` in a zip, the layout
# `cargo lambda` writes. LAMBDA_ZIPS=<dir> runs the suite on other zips instead, such as the
# release builds of scripts/lambda-zips.sh (`LAMBDA_ZIPS=<target>/lambda/x86_64`).
# Extra arguments go to the test binary (a filter such as `declined`).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/aws-emulators"
ministack_version=1.5.33

source scripts/venv.sh
venv_with "$venv" "ministack==$ministack_version"

# One test synthesizes the CDK app and deploys it through CloudFormation: it needs cdk's packages.
[ -x cdk/node_modules/.bin/cdk ] || npm ci --no-audit --no-fund --loglevel=error --prefix cdk

# Build first, so the emulator does not sit idle through a compile.
cargo test --quiet --locked -p orderflow-lambda --test ministack --no-run
if [ -z "${LAMBDA_ZIPS:-}" ]; then
  cargo build --quiet --locked -p orderflow-lambda --bins
  LAMBDA_ZIPS="$target/lambda/host"
  for binary in api worker sweeper; do
    dir="$LAMBDA_ZIPS/$binary"
    mkdir -p "$dir"
    strip --strip-debug -o "$dir/bootstrap" "$target/debug/$binary"
    (cd "$dir" && rm -f bootstrap.zip && python3 -m zipfile -c bootstrap.zip bootstrap)
    printf '  %-8s %s bytes zipped\n' "$binary" "$(stat -c %s "$dir/bootstrap.zip")"
  done
fi
# The tests run in the package's directory: name the zips from anywhere.
LAMBDA_ZIPS=$(cd "$LAMBDA_ZIPS" && pwd)
export LAMBDA_ZIPS

source scripts/servers.sh
port=$(free_port)
stripe_port=$(free_port)
# The functions run as local processes of ministack's: they log to its output.
BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" IOT_MTLS_ENABLED=0 "$venv/bin/ministack" >"$(log_of ministack)" 2>&1 &
started
# A fake Stripe for the stack whose workers charge through Stripe.
scripts/localstripe-serve.sh "$stripe_port" >"$(log_of localstripe)" 2>&1 &
started
wait_for ministack "http://127.0.0.1:$port/_ministack/health"
wait_for localstripe "http://127.0.0.1:$stripe_port/v1/customers" -u sk_test_ready:

started=$(date +%s%3N)
status=0
MINISTACK_URL="http://127.0.0.1:$port" LOCALSTRIPE_URL="http://127.0.0.1:$stripe_port" cargo test --quiet --locked -p orderflow-lambda --test ministack -- --ignored "$@" \
  || status=$?
elapsed=$(( $(date +%s%3N) - started ))
printf 'end to end on ministack: %d.%03d s\n' $(( elapsed / 1000 )) $(( elapsed % 1000 ))
if [ "$status" -ne 0 ]; then
  show_log ministack 80
fi
exit "$status"
