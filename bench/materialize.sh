#!/usr/bin/env bash
# Benchmark (not a test): parse + materialize COUNT change events from one JSON array with
# the Rust reference and with the upstream Node MaterializedState, on the same file in the
# same run. Prints both throughputs and, on the last line, the ratio.
#
#   bench/materialize.sh [COUNT=1000000] [SEED=42] [RUNS=3]
#
# Each side runs RUNS times; the best run counts (these machines are noisy).
set -euo pipefail
count=${1:-1000000}
seed=${2:-42}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
data="$out/events-$count-$seed.json"

# One build for every Rust tool (same features as the runner: no second build of the graph).
cargo build --quiet --release --locked -p spec-tests -p stream-simulator -p bench-tools --bins --manifest-path "$root/Cargo.toml"
bin="$root/target/release/materialize_bench"
[ -d "$root/bench/node/node_modules" ] || (cd "$root/bench/node" && npm ci --no-audit --no-fund --silent)
[ -f "$data" ] || "$bin" generate "$count" "$seed" "$data"
echo "data: $data ($(du -h "$data" | cut -f1), $count events, seed $seed)"

best() { # best events_per_second of $runs runs of the given command; keeps the last output
  local top=0 eps
  for _ in $(seq "$runs"); do
    "$@" > "$out/last.txt"
    eps=$(awk '/^events_per_second/ {print $2}' "$out/last.txt")
    if [ "$eps" -gt "$top" ]; then top=$eps; fi
  done
  echo "$top"
}

rust=$(best "$bin" run "$data")
rust_entities=$(awk '/^entities/ {$1=""; print}' "$out/last.txt")
node=$(best node --max-old-space-size=8192 "$root/bench/node/materialize.mjs" "$data")
node_entities=$(awk '/^entities/ {$1=""; print}' "$out/last.txt")

echo "reference (Rust):          $rust events/s"
echo "MaterializedState (Node):  $node events/s"
if [ "$rust_entities" != "$node_entities" ]; then
  echo "WARNING: final states differ: rust [$rust_entities] node [$node_entities]"
fi
awk -v r="$rust" -v n="$node" 'BEGIN { printf "ratio (reference / node): %.2fx\n", r / n }'
