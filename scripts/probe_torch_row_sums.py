"""Why PyTorch fails a drawn softmax or cross-entropy call: how its row sums are taken. Reads the
requests of one call as `check --random` sent them to the adapter, and prints PyTorch's error
from the exact result (mpmath, 60 digits) beside the same arithmetic with the row sum taken three
ways — in W vector lanes left to right then the lanes' tree (ATen's `vec::reduce_all`, which the
last-dimension kernels use; W = 64 bytes / itemsize on AVX512), one term after another (the
kernels along a dimension that is not the last), and pairwise (numpy's `sum`). The evidence of
the `[[random]]` rules in adapters/pytorch/expectations.toml. Usage, from the repository root:

    cross-entropy-spec check --random 1 --seed 7 --from 18772 \\
        --impl "tee /tmp/call.jsonl | .venv-torch/bin/python adapters/pytorch/adapter.py"
    .venv-torch/bin/python scripts/probe_torch_row_sums.py /tmp/call.jsonl

Handled: softmax along any dimension (its value), and cross_entropy's gradient over one row of
class indices or probabilities, without weights (its log_softmax backward `g - exp(y) * sum(g)`).
Observation only: nothing here is a dependency of the crate or its CI.
"""

import json
import os
import sys

import mpmath
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "adapters", "pytorch"))
import adapter  # noqa: E402  (the protocol adapter: the same tensors the conformance run makes)

mpmath.mp.dps = 60


def lanes(v, width):
    """`vec::reduce_all`: `width` running sums over the row, the tail into the first lanes, then
    the lanes added pairwise."""
    acc = v[:width].copy()
    body = len(v) - len(v) % width
    for d in range(width, body, width):
        acc = acc + v[d:d + width]
    tail = v[body:]
    acc[:len(tail)] = acc[:len(tail)] + tail
    while len(acc) > 1:
        half = len(acc) // 2
        acc = acc[:half] + acc[half:]
    return acc[0]


def sequential(v):
    total = v.dtype.type(0)
    for term in v:
        total = v.dtype.type(total + term)
    return total


def pairwise(v):
    return v.dtype.type(np.sum(v))


def exact_softmax(row):
    m = max(mpmath.mpf(float(v)) for v in row)
    e = [mpmath.exp(mpmath.mpf(float(v)) - m) for v in row]
    s = mpmath.fsum(e)
    return [t / s for t in e]


def ulps(got, exact, dtype):
    return np.array([abs(float(g) - float(e)) / float(np.spacing(dtype(abs(float(e)))))
                     for g, e in zip(got, exact)])


def softmax(request):
    x = adapter.to_tensor(request["inputs"]["input"])
    dim = request["attrs"]["dim"]
    last = x.dim() == 0 or dim % x.dim() == x.dim() - 1
    rows_x = torch.movedim(x, dim, -1).reshape(-1, x.shape[dim] if x.dim() else 1).numpy()
    rows_y = torch.movedim(torch.softmax(x, dim), dim, -1).reshape(rows_x.shape).numpy()
    dtype = rows_x.dtype.type
    width = 64 // rows_x.itemsize
    print(f"softmax of {list(x.shape)} along dim {dim} ({'the last' if last else 'not the last'}),"
          f" {x.dtype}: {rows_x.shape[0]} rows of {rows_x.shape[1]}")
    sums = {"lanes": lambda e: lanes(e, width), "sequential": sequential, "pairwise": pairwise}
    for r, (row, got) in enumerate(zip(rows_x, rows_y)):
        if r >= 5:
            break
        exact = exact_softmax(row)
        e = torch.exp(torch.from_numpy(row - row.max())).numpy()
        line = f"  row {r}: PyTorch {ulps(got, exact, dtype).max():.1f} ulps from exact"
        for name, total in sums.items():
            s = total(e)
            # the last-dimension kernel multiplies by 1/sum, the others divide
            mine = e * (dtype(1) / s) if last else e / s
            line += (f"; {name} {ulps(mine, exact, dtype).max():.1f}"
                     f" (bit-equal {np.mean(mine == got):.2f})")
        print(line)


def cross_entropy_gradient(request):
    ins = {k: adapter.to_tensor(v) for k, v in request["inputs"].items()}
    attrs = {k: v for k, v in request["attrs"].items() if k != "dim"}
    if "weight" in ins or ins["input"].dim() != 2 or ins["input"].shape[0] != 1:
        sys.exit("only a single row without class weights is handled")
    x = ins["input"].clone().requires_grad_(True)
    (got,) = torch.autograd.grad(torch.nn.functional.cross_entropy(x, ins["target"], **attrs), x)
    # The upstream of log_softmax's backward, as autograd hands it over: the loss's gradient
    # with respect to the log-probabilities.
    y = torch.log_softmax(x.detach(), 1).requires_grad_(True)
    if ins["target"].dtype == torch.int64:
        nll = torch.nn.functional.nll_loss(y, ins["target"], reduction=attrs.get("reduction", "mean"),
                                           ignore_index=attrs.get("ignore_index", -100))
        eps = attrs.get("label_smoothing", 0.0)
        loss = (1 - eps) * nll + (-y.sum(1)).mean() * (eps / y.shape[1]) if eps > 0 else nll
    else:  # -sum_j q'_j y_j, q' = (1 - eps) q + eps / C, over the rows (one)
        eps = attrs.get("label_smoothing", 0.0)
        q = (1 - eps) * ins["target"] + eps / y.shape[1]
        loss = -(q * y).sum(1)
        loss = loss.sum() if attrs.get("reduction") == "sum" else loss.mean()
    (g,) = torch.autograd.grad(loss, y)
    g, yv, got = g[0].numpy(), y.detach()[0].numpy(), got[0].numpy()
    width = 64 // g.itemsize
    exact_sum = mpmath.fsum(mpmath.mpf(float(v)) for v in g)
    p = exact_softmax(x.detach()[0].numpy())
    exact = [mpmath.mpf(float(gj)) - pj * exact_sum for gj, pj in zip(g, p)]
    err = np.array([abs(float(a) - float(b)) for a, b in zip(got, exact)])
    print(f"cross_entropy gradient over {len(g)} classes, {attrs}: PyTorch's largest error "
          f"{err.max():.3g}; sum(g) exactly {float(exact_sum):.17g}")
    for name, total in [("lanes", lambda v: lanes(v, width)), ("pairwise", pairwise)]:
        s = total(g)
        mine = g - np.exp(yv) * s
        print(f"  {name}: sum(g) = {s:.17g}, off by {float(mpmath.mpf(float(s)) - exact_sum):.3g};"
              f" its gradient differs from PyTorch's by at most {np.max(np.abs(mine - got)):.3g}")


def main():
    requests = [json.loads(line) for line in open(sys.argv[1])]
    torch.set_num_threads(1)
    value = next(r for r in requests if not r.get("grad"))
    if value["op"] == "softmax":
        softmax(value)
    elif value["op"] == "cross_entropy":
        cross_entropy_gradient(value)
    else:
        sys.exit(f"{value['op']}: not a row sum this script knows")


if __name__ == "__main__":
    main()
