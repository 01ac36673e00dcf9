#!/usr/bin/env bash
# Benchmark (not a test): servers side by side on one scenario, in rounds, with the page faults
# and CPU time each server's process spent on the round (read from /proc/PID/stat, Linux).
# Used to weigh allocator and storage changes (docs/performance.md, "The allocator and block
# reuse"): build each variant of a binary, copy it aside, and name each command here.
#
#   bench/faults.sh NAME='COMMAND …' [NAME='COMMAND …' …]
#   ROUNDS=4 RUNS=5 SCENARIO=batches bench/faults.sh \
#     glibc='target/release/stream-simulator --bind 127.0.0.1:0 --transcript-capacity 0' \
#     tuned='env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 target/release/stream-simulator --bind 127.0.0.1:0 --transcript-capacity 0'
#
# Each command must print its http:// URL on start (as every server of bench/simulator.sh
# does); a port of 0 in it is fine, `{port}` is replaced by a free one. Prints, per round and
# server: the best of RUNS (scenario units), the page faults and the CPU ticks (1/100 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
rounds=${ROUNDS:-4} runs=${RUNS:-5} scenario=${SCENARIO:-batches}
case $scenario in
  appends|batches|catch-up|tail) ;;
  *) echo "SCENARIO must be a throughput scenario: appends, batches, catch-up or tail" >&2; exit 2 ;;
esac
cargo build --quiet --release --locked -p bench-tools --bin load --manifest-path "$root/Cargo.toml"
load="$root/target/release/load"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
names=() pids=()
declare -A url pid
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for arg in "$@"; do
  name=${arg%%=*} command=${arg#*=}
  command=${command//\{port\}/$(free_port)}
  log=$(mktemp)
  # shellcheck disable=SC2086 # the command is split into words on purpose
  $command > "$log" 2>&1 &
  pid[$name]=$! pids+=($!) names+=("$name")
  for _ in $(seq 200); do
    url[$name]=$(grep -oE "http://[0-9.]+:[0-9]+" "$log" | head -1 || true)
    [ -n "${url[$name]}" ] && break
    sleep 0.05
  done
  [ -n "${url[$name]}" ] || { echo "$name did not start: $(cat "$log")" >&2; exit 1; }
done
counters() { awk '{ print $10, $14 + $15 }' "/proc/$1/stat"; } # minor faults, user+system ticks
for round in $(seq "$rounds"); do
  printf 'round %s:' "$round"
  for name in "${names[@]}"; do
    read -r faults0 ticks0 < <(counters "${pid[$name]}")
    best=0
    for _ in $(seq "$runs"); do
      value=$("$load" "${url[$name]}" "$scenario" | awk '{ print $2 }')
      best=$(awk -v a="$value" -v b="$best" 'BEGIN { print (a > b) ? a : b }')
    done
    read -r faults1 ticks1 < <(counters "${pid[$name]}")
    printf '  %s %s (%s faults, %s ticks)' "$name" "$best" $((faults1 - faults0)) $((ticks1 - ticks0))
  done
  echo
done
