#!/usr/bin/env python3
"""Observes PyTorch's CPU semantics for float16 and bfloat16 inputs, op by op: which candidate
evaluation each half result equals bit for bit (float32 computed and rounded once; the log-
probabilities rounded to half before nll_loss; the smoothing sum as a half tensor), and how often
it is the correctly rounded value (float64 rounded to the dtype). spec/14-half-precision.md
states what this prints. Usage: `python3 scripts/observe_half.py` with torch 2.15.0."""

import torch
import torch.nn.functional as F


def frac_equal(a, b):
    return (a == b).float().mean().item()


def main():
    torch.set_num_threads(1)
    print("torch", torch.__version__)
    for dt in (torch.float16, torch.bfloat16):
        torch.manual_seed(0)
        print("==", dt)
        x = (torch.randn(4, 1000) * 3).to(dt)
        for name, fn in (("softmax", lambda z: F.softmax(z, 1)),
                         ("log_softmax", lambda z: F.log_softmax(z, 1)),
                         ("sigmoid", torch.sigmoid)):
            got = fn(x)
            print(f"{name}: float32 rounded once {frac_equal(got, fn(x.float()).to(dt)):.3f},"
                  f" correctly rounded {frac_equal(got, fn(x.double()).to(dt)):.3f}")
        t = torch.randint(0, 1000, (4,))
        lp = F.log_softmax(x, 1)
        for red in ("none", "mean", "sum"):
            got = F.cross_entropy(x, t, reduction=red)
            print(f"cross_entropy {red}: == nll_loss(half log_softmax)"
                  f" {torch.equal(got, F.nll_loss(lp, t, reduction=red))}")
            got = F.cross_entropy(x, t, reduction=red, label_smoothing=0.1)
            smooth = -lp.sum(1)  # a half tensor: each sample's sum rounded to the dtype
            smooth = {"none": smooth, "mean": smooth.mean(), "sum": smooth.sum()}[red]
            manual = 0.9 * F.nll_loss(lp, t, reduction=red) + smooth * (0.1 / 1000)
            print(f"cross_entropy {red}, smoothing: == half smoothing sum {torch.equal(got, manual)}")
        n = 70000
        ones = torch.full((n, 2), -1.0).to(dt)
        s = F.nll_loss(ones, torch.zeros(n, dtype=torch.long), reduction="sum").item()
        print(f"nll_loss sum of {n} ones: {s} (float16 overflows; bfloat16 70144 is 70000 rounded)")
        p = torch.rand(4000).to(dt).clamp(0.01, 0.99)
        y = torch.rand(4000).to(dt)
        for name, fn, a in (("binary_cross_entropy", F.binary_cross_entropy, p),
                            ("binary_cross_entropy_with_logits",
                             F.binary_cross_entropy_with_logits, x.reshape(-1))):
            got = fn(a, y, reduction="none")
            print(f"{name} none: correctly rounded"
                  f" {frac_equal(got, fn(a.double(), y.double(), reduction='none').to(dt)):.3f}")
            for red in ("mean", "sum"):
                same = torch.equal(fn(a, y, reduction=red),
                                   fn(a.float(), y.float(), reduction=red).to(dt))
                print(f"{name} {red}: float32 rounded once {same}")
        torch.manual_seed(22)
        xx = torch.randn(8, 512).bfloat16()
        tt = torch.empty(8, dtype=torch.long).random_(512)
        print("cross_entropy [8, 512] mean:", F.cross_entropy(xx.to(dt), tt).item(),
              "exact", F.cross_entropy(xx.double(), tt).item())
    print("== label smoothing, F.cross_entropy(x.half(), t, label_smoothing=0.1), x = randn(4, C)")
    for c in (1000, 4000, 6000, 8000, 32000):
        torch.manual_seed(0)
        x = torch.randn(4, c)
        t = torch.randint(0, c, (4,))
        row = [F.cross_entropy(x.to(d), t, label_smoothing=0.1).item()
               for d in (torch.float64, torch.float16, torch.bfloat16)]
        none = F.cross_entropy(x.half(), t, label_smoothing=0.1, reduction="none")[:2].tolist()
        print(f"C={c}: exact {row[0]:.4f}, float16 {row[1]}, bfloat16 {row[2]}, float16 none {none}")


if __name__ == "__main__":
    main()
