#!/usr/bin/env bash
# Installs what building, testing and the demo need, and only what is missing:
#   - the Debian packages for the desktop app and for the test session (Xvfb, D-Bus,
#     gnome-keyring);
#   - Node.js 22 under target/tools/node22 (for the MCP conformance suite);
#   - the npm packages of tests/sdk-client, tests/conformance, tests/oidc-provider,
#     tests/real-clients (MCP clients people use: Claude Code, Gemini CLI, Qwen Code,
#     Codex CLI, opencode, the MCP Inspector) and
#     tools/tauri-cli (the Tauri command line, for scripts/package.sh);
#   - tauri-driver (the WebDriver server the desktop app's GUI tests talk to).
# Safe to run again: prints nothing when everything is already there.
#
# Usage: scripts/setup.sh [--system-only]
#   --system-only   install the Debian packages only (enough to build and run the demo)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

system_only=false
case "${1:-}" in
  "") ;;
  --system-only) system_only=true ;;
  *) echo "usage: scripts/setup.sh [--system-only]" >&2; exit 2 ;;
esac

packages=(
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev pkg-config
  xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools
  xdg-utils imagemagick openssl
)
node_min_major=20
node22_version=22
node22_dir="$root/target/tools/node22"
tauri_driver_version=2.1.0

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Runs a command with its output in the log; on failure shows the log and what to do.
quietly() {
  local what=$1 next=$2
  shift 2
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: $what failed. $next" >&2
    exit 1
  fi
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: installing system packages needs root; run as root: $*" >&2
    exit 1
  fi
}

install_system_packages() {
  local missing=() package status
  for package in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
    [[ $status == "install ok installed" ]] || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "setup: installing system packages: ${missing[*]}" >&2
  quietly "apt-get update" "Check that the Debian package mirrors are reachable, then run scripts/setup.sh again." \
    as_root apt-get update
  quietly "installing ${missing[*]}" "Install them by hand (apt-get install ${missing[*]}), then run scripts/setup.sh again." \
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

check_system_node() {
  local version
  if ! version="$(node --version 2>/dev/null)"; then
    echo "setup: Node.js is missing: install Node.js $node_min_major or newer (with npm), then run scripts/setup.sh again." >&2
    exit 1
  fi
  version="${version#v}"
  if [[ ${version%%.*} -lt $node_min_major ]]; then
    echo "setup: Node.js $version is too old: install Node.js $node_min_major or newer, then run scripts/setup.sh again." >&2
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is missing: install npm (it comes with Node.js), then run scripts/setup.sh again." >&2
    exit 1
  fi
}

# Node 22 from the npm registry (the node-linux-<arch> package ships the binary);
# usable as PATH="target/tools/node22/bin:$PATH".
install_node22() {
  local arch bin="$node22_dir/bin/node"
  if [[ -x $bin ]] && [[ "$("$bin" --version 2>/dev/null)" == v"$node22_version".* ]]; then
    return 0
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "setup: no Node.js $node22_version package for $(uname -m); install Node.js $node22_version by hand." >&2; exit 1 ;;
  esac
  echo "setup: installing Node.js $node22_version into target/tools/node22" >&2
  mkdir -p "$node22_dir"
  quietly "installing Node.js $node22_version" "Check that the npm registry is reachable, then run scripts/setup.sh again." \
    npm install --prefix "$node22_dir" --no-audit --no-fund --loglevel=error "node-linux-$arch@$node22_version"
  ln -sfn "node_modules/node-linux-$arch/bin" "$node22_dir/bin"
  if ! [[ "$("$bin" --version 2>/dev/null)" == v"$node22_version".* ]]; then
    echo "setup: target/tools/node22/bin/node does not run as Node.js $node22_version; delete target/tools/node22 and run scripts/setup.sh again." >&2
    exit 1
  fi
}

# npm ci leaves node_modules/.package-lock.json: older than package-lock.json means stale.
# With a second argument `install`, the lock is followed by `npm install --no-save`
# instead: npm ci refuses a lock that lacks other platforms' optional packages, which
# npm itself leaves out for some packages (Qwen Code's clipboard binaries).
install_npm_packages() {
  local dir="$root/$1" marker="$root/$1/node_modules/.package-lock.json"
  if [[ -f $marker ]] && ! [[ $dir/package-lock.json -nt $marker ]]; then
    return 0
  fi
  echo "setup: installing the npm packages of $1" >&2
  if [[ ${2:-ci} == install ]]; then
    quietly "npm install in $1" "Check that the npm registry is reachable, then run scripts/setup.sh again." \
      npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error
  else
    quietly "npm ci in $1" "Check that the npm registry is reachable, then run scripts/setup.sh again." \
      npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}

# tauri-driver from crates.io into cargo's bin folder (about 30 s to build).
install_tauri_driver() {
  local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if command -v tauri-driver >/dev/null 2>&1 || [[ -x $cargo_bin/tauri-driver ]]; then
    return 0
  fi
  echo "setup: installing tauri-driver $tauri_driver_version (cargo install)" >&2
  quietly "cargo install tauri-driver" "Check that crates.io is reachable, then run scripts/setup.sh again." \
    cargo install tauri-driver --locked --version "$tauri_driver_version"
}

install_system_packages
if [[ $system_only == false ]]; then
  install_tauri_driver
  check_system_node
  install_node22
  install_npm_packages tests/sdk-client
  install_npm_packages tests/conformance
  install_npm_packages tests/oidc-provider
  install_npm_packages tests/real-clients install
  install_npm_packages tools/tauri-cli
fi
