#!/usr/bin/env bash
# Runs the three implementations of the upstream Python state layer (MaterializedState,
# StreamDB, AsyncStreamDB) under spec-1.0 and ts-compat, each gated by its expectations
# file, then prints their matrix (the README's rows are this output).
#
#   adapters/python-state/run.sh       (installs the package into .venv first, if needed)
#
# The package's source comes with ../shared (a sibling of this checkout); without it the
# runs are skipped, with a line that says so, and the script exits 0.
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
# install.sh is the one place that knows where the source is; it says when it skipped.
installed=$(adapters/python-state/install.sh)
[ -n "$installed" ] && echo "$installed"
case "$installed" in *SKIPPED*) exit 0 ;; esac
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests --bins
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
matrix=()
for impl in materialized-state stream-db async-stream-db; do
  for profile in spec-1.0 ts-compat; do
    echo "$impl under $profile:"
    # Live cases mostly wait on the network: more jobs than cores is fine.
    "$bin" run --profile "$profile" --jobs 8 --no-progress --check-protocol \
      --expectations "adapters/python-state/expectations/$impl.$profile.toml" \
      --report-json "$out/$impl.$profile.json" \
      -- adapters/python-state/.venv/bin/python adapters/python-state/adapter.py "$impl" \
      | tail -1 || status=1
    matrix+=("py-$impl=$out/$impl.$profile.json")
  done
done
echo
"$bin" matrix "${matrix[@]}"
exit "$status"
