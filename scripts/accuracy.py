#!/usr/bin/env python3
"""Accuracy of the reference (and of PyTorch) in float32 on adversarial inputs, in ulps of the
exact value computed with mpmath (50 digits).

    cargo build --release
    .venv-torch/bin/python scripts/accuracy.py [--binary target/release/cross-entropy-spec]

The reference is asked through `cross-entropy-spec eval` (protocol v1), so any build can be
measured (e.g. an older commit's binary, with --binary). Inputs, drawn from a fixed seed:

  equal32k   logits 1 + U(-1e-3, 1e-3) over 32000 classes, 4 rows (log-probabilities near
             -ln 32000): cross_entropy 'none' and 'mean', log_softmax, softmax
  dominant   one class 16 + U(0, 8) above the others (U(-4, 4), 1000 classes), 64 rows, the
             target that class: cross_entropy 'none' (losses ~1e-7 down to ~1e-10)
  cancelBCE  x in U(-40, -2) with y = 0 and x in U(2, 40) with y = 1 (losses ~1e-1 down to 4e-18),
             and x in U(-8, 8) with y in U(0, 1): binary_cross_entropy_with_logits 'none', 'mean'
  softq      64 rows of 1000 classes U(-4, 4), one class set to 6 to 28, probability targets
             one-hot on it (32 rows) or 0.999·one-hot + noise (32 rows): cross_entropy 'none', in
             float32 and float64 (losses down to ~1e-10); its own seed; `--part softq` runs it alone
  random     logits U(-4, 4), 512 × 1000, random targets: cross_entropy 'mean'

Prints, per input and op, the largest error in ulps (an ulp of the exact value in float32; for
softq, in the row's dtype).
Needs mpmath (in the PyTorch virtualenv). `--part gradients` measures gradients instead, in
float32 and float64 (`scripts/accuracy_grad.py` holds that part and its inputs); `--part all`,
the default, does both.
"""
import argparse
import json
import subprocess

import mpmath as mp
import numpy as np
import torch
import torch.nn.functional as F

import accuracy_grad

mp.mp.dps = 50


def ulps(got, exact):
    """|got - exact| in ulps of exact as a float32 (exact as an mpf)."""
    got = mp.mpf(float(got))
    if exact == 0:
        return 0.0 if got == 0 else float("inf")
    e = int(mp.floor(mp.log(abs(exact), 2)))
    ulp = mp.mpf(2) ** (max(e, -126) - 23)
    return float(abs(got - exact) / ulp)


def reference(binary, op, inputs, attrs, grad=False):
    """The reference's output (or, with `grad`, its gradient of the output's sum) through `eval`."""
    def tensor(a):
        dtype = {np.int64: "int64", np.float32: "float32", np.float64: "float64"}[a.dtype.type]
        return {"dtype": dtype, "shape": list(a.shape), "data": a.flatten().tolist()}

    request = {"protocol": 1, "id": "acc", "op": op, "grad": grad, "attrs": attrs,
               "inputs": {k: tensor(v) for k, v in inputs.items()}}
    out = subprocess.run([binary, "eval"], input=json.dumps(request) + "\n",
                         capture_output=True, text=True, check=True).stdout
    reply = json.loads(out)[("grad_input" if grad else "output")]
    # `eval` prints a float32 as its shortest decimal: read it back as the float32 it stands for.
    got = np.array(reply["data"], dtype=np.float64)
    return got.astype(np.float32).astype(np.float64) if reply["dtype"] == "float32" else got


def lse_row(row):
    m = max(row)
    return m + mp.log(mp.fsum(mp.exp(v - m) for v in row))


def exact_log_softmax(x):
    out = []
    for row in x:
        r = [mp.mpf(float(v)) for v in row]
        lse = lse_row(r)
        out.append([v - lse for v in r])
    return out


def exact_ce(x, t):
    return [-exact_log_softmax([row])[0][ti] for row, ti in zip(x, t)]


def exact_bcewl(x, y):
    out = []
    for xi, yi in zip(x.flatten(), y.flatten()):
        xi, yi = mp.mpf(float(xi)), mp.mpf(float(yi))
        # -[y log σ(x) + (1 - y) log(1 - σ(x))], with log σ(x) = -log1p(e^-x)
        out.append(yi * mp.log1p(mp.exp(-xi)) + (1 - yi) * mp.log1p(mp.exp(xi)))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="target/release/cross-entropy-spec")
    p.add_argument("--label", default="reference")
    p.add_argument("--part", choices=("values", "gradients", "all", "softq"), default="all")
    args = p.parse_args()
    if args.part in ("gradients", "all"):
        accuracy_grad.main(args.binary, args.label, reference)
    if args.part == "gradients":
        return
    rng = np.random.default_rng(15)
    rows = []

    def report(name, op, got_ref, got_torch, exact):
        flat = [v for r in exact for v in (r if isinstance(r, list) else [r])]
        r = max(ulps(g, e) for g, e in zip(np.ravel(got_ref), flat))
        t = max(ulps(g, e) for g, e in zip(np.ravel(got_torch), flat))
        rows.append((name, op, r, t))
        print(f"{name:10} {op:32} {args.label} {r:12.3g} ulps   PyTorch {t:12.3g} ulps", flush=True)

    # softq: probability targets on a dominant class, float32 and float64 ('none': each row's
    # loss, down to ~1e-10 where the target is one-hot and the loss is -log p_max)
    rq = np.random.default_rng(16)  # its own generator: the other inputs stay as they were
    x64 = rq.uniform(-4, 4, (64, 1000))
    tq = rq.integers(0, 1000, 64)
    x64[np.arange(64), tq] = 4 + np.linspace(2, 24, 64)
    q64 = np.zeros((64, 1000))
    q64[np.arange(64), tq] = 1.0
    q64[32:] = 0.999 * q64[32:] + 0.001 * rq.uniform(0, 1, (32, 1000)) / 1000
    for dtype in (np.float32, np.float64):
        x, q = x64.astype(dtype), q64.astype(dtype)
        lsm = exact_log_softmax(x)
        ex = [-mp.fsum(mp.mpf(float(qc)) * lc for qc, lc in zip(qr, lr)) for qr, lr in zip(q, lsm)]
        got_r = reference(args.binary, "cross_entropy", {"input": x, "target": q},
                          {"reduction": "none"})
        got_t = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(q), reduction="none").numpy()
        r = max(accuracy_grad.ulps(g, e, dtype) for g, e in zip(got_r, ex))
        t = max(accuracy_grad.ulps(g, e, dtype) for g, e in zip(got_t, ex))
        name = f"cross_entropy probs none {dtype.__name__}"
        rows.append(("softq", name, r, t))
        print(f"{'softq':10} {name:32} {args.label} {r:12.3g} ulps   PyTorch {t:12.3g} ulps",
              flush=True)

    if args.part == "softq":
        return

    # equal32k
    x = (1 + rng.uniform(-1e-3, 1e-3, (4, 32000))).astype(np.float32)
    t = rng.integers(0, 32000, 4)
    lsm = exact_log_softmax(x)
    ce = [-lsm[i][t[i]] for i in range(4)]
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    report("equal32k", "cross_entropy none",
           reference(args.binary, "cross_entropy", {"input": x, "target": t}, {"reduction": "none"}),
           F.cross_entropy(xt, tt, reduction="none").numpy(), ce)
    report("equal32k", "cross_entropy mean",
           reference(args.binary, "cross_entropy", {"input": x, "target": t}, {}),
           F.cross_entropy(xt, tt).numpy(), [mp.fsum(ce) / 4])
    report("equal32k", "log_softmax",
           reference(args.binary, "log_softmax", {"input": x}, {"dim": 1}),
           torch.log_softmax(xt, 1).numpy(), lsm)
    report("equal32k", "softmax",
           reference(args.binary, "softmax", {"input": x}, {"dim": 1}),
           torch.softmax(xt, 1).numpy(), [[mp.exp(v) for v in r] for r in lsm])

    # dominant
    x = rng.uniform(-4, 4, (64, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 64)
    x[np.arange(64), t] = (16 + rng.uniform(0, 8, 64)).astype(np.float32)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    report("dominant", "cross_entropy none",
           reference(args.binary, "cross_entropy", {"input": x, "target": t}, {"reduction": "none"}),
           F.cross_entropy(xt, tt, reduction="none").numpy(), exact_ce(x, t))

    # cancelBCE
    x = np.concatenate([rng.uniform(-40, -2, 200), rng.uniform(2, 40, 200), rng.uniform(-8, 8, 200)])
    y = np.concatenate([np.zeros(200), np.ones(200), rng.uniform(0, 1, 200)])
    x, y = x.astype(np.float32), y.astype(np.float32)
    ex = exact_bcewl(x, y)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    bce = "binary_cross_entropy_with_logits"
    report("cancelBCE", bce + " none",
           reference(args.binary, bce, {"input": x, "target": y}, {"reduction": "none"}),
           F.binary_cross_entropy_with_logits(xt, yt, reduction="none").numpy(), ex)
    report("cancelBCE", bce + " mean",
           reference(args.binary, bce, {"input": x, "target": y}, {}),
           F.binary_cross_entropy_with_logits(xt, yt).numpy(), [mp.fsum(ex) / len(ex)])

    # random
    x = rng.uniform(-4, 4, (512, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 512)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t)
    report("random", "cross_entropy mean",
           reference(args.binary, "cross_entropy", {"input": x, "target": t}, {}),
           F.cross_entropy(xt, tt).numpy(), [mp.fsum(exact_ce(x, t)) / 512])

    print()
    print(f"| input | op | {args.label} (max ulps) | PyTorch 2.15.0 (max ulps) |")
    print("|---|---|---|---|")
    for name, op, r, t in rows:
        print(f"| {name} | {op} | {r:.3g} | {t:.3g} |")


if __name__ == "__main__":
    main()
