#!/usr/bin/env python3
"""Record what PyTorch's CPU generator produces, for tests/suite/torch_rng.rs.

Run with the Python that has torch installed, from the repository root:

    python scripts/observe_torch_rng.py            # writes tests/data/torch_rng_observations.json
    python scripts/observe_torch_rng.py --extensive --out /tmp/many.json
                                                   # many more seeds, to measure randn's ulp spread

Every observation is "seed once, then make these calls"; the Rust test replays the same calls on
`cross_entropy_spec::torch_rng::TorchGenerator` and compares. Floats are stored twice: `data`
holds the shortest decimal that rounds back to the value (for reading), and `bits` holds the IEEE
754 bit pattern as an integer (u32 for float32, u64 for float64), which is what the test compares,
so exactness never depends on a JSON float parser.

PyTorch has two float32 `randn` kernels for tensors of 16 or more elements (a vectorised one
for AVX2/AVX-512 CPUs and a portable one); the script also records a few of those calls in a
child process started with ATEN_CPU_CAPABILITY=default, marked with their own `cpu_capability`.

Observations that share a `sequence` id come from one generator seeded once and are listed in
call order (`step` 0, 1, ...): the generator state, including the cached second normal value of
small `randn` calls, carries over between them exactly as in a notebook.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

DEFAULT_OUT = os.path.join("tests", "data", "torch_rng_observations.json")

SEEDS = [0, 1, 42, 100, 2**32 + 7, 123456789]
# Sizes on both sides of randn's 16-element threshold and of multiples of 16.
SIZES = [1, 15, 16, 17, 20, 31, 32, 33, 450]
SHAPES = [(4, 5), (3, 5), (1, 4), (6, 3, 5, 5)]
HIGHS = [1, 2, 3, 5, 10, 1000]
# Ranges around the switch from 32-bit to 64-bit draws (2^28) and up to int64's limit.
LARGE_HIGHS = [2**28 - 1, 2**28, 2**32 - 1, 2**32, 2**40 + 3, 2**63 - 1]

DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
          torch.float16: "float16", torch.bfloat16: "bfloat16"}


def dtype_suffix(dtype):
    return "" if dtype == torch.float32 else f", dtype=torch.{DTYPES[dtype]}"


def shape_args(shape):
    return ", ".join(str(d) for d in shape)


def encode(tensor):
    """The tensor's values in row-major order: readable `data` plus exact `bits` for floats."""
    flat = tensor.detach().contiguous().reshape(-1)
    if tensor.dtype == torch.int64:
        return {"data": [int(v) for v in flat.tolist()]}
    if tensor.dtype == torch.float32:
        values = flat.numpy()
        return {
            # str() of a numpy float32 is the shortest decimal that rounds back to it.
            "data": [float(str(v)) for v in values],
            "bits": [int(b) for b in values.view(np.uint32)],
        }
    if tensor.dtype == torch.float64:
        values = flat.numpy()
        return {
            "data": [float(v) for v in values],
            "bits": [int(b) for b in values.view(np.uint64)],
        }
    if tensor.dtype in (torch.float16, torch.bfloat16):
        # float() of a half value is exact; the bits are the 16-bit pattern.
        return {
            "data": [float(v) for v in flat.tolist()],
            "bits": [int(b) & 0xFFFF for b in flat.view(torch.int16).tolist()],
        }
    raise ValueError(f"unsupported dtype {tensor.dtype}")


class Recorder:
    def __init__(self, capability=None):
        self.observations = []
        self.capability = capability

    def add(self, seed, op, dtype, shape, expr, tensor, high=None, sequence=None, step=None):
        entry = {"seed": seed, "op": op, "dtype": DTYPES[dtype], "shape": list(shape)}
        if self.capability is not None:
            entry["cpu_capability"] = self.capability
        if high is not None:
            entry["high"] = high
        if sequence is not None:
            entry["sequence"] = sequence
            entry["step"] = step
        entry["expr"] = expr
        entry.update(encode(tensor))
        assert list(tensor.shape) == list(shape), (expr, tensor.shape)
        self.observations.append(entry)


# Each call: (op, dtype, shape, high, expr, function making the tensor).
def rand_call(shape, dtype=torch.float32):
    expr = f"torch.rand({shape_args(shape)}{dtype_suffix(dtype)})"
    return ("rand", dtype, shape, None, expr, lambda: torch.rand(*shape, dtype=dtype))


def randn_call(shape, dtype=torch.float32):
    expr = f"torch.randn({shape_args(shape)}{dtype_suffix(dtype)})"
    return ("randn", dtype, shape, None, expr, lambda: torch.randn(*shape, dtype=dtype))


def random_call(shape, high, dtype=torch.int64):
    long = ", dtype=torch.long" if dtype == torch.int64 else dtype_suffix(dtype)
    expr = f"torch.empty({shape_args(shape)}{long}).random_({high})"
    return ("randint", dtype, shape, high, expr,
            lambda: torch.empty(*shape, dtype=dtype).random_(high))


def randint_call(shape, high):
    expr = f"torch.randint(0, {high}, ({shape_args(shape)},))"
    return ("randint", torch.int64, shape, high, expr, lambda: torch.randint(0, high, shape))


def record(rec, seed, calls, sequence=None):
    torch.manual_seed(seed)
    for step, (op, dtype, shape, high, expr, make) in enumerate(calls):
        tensor = make()
        if sequence is None:
            rec.add(seed, op, dtype, shape, expr, tensor, high)
        else:
            rec.add(seed, op, dtype, shape, expr, tensor, high, sequence, step)


def standard(rec):
    for seed in SEEDS:
        for size in SIZES:
            record(rec, seed, [rand_call((size,))])
            record(rec, seed, [randn_call((size,))])
        for shape in SHAPES:
            record(rec, seed, [rand_call(shape)])
            record(rec, seed, [randn_call(shape)])
        for high in HIGHS:
            record(rec, seed, [random_call((7,), high)])
            record(rec, seed, [randint_call((7,), high)])
        record(rec, seed, [random_call((5,), 2, torch.float32)])
    for seed in [0, 42, 2**32 + 7]:
        for size in [1, 7, 15, 16, 17, 33, 450]:
            record(rec, seed, [rand_call((size,), torch.float64)])
            record(rec, seed, [randn_call((size,), torch.float64)])
        record(rec, seed, [random_call((6,), 10, torch.float64)])
        # float16 and bfloat16: drawn in float32 and rounded once (src/torch_rng, randn_half_with).
        for dtype in (torch.float16, torch.bfloat16):
            for size in [1, 7, 15, 16, 17, 20, 31, 33, 450]:
                record(rec, seed, [rand_call((size,), dtype)])
                record(rec, seed, [randn_call((size,), dtype)])
            record(rec, seed, [random_call((6,), 10, dtype)])
        for high in LARGE_HIGHS:
            record(rec, seed, [randint_call((5,), high)])
    # The documents' own call sequences (000, 001, 003) and the normal cache across calls.
    record(rec, 0, [randn_call((3, 5)), randn_call((3, 5))], "doc003_randn3x5_then_randn3x5")
    record(rec, 0, [randn_call((3, 5)), random_call((3,), 5)], "doc000_randn3x5_then_random5")
    record(rec, 0, [randn_call((6, 3, 5, 5)), random_call((6, 1, 5, 5), 3)],
           "doc000_randn6x3x5x5_then_random3")
    record(rec, 1, [randn_call((3,)), random_call((3,), 2, torch.float32)],
           "doc001_randn3_then_float_random2")
    record(rec, 42, [randn_call((3,)), randn_call((3,)), randn_call((1,))],
           "cache_odd_randn_calls")
    record(rec, 7, [randn_call((5,)), rand_call((2,)), randn_call((1,))],
           "cache_survives_rand")
    record(rec, 7, [randn_call((1,)), randn_call((20,)), randn_call((1,))],
           "cache_survives_block_randn")
    record(rec, 100, [randn_call((3,), torch.float64), randn_call((3,))],
           "cache_shared_between_dtypes")
    record(rec, 100, [rand_call((4, 5)), randint_call((4,), 5), rand_call((2, 2), torch.float64)],
           "rand_randint_rand64")
    # How many uniforms a half randn's tail draws (the length rounded up to 16), and the normal
    # cache shared with the half dtypes' scalar path.
    record(rec, 5, [randn_call((20,), torch.float16), rand_call((3,))], "half_randn20_then_rand")
    record(rec, 5, [randn_call((33,), torch.bfloat16), randn_call((17,), torch.float16),
                    rand_call((3,))], "bfloat16_randn33_then_float16_randn17")
    record(rec, 6, [randn_call((3,), torch.bfloat16), randn_call((3,)),
                    randn_call((1,), torch.float16)], "cache_shared_with_half")


def portable(rec):
    """float32 randn of 16 or more elements, for a child process with the portable kernel."""
    for seed in [0, 42, 100]:
        for size in [16, 17, 33, 450]:
            record(rec, seed, [randn_call((size,))])
        record(rec, seed, [randn_call((6, 3, 5, 5))])
        for dtype in (torch.float16, torch.bfloat16):
            for size in [16, 17, 33, 450]:
                record(rec, seed, [randn_call((size,), dtype)])


def portable_from_child():
    """Runs `portable` in a child process whose PyTorch is forced to the portable kernels."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.run([sys.executable, os.path.abspath(__file__), "--portable-child"],
                           env=env, check=True, capture_output=True, text=True)
    return json.loads(child.stdout)


def extensive(rec):
    """Many seeds and sizes of block-path randn, to measure the worst ulp difference."""
    sizes = [16, 17, 20, 31, 32, 33, 100, 450, 1000, 4096]
    for seed in range(300):
        for size in sizes:
            record(rec, seed, [randn_call((size,))])
            record(rec, seed, [randn_call((size,), torch.float64)])
        record(rec, seed, [randn_call((15,)), randn_call((15,), torch.float64)], f"small_{seed}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--extensive", action="store_true",
                        help="record many seeds of randn instead of the committed set")
    parser.add_argument("--portable-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    capability = torch.backends.cpu.get_cpu_capability()
    if args.portable_child:
        if capability != "DEFAULT":
            sys.exit(f"expected ATEN_CPU_CAPABILITY=default to give DEFAULT, got {capability}")
        rec = Recorder(capability)
        portable(rec)
        json.dump(rec.observations, sys.stdout)
        return

    rec = Recorder()
    if args.extensive:
        extensive(rec)
    else:
        standard(rec)
        if capability != "DEFAULT":
            rec.observations.extend(portable_from_child())
    document = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "cpu_capability": capability,
        "generated_by": "scripts/observe_torch_rng.py",
        "observations": rec.observations,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(rec.observations)} observations to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
