#!/usr/bin/env bash
# The side-by-side comparison: every scenario against our server in each async mode
# and against stock Node socket.io 4.8, then bench/RESULTS.md. Takes ~15 minutes.
# Needs: ./run_tests.sh (or ./run_server.sh) run once for .venv, Node 20+, and
# redis-server for scenario D. Usage: bench/compare.sh [servers...]
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
servers=("${@:-eventlet gevent threading node}")
for server in ${servers[@]}; do
  for scenario in A B C; do
    ../.venv/bin/python bench.py "$server" "$scenario"
  done
  if [ "$server" != node ] && command -v redis-server >/dev/null; then
    ../.venv/bin/python bench.py "$server" D
  fi
done
../.venv/bin/python bench.py report
echo "Wrote bench/RESULTS.md"
