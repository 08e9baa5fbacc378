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

# A first run gets a .env of its own, from .env.example with a fresh SECRET_KEY.
ensure_dotenv() {
  [ -f .env ] && return 0
  local secret
  secret=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')
  sed "s/^SECRET_KEY=.*/SECRET_KEY=$secret/" .env.example > .env
  echo "Created .env with a random SECRET_KEY (edit it to change settings)."
}
