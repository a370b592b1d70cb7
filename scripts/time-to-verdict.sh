#!/usr/bin/env bash
# Measures README's time-to-verdict table the same way each time: on a fresh clone of HEAD in a
# temporary directory, with a target directory of its own (crates already downloaded, nothing
# built), it times
#   1. `cargo test --locked`, cold (the build and the run);
#   2. `cargo test --locked` again, warm;
#   3. an edited expected value to its failure (scripts/edited-case-fails-first.sh);
#   4. `cargo run --locked --release`, cold (the release build and the main job);
# and prints them as the rows of README's table, with the machine's load before each.
# Usage: scripts/time-to-verdict.sh   (about five minutes on two idle cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$root" "$work/repo"
cd "$work/repo"
export CARGO_TARGET_DIR="$work/repo/target"

load() { cut -d' ' -f1 /proc/loadavg; }
# Runs a command, which must succeed, and prints its wall time in seconds.
timed() {
    local start
    start=$(date +%s%N)
    if ! "$@" >"$work/out" 2>&1; then
        echo "failed: $*" >&2
        tail -20 "$work/out" >&2
        exit 1
    fi
    echo "$(( ($(date +%s%N) - start) / 100000000 ))" | sed -E 's/([0-9])$/.\1/; s/^\./0./'
}

echo "| what | seconds | load average before |"
echo "|---|--:|--:|"
l=$(load); s=$(timed cargo test --locked); echo "| \`cargo test --locked\`, cold | $s | $l |"
l=$(load); s=$(timed cargo test --locked); echo "| \`cargo test --locked\`, warm | $s | $l |"
l=$(load); scripts/edited-case-fails-first.sh >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
ms=$(grep -oE '\(([0-9]+) ms from the edit' "$work/out" | grep -oE '[0-9]+')
echo "| edit one expected value (1.8316 → 1.8416) → its failure | $((ms / 1000)).$(((ms % 1000) / 100)) | $l |"
l=$(load); s=$(timed cargo run --locked --release); echo "| \`cargo run --locked --release\`, cold | $s | $l |"
