#!/usr/bin/env bash
# Runs ebu (built from ../shared by install.sh, with Go from PyPI) under every profile, each gated by its expectations file, and writes the reports
# into DIR when given (for the matrix).
#
#   adapters/ebu/run.sh [DIR]
#
# Without ../shared the run is skipped, with a line that says so, and the script exits 0.
# Exit 1 if any run has an unexpected failure or a stale expectation.
set -euo pipefail
cd "$(dirname "$0")/../.."
installed=$(adapters/ebu/install.sh)
[ -n "$installed" ] && echo "$installed"
case "$installed" in *SKIPPED*) exit 0 ;; esac
exec adapters/lib/run-profiles.sh ebu "${1:-$(mktemp -d)}" -- adapters/ebu/build/ebu-adapter
