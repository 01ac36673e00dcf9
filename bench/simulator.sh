#!/usr/bin/env bash
# Benchmark (not a test): one Rust load generator (bench/src/bin/load.rs) drives several
# Durable Streams servers, each in its own process, in the same run:
#   simulator          this project's simulator, transcripts off (as a load test would run it)
#   simulator+tx       the same with transcripts on (the runner's setting), to price them
#   rust-memory        the official Rust server (crates.io durable-streams 0.1.5), --durability memory
#   rust-wal           the same with its default write-ahead log (--durability wal)
#   node               the upstream Node reference server (@durable-streams/server)
# Each figure is the best of RUNS runs, the servers taking turns; ratios are simulator / peer (for latencies, peer /
# simulator: above 1 the simulator is ahead either way).
#
#   bench/simulator.sh [SCENARIO ...]
#   RUNS=3 SERVERS="simulator simulator+tx rust-memory rust-wal node" bench/simulator.sh
#
# Scenarios (default all): appends batches catch-up tail fanout-lp fanout-sse.
# The Rust server is installed once into bench/out/durable-streams-0.1.5 (cargo install
# --locked), then reused.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(appends batches catch-up tail fanout-lp fanout-sse)
runs=${RUNS:-1}
read -r -a servers <<< "${SERVERS:-simulator simulator+tx rust-memory rust-wal node}"
out="$root/bench/out"
mkdir -p "$out"

# One build for every Rust tool (same features as the runner: no second build of the graph).
cargo build --quiet --release --locked -p spec-tests -p stream-simulator -p bench-tools --bins --manifest-path "$root/Cargo.toml"
load="$root/target/release/load"
wants() { [[ " ${servers[*]} " == *" $1"* ]]; }
if wants node; then
  [ -d "$root/simulator/conformance/node_modules" ] || (cd "$root/simulator/conformance" && npm ci --no-audit --no-fund --silent)
fi
rust_server="$out/durable-streams-0.1.5/bin/durable-streams-server"
if wants rust && [ ! -x "$rust_server" ]; then
  echo "installing the official Rust server (once): cargo install --locked --version 0.1.5 durable-streams" >&2
  cargo install --quiet --locked --version 0.1.5 durable-streams --root "$out/durable-streams-0.1.5"
fi

: > "$out/pids"
trap 'for p in $(cat "$out/pids"); do kill "$p" 2>/dev/null || true; done' EXIT
start_server() { # command... -> prints the first http:// URL the server prints
  local log; log=$(mktemp)
  "$@" > "$log" 2>&1 &
  echo $! >> "$out/pids"
  for _ in $(seq 200); do
    if grep -qoE "http://[0-9.]+:[0-9]+" "$log"; then grep -oE "http://[0-9.]+:[0-9]+" "$log" | head -1; return 0; fi
    sleep 0.05
  done
  echo "server did not start: $* ($(cat "$log"))" >&2
  return 1
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A url
for s in "${servers[@]}"; do
  case $s in
    simulator) url[$s]=$(start_server "$root/target/release/stream-simulator" --bind 127.0.0.1:0 --transcript-capacity 0) ;;
    simulator+tx) url[$s]=$(start_server "$root/target/release/stream-simulator" --bind 127.0.0.1:0) ;;
    rust-memory) url[$s]=$(start_server "$rust_server" --host 127.0.0.1 --port "$(free_port)" --durability memory --data-dir "$(mktemp -d)") ;;
    rust-wal) url[$s]=$(start_server "$rust_server" --host 127.0.0.1 --port "$(free_port)" --durability wal --data-dir "$(mktemp -d)") ;;
    node) url[$s]=$(cd "$root/simulator/conformance" && start_server node node-server.mjs) ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
done

better() { # new old -> whether measurement line "VALUE UNIT [P99]" new beats old
  [ -z "$2" ] && return 0
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    exit !((x[2] == "ms") ? x[1] < y[1] : x[1] > y[1]) }'
}

printf '%-11s' scenario; for s in "${servers[@]}"; do printf ' %14s' "$s"; done; printf '  %s\n' "unit (best of $runs)"
declare -A result
for sc in "${scenarios[@]}"; do
  printf '%-11s' "$sc"
  # The servers take turns, run after run, so a slow spell of this shared machine falls on
  # all of them alike; each keeps its best run.
  for s in "${servers[@]}"; do result[$s]=""; done
  for _ in $(seq "$runs"); do
    for s in "${servers[@]}"; do
      line=$("$load" "${url[$s]}" "$sc" | cut -d' ' -f2-)
      if better "$line" "${result[$s]}"; then result[$s]=$line; fi
    done
  done
  for s in "${servers[@]}"; do
    printf ' %14s' "$(awk '{ if ($2 == "ms") printf "%s/%s", $1, $3; else print $1 }' <<<"${result[$s]}")"
  done
  unit=$(awk '{print $2}' <<<"${result[${servers[0]}]}")
  [ "$unit" = ms ] && unit="ms p50/p99"
  printf '  %s\n' "$unit"
  base=${result[${servers[0]}]}
  for s in "${servers[@]:1}"; do
    awk -v name="${servers[0]} vs $s" -v a="$base" -v b="${result[$s]}" 'BEGIN {
      split(a, x, " "); split(b, y, " ");
      if (x[2] == "ms") printf "    %-32s %6.2fx p50, %6.2fx p99\n", name, y[1] / x[1], y[3] / x[3];
      else printf "    %-32s %6.2fx\n", name, x[1] / y[1] }'
  done
done
