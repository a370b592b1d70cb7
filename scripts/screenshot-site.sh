#!/usr/bin/env bash
# Builds the site (with PyTorch's recorded verdicts) and screenshots two chapters the way a
# reader sees them, in headless Chromium from file://. Look at the PNGs; they are not committed.
#
#   scripts/screenshot-site.sh [OUT_DIR]     (default: target/site-screenshots)
#
# Needs Chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/site-screenshots}
site=target/site
mkdir -p "$out"
cargo run --quiet --release -- site --out "$site" --report adapters/pytorch/report.json

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "no Chromium found: install it (apt-get install chromium)" >&2
    exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shoot() { # page, png, [fragment]
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --window-size=1200,2000 \
        --screenshot="$out/$2" "file://$PWD/$site/$1${3:-}" >/dev/null 2>&1
    echo "$out/$2"
}
shoot 02-cross-entropy.html 02-cross-entropy.png
shoot 06-binary-losses.html 06-binary-losses.png
shoot index.html index.png
