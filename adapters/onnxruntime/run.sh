#!/bin/sh
# Recreate the two ONNX Runtime virtualenvs and regenerate both recorded runs:
#
#   report.json           onnxruntime 1.32.0 (inference build: values only, gradients unsupported)
#   report-training.json  onnxruntime-training 1.19.2 (its GradientGraphBuilder gives gradients)
#
# The two builds both install the `onnxruntime` module, so they need separate venvs.
#
#   adapters/onnxruntime/run.sh        # venvs at .venv-ort and .venv-ort-training (repository root)
#   VENV=/a VENV_TRAINING=/b adapters/onnxruntime/run.sh
#   CHECK="path/to/cross-entropy-spec" adapters/onnxruntime/run.sh   # a prebuilt binary instead of cargo
#
# Exits non-zero unless both runs exit 0 (every failure listed in its expectations file).
set -eu
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv-ort}"
VENV_TRAINING="${VENV_TRAINING:-.venv-ort-training}"
CHECK="${CHECK:-cargo run --release --}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet \
    onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6 \
    flatbuffers==25.12.19 ml_dtypes==0.7.0 packaging==26.4 protobuf==7.36.2 typing_extensions==4.16.0

python3 -m venv "$VENV_TRAINING"
"$VENV_TRAINING/bin/pip" install --quiet \
    onnxruntime-training==1.19.2 onnx==1.23.2 numpy==2.4.6 \
    Cerberus==1.3.8 flatbuffers==25.12.19 h5py==3.16.0 ml_dtypes==0.7.0 mpmath==1.3.0 \
    packaging==26.4 protobuf==7.36.2 sympy==1.14.0 typing_extensions==4.16.0

$CHECK check --impl "$VENV/bin/python adapters/onnxruntime/adapter.py" \
    --name "ONNX Runtime 1.32.0 (CPU)" \
    --expect adapters/onnxruntime/expectations.toml --json adapters/onnxruntime/report.json

$CHECK check --impl "$VENV_TRAINING/bin/python adapters/onnxruntime/adapter.py" \
    --name "ONNX Runtime training 1.19.2 (CPU)" \
    --expect adapters/onnxruntime/expectations-training.toml \
    --json adapters/onnxruntime/report-training.json
