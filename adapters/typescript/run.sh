#!/usr/bin/env bash
# Runs both upstream TypeScript implementations (MaterializedState and createStreamDB) under
# spec-1.0 and ts-compat, each gated by its expectations file, then prints the matrix of the
# reference and both implementations (the README's matrix is this output).
#
#   adapters/typescript/run.sh            (needs `npm ci` in adapters/typescript first)
#
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/state-conformance
cargo build --release --locked -q -p spec-tests -p stream-simulator -p bench-tools --bins
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" run --profile spec-1.0 --profile ts-compat --jobs 4 --no-progress \
  --report-json "$out/reference.json" | tail -1
status=0
for impl in materialized-state stream-db; do
  for profile in spec-1.0 ts-compat; do
    echo "$impl under $profile:"
    # Live cases mostly wait on the network: more jobs than cores is fine.
    "$bin" run --profile "$profile" --jobs 8 --no-progress --check-protocol \
      --expectations "adapters/typescript/expectations/$impl.$profile.toml" \
      --report-json "$out/$impl.$profile.json" \
      -- node adapters/typescript/adapter.mjs "$impl" | tail -1 || status=1
  done
done
echo
"$bin" matrix reference="$out/reference.json" \
  materialized-state="$out/materialized-state.spec-1.0.json" \
  materialized-state="$out/materialized-state.ts-compat.json" \
  stream-db="$out/stream-db.spec-1.0.json" stream-db="$out/stream-db.ts-compat.json"
exit "$status"
