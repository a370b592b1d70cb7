#!/usr/bin/env python3
"""For every snapshot with a pending update (`*.snap.new`, left by `cargo test --test spec_cases`
with insta's default INSTA_UPDATE=auto), compares each changed value, old and new, with the exact
value in spec/recorded/exact.json, and says whether the new one is closer, as close, or farther.

    python3 scripts/snapshot_closeness.py [-v]     # a summary, every value that got farther
                                                   # (-v: every changed value)

Uses only the standard library (fractions for exact comparisons). Exits 1 if any value got
farther from its exact value, or a changed value has no exact value to compare with.
"""
import json
import pathlib
import re
import struct
import sys
from fractions import Fraction

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERBOSE = "-v" in sys.argv
exact = json.load(open(ROOT / "spec/recorded/exact.json"))["values"]


def values(text):
    """{'output'|'grad_input': [str]} from a snapshot's YAML (the parts this script needs)."""
    out, part = {}, None
    for line in text.splitlines():
        m = re.match(r"^(output|grad_input):", line)
        if m:
            part = m.group(1)
            out[part] = []
            continue
        if re.match(r"^\S", line):
            part = None
        if part is None:
            continue
        m = re.match(r'^\s+(?:value: |- )"(.*)"$', line)
        if m:
            out[part] += [v.strip() for v in m.group(1).split(",")]
    return out


def frac(s, dtype):
    """The value a snapshot's decimal stands for, exactly: a float is written as its shortest
    round-trip decimal, which is not its value, so it is read back as the float it names."""
    s = s.strip()
    if s in ("nan", "NaN", "inf", "-inf"):
        return None
    if dtype == "float32":
        return Fraction(struct.unpack("f", struct.pack("f", float(s)))[0])
    return Fraction(float(s))


def main():
    counts = {"closer": 0, "as close": 0, "farther": 0, "no exact": 0}
    files = 0
    bad = []
    for new in sorted(ROOT.glob("snapshots/**/*.snap.new")):
        old = new.with_suffix("")
        text_new = new.read_text()
        case = re.search(r"^case: (.*)$", text_new, re.M).group(1)
        dtype = re.search(r"^dtype: (.*)$", text_new, re.M).group(1)
        ex = exact.get(f"{case}@{dtype}", {})
        a, b = values(old.read_text()), values(text_new)
        files += 1
        for part in ("output", "grad_input"):
            want = (ex.get(part) or {}).get("data")
            for i, (o, n) in enumerate(zip(a.get(part, []), b.get(part, []))):
                if o == n:
                    continue
                where = f"{case}@{dtype} {part}[{i}]: {o} -> {n}"
                if want is None or frac(o, dtype) is None or frac(n, dtype) is None:
                    counts["no exact"] += 1
                    bad.append(where + " (no exact value)")
                    continue
                e = Fraction(want[i])
                do, dn = abs(frac(o, dtype) - e), abs(frac(n, dtype) - e)
                kind = "closer" if dn < do else "as close" if dn == do else "farther"
                counts[kind] += 1
                if kind != "closer" or VERBOSE:
                    bad.append(f"{where}, exact {float(e)!r}: {kind}")
    print(f"{files} snapshots changed; changed values: " +
          ", ".join(f"{v} {k}" for k, v in counts.items()))
    for line in bad:
        print("  " + line)
    sys.exit(1 if counts["farther"] or counts["no exact"] else 0)


if __name__ == "__main__":
    main()
