#!/usr/bin/env bash
# Runs the chat: creates .venv and installs requirements.txt on first use, creates
# .env with a random SECRET_KEY when there is none, builds the web client when it is
# missing or stale, then starts the server (settings: .env.example).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/python_env.sh
source scripts/client_build.sh
ensure_venv requirements.txt
ensure_dotenv
build_client_if_stale
cd server
exec ../.venv/bin/python app.py
