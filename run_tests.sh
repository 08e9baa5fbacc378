#!/usr/bin/env bash
# Runs every test: installs what it needs first (venv and pip packages), then lint
# and the pytest suite. Extra arguments go to pytest (e.g. ./run_tests.sh -k join).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/python_env.sh
ensure_venv requirements-dev.txt

echo "== lint (ruff)"
.venv/bin/ruff check server tests
.venv/bin/ruff format --check server tests

echo "== pytest"
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
