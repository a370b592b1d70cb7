#!/bin/sh
# Checks the float32 exp and log(1 + exp) of src/reference/exp.rs on every float32 (a few
# minutes in release): each result must be the C library's float64 function rounded to float32.
# Prints how many were checked and how many of them the C library's float32 functions round
# differently; fails if the check did not run.
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --release --lib -- --ignored --nocapture --exact \
    reference::exp::tests::every_float32_rounds_like_the_float64_functions | tee "$out"
grep -q "^test result: ok. 1 passed" "$out" || { echo "exp-exhaustive: the check did not run" >&2; exit 1; }
