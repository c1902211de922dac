#!/usr/bin/env bash
# Turn a rendered report into pictures to read: the HTML report printed whole by headless
# Chromium, and the PDF report, one PNG per page (pdftoppm). The pictures go to a folder of
# their own, never into the output folder (whose files the manifest lists).
# Usage: scripts/look-at-report.sh [OUT] [LANG] [PAGES]   (PAGES defaults to OUT-pages)
# Needs Debian's chromium and poppler-utils (apt-get install chromium poppler-utils).
set -euo pipefail
out="${1:-out}"
lang="${2:-nl}"
pages="${3:-${out%/}-pages}"
case "$(realpath -m "$pages")/" in
  "$(realpath "$out")"/*) echo "PAGES must lie outside $out" >&2; exit 2 ;;
esac
rm -rf "$pages" && mkdir -p "$pages"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# the whole HTML page, as a browser prints it (a screenshot would show one window's height)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --no-pdf-header-footer \
  --print-to-pdf="$profile/html.pdf" "file://$(realpath "$out/report.$lang.html")" 2>/dev/null
pdftoppm -r 60 -png "$profile/html.pdf" "$pages/report.$lang.html"
pdftoppm -r 80 -png "$out/report.$lang.pdf" "$pages/report.$lang.pdf"
ls "$pages"
