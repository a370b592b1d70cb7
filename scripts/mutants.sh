#!/usr/bin/env bash
# Mutation testing of the reference against the spec suite alone: every behaviour of
# src/reference must be pinned by a case of the spec, or be listed, with the reason it cannot
# matter to conformance, in mutants/allowed.txt. Takes about an hour on two cores; CI does not run
# it. Prints the score (caught / viable) and fails on a missed mutant that is not allowed, or an
# allowed one that is now caught (a stale entry).
#
#   cargo install cargo-mutants --locked   # once (27.x)
#   scripts/mutants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="${MUTANTS_OUT:-target/mutants}"
cargo mutants --file 'src/reference/**' --output "$out" --timeout 120 -- --test spec_cases || true
results="$out/mutants.out"
# A mutant's name without its line and column, which move with every edit.
strip() { sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /' "$@" | sort -u; }
caught=$(wc -l < "$results/caught.txt")
missed=$(wc -l < "$results/missed.txt")
timeouts=$(wc -l < "$results/timeout.txt")
unviable=$(wc -l < "$results/unviable.txt")
viable=$((caught + missed + timeouts))
echo "cargo-mutants over src/reference with the spec suite alone: $((caught + timeouts)) caught of $viable viable ($missed missed, $unviable unviable), $(date -u +%Y-%m-%d)"
allowed=$(grep -v '^#' mutants/allowed.txt | grep -v '^\s*$' | sed -E 's/  # .*$//' | sort -u)
unexpected=$(comm -23 <(strip "$results/missed.txt") <(echo "$allowed"))
stale=$(comm -13 <(strip "$results/missed.txt") <(echo "$allowed"))
status=0
if [ -n "$unexpected" ]; then
    echo "missed, and not in mutants/allowed.txt (add a case that pins it, or the reason):"
    echo "$unexpected"
    status=1
fi
if [ -n "$stale" ]; then
    echo "in mutants/allowed.txt but no longer missed (remove them):"
    echo "$stale"
    status=1
fi
exit $status
