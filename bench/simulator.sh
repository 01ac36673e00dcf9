#!/usr/bin/env bash
# Benchmark (not a test): the same Rust load generator (bench/src/bin/load.rs) drives
# the simulator and the upstream Node reference server (@durable-streams/server, from
# simulator/conformance's lock file), each in its own process, in the same run. Prints both
# rates and the ratio per scenario.
#
#   bench/simulator.sh [SCENARIO ...]     (default: appends batches catch-up tail)
#
# The simulator runs with transcripts off (--transcript-capacity 0), as a load test would.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(appends batches catch-up tail)

# One build for every Rust tool (same features as the runner: no second build of the graph).
cargo build --quiet --release --locked -p spec-tests -p stream-simulator -p bench-tools --bins --manifest-path "$root/Cargo.toml"
[ -d "$root/simulator/conformance/node_modules" ] || (cd "$root/simulator/conformance" && npm ci --no-audit --no-fund --silent)
load="$root/target/release/load"

start_server() { # command... -> prints the URL the server printed
  local out; out=$(mktemp)
  "$@" > "$out" &
  echo $! > "$out.pid"
  for _ in $(seq 100); do
    [ -s "$out" ] && { head -1 "$out"; echo "$out.pid" >> "$root/bench/out/pids"; return 0; }
    sleep 0.1
  done
  echo "server did not start: $*" >&2
  return 1
}

mkdir -p "$root/bench/out"
: > "$root/bench/out/pids"
trap 'for p in $(cat "$root/bench/out/pids"); do kill "$(cat "$p")" 2>/dev/null || true; done' EXIT
sim=$(start_server "$root/target/release/stream-simulator" --bind 127.0.0.1:0 --transcript-capacity 0)
node=$(cd "$root/simulator/conformance" && start_server node node-server.mjs)

printf '%-10s %16s %16s %8s\n' scenario simulator node ratio
for s in "${scenarios[@]}"; do
  read -r _ sim_rate unit < <("$load" "$sim" "$s")
  read -r _ node_rate _ < <("$load" "$node" "$s")
  awk -v s="$s" -v a="$sim_rate" -v b="$node_rate" -v u="$unit" \
    'BEGIN { printf "%-10s %16s %16s %7.1fx  (%s)\n", s, a, b, a / b, u }'
done
