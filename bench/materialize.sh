#!/usr/bin/env bash
# Benchmark (not a test): parse + materialize COUNT change events from one JSON array with
# the Rust reference and with the upstream Node MaterializedState, on the same file in the
# same run. Prints both throughputs, the parse floor (the file read into serde's IgnoredAny on
# one thread: what any serde_json reader pays at least) and, on the last line, the ratio.
#
#   bench/materialize.sh [COUNT=1000000] [SEED=42] [RUNS=3]
#
# Each side runs RUNS times, in turns; the best run counts (these machines are noisy).
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

# The three measurements take turns, run after run, so a slow spell of this shared machine
# falls on all of them alike; each keeps its best run.
eps() { awk '/^events_per_second/ {print $2}' "$1"; }
rust=0 node=0 floor=0
for _ in $(seq "$runs"); do
  "$bin" run "$data" > "$out/rust.txt"
  node --max-old-space-size=8192 "$root/bench/node/materialize.mjs" "$data" > "$out/node.txt"
  "$bin" floor "$data" > "$out/floor.txt"
  rust=$(( $(eps "$out/rust.txt") > rust ? $(eps "$out/rust.txt") : rust ))
  node=$(( $(eps "$out/node.txt") > node ? $(eps "$out/node.txt") : node ))
  floor=$(( $(eps "$out/floor.txt") > floor ? $(eps "$out/floor.txt") : floor ))
done
rust_entities=$(awk '/^entities/ {$1=""; print}' "$out/rust.txt")
node_entities=$(awk '/^entities/ {$1=""; print}' "$out/node.txt")

echo "reference (Rust):          $rust events/s"
echo "MaterializedState (Node):  $node events/s"
echo "parse floor (serde_json into IgnoredAny, one thread): $floor events/s"
if [ "$rust_entities" != "$node_entities" ]; then
  echo "WARNING: final states differ: rust [$rust_entities] node [$node_entities]"
fi
awk -v r="$rust" -v n="$node" 'BEGIN { printf "ratio (reference / node): %.2fx\n", r / n }'
