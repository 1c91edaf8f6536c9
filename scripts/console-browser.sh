#!/usr/bin/env bash
# The local console in a real browser: headless Chromium driven over WebDriver by the Rust
# tests in tests/console/ (ignored by a plain `cargo test`). Installs Debian's chromium and
# chromium-driver when they are missing. Screenshots land in <target>/console-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium chromium-driver
fi

target=$(scripts/target-dir)
cargo test --locked -p orderflow-tests --test console -- --ignored
echo "screenshots and first-paint measurements: $target/console-screenshots/"
