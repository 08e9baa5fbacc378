# Sourced by run_server.sh and run_tests.sh: installs the client's npm packages and
# builds client/dist when it is missing or older than the client's sources.

# npm ci in a folder, when its node_modules is missing or older than its lock file.
npm_ci_if_stale() {
  local folder=$1
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed for $folder/ (Node.js 20+): https://nodejs.org/" >&2
    return 1
  fi
  local stamp=$folder/node_modules/.installed-lock
  if [ ! -f "$stamp" ] || [ "$folder/package-lock.json" -nt "$stamp" ]; then
    echo "Installing $folder/'s npm packages (npm ci)..."
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

ensure_node_modules() { npm_ci_if_stale client; }
ensure_bench_modules() { npm_ci_if_stale bench; }

client_is_stale() {
  local built=client/dist/index.html
  [ -f "$built" ] || return 0
  [ -n "$(find client/src client/index.html client/public client/package-lock.json \
    client/vite.config.ts -newer "$built" -print -quit 2>/dev/null)" ]
}

build_client_if_stale() {
  if client_is_stale; then
    ensure_node_modules
    echo "Building the web client..."
    (cd client && npm run --silent build)
  fi
}
