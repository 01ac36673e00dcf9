#!/usr/bin/env bash
# Runs the Durable Streams authors' Rust client (built from ../shared by install.sh) as a
# subscriber under spec-1.0, gated by its expectations file, and writes the report into DIR
# when given (for the matrix).
#
#   adapters/rust-client/run.sh [DIR]
#
# Without ../shared the run is skipped, with a line that says so, and the script exits 0.
# Exit 1 on an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
installed=$(adapters/rust-client/install.sh)
[ -n "$installed" ] && echo "$installed"
case "$installed" in *SKIPPED*) exit 0 ;; esac
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests --bins
out=${1:-$(mktemp -d)}
mkdir -p "$out"
echo "rust-client under spec-1.0:"
# Live cases mostly wait on the network: more jobs than cores is fine.
"$bin" run --profile spec-1.0 --jobs 6 --no-progress --check-protocol \
  --expectations adapters/rust-client/expectations/spec-1.0.toml \
  --report-json "$out/rust-client.spec-1.0.json" \
  -- adapters/rust-client/target/release/rust-client-adapter | tail -1
