#!/usr/bin/env bash
# Builds the site (with PyTorch's recorded verdicts) and screenshots pages the way a reader sees
# them, in headless Chromium from file://, at a desktop width (1280 px) and a phone's (390 px).
# Look at the PNGs; they are not committed.
#
#   scripts/screenshot-site.sh [OUT_DIR]     (default: target/site-screenshots)
#
# SITE_BIN=target/debug/cross-entropy-spec uses an already built binary instead of a release
# build. Needs Chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/site-screenshots}
site=target/site
mkdir -p "$out"
if [ -n "${SITE_BIN:-}" ]; then
    "$SITE_BIN" site --out "$site" --report adapters/pytorch/report.json
else
    cargo run --quiet --release -- site --out "$site" --report adapters/pytorch/report.json
fi

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "no Chromium found: install it (apt-get install chromium)" >&2
    exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shoot() { # page, png, width, [fragment]
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --window-size="$3,2400" --virtual-time-budget=2000 \
        --screenshot="$out/$2" "file://$PWD/$site/$1${4:-}" >/dev/null 2>&1
    echo "$out/$2"
}
for width in 1280 390; do
    shoot index.html "index-$width.png" "$width"
    shoot 02-cross-entropy.html "02-cross-entropy-$width.png" "$width"
    shoot 06-binary-losses.html "06-binary-losses-$width.png" "$width"
    shoot 03-nll-and-the-identity.html "03-nll-$width.png" "$width"
    shoot 04-weights-ignore-smoothing-reductions.html "04-options-$width.png" "$width"
    shoot 10-gradients.html "10-gradients-$width.png" "$width"
    shoot 12-exact-values.html "12-exact-values-$width.png" "$width"
    shoot 14-half-precision.html "14-half-precision-$width.png" "$width"
done
shoot index.html "search-390.png" 390 "?q=label%20smoothing"
