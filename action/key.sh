#!/usr/bin/env bash
# The cache key of the action's installed binary: a hash of what the binary is built from
# (Cargo.lock and every file of the crates and the corpus under the action's own path),
# computed in the shell because `hashFiles` only reads files under GITHUB_WORKSPACE: for a
# repository that uses this action as `owner/repo@ref` its key would be constant, and a new
# ref would restore the old binary. Prints `key=…` (for GITHUB_OUTPUT).
set -euo pipefail
root=${GITHUB_ACTION_PATH:?the action path}
cd "$root"
digest=$(find Cargo.lock Cargo.toml spec-tests reference simulator fixtures -type f \
    -not -path '*/node_modules/*' -not -path '*/target/*' -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32)
echo "key=state-conformance-${RUNNER_OS:-$(uname -s)}-$digest"
