#!/usr/bin/env bash
# Runs Prisma's local Durable Streams server as a validator under every profile, each gated by
# its expectations file, and writes the reports into DIR when given (for the matrix).
#
#   adapters/prisma-streams/run.sh [DIR]        (needs `npm ci` in adapters/prisma-streams first)
#
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec adapters/lib/run-profiles.sh prisma-streams "${1:-$(mktemp -d)}" \
  -- adapters/prisma-streams/node_modules/.bin/node adapters/prisma-streams/adapter.mjs
