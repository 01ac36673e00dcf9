#!/usr/bin/env bash
# Runs the official Durable Streams server conformance suite (pinned in package.json) against
# the standalone simulator and, in the same run, the upstream Node reference server and, with
# --with-rust, the official Rust server (crates.io durable-streams 0.1.5, installed once into
# bench/out/ as bench/simulator.sh does), and prints each one's counts.
#
#   simulator/conformance/run.sh                  simulator and Node server
#   simulator/conformance/run.sh --with-rust      all three (the fidelity table of docs/simulator.md)
#   simulator/conformance/run.sh --simulator-only
#
# Exit 1 if the simulator fails a test that another server in the run passes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
mode=${1:-}
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
cargo build --quiet --release --locked -p spec-tests -p stream-simulator -p bench-tools --bins --manifest-path "$root/Cargo.toml"
rust_server="$root/bench/out/durable-streams-0.1.5/bin/durable-streams-server"
if [ "$mode" = "--with-rust" ] && [ ! -x "$rust_server" ]; then
  echo "installing the official Rust server (once): cargo install --locked --version 0.1.5 durable-streams" >&2
  cargo install --quiet --locked --version 0.1.5 durable-streams --root "$root/bench/out/durable-streams-0.1.5"
fi

run_suite() { # name url -> prints "name: N passed, M failed, K skipped"
  local name=$1 url=$2 log="$here/out-$1.txt"
  CONFORMANCE_BASE_URL=$url ./node_modules/.bin/vitest run > "$log" 2>&1 || true
  sed -i 's/\x1b\[[0-9;]*m//g' "$log"
  local line; line=$(grep -E "^ +Tests " "$log" | tail -1)
  local passed failed skipped
  passed=$(grep -oE "[0-9]+ passed" <<<"$line" | grep -oE "[0-9]+" || echo 0)
  failed=$(grep -oE "[0-9]+ failed" <<<"$line" | grep -oE "[0-9]+" || echo 0)
  skipped=$(grep -oE "[0-9]+ skipped" <<<"$line" | grep -oE "[0-9]+" || echo 0)
  echo "$name: $passed passed, $failed failed, $skipped skipped (log: $log)"
}

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # command... -> the first http:// URL the server prints
  local log; log=$(mktemp)
  "$@" > "$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -qoE "http://[0-9.]+:[0-9]+" "$log"; then grep -oE "http://[0-9.]+:[0-9]+" "$log" | head -1; return 0; fi
    sleep 0.05
  done
  echo "server did not start: $* ($(cat "$log"))" >&2
  return 1
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

others=()
run_suite simulator "$(start "$root/target/release/stream-simulator" --bind 127.0.0.1:0 --long-poll-ms 1000 --sse-lifetime-ms 5000)"
if [ "$mode" != "--simulator-only" ]; then
  run_suite node-reference "$(start node node-server.mjs)"
  others+=(node-reference)
fi
if [ "$mode" = "--with-rust" ]; then
  run_suite rust-server "$(start "$rust_server" --host 127.0.0.1 --port "$(free_port)" --durability memory --data-dir "$(mktemp -d)")"
  others+=(rust-server)
fi

# Every test another server passes must pass on the simulator. The suite's skipped tests are
# skipped on every server, so a test another server did not fail is one it passed.
failed_tests() { grep -E "^ FAIL " "$here/out-$1.txt" | sort -u; }
status=0
for other in "${others[@]}"; do
  regressions=$(comm -23 <(failed_tests simulator) <(failed_tests "$other") || true)
  if [ -n "$regressions" ]; then
    echo "tests $other passes but the simulator fails:"
    echo "$regressions"
    status=1
  else
    echo "every test $other passes also passes on the simulator"
  fi
done
exit "$status"
