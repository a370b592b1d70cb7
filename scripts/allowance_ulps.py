#!/usr/bin/env python3
"""What a pass guarantees: the allowance of the exact claim, in ulps of the exact value, per op,
dtype and part, over the suite's runs (spec/12-exact-values.md, *What a pass guarantees*).

    cargo run -- cases --json | python3 scripts/allowance_ulps.py

Reads the export (one JSON line per case and dtype, each exact claim with its per-element
`allowance`), and prints, for every op, dtype and part (value, gradient), over the elements whose
exact value is finite and in the normal range, the median, the 90th percentile and the largest
allowance in ulps of that value (the spacing of the dtype at it), and how many elements there are.
An allowance of `a` ulps means a passing answer is within `a` ulps of the exact value there.
No third-party packages.
"""

import collections
import json
import math
import sys

# Significand bits and the smallest normal exponent of each dtype the export holds.
BITS = {"float32": (24, -126), "float64": (53, -1022), "float16": (11, -14), "bfloat16": (8, -126)}


def ulp(value, dtype):
    """The spacing of `dtype` at `value`, a normal number."""
    digits, emin = BITS[dtype]
    return 2.0 ** (math.frexp(abs(value))[1] - digits)


def normal(value, dtype):
    return math.isfinite(value) and value != 0 and abs(value) >= 2.0 ** BITS[dtype][1]


def main():
    ratios = collections.defaultdict(list)
    for line in sys.stdin:
        if not line.strip():
            continue
        run = json.loads(line)
        op, dtype = run["request"]["op"], run["dtype"]
        for part, key, data in (("value", "exact", "output"), ("gradient", "exact_grad", "grad_input")):
            claim = run.get(key)
            if not claim:
                continue
            for want, allowed in zip(claim[data]["data"], claim["allowance"]):
                if isinstance(want, (int, float)) and normal(want, dtype):
                    ratios[(op, dtype, part)].append(allowed / ulp(want, dtype))
    print("| op | dtype | part | elements | median | 90th percentile | largest |")
    print("|---|---|---|---|---|---|---|")
    for (op, dtype, part), r in sorted(ratios.items()):
        r.sort()
        pick = lambda q: r[min(len(r) - 1, int(q * len(r)))]
        print(f"| {op} | {dtype} | {part} | {len(r)} | {pick(0.5):.1f} | {pick(0.9):.1f} | {r[-1]:.3g} |")


if __name__ == "__main__":
    main()
