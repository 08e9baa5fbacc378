#!/usr/bin/env bash
# Runs the React development client on http://localhost:8080 (hot reload), proxying
# the socket to the server on http://localhost:5000 (start that with ./run_server.sh).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/client_build.sh
ensure_node_modules
cd client
exec npm start
