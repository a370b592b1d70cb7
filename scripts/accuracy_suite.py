#!/usr/bin/env python3
"""The reference's accuracy on the suite's own cases: every value of every committed snapshot
(`snapshots/**/*.snap`, the reference's results) against the exact value of
`spec/recorded/exact.json`, in ulps of the dtype at the exact value, split at |exact| = 1/16 as
issue 22's bound is (2 ulps in float32, 4 in float64, at or above it). Gradients are also
compared with PyTorch's recorded ones (`spec/recorded/pytorch-gradients.json`, where a run's is
recorded whole), on the same elements: the issue asks the reference to be no worse below 1/16. Half-precision snapshots
are left out (chapter 14 holds them to their allowance; the bound is float32's and float64's).

    python3 scripts/accuracy_suite.py

Standard library only. Snapshots of large tensors hold a digest and the ends, not every value:
they are left out here (`tests/suite/oracle.rs` holds the oracle they are judged by to the
recorded samples). A value or exact value
that is NaN or infinite is left out (those are compared exactly by the suite). Exits 1 if a
float32 or float64 value at or above 1/16 is beyond the bound.
"""
import json
import math
import pathlib
import re
import sys
from fractions import Fraction

# The snapshot parser, the exact reading of a shortest decimal and the exact values (read once,
# when that module is imported), shared with the closeness check.
from snapshot_closeness import exact, frac as as_fraction, values as snapshot_values

ROOT = pathlib.Path(__file__).resolve().parent.parent
BITS = {"float64": (53, -1022), "float32": (24, -126)}
BOUND = {"float32": 2.0, "float64": 4.0}
SIXTEENTH = Fraction(1, 16)


def ulp(e, dtype):
    """The spacing of `dtype` at |e| (the subnormal spacing below the normal range)."""
    p, emin = BITS[dtype]
    exp = max(math.frexp(float(abs(e)))[1] - 1, emin) if e else emin
    return Fraction(2) ** (exp - p + 1)


def main():
    torch = json.load(open(ROOT / "spec/recorded/pytorch-gradients.json"))["gradients"]
    worst = {}
    for snap in sorted(ROOT.glob("snapshots/**/*.snap")):
        text = snap.read_text()
        case = re.search(r"^case: (.*)$", text, re.M)
        dtype = re.search(r"^dtype: (.*)$", text, re.M)
        if not case or not dtype:
            continue
        run = f"{case.group(1)}@{dtype.group(1)}"
        ex = exact.get(run)
        if dtype.group(1) not in BITS or not ex:
            continue
        for part, got in snapshot_values(text).items():
            want = (ex.get(part) or {}).get("data") or []
            if len(got) != len(want):
                continue  # a large tensor: only its ends are in the snapshot
            theirs = (torch.get(run) or {}).get("data") if part == "grad_input" else None
            if theirs is not None and len(theirs) != len(want):
                theirs = None
            measure(worst, run, dtype.group(1), part, got, want, theirs)
    sys.exit(report(worst))


def measure(worst, run, dtype, part, got, want, theirs):
    """Every element's error in ulps, the reference's (`got`) and PyTorch's (`theirs`, or None),
    kept as the worst per dtype and part, and per run, each side of 1/16."""
    for i, (g, w) in enumerate(zip(got, want)):
        ours = as_fraction(g, dtype)
        try:
            e = Fraction(w)
        except (ValueError, OverflowError):
            continue  # NaN or an infinity: compared exactly by the suite
        if ours is None:
            continue
        high, spacing = abs(e) >= SIXTEENTH, ulp(e, dtype)
        record(worst, (dtype, part, high), abs(ours - e) / spacing, run)
        t = as_fraction(str(theirs[i]), dtype) if theirs is not None else None
        if t is not None:
            for key in (dtype, run):
                record(worst, (key, "pytorch", high), abs(t - e) / spacing, run)
                record(worst, (key, "ours", high), abs(ours - e) / spacing, run)


def report(worst):
    """Print the table and the runs where the reference is worse than PyTorch below 1/16; 1 if
    a float32 or float64 value at or above 1/16 is beyond the bound."""
    bad = False
    print("| dtype | part | max ulps, |exact| ≥ 1/16 | where | max ulps below | where |")
    print("|---|---|--:|---|--:|---|")
    for dtype in BITS:
        for part in ("output", "grad_input", "ours", "pytorch"):
            hi = worst.get((dtype, part, True), (0.0, "–"))
            lo = worst.get((dtype, part, False), (0.0, "–"))
            name = {"ours": "gradient beside PyTorch's: reference",
                    "pytorch": "gradient beside the reference's: PyTorch"}.get(part, part)
            print(f"| {dtype} | {name} | {hi[0]:.3g} | {hi[1]} | {lo[0]:.3g} | {lo[1]} |")
            bad |= part in ("output", "grad_input") and hi[0] > BOUND[dtype]
    runs = sorted({k[0] for k in worst if "@" in k[0]})
    below = lambda run, side: worst.get((run, side, False), (0.0,))[0]
    worse = [r for r in runs if below(r, "ours") > max(below(r, "pytorch"), 0.5)]
    print(f"\n{len(runs)} gradient runs beside PyTorch's; below 1/16 the reference's worst element is")
    print(f"farther from exact than PyTorch's worst (and more than half an ulp) in {len(worse)}:")
    for r in worse:
        print(f"  {r}: {below(r, 'ours'):.3g} ulps, PyTorch {below(r, 'pytorch'):.3g}")
    return 1 if bad else 0


def record(worst, key, err, where):
    """Keep the largest error (in ulps) seen for `key`, and where it was."""
    err = float(err)
    if err > worst.get(key, (0.0, ""))[0]:
        worst[key] = (err, where)


if __name__ == "__main__":
    main()
