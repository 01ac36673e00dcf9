#!/usr/bin/env bash
# Runs fluent-firegrid (bundled from ../shared by install.sh) under every profile, each gated by its expectations file, and writes the reports
# into DIR when given (for the matrix).
#
#   adapters/fluent-firegrid/run.sh [DIR]
#
# Without ../shared the run is skipped, with a line that says so, and the script exits 0.
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
installed=$(adapters/fluent-firegrid/install.sh)
[ -n "$installed" ] && echo "$installed"
case "$installed" in *SKIPPED*) exit 0 ;; esac
exec adapters/lib/run-profiles.sh fluent-firegrid "${1:-$(mktemp -d)}" -- node adapters/fluent-firegrid/adapter.mjs
