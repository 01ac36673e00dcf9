#!/usr/bin/env bash
# Bundles fluent-firegrid's @firegrid/core state module (never published to npm) from
# ../shared/third-party/fluent-firegrid-core into build/firegrid-state.mjs with esbuild; its
# dependencies (effect, cel-js, at the versions its package.json names) stay in node_modules,
# pinned in package-lock.json. Idempotent.
#
# Without ../shared (a clone on its own) there is nothing to bundle: it says so, exits 0,
# and run.sh skips the implementation the same way.
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/shared-source.sh
shared_source fluent-firegrid fluent-firegrid-core src/state.ts
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --silent
node_modules/.bin/esbuild "$source_dir/src/state.ts" --bundle --platform=node --format=esm \
  --packages=external --log-level=warning --outfile=build/firegrid-state.mjs
