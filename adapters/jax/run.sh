#!/bin/sh
# Recreate the JAX virtualenv and regenerate the recorded run, adapters/jax/report.json.
#
#   adapters/jax/run.sh                      # venv at .venv-jax (repository root)
#   VENV=/somewhere/venv adapters/jax/run.sh # venv elsewhere
#   CHECK="path/to/cross-entropy-spec" adapters/jax/run.sh   # a prebuilt binary instead of cargo
#
# Exits with the checker's status: 0 when every failure is listed in expectations.toml.
set -eu
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv-jax}"
CHECK="${CHECK:-cargo run --release --}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet \
    jax==0.10.2 jaxlib==0.10.2 optax==0.2.8 numpy==2.4.6 \
    absl-py==2.5.1 ml_dtypes==0.7.0 opt_einsum==3.4.0 scipy==1.17.1

$CHECK check --impl "$VENV/bin/python adapters/jax/adapter.py" \
    --name "JAX 0.10.2 + optax 0.2.8 (CPU)" \
    --expect adapters/jax/expectations.toml --json adapters/jax/report.json
