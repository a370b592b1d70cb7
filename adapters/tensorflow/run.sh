#!/bin/sh
# Recreate the TensorFlow virtualenv and regenerate the recorded run,
# adapters/tensorflow/report.json.
#
#   adapters/tensorflow/run.sh                      # venv at .venv-tf (repository root)
#   VENV=/somewhere/venv adapters/tensorflow/run.sh # venv elsewhere
#   CHECK="path/to/cross-entropy-spec" adapters/tensorflow/run.sh   # a prebuilt binary instead of cargo
#
# Exits with the checker's status: 0 when every failure is listed in expectations.toml.
set -eu
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv-tf}"
CHECK="${CHECK:-cargo run --release --}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet \
    tensorflow-cpu==2.21.0 keras==3.15.1 numpy==2.4.6 \
    absl-py==2.5.1 astunparse==1.6.3 flatbuffers==25.12.19 gast==0.7.0 google-pasta==0.2.0 \
    grpcio==1.85.3 h5py==3.14.0 libclang==18.1.1 ml_dtypes==0.7.0 namex==0.1.0 \
    opt_einsum==3.4.0 optree==0.20.0 packaging==26.4 protobuf==7.36.2 requests==2.34.2 \
    rich==15.0.0 six==1.17.0 termcolor==3.3.0 typing_extensions==4.16.0 wrapt==2.5.2

$CHECK check --impl "$VENV/bin/python adapters/tensorflow/adapter.py" \
    --name "TensorFlow 2.21.0 + Keras 3.15.1 (CPU)" \
    --expect adapters/tensorflow/expectations.toml --json adapters/tensorflow/report.json
