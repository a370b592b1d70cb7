#!/bin/sh
# Recreate the PaddlePaddle virtualenv and regenerate the recorded run, adapters/paddle/report.json.
#
#   adapters/paddle/run.sh                      # venv at .venv-paddle (repository root)
#   VENV=/somewhere/venv adapters/paddle/run.sh # venv elsewhere
#   CHECK="path/to/cross-entropy-spec" adapters/paddle/run.sh   # a prebuilt binary instead of cargo
#
# Exits with the checker's status: 0 when every failure is listed in expectations.toml.
set -eu
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv-paddle}"
CHECK="${CHECK:-cargo run --release --}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet \
    paddlepaddle==3.3.1 numpy==2.4.6 \
    anyio==4.16.0 certifi==2026.10.19.post1 h11==0.16.0 httpcore==1.0.9 httpx==0.29.0 \
    idna==3.21 networkx==3.6.1 opt-einsum==3.3.0 pillow==13.0.0 protobuf==7.36.2 \
    safetensors==0.8.0 typing_extensions==4.16.0

$CHECK check --impl "$VENV/bin/python adapters/paddle/adapter.py" \
    --name "PaddlePaddle 3.3.1 (CPU)" \
    --expect adapters/paddle/expectations.toml --json adapters/paddle/report.json --timeout 180
