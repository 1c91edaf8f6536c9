#!/usr/bin/env bash
# The AWS adapters' port contract suites on emulators: installs the pinned ministack and
# moto[server] in a venv under the target directory, starts both on free loopback ports, runs
# the ignored emulator tests of orderflow-adapters-aws against them (the port contract suites,
# and Step Functions on ministack), and stops them by PID.
# Extra arguments go to the test binary (a filter such as `ministack::inventory`).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/aws-emulators"
ministack_version=1.5.33
moto_version=5.2.5

source scripts/venv.sh
venv_with "$venv" "ministack==$ministack_version" "moto[server]==$moto_version"
# Build first, so the emulators do not sit idle through a compile.
cargo test --quiet --locked -p orderflow-adapters-aws --test emulators --no-run

source scripts/servers.sh
ministack_port=$(free_port)
moto_port=$(free_port)

# ministack's IoT service would also listen on 8883 (MQTT over TLS): off, so two runs never collide.
BIND_HOST=127.0.0.1 GATEWAY_PORT="$ministack_port" IOT_MTLS_ENABLED=0 "$venv/bin/ministack" >"$(log_of ministack)" 2>&1 &
started
# moto_server serves requests on threads and checks DynamoDB conditions without a lock, so two
# racing conditional writes can both pass, which DynamoDB never allows: serve one request at a
# time (werkzeug's `threaded=False`), so each request is atomic, as each DynamoDB write is.
MOTO_PORT="$moto_port" "$venv/bin/python" - "$moto_port" >"$(log_of moto)" 2>&1 <<'PY' &
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
PY
started
wait_for ministack "http://127.0.0.1:$ministack_port/_ministack/health"
wait_for moto "http://127.0.0.1:$moto_port/moto-api/"

started=$(date +%s%3N)
status=0
MINISTACK_URL="http://127.0.0.1:$ministack_port" MOTO_URL="http://127.0.0.1:$moto_port" \
  cargo test --quiet --locked -p orderflow-adapters-aws --test emulators -- --ignored "$@" || status=$?
elapsed=$(( $(date +%s%3N) - started ))
printf 'emulator suites: %d.%03d s\n' $(( elapsed / 1000 )) $(( elapsed % 1000 ))
if [ "$status" -ne 0 ]; then
  show_log ministack
  show_log moto
fi
exit "$status"
