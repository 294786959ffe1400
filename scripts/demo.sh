#!/usr/bin/env bash
# Runs MCP Passport on the embedded demo: the desktop app with the reference
# authorization server and three sample MCP servers on loopback. Sign in with
# demo / demo. Installs the system packages it needs first.
#
# Usage: scripts/demo.sh              the desktop app on the demo
#        scripts/demo.sh --headless   only the demo servers (no window), for the
#                                     `mcp-passport` command; extra arguments go
#                                     to `reference-as demo` (see its --help)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --system-only
cd "$root"
if [[ ${1:-} == --headless ]]; then
  shift
  exec cargo run --release -p reference-as -- demo "$@"
fi
if [[ -z ${DISPLAY:-} && -z ${WAYLAND_DISPLAY:-} ]]; then
  echo "demo: no display here; run it in a desktop session, or use scripts/demo.sh --headless" >&2
  exit 1
fi
# The demo stack is in the app only with its `demo` feature (release
# packages ship without it).
exec cargo run --release -p mcp-passport-app --features demo -- --demo
