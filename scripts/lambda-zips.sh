#!/usr/bin/env bash
# Builds the Lambda zips (`bootstrap` inside) of the api, worker and sweeper functions for
# provided.al2023, x86_64 and arm64, with cargo-lambda and zig from PyPI in a venv under the
# target directory. Zips land in <target>/lambda/<arch>/<binary>/bootstrap.zip.
# If zig cannot build, x86_64 falls back to the host's own toolchain (`--compiler cargo`) and
# arm64 is reported as not built.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/cargo-lambda"
cargo_lambda_version=1.9.2
ziglang_version=0.14.1

source scripts/venv.sh
venv_with "$venv" "cargo-lambda==$cargo_lambda_version" "ziglang==$ziglang_version"
export PATH="$venv/bin:$PATH"

build() { # arch flag, extra args...
  local arch=$1; shift
  cargo lambda build --release --locked -p orderflow-lambda --output-format zip \
    --lambda-dir "$target/lambda/$arch" "$@"
}

status=0
for arch in x86_64 arm64; do
  started=$(date +%s)
  if build "$arch" "--$( [ "$arch" = x86_64 ] && echo x86-64 || echo arm64 )"; then
    how=zig
  elif [ "$arch" = x86_64 ] && build "$arch" --x86-64 --compiler cargo; then
    how="cargo (zig failed)"
  else
    echo "$arch: not built" >&2
    status=1
    continue
  fi
  echo "$arch ($how): $(( $(date +%s) - started )) s"
  for zip in "$target/lambda/$arch"/*/bootstrap.zip; do
    printf '  %-10s %s bytes\n' "$(basename "$(dirname "$zip")")" "$(stat -c %s "$zip")"
  done
done
exit "$status"
