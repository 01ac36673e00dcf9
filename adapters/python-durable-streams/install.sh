#!/usr/bin/env bash
# Installs the pinned PyPI client (requirements.lock, hashes checked) into .venv beside this
# script. Idempotent: an existing .venv that already holds the pinned version is kept.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import importlib.metadata as m; assert m.version("durable-streams") == "0.1.0"' 2>/dev/null; then
  exit 0
fi
rm -rf .venv
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
