#!/usr/bin/env bash
# Measures asl-engine on the ten-state Pass/Choice machine (engine/benches/ten-states.asl.json)
# next to aws-local-stepfunctions running the same machine, in the same run:
#   - our executions/s in memory, one after the other (release build);
#   - our state transitions/s persisted in SQLite (synchronous=FULL, 500 executions at a time);
#   - aws-local-stepfunctions 3.0.0 executions/s, one after the other, in Node;
# and the in-memory ratio. The machine is shared and noisy: the two sides run alternately, several
# rounds, and each figure is the best of its rounds.
# Usage: bench/engine.sh [seconds per measure] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-3}"
rounds="${2:-3}"
node_dir=engine/tests/differential

command -v node >/dev/null || { echo "node is needed (20 or later)" >&2; exit 1; }
[ -f "$node_dir/node_modules/aws-local-stepfunctions/package.json" ] ||
  npm ci --no-audit --no-fund --prefix "$node_dir" >&2
cargo build --release -q -p asl-engine --example throughput
target=$(scripts/target-dir)

figures=""
for round in $(seq "$rounds"); do
  echo "round $round of $rounds" >&2
  figures+=$("$target/release/examples/throughput" "$seconds")$'\n'
  figures+=$(cd "$node_dir" && node --import ./polyfill.mjs bench.mjs "$seconds")$'\n'
done

# The best round of a figure.
value() { awk -v key="$1" '$1 == key && $2 > best { best = $2 } END { print best }' <<<"$figures"; }
memory=$(value memory_sequential)
forgetting=$(value memory_sequential_forgetting)
transitions=$(value sqlite_transitions)
sqlite_executions=$(value sqlite_executions)
baseline=$(value npm_sequential)

awk -v m="$memory" -v f="$forgetting" -v t="$transitions" -v se="$sqlite_executions" -v b="$baseline" 'BEGIN {
  printf "%-62s %12s\n", "ten-state Pass/Choice machine", "per second"
  printf "%-62s %12d  (%.1f us each)\n", "asl-engine, in memory, sequential, keeping histories", m, 1e6 / m
  printf "%-62s %12d  (%.1f us each)\n", "asl-engine, in memory, sequential, forgetting finished runs", f, 1e6 / f
  printf "%-62s %12d  (%d executions/s)\n", "asl-engine, SQLite synchronous=FULL, state transitions", t, se
  printf "%-62s %12d  (%.1f us each)\n", "aws-local-stepfunctions 3.0.0, in memory, sequential", b, 1e6 / b
  printf "ratio in memory (asl-engine / aws-local-stepfunctions): %.1fx keeping histories, %.1fx forgetting; goal >= 10x\n", m / b, f / b
}'
