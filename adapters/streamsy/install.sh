#!/usr/bin/env bash
# Bundles streamsy's @streamsy/state (with @streamsy/json and @streamsy/core, never published
# to npm) from ../shared/third-party/streamsy into build/streamsy.mjs with esbuild, pinned in
# package-lock.json. Idempotent.
#
# Without ../shared (a clone on its own) there is nothing to bundle: it says so, exits 0,
# and run.sh skips the implementation the same way.
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/shared-source.sh
shared_source streamsy streamsy packages/state/src/durable-state.ts
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --silent
packages="$source_dir/packages"
# core's index re-exports a test kit that imports vitest; nothing the adapter uses needs it.
node_modules/.bin/esbuild entry.ts --bundle --platform=node --format=esm --log-level=warning \
  --alias:@streamsy/state="$packages/state/src/index.ts" \
  --alias:@streamsy/json="$packages/json/src/index.ts" \
  --alias:@streamsy/core="$packages/core/src/index.ts" \
  --external:vitest --outfile=build/streamsy.mjs
