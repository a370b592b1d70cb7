#!/usr/bin/env python3
"""Times the reference (`cross-entropy-spec bench`) and PyTorch on the same inputs, interleaved.

Run with the PyTorch virtualenv (never a CI dependency), after `cargo build --release`:

    .venv-torch/bin/python scripts/bench_pytorch.py [--shape 512,32000] [--reps 5]

For every case, dtype and thread count it runs the Rust benchmark binary and then PyTorch in this
process, `--rounds` times alternating which goes first, and keeps each side's best median. The
inputs are drawn by both from `torch.manual_seed(seed)` (see src/bench.rs); the script checks the
first and last elements the binary reports, and compares the result's checksum. PyTorch's
gradient time is its forward plus `backward()` (the reference's gradient computes the forward's
terms too). The ratio is PyTorch's time over the reference's: 1 or more means the reference is
as fast or faster.
"""

import argparse
import json
import math
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

SUMMARY = re.compile(r"median ([0-9.]+) ms")


def cases(n, c):
    """(label, op, grad, options, shape)."""
    nck = (n // 4, c // 32, 128)  # a K-dim input of about the same size: (N, C, K)
    out = []
    for grad in (False, True):
        out += [
            ("cross_entropy mean", "cross_entropy", grad, {}, (n, c)),
            ("cross_entropy none", "cross_entropy", grad, {"reduction": "none"}, (n, c)),
            ("cross_entropy ls=0.1", "cross_entropy", grad, {"label_smoothing": 0.1}, (n, c)),
            ("cross_entropy probs", "cross_entropy", grad, {"target": "probabilities"}, (n, c)),
            ("cross_entropy K-dim", "cross_entropy", grad, {}, nck),
            ("log_softmax", "log_softmax", grad, {}, (n, c)),
            ("softmax", "softmax", grad, {}, (n, c)),
            ("bce_with_logits mean", "binary_cross_entropy_with_logits", grad, {}, (n, c)),
        ]
    return out


def inputs(op, options, shape, dtype, seed):
    torch.manual_seed(seed)
    x = torch.rand(shape, dtype=dtype) * 8 - 4
    target = None
    if op == "cross_entropy" and options.get("target") != "probabilities":
        tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        target = torch.randint(0, shape[1 if len(shape) > 1 else 0], tshape)
    elif op in ("cross_entropy", "binary_cross_entropy_with_logits"):
        target = torch.rand(shape, dtype=dtype)
    return x, target


def torch_call(op, options, x, target):
    dim = 1 if x.dim() > 1 else 0
    reduction = options.get("reduction", "mean")
    if op == "softmax":
        return torch.softmax(x, dim)
    if op == "log_softmax":
        return torch.log_softmax(x, dim)
    if op == "cross_entropy":
        ls = options.get("label_smoothing", 0.0)
        return F.cross_entropy(x, target, reduction=reduction, label_smoothing=ls)
    return F.binary_cross_entropy_with_logits(x, target, reduction=reduction)


def time_torch(op, grad, options, shape, dtype, threads, reps, seed):
    torch.set_num_threads(threads)
    x, target = inputs(op, options, shape, dtype, seed)
    x.requires_grad_(grad)

    def once():
        if not grad:
            with torch.no_grad():
                return torch_call(op, options, x, target)
        x.grad = None
        out = torch_call(op, options, x, target)
        out.sum().backward()
        return x.grad

    result = once()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = once()
        times.append(time.perf_counter() - start)
    times.sort()
    first_last = [x.flatten()[0].item(), x.flatten()[-1].item()]
    if target is not None:
        first_last += [float(target.flatten()[0].item()), float(target.flatten()[-1].item())]
    checksum = result.double().sum().item()
    return times[len(times) // 2] * 1e3, first_last, checksum


def time_rust(binary, op, grad, options, shape, dtype, threads, reps, seed):
    cmd = [binary, "bench", "--op", op, "--shape", ",".join(map(str, shape)),
           "--dtype", dtype, "--threads", str(threads), "--reps", str(reps), "--seed", str(seed)]
    if grad:
        cmd.append("--grad")
    if options:
        cmd += ["--options", json.dumps(options)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    inputs_line = [float(v) for v in re.findall(r"= (\S+?)(?:,|$)", out[-3])]
    checksum = float(out[-2].split(": ")[1])
    return float(SUMMARY.search(out[-1]).group(1)), inputs_line, checksum, out[-1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default="target/release/cross-entropy-spec")
    p.add_argument("--shape", default="512,32000")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--filter", default="", help="only cases whose label contains this")
    args = p.parse_args()
    n, c = map(int, args.shape.split(","))
    rows = []
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads available", flush=True)
    for label, op, grad, options, shape in cases(n, c):
        if args.filter not in label:
            continue
        for dtype_name in args.dtypes.split(","):
            dtype = getattr(torch, dtype_name)
            for threads in map(int, args.threads.split(",")):
                best_r = best_t = math.inf
                for r in range(args.rounds):
                    def rust():
                        return time_rust(args.binary, op, grad, options, shape, dtype_name,
                                         threads, args.reps, args.seed)

                    def pt():
                        return time_torch(op, grad, options, shape, dtype, threads,
                                          args.reps, args.seed)
                    if r % 2 == 0:
                        (ms_r, in_r, sum_r, line), (ms_t, in_t, sum_t) = rust(), pt()
                    else:
                        (ms_t, in_t, sum_t), (ms_r, in_r, sum_r, line) = pt(), rust()
                    best_r, best_t = min(best_r, ms_r), min(best_t, ms_t)
                if [v for v in in_r if not math.isnan(v)] != in_t:
                    sys.exit(f"{label}: the inputs differ: reference {in_r}, PyTorch {in_t}")
                rel = abs(sum_r - sum_t) / max(abs(sum_t), 1e-300)
                name = label + (" grad" if grad else "")
                rows.append((name, dtype_name, threads, best_r, best_t))
                print(f"{name:32} {dtype_name} {threads}T  reference {best_r:8.1f} ms  "
                      f"PyTorch {best_t:8.1f} ms  ratio {best_t / best_r:5.2f}  "
                      f"(checksums differ by {rel:.1e})", flush=True)
    print()
    print(f"| op ({args.shape}) | dtype | threads | reference ms | PyTorch ms | PyTorch ÷ reference |")
    print("|---|---|---|---|---|---|")
    for name, dtype_name, threads, r, t in rows:
        print(f"| {name} | {dtype_name} | {threads} | {r:.1f} | {t:.1f} | {t / r:.2f} |")


if __name__ == "__main__":
    main()
