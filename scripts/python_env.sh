# Sourced by the run_*.sh scripts: a project virtualenv, installed from a requirements
# file only when that file changed since the last install.

ensure_venv() {
  local requirements=$1
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($python --version)..."
    "$python" -m venv .venv
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local wanted
  wanted=$(cat "$requirements" requirements.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing $requirements into .venv..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
  fi
}

# A first run gets a .env of its own, from .env.example with a fresh SECRET_KEY and
# TRIP_SECRET; a .env from before trips existed gets a TRIP_SECRET added.
ensure_dotenv() {
  local new_secret='import secrets; print(secrets.token_hex(32))'
  if [ ! -f .env ]; then
    sed -e "s/^SECRET_KEY=.*/SECRET_KEY=$(.venv/bin/python -c "$new_secret")/" \
        -e "s/^TRIP_SECRET=.*/TRIP_SECRET=$(.venv/bin/python -c "$new_secret")/" \
        .env.example > .env
    echo "Created .env with a random SECRET_KEY and TRIP_SECRET (edit it to change settings)."
  elif ! grep -q '^TRIP_SECRET=' .env; then
    printf '\n# Turns identity keys into trips (added by run_server.sh).\nTRIP_SECRET=%s\n' \
      "$(.venv/bin/python -c "$new_secret")" >> .env
    echo "Added a random TRIP_SECRET to .env."
  fi
}
