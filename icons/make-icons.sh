#!/usr/bin/env bash
# Draws the app and tray icons with ImageMagick (the PNGs are committed; run
# this again only to change them). The app icon is a passport booklet with a
# key hole; each tray icon adds a status dot: green (all good), amber (needs
# attention), red (error).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
convert=/usr/bin/convert

base() { # size output
  local s=$1 out=$2
  "$convert" -size 512x512 xc:none \
    -fill '#1f4e8c' -draw 'roundrectangle 72,32 440,480 48,48' \
    -fill '#f2c14e' -draw 'circle 256,220 256,140' \
    -fill '#1f4e8c' -draw 'circle 256,205 256,180' \
    -fill '#1f4e8c' -draw 'polygon 240,215 272,215 282,280 230,280' \
    -fill '#f2c14e' -draw 'roundrectangle 152,360 360,384 10,10' \
    -resize "${s}x${s}" "$out"
}

base 512 icon.png
base 32 32x32.png
base 128 128x128.png
base 256 128x128@2x.png

tray() { # colour output
  "$convert" icon.png \
    -fill "$1" -stroke white -strokewidth 24 -draw 'circle 392,392 392,300' \
    -resize 64x64 "$2"
}
tray '#2e9d4f' tray-ok.png
tray '#e0a100' tray-attention.png
tray '#d23c3c' tray-error.png
