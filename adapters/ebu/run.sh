#!/usr/bin/env bash
# Runs ebu (built from ../shared by install.sh, with Go from PyPI) under every profile, each gated by its
# expectations file, and writes the reports into DIR when given (for the matrix).
#
#   adapters/ebu/run.sh [DIR]
#
# Without ../shared the run is skipped, with a line that says so, and the script exits 0.
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
installed=$(adapters/ebu/install.sh)
[ -n "$installed" ] && echo "$installed"
case "$installed" in *SKIPPED*) exit 0 ;; esac
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests --bins
out=${1:-$(mktemp -d)}
mkdir -p "$out"
status=0
for profile in spec-1.0 spec-1.0-strict ts-compat; do
  echo "ebu under $profile:"
  "$bin" run --profile "$profile" --jobs 2 --no-progress --check-protocol \
    --expectations "adapters/ebu/expectations/$profile.toml" \
    --report-json "$out/ebu.$profile.json" \
    -- adapters/ebu/build/ebu-adapter | tail -1 || status=1
done
exit $status
