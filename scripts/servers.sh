# Sourced by the test scripts that start servers (emulators, fakes): each on a free loopback port,
# logging to its own file, stopped by PID when the script exits.
#
#   some-server --port "$(free_port)" >"$(log_of some-server)" 2>&1 &
#   started
#   wait_for some-server "http://127.0.0.1:$port/health"

servers_logs=$(mktemp -d)
servers_pids=()

stop_servers() {
  for pid in "${servers_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$servers_logs"
}
trap stop_servers EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Where server <name> logs.
log_of() { echo "$servers_logs/$1.log"; }

# Records the last background job as a server to stop.
started() { servers_pids+=($!); }

# Waits (up to two minutes: a first run installs the server) for <url> to answer; extra arguments go to curl. Shows the log if not.
wait_for() { # name url [curl options...]
  local name=$1 url=$2
  shift 2
  for _ in $(seq 1 600); do
    if curl --silent --fail --output /dev/null "$@" "$url"; then return 0; fi
    sleep 0.2
  done
  echo "$name did not start; its log:" >&2
  cat "$(log_of "$name")" >&2
  return 1
}

# The end of server <name>'s log, for a failed run.
show_log() { echo "== $1 log (tail)" >&2; tail -n "${2:-40}" "$(log_of "$1")" >&2; }
