#!/bin/sh
# Checks the float32 exp of src/reference/exp.rs on every float32 (about a minute in release):
# each result must be the float64 exp rounded to float32. Prints how many were checked and how
# many of them the C library's expf rounds differently.
set -eu
cd "$(dirname "$0")/.."
cargo test --release --lib -- --ignored --nocapture every_float32_rounds_like_the_float64_exp
