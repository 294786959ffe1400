#!/usr/bin/env bash
# Runs a command inside a throwaway desktop session: a virtual X display (Xvfb), a
# D-Bus session bus and an unlocked gnome-keyring answering the Secret Service API,
# with a fresh HOME and XDG_RUNTIME_DIR so every run starts with an empty keyring.
# Exits with the command's exit code.
#
# Usage: scripts/desktop-session.sh CMD [ARGS...]
#   e.g. scripts/desktop-session.sh cargo test --workspace
set -euo pipefail

secrets_wait_seconds=10
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

usage() {
  echo "usage: scripts/desktop-session.sh CMD [ARGS...]" >&2
  exit 2
}

# Prints the bus's answer to "has org.freedesktop.secrets an owner?".
secrets_owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null || true
}

# Second stage, inside xvfb-run and dbus-run-session: start the keyring, wait for it
# on the bus, run the command.
inside() {
  local keyring_log="$XDG_RUNTIME_DIR/gnome-keyring.log" keyring tries rc
  printf 'passport' | gnome-keyring-daemon --foreground --unlock --components=secrets >"$keyring_log" 2>&1 &
  keyring=$!
  trap 'kill "$keyring" 2>/dev/null || true; wait "$keyring" 2>/dev/null || true' EXIT

  tries=$((secrets_wait_seconds * 10))
  until [[ "$(secrets_owned)" == *"boolean true"* ]]; do
    tries=$((tries - 1))
    if [[ $tries -le 0 ]] || ! kill -0 "$keyring" 2>/dev/null; then
      cat "$keyring_log" "$XDG_RUNTIME_DIR/dbus-daemon.log" >&2 2>/dev/null || true
      echo "desktop-session: gnome-keyring-daemon stopped, or did not own org.freedesktop.secrets within ${secrets_wait_seconds} s; run scripts/setup.sh (it installs gnome-keyring and dbus-x11) and try again." >&2
      exit 1
    fi
    sleep 0.1
  done

  set +e
  "$@"
  rc=$?
  set -e
  exit "$rc"
}

if [[ ${1:-} == --inside ]]; then
  shift
  inside "$@"
fi

[[ $# -gt 0 ]] || usage

for tool in xvfb-run xauth dbus-run-session dbus-send gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "desktop-session: $tool is missing; run scripts/setup.sh first." >&2
    exit 1
  fi
done

# Keep the real toolchains reachable, then give the session a home of its own.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
session_home="$(mktemp -d)"
runtime_dir="$(mktemp -d)"
chmod 700 "$runtime_dir"
trap 'rm -rf "$session_home" "$runtime_dir"' EXIT
export HOME="$session_home" XDG_RUNTIME_DIR="$runtime_dir"
# dbus-daemon complains on stderr about limits it may not raise: keep that in a log.
printf '#!/bin/sh\nexec dbus-daemon "$@" 2>>"%s/dbus-daemon.log"\n' "$runtime_dir" >"$runtime_dir/dbus-daemon"
chmod +x "$runtime_dir/dbus-daemon"
unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY

set +e
xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session --dbus-daemon="$runtime_dir/dbus-daemon" -- bash "$self" --inside "$@"
rc=$?
set -e
exit "$rc"
