#!/usr/bin/env bash
# The chat on every core of one machine: a Redis, one node per core and nginx in
# front (deploy/cluster.py; options: --nodes N --port 8000 --host 127.0.0.1).
# Prepares like ./run_server.sh (.venv, .env, the built client), then runs them all
# until Ctrl-C. Needs redis-server and nginx (sudo apt-get install redis-server nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
source scripts/client_build.sh
ensure_venv requirements.txt
ensure_dotenv
build_client_if_stale
exec .venv/bin/python deploy/cluster.py "$@"
