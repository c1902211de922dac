#!/usr/bin/env bash
# Turn a rendered report into pictures to read: a screenshot of the HTML page in headless
# Chromium and one PNG per PDF page (pdftoppm). Usage: scripts/look-at-report.sh [OUT] [LANG]
# Needs Debian's chromium and poppler-utils (apt-get install chromium poppler-utils).
set -euo pipefail
out="${1:-out}"
lang="${2:-nl}"
pages="$out/pages"
rm -rf "$pages" && mkdir -p "$pages"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1100,6000 \
  --screenshot="$pages/report.$lang.html.png" "file://$(realpath "$out/report.$lang.html")" \
  2>/dev/null
pdftoppm -r 80 -png "$out/report.$lang.pdf" "$pages/report.$lang.pdf"
ls "$pages"
