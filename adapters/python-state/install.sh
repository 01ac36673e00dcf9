#!/usr/bin/env bash
# Installs the upstream Python state layer (durable_streams_state, never released to PyPI)
# from ../shared/third-party/durable-streams-state-py into .venv beside this script, on top of
# the pinned dependencies in requirements.lock (hashes checked). Idempotent.
#
# Without ../shared (a clone on its own) there is nothing to install: it says so, exits 0,
# and run.sh skips the implementations the same way.
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/shared-source.sh
shared_source python-state durable-streams-state-py pyproject.toml
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import durable_streams_state, importlib.metadata as m; assert m.version("pydantic") == "2.14.4"' 2>/dev/null; then
  exit 0
fi
rm -rf .venv
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
# A local directory has no hash to check: it is installed apart, offline, with the pinned
# hatchling above as its build backend.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps --no-index --no-build-isolation "$source_dir"
