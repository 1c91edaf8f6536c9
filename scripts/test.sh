#!/usr/bin/env bash
# Every test of the project, from a fresh clone. Installs what the tests need into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$1" $(( $(date +%s) - started )); }

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
npm ci --no-audit --no-fund --prefix engine/tests/differential
cargo test --workspace --locked

step "the console in a browser"
scripts/console-browser.sh

step "AWS adapters: the port contract suites on ministack and moto"
scripts/aws-emulators.sh

step "the Stripe adapter on localstripe"
scripts/localstripe.sh

step "the CDK app: tsc, synth with cdk-nag, cfn-lint, assertion tests"
scripts/cdk.sh

step "end to end on ministack: our Lambda zips behind an HTTP API, the state machine, DynamoDB, S3, SES; and the CDK app deployed through CloudFormation"
scripts/aws-e2e.sh

step "API fuzzing from the OpenAPI document"
scripts/api-fuzz.sh

step "done"
