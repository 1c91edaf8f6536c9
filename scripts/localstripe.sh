#!/usr/bin/env bash
# Stripe against localstripe, a stateful fake Stripe: installs the pinned localstripe in a venv
# under the target directory, starts it on a free loopback port, runs the ignored tests that need
# it (the adapter's `localstripe` suite, then the saga with PAYMENTS=stripe), and stops it by PID.
# Extra arguments go to both test binaries (a filter such as `refund`).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/localstripe"
localstripe_version=1.15.10

if ! "$venv/bin/pip" show --quiet "localstripe==$localstripe_version" >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "localstripe==$localstripe_version"
fi
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

# localstripe listens on every interface and refuses `off_session` when a PaymentIntent is
# confirmed, which Stripe documents for charging a saved card without its owner (and the adapter
# sends): serve it on loopback only, with its confirm taking that one parameter and otherwise
# unchanged.
"$venv/bin/python" - "$port" >"$log" 2>&1 <<'PY' &
import socket
import sys

from localstripe import resources

confirm = resources.PaymentIntent._api_confirm


def confirm_off_session(id, off_session=None, **kwargs):
    return confirm(id, **kwargs)


resources.extra_apis[:] = [
    (method, url, confirm_off_session if handler == confirm else handler)
    for method, url, handler in resources.extra_apis
]

from aiohttp import web  # noqa: E402
from localstripe.server import app  # noqa: E402

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
web.run_app(app, sock=sock, print=None)
PY
pid=$!
for _ in $(seq 1 150); do
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
