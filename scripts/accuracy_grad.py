"""The gradient half of `scripts/accuracy.py` (run through it: `accuracy.py --part gradients`):
the reference's and PyTorch's gradients of the output's sum, in float32 and float64, against the
exact gradient (mpmath, 50 digits) on every element, on adversarial inputs drawn from a fixed seed:

  dominant    CE, index targets, 64 x 1000, the target ahead of the others (U(-4, 4)) by 2 to 24
              (p_t from 0.9 to 1 - 1e-10), class weights 10^U(-3, 3): 'sum' and 'mean'
  softq       CE, probability targets 0.999·onehot + 0.001·U(0,1)/C on the same rows (a
              distillation target near one-hot), class weights 10^U(-3, 3): 'sum'
  bcewl       BCE-with-logits, x U(-40, 40) with y in {0, 1} and x U(-8, 8) with y U(0, 1), 32 x 64,
              element weights 10^U(-2, 2) and pos_weights 10^U(-2, 2) per column: 'sum', 'mean'
  equal32k    logits 1 ± 1e-3 over 32000 classes, 4 rows: log_softmax, CE 'mean' (random targets)
  random      logits U(-4, 4), 512 x 1000, random targets: CE 'mean'

For each input, op and dtype it prints the largest error in ulps (of the exact value in that dtype)
over the elements whose exact value is at least 1/16 in magnitude, and over the others.
"""
import mpmath as mp
import numpy as np
import torch
import torch.nn.functional as F

mp.mp.dps = 50
BITS = {np.float32: (24, -126), np.float64: (53, -1022)}


def ulps(got, exact, dtype):
    """|got - exact| in ulps of exact in `dtype` (exact an mpf)."""
    p, emin = BITS[dtype]
    got = mp.mpf(float(got))
    if exact == 0:
        return 0.0 if got == 0 else float("inf")
    e = int(mp.floor(mp.log(abs(exact), 2)))
    return float(abs(got - exact) / mp.mpf(2) ** (max(e, emin) - p + 1))


def split_max(got, exact, dtype):
    """(largest ulps where |exact| >= 1/16, largest where below; elements in each)."""
    big, small, nb, ns = 0.0, 0.0, 0, 0
    for g, e in zip(np.ravel(got), exact):
        u = ulps(g, e, dtype)
        if abs(e) >= mp.mpf(1) / 16:
            big, nb = max(big, u), nb + 1
        else:
            small, ns = max(small, u), ns + 1
    return big, small, nb, ns


def probs(x):
    """Exact softmax of each row of `x` (mpf lists)."""
    out = []
    for row in x:
        r = [mp.mpf(float(v)) for v in row]
        m = max(r)
        e = [mp.exp(v - m) for v in r]
        total = mp.fsum(e)
        out.append([v / total for v in e])
    return out


def ce_index_grad(x, t, w, reduction):
    p = probs(x)
    w = [mp.mpf(float(v)) for v in w]
    scale = 1 / mp.fsum(w[ti] for ti in t) if reduction == "mean" else 1
    return [w[ti] * (pc - (c == ti)) * scale for row, ti in zip(p, t) for c, pc in enumerate(row)]


def ce_prob_grad(x, q, w):
    """'sum': ∂/∂x_c of -Σ_c w_c q_c log p_c is p_c Σ_k w_k q_k - w_c q_c."""
    p = probs(x)
    w = [mp.mpf(float(v)) for v in w]
    out = []
    for prow, qrow in zip(p, q):
        qm = [mp.mpf(float(v)) for v in qrow]
        wq = mp.fsum(wc * qc for wc, qc in zip(w, qm))
        out += [pc * wq - wc * qc for pc, wc, qc in zip(prow, w, qm)]
    return out


def bcewl_grad(x, y, w, pw, reduction):
    n = x.size if reduction == "mean" else 1
    out = []
    for xi, yi, wi, pi in zip(x.ravel(), y.ravel(), w.ravel(), np.broadcast_to(pw, x.shape).ravel()):
        xi, yi, wi, pi = (mp.mpf(float(v)) for v in (xi, yi, wi, pi))
        s, sn = 1 / (1 + mp.exp(-xi)), 1 / (1 + mp.exp(xi))
        out.append(wi * ((1 - yi) * s - pi * yi * sn) / n)
    return out


def torch_grad(fn, *args):
    """PyTorch's gradient of fn(input, ...).sum() with respect to the first argument."""
    x = torch.from_numpy(args[0]).requires_grad_(True)
    fn(x, *(torch.from_numpy(a) for a in args[1:])).sum().backward()
    return x.grad.numpy()


def main(binary, label, reference):
    rng = np.random.default_rng(22)
    rows = []

    def report(name, op, dtype, ref, tch, exact):
        r, t = split_max(ref, exact, dtype), split_max(tch, exact, dtype)
        dt = dtype.__name__
        rows.append((name, op, dt, r, t))
        print(f"{name:9} {op:28} {dt:8} |exact|>=1/16 ({r[2]}): {label} {r[0]:9.3g} "
              f"PyTorch {t[0]:9.3g}; below ({r[3]}): {label} {r[1]:9.3g} PyTorch {t[1]:9.3g}",
              flush=True)

    # Inputs drawn once, in float64, and rounded to each dtype.
    x_dom = rng.uniform(-4, 4, (64, 1000))
    t_dom = rng.integers(0, 1000, 64)
    x_dom[np.arange(64), t_dom] = 4 + np.linspace(2, 24, 64)
    w_dom = 10 ** rng.uniform(-3, 3, 1000)
    q_dom = 0.001 * rng.uniform(0, 1, (64, 1000)) / 1000
    q_dom[np.arange(64), t_dom] += 0.999
    xb = np.concatenate([rng.uniform(-40, 40, (16, 64)), rng.uniform(-8, 8, (16, 64))])
    yb = np.concatenate([(xb[:16] > 0) * 1.0, rng.uniform(0, 1, (16, 64))])
    wb, pwb = 10 ** rng.uniform(-2, 2, (32, 64)), 10 ** rng.uniform(-2, 2, 64)
    x_eq = 1 + rng.uniform(-1e-3, 1e-3, (4, 32000))
    t_eq = rng.integers(0, 32000, 4)
    x_rand = rng.uniform(-4, 4, (512, 1000))
    t_rand = rng.integers(0, 1000, 512)

    for dtype in (np.float32, np.float64):
        x, w = x_dom.astype(dtype), w_dom.astype(dtype)
        for red in ("sum", "mean"):
            inputs = {"input": x, "target": t_dom, "weight": w}
            report("dominant", f"cross_entropy {red}", dtype,
                   reference(binary, "cross_entropy", inputs, {"reduction": red}, grad=True),
                   torch_grad(lambda a, t, w: F.cross_entropy(a, t, weight=w, reduction=red),
                              x, t_dom, w),
                   ce_index_grad(x, t_dom, w, red))
        q = q_dom.astype(dtype)
        report("softq", "cross_entropy probs sum", dtype,
               reference(binary, "cross_entropy", {"input": x, "target": q, "weight": w},
                         {"reduction": "sum"}, grad=True),
               torch_grad(lambda a, q, w: F.cross_entropy(a, q, weight=w, reduction="sum"), x, q, w),
               ce_prob_grad(x, q, w))
        x, y, wt, pw = (a.astype(dtype) for a in (xb, yb, wb, pwb))
        for red in ("sum", "mean"):
            inputs = {"input": x, "target": y, "weight": wt, "pos_weight": pw}
            op = "binary_cross_entropy_with_logits"
            report("bcewl", f"bce_with_logits {red}", dtype,
                   reference(binary, op, inputs, {"reduction": red}, grad=True),
                   torch_grad(lambda a, y, w, p: F.binary_cross_entropy_with_logits(
                       a, y, weight=w, pos_weight=p, reduction=red), x, y, wt, pw),
                   bcewl_grad(x, y, wt, pw, red))
        x = x_eq.astype(dtype)
        p = probs(x)
        report("equal32k", "log_softmax", dtype,
               reference(binary, "log_softmax", {"input": x}, {"dim": 1}, grad=True),
               torch_grad(lambda a: torch.log_softmax(a, 1), x),
               [1 - 32000 * pc for row in p for pc in row])
        ones = np.ones(32000, dtype=dtype)
        report("equal32k", "cross_entropy mean", dtype,
               reference(binary, "cross_entropy", {"input": x, "target": t_eq}, {}, grad=True),
               torch_grad(lambda a, t: F.cross_entropy(a, t), x, t_eq),
               ce_index_grad(x, t_eq, ones, "mean"))
        x = x_rand.astype(dtype)
        report("random", "cross_entropy mean", dtype,
               reference(binary, "cross_entropy", {"input": x, "target": t_rand}, {}, grad=True),
               torch_grad(lambda a, t: F.cross_entropy(a, t), x, t_rand),
               ce_index_grad(x, t_rand, np.ones(1000), "mean"))

    print()
    print(f"| input | gradient of | dtype | {label}, |exact| ≥ 1/16 | PyTorch, |exact| ≥ 1/16 "
          f"| {label}, below | PyTorch, below |")
    print("|---|---|---|--:|--:|--:|--:|")
    for name, op, dt, r, t in rows:
        print(f"| {name} | {op} | {dt} | {r[0]:.3g} | {t[0]:.3g} | {r[1]:.3g} | {t[1]:.3g} |")
