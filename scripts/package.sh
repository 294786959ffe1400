#!/usr/bin/env bash
# Bundles the desktop app as a Debian package with the Tauri command line
# (npm @tauri-apps/cli, installed by scripts/setup.sh), then checks that the
# package's desktop entry hands sign-in links to the app (`Exec=... %u` and
# the x-scheme-handler MIME type), without which the browser's return is lost.
#
# Usage: scripts/package.sh [--debug]
#   --debug   a debug build (faster; what CI checks)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scheme=io.github.mcppassport
profile=release
args=(build --bundles deb)
case "${1:-}" in
  "") ;;
  --debug) profile=debug; args+=(--debug) ;;
  *) echo "usage: scripts/package.sh [--debug]" >&2; exit 2 ;;
esac

bash "$root/scripts/setup.sh"
cd "$root/src-tauri"
"$root/tools/tauri-cli/node_modules/.bin/tauri" "${args[@]}"

deb="$(ls -t "$root"/target/"$profile"/bundle/deb/*.deb 2>/dev/null | head -n 1)"
if [[ -z $deb ]]; then
  echo "package: no .deb under target/$profile/bundle/deb; see the tauri output above." >&2
  exit 1
fi
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
entry="$(ls "$unpacked"/usr/share/applications/*.desktop 2>/dev/null | head -n 1)"
if [[ -z $entry ]]; then
  echo "package: $deb has no desktop entry under usr/share/applications." >&2
  exit 1
fi
if ! grep -Eq '^Exec=.* %u$' "$entry" || ! grep -q "^MimeType=.*x-scheme-handler/$scheme;" "$entry"; then
  echo "package: $(basename "$entry") in $deb does not register the $scheme: scheme with %u:" >&2
  cat "$entry" >&2
  exit 1
fi
echo "package: $deb ($(du -h "$deb" | cut -f1)); its desktop entry opens $scheme: links with %u"
