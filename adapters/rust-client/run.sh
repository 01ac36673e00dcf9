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
PROFILES=spec-1.0 JOBS=6 exec adapters/lib/run-profiles.sh rust-client "${1:-$(mktemp -d)}" \
  -- adapters/rust-client/target/release/rust-client-adapter
