# Sourced by run_tests.sh: installs Debian packages the tests need (a browser, Redis,
# nginx) when they are missing and we may (root with apt-get). Otherwise it says
# what is missing; the tests themselves then fail under CI=true and skip elsewhere.

ensure_debian_packages() {
  local missing=()
  local package
  for package in "$@"; do
    case "$package" in
      chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
      nginx) [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx) ;;
      *) command -v "$package" >/dev/null 2>&1 || missing+=("$package") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${missing[*]} with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
  fi
}
