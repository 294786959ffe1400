#!/usr/bin/env bash
# Runs the demo: the reference authorization server with the sample MCP servers on
# loopback. Extra arguments go to `reference-as demo` (see its --help).
#
# Usage: scripts/demo.sh [ARGS...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --system-only
cd "$root"
exec cargo run --release -p reference-as -- demo "$@"
