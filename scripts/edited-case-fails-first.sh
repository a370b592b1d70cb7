#!/usr/bin/env bash
# Edits one expected value of the spec (chapter 02's 1.8316 → 1.8416) and checks what a spec
# author then sees from `cargo test`: it fails, the first test binary that fails is the generated
# spec suite, and the only failing tests are that case's own (one per
# dtype), named by chapter and id. The runner's tests, the mutants and the properties must not
# depend on the spec's expected values, so none of them may fail first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The edit is made in place and undone on exit, so the build is the incremental one an author
# gets (a copy of the tree in its own target directory cost a whole cold build). The file is
# restored with a new modification time, so the next build reads the spec again.
file="$root/spec/02-cross-entropy.md"
backup=$(mktemp)
cp "$file" "$backup"
trap 'cat "$backup" > "$file"; rm -f "$backup"' EXIT
trap 'exit 130' INT TERM HUP
grep -q '^expect = 1.8316$' "$file"
sed -i '0,/^expect = 1.8316$/s//expect = 1.8416/' "$file"

status=0
start=$(date +%s%N)
out=$(cd "$root" && cargo test --locked 2>&1) || status=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
if [ "$status" -eq 0 ]; then
    echo "cargo test passed with an edited expected value" >&2
    exit 1
fi
last_binary=$(grep -E '^\s+Running ' <<<"$out" | tail -1)
failed=$(sed -n '/^failures:$/,$p' <<<"$out" | grep -E '^    [a-z_:0-9]+$' | sort -u)
expected=$'    spec::ch02_cross_entropy::ce__doc001__batch3x5__mean::case_1_float32\n    spec::ch02_cross_entropy::ce__doc001__batch3x5__mean::case_2_float64'
if [[ "$last_binary" != *"tests/spec_cases/main.rs"* || "$failed" != "$expected" ]]; then
    echo "expected the edited case's own tests to be the first failure; cargo test said:" >&2
    echo "$out" | tail -40 >&2
    exit 1
fi
line=$(grep -n '^```case ce.doc001.batch3x5.mean$' "$root/spec/02-cross-entropy.md" | cut -d: -f1)
for want in 'FAIL ce.doc001.batch3x5.mean [float32]' "at spec/02-cross-entropy.md:$line "; do
    if ! grep -qF "$want" <<<"$out"; then
        echo "the failure report does not say \`$want\`; cargo test said:" >&2
        echo "$out" | tail -40 >&2
        exit 1
    fi
done
echo "ok: an edited value fails first and only as its own case ($took_ms ms from the edit to the failure):"
echo "$failed"
