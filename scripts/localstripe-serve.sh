#!/usr/bin/env bash
# Serves the pinned localstripe, a stateful fake Stripe, on 127.0.0.1:<port> in the foreground
# (callers start it in the background and stop it by PID), installing it first in a venv under
# the target directory. Usage: scripts/localstripe-serve.sh <port>
#
# localstripe listens on every interface and refuses `off_session` when a PaymentIntent is
# confirmed, which Stripe documents for charging a saved card without its owner (and the adapter
# sends): it is served on loopback only, with its confirm taking that one parameter and otherwise
# unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$1
venv="$(scripts/target-dir)/tools/localstripe"
localstripe_version=1.15.10

source scripts/venv.sh
venv_with "$venv" "localstripe==$localstripe_version"

exec "$venv/bin/python" - "$port" <<'PY'
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
