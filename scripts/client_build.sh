# Sourced by run_server.sh and run_tests.sh: installs the client's npm packages and
# builds client/dist when it is missing or older than the client's sources.

ensure_node_modules() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to build the web client (Node.js 20+): https://nodejs.org/" >&2
    return 1
  fi
  local stamp=client/node_modules/.installed-lock
  if [ ! -f "$stamp" ] || [ client/package-lock.json -nt "$stamp" ]; then
    echo "Installing the web client's packages (npm ci)..."
    (cd client && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

ensure_bench_modules() {
  local stamp=bench/node_modules/.installed-lock
  if [ ! -f "$stamp" ] || [ bench/package-lock.json -nt "$stamp" ]; then
    echo "Installing the benchmark's packages (npm ci)..."
    (cd bench && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

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
