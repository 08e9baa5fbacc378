#!/usr/bin/env bash
# The side-by-side comparison, as one run (one run id): for each server, scenarios
# A, B, C, A with Redis (one node; Node's with @socket.io/redis-adapter) and D (two
# nodes on Redis); for ours also A on the plain path (no batches). Then, with Node
# among the servers, the CPU and C p99 targets' figures: ours (gevent and eventlet)
# and Node's in interleaved rounds (paired.py). Then bench/RESULTS.md from this run
# and the one before it. Takes ~20 minutes.
# Needs: ./run_tests.sh (or ./run_server.sh) run once for .venv, Node 20+, and
# redis-server. Usage: bench/compare.sh [servers...]   (default: eventlet gevent node;
# threading can be added, but its scenario B alone takes 5 minutes)
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
BENCH_RUN_ID=${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M)}
export BENCH_RUN_ID
servers=("${@:-eventlet gevent node}")
for server in ${servers[@]}; do
  for scenario in A B C; do
    ../.venv/bin/python bench.py "$server" "$scenario"
  done
  ../.venv/bin/python bench.py "$server:redis" A
  [ "$server" = node ] || ../.venv/bin/python bench.py "$server:plain" A
  ../.venv/bin/python bench.py "$server" D
done
[[ " ${servers[*]} " == *" node "* ]] && ../.venv/bin/python paired.py
../.venv/bin/python bench.py report
echo "Wrote bench/RESULTS.md (run $BENCH_RUN_ID)"
