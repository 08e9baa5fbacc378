#!/usr/bin/env bash
# Runs every test. Installs what it needs first: the Python venv and packages, the
# client's npm packages, and Debian's chromium for the browser tests (with apt, when
# run as root). Extra arguments go to pytest (e.g. ./run_tests.sh -k join).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/python_env.sh
source scripts/client_build.sh
source scripts/system_packages.sh

ensure_venv requirements-dev.txt
ensure_node_modules
ensure_bench_modules
ensure_debian_packages chromium redis-server nginx valgrind

echo "== lint: python (ruff) and types (mypy --strict on server/)"
.venv/bin/ruff check server tests bench deploy
.venv/bin/ruff format --check server tests bench deploy
.venv/bin/mypy

echo "== client: lint, typecheck, unit tests, build"
(
  cd client
  npm run --silent lint
  npm run --silent typecheck
  npm run --silent test
  npm run --silent build
)

echo "== pytest: unit, socket, integration, browser"
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
