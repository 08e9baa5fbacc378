#!/usr/bin/env bash
# Runs the chat: creates .venv and installs requirements.txt on first use, builds the
# web client when it is missing or stale, then starts the server (see .env.example).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/python_env.sh
ensure_venv requirements.txt
source scripts/client_build.sh
build_client_if_stale
cd server
exec ../.venv/bin/python app.py
