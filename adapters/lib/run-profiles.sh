#!/usr/bin/env bash
# Runs one adapter under every profile, each run gated by adapters/NAME/expectations/PROFILE.toml,
# and writes each report to DIR/NAME.PROFILE.json (for the matrix and the cross table): what
# the run.sh of an implementation judged under all three profiles does after its install step.
#
#   adapters/lib/run-profiles.sh NAME DIR -- ADAPTER...      (from the repository root)
#
# PROFILES (default: the three presets) and JOBS (default 2; live cases mostly wait on the
# network, so a subscriber may take more than cores) change what is run.
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
name=$1 out=$2
shift 2
[ "${1:-}" = "--" ] && shift
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests --bins
mkdir -p "$out"
status=0
for profile in ${PROFILES:-spec-1.0 spec-1.0-strict ts-compat}; do
  echo "$name under $profile:"
  "$bin" run --profile "$profile" --jobs "${JOBS:-2}" --no-progress --check-protocol \
    --expectations "adapters/$name/expectations/$profile.toml" \
    --report-json "$out/$name.$profile.json" \
    -- "$@" | tail -1 || status=1
done
exit $status
