#!/usr/bin/env bash
# Runs Prisma's local Durable Streams server as a validator under every profile, each gated by
# its expectations file, and writes the reports into DIR when given (for the matrix).
#
#   adapters/prisma-streams/run.sh [DIR]        (needs `npm ci` in adapters/prisma-streams first)
#
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests -p stream-simulator -p bench-tools --bins
out=${1:-$(mktemp -d)}
mkdir -p "$out"
status=0
for profile in spec-1.0 spec-1.0-strict ts-compat; do
  echo "prisma-streams under $profile:"
  "$bin" run --profile "$profile" --jobs 2 --no-progress --check-protocol \
    --expectations "adapters/prisma-streams/expectations/$profile.toml" \
    --report-json "$out/prisma-streams.$profile.json" \
    -- adapters/prisma-streams/node_modules/.bin/node adapters/prisma-streams/adapter.mjs | tail -1 || status=1
done
exit $status
