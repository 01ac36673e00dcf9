#!/usr/bin/env bash
# Runs the official Durable Streams server conformance suite against the standalone
# simulator and, in the same run, against the upstream Node reference server, and prints both
# pass counts. `--simulator-only` skips the Node server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
cargo build --quiet --release --locked -p spec-tests -p stream-simulator -p bench-tools --bins --manifest-path "$root/Cargo.toml"

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

wait_for_url() { # file -> url, once the server printed it
  for _ in $(seq 100); do
    [ -s "$1" ] && head -1 "$1" && return 0
    sleep 0.1
  done
  echo "server did not start" >&2
  return 1
}

sim_out=$(mktemp)
"$root/target/release/stream-simulator" --bind 127.0.0.1:0 --long-poll-ms 1000 --sse-lifetime-ms 5000 > "$sim_out" &
sim_pid=$!
trap 'kill $sim_pid ${node_pid:-} 2>/dev/null || true' EXIT
run_suite simulator "$(wait_for_url "$sim_out")"

if [ "${1:-}" != "--simulator-only" ]; then
  node_out=$(mktemp)
  node node-server.mjs > "$node_out" &
  node_pid=$!
  run_suite node-reference "$(wait_for_url "$node_out")"
fi

# Every test the Node server passes must pass on the simulator, fork and subscription
# groups aside (forks are not implemented here).
if [ "${1:-}" != "--simulator-only" ]; then
  failed_tests() { grep -E "^ FAIL " "$here/out-$1.txt" | sort -u; }
  regressions=$(comm -23 <(failed_tests simulator | grep -vE "> Fork - |[Ss]ubscription") <(failed_tests node-reference) || true)
  if [ -n "$regressions" ]; then
    echo "tests the Node server passes but the simulator fails:"
    echo "$regressions"
    exit 1
  fi
  echo "every non-fork test the Node server passes also passes on the simulator"
fi
