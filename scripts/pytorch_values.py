"""Recomputes with real PyTorch every case of the spec, from the suite's own export (the one
parser of the spec is the crate's; this script never reads the Markdown), and prints, per case
and dtype, PyTorch's result to eight significant digits next to the value the spec states.

This is how the eight-digit values in spec/ were produced and how they are re-checked when
PyTorch changes:

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy
    cargo run --release -- cases --json | .venv-torch/bin/python scripts/pytorch_values.py
    cargo run --release -- cases --json --filter 'ce.doc002.*' | .venv-torch/bin/python scripts/pytorch_values.py

The values in spec/ were produced with PyTorch 2.15.0 (CPU). Seeded inputs arrive already drawn
(the export materialises `torch.rand(4, 5)` with `seed = 100` through the crate's copy of
PyTorch's generator, which tests/suite/torch_rng.rs checks against PyTorch's own draws). For a pass or
fail verdict rather than a listing, run the conformance check with the adapter instead:
`cargo run --release -- check --impl ".venv-torch/bin/python adapters/pytorch/adapter.py"`.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "adapters", "pytorch"))
import adapter  # noqa: E402  (the protocol adapter: the same calls the conformance run makes)


def show(values):
    return ", ".join("%.8g" % v if isinstance(v, float) else str(v) for v in values)


def numbers(data):
    return [adapter.SPECIAL.get(v, v) if isinstance(v, str) else v for v in data]


def main():
    print(f"# torch {torch.__version__}")
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        reply = adapter.answer(json.dumps(case["request"]))
        if "output" in reply:
            got = show(numbers(reply["output"]["data"]))
        elif "error" in reply:
            got = f"error {reply['error']['kind']}: {reply['error']['message']}"
        else:
            got = f"unsupported: {reply.get('unsupported')}"
        if "expect" in case:
            want = show(numbers(case["expect"]["output"]["data"]))
            select = case["expect"]["select"]
            want = f"{want} at {select}" if select else want
        else:
            want = f"error {case['expect_error']['kind']}"
        print(f"{case['id']}  ({case['spec']['file']}:{case['spec']['line']})")
        print(f"    pytorch: {got}")
        print(f"    spec:    {want}")


if __name__ == "__main__":
    main()
