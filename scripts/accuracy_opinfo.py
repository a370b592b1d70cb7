#!/usr/bin/env python3
"""PyTorch's own OpInfo sample inputs for the seven ops, measured as `scripts/accuracy.py` measures
its adversarial ones: the reference's and PyTorch's values and gradients against the exact ones,
on every element, split at |exact| = 1/16 (issue 22's accuracy bound: 2 ulps in float32, 4 in
float64, at or above it).

    cargo build --release
    /work/venvs/torch/bin/python scripts/accuracy_opinfo.py [--binary target/release/cross-entropy-spec]

The samples are `op.reference_inputs("cpu", dtype)` of PyTorch's `op_db` (they include
`sample_inputs`) for softmax, log_softmax, sigmoid, nn.functional.cross_entropy, nll_loss,
binary_cross_entropy and binary_cross_entropy_with_logits, in float32 and float64 (the
`with_dtype` variants repeat softmax's samples with a dtype argument the spec does not have, and
are left out). Each sample is one value run and one gradient run per tensor the sample marks
`requires_grad` among `input` and `target` (the gradient of the output's sum, as
`out.sum().backward()`): the input, and the target of probability-target cross-entropy and of the
binary losses.

The exact values are `scripts/exact_values.py`'s (mpmath, every op written out). Sigmoid's
reference inputs hold about three million elements per dtype, most of them in a few large random
tensors: for a sample above 20,000 elements the exact value is computed here, in mpmath, on 20,000
elements evenly spaced through it (the reference and PyTorch are still asked for all of it). The
reference answers through `cross-entropy-spec eval`, all requests in one process.

`torch.testing._internal` imports `expecttest` for its test base class only; when the virtualenv
lacks it a stand-in class is put in its place (the sample generators do not use it).
"""
import argparse
import json
import subprocess
import sys
import types
import unittest
from collections import defaultdict

import mpmath as mp
import numpy as np
import torch
import torch.nn.functional as F

try:
    import expecttest  # noqa: F401
except ImportError:
    stub = types.ModuleType("expecttest")
    stub.TestCase = unittest.TestCase
    sys.modules["expecttest"] = stub
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

import exact_values  # noqa: E402

OPS = {"softmax": "softmax", "log_softmax": "log_softmax", "sigmoid": "sigmoid",
       "nn.functional.cross_entropy": "cross_entropy", "nn.functional.nll_loss": "nll_loss",
       "nn.functional.binary_cross_entropy": "binary_cross_entropy",
       "nn.functional.binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits"}
DTYPES = {torch.float32: "float32", torch.float64: "float64"}
SIGMOID_LARGE = 20_000  # sigmoid samples larger than this are measured on this many elements


def element(v):
    """A protocol element: a number, or "nan", "inf", "-inf"."""
    if isinstance(v, float) and not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def tensor_json(t):
    t = t.detach()
    dtype = "int64" if t.dtype == torch.int64 else DTYPES[t.dtype]
    return {"dtype": dtype, "shape": list(t.shape), "data": [element(v) for v in t.flatten().tolist()]}


def call_of(name, sample):
    """(op, inputs, attrs, the roles PyTorch differentiates) of one OpInfo sample."""
    op = OPS[name]
    inputs, attrs = {"input": sample.input}, {}
    if op in ("softmax", "log_softmax"):
        attrs["dim"] = sample.args[0] if sample.args else sample.kwargs["dim"]
    elif op != "sigmoid":
        inputs["target"] = sample.args[0]
        for k, v in sample.kwargs.items():
            if torch.is_tensor(v):
                inputs[k] = v
            else:
                attrs[k] = v
    wrt = [r for r in ("input", "target")
           if r in inputs and inputs[r].is_floating_point() and inputs[r].requires_grad]
    return op, inputs, attrs, wrt


def torch_result(op, inputs, attrs, wrt):
    """PyTorch's output and, per role of `wrt`, its gradient of the output's sum."""
    leaves = {k: v.detach().clone().requires_grad_(k in wrt) for k, v in inputs.items()}
    x, rest = leaves["input"], {k: v for k, v in leaves.items() if k != "input"}
    if op in ("softmax", "log_softmax"):
        out = getattr(torch, op)(x, attrs["dim"])
    elif op == "sigmoid":
        out = torch.sigmoid(x)
    else:
        target = rest.pop("target")
        out = getattr(F, op)(x, target, **rest, **attrs)
    grads = torch.autograd.grad(out.sum(), [leaves[r] for r in wrt]) if wrt else []
    return out.detach(), dict(zip(wrt, (g.detach() for g in grads)))


def hi_lo(values):
    """Exact mpf values as two float64 arrays whose sum is the value to about 2^-106."""
    hi = np.array([float(v) for v in values], dtype=np.float64)
    lo = np.array([float(v - mp.mpf(h)) if np.isfinite(h) else 0.0
                   for v, h in zip(values, hi)], dtype=np.float64)
    return hi, lo


def strided(n):
    """The elements of a large sigmoid sample that are measured: 20,000 evenly spaced."""
    return np.linspace(0, n - 1, SIGMOID_LARGE).astype(np.int64)


def sigmoid_exact(x, grad):
    """Exact σ(x) (or σ'(x) = σ(x)·σ(-x)) of a float array, once per distinct value."""
    values, inverse = np.unique(x, return_inverse=True)
    out = []
    for v in values:
        v = mp.mpf(float(v))
        s, sn = 1 / (1 + mp.exp(-v)), 1 / (1 + mp.exp(v))
        out.append(s * sn if grad else s)
    hi, lo = hi_lo(out)
    return hi[inverse], lo[inverse]


def ulps(got, hi, lo, dtype):
    """|got - exact| in ulps of the exact value in `dtype`, element by element."""
    bits, emin = (24, -126) if dtype == "float32" else (53, -1022)
    got = np.asarray(got, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.frexp(hi)[1] - 1
        ulp = np.ldexp(1.0, np.maximum(e, emin) - bits + 1)
        err = np.abs((got - hi) - lo) / ulp
    same = (got == hi) | (np.isnan(got) & np.isnan(hi))
    err = np.where(np.isfinite(hi), err, np.where(same, 0.0, np.inf))
    return np.where(same & (lo == 0), 0.0, err)


def exact_of_reply(tensor):
    """A reply tensor's values exactly: `eval` prints a float32 as its shortest decimal, which
    read as a float64 is up to half a float32 ulp off the float32 it stands for."""
    got = np.array([float(v) for v in tensor["data"]], dtype=np.float64)
    return got.astype(np.float32).astype(np.float64) if tensor["dtype"] == "float32" else got


def reference(binary, requests):
    lines = "\n".join(json.dumps(r) for r in requests) + "\n"
    out = subprocess.run([binary, "eval"], input=lines, capture_output=True, text=True,
                         check=True).stdout
    return {r["id"]: r for r in map(json.loads, out.splitlines()) if r}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="target/release/cross-entropy-spec")
    args = p.parse_args()
    mp.mp.dps = 60
    runs, requests = [], []
    for info in op_db:
        if info.name not in OPS or info.variant_test_name:
            continue
        for tdtype, dtype in DTYPES.items():
            for k, sample in enumerate(info.reference_inputs("cpu", tdtype, requires_grad=True)):
                op, inputs, attrs, wrt = call_of(info.name, sample)
                base = {"protocol": 1, "op": op, "attrs": attrs,
                        "inputs": {r: tensor_json(t) for r, t in inputs.items()}}
                tag = f"{op}.{dtype}.{k}"
                for part in ["value"] + wrt:
                    req = dict(base, id=f"{tag}.{part}", grad=part != "value")
                    if part == "target":
                        req["wrt"] = "target"
                    requests.append(req)
                runs.append((tag, op, dtype, inputs, attrs, wrt, base))
    print(f"{len(runs)} samples, {len(requests)} runs", flush=True)
    replies = reference(args.binary, requests)
    worst = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0, 0])  # ref big, torch big, ref, torch, n
    for tag, op, dtype, inputs, attrs, wrt, base in runs:
        out, grads = torch_result(op, inputs, attrs, wrt)
        large = op == "sigmoid" and inputs["input"].numel() > SIGMOID_LARGE
        if not large:
            with mp.workdps(60):
                (_, value), _ = exact_values.evaluate(dict(base, vjp=None))
        for part in ["value"] + wrt:
            reply = replies[f"{tag}.{part}"]
            if "error" in reply:
                print(f"{tag}.{part}: the reference refused: {reply['error']}", flush=True)
                continue
            key = "output" if part == "value" else f"grad_{part}"
            got = exact_of_reply(reply[key])
            theirs = (out if part == "value" else grads[part]).double().numpy().ravel()
            if large:
                at = strided(got.size)
                got, theirs = got[at], theirs[at]
                x = inputs["input"].detach().double().numpy().ravel()[at]
                hi, lo = sigmoid_exact(x, part != "value")
            else:
                if part != "value":
                    with mp.workdps(60):
                        _, (_, value_g) = exact_values.evaluate(dict(base, vjp={"wrt": part}))
                hi, lo = hi_lo(value if part == "value" else value_g)
            if len(got) != len(hi):
                print(f"{tag}.{part}: {len(got)} values, exact {len(hi)}", flush=True)
                continue
            big = np.abs(hi) >= 1 / 16
            r, t = ulps(got, hi, lo, dtype), ulps(theirs, hi, lo, dtype)
            w = worst[(op, dtype, "value" if part == "value" else f"grad {part}")]
            for i, (mask, n) in enumerate(((big, 4), (~big, 5))):
                if mask.any():
                    w[i * 2] = max(w[i * 2], float(r[mask].max()))
                    w[i * 2 + 1] = max(w[i * 2 + 1], float(t[mask].max()))
                    w[n] += int(mask.sum())
    print("\n| op | dtype | part | elements ≥ 1/16 | reference | PyTorch | elements below "
          "| reference | PyTorch |")
    print("|---|---|---|--:|--:|--:|--:|--:|--:|")
    for (op, dtype, part), w in sorted(worst.items()):
        print(f"| {op} | {dtype} | {part} | {w[4]} | {w[0]:.3g} | {w[1]:.3g} | {w[5]} "
              f"| {w[2]:.3g} | {w[3]:.3g} |")


if __name__ == "__main__":
    main()
