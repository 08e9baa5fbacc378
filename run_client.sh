#!/usr/bin/env bash
# Runs the React development client on http://localhost:8080 (hot reload), proxying
# the socket to the server on http://localhost:5000 (start that with ./run_server.sh).
set -euo pipefail
cd "$(dirname "$0")/client"
if [ ! -f package.json ]; then
  echo "The web client is not part of this checkout yet (client/package.json is missing)." >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci
fi
exec npm start
