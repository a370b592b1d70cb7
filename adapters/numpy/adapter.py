"""NumPy, speaking cross-entropy-spec's conformance protocol v1 (see spec/protocol.md): softmax,
log_softmax and sigmoid written with NumPy's own functions, values and gradients.

It is the adapter an outside team writes from the wheel alone: it imports the protocol helper
from the installed package, not from this repository, and runs under the installed command:

    pip install cross_entropy_spec-*.whl     # the wheel built from this repository (README)
    cross-entropy-spec check --impl "python adapters/numpy/adapter.py"

Every other op is answered `unsupported` (skipped, never passed); every run of the three ops
passes. CI runs exactly this.
"""

import numpy as np

from cross_entropy_spec import protocol

DTYPES = {"float32": np.float32, "float64": np.float64}


def array(t):
    if t["dtype"] not in DTYPES:
        raise protocol.Unsupported(f"{t['dtype']} inputs")
    return np.array(protocol.elements(t), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])


def softmax(x, dim):
    shifted = x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x, dim):
    shifted = x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def sigmoid(x):
    # exp(-|x|) never overflows; the two branches are the same function.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def forward_and_gradient(op, x, dim):
    """The output and the gradient of its sum with respect to `x`."""
    if op == "sigmoid":
        y = sigmoid(x)
        return y, y * (1 - y)
    if x.ndim == 0:
        x = x.reshape(1)
    if op == "softmax":
        y = softmax(x, dim)
        return y, y * (1 - np.sum(y, axis=dim, keepdims=True))
    y = log_softmax(x, dim)
    return y, 1 - x.shape[dim] * np.exp(y)


def call(request):
    op = request["op"]
    if op not in ("softmax", "log_softmax", "sigmoid"):
        raise protocol.Unsupported(f"{op} is not in this adapter")
    inputs = request.get("inputs", {})
    if set(inputs) != {"input"}:
        raise protocol.Unsupported("inputs other than `input`")
    x = array(inputs["input"])
    dim = request.get("attrs", {}).get("dim")
    if op != "sigmoid":
        if dim is None:
            raise protocol.Unsupported("softmax without dim")
        if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
            return {"error": {"kind": "dim_out_of_range", "message": f"dim {dim} of a {x.ndim}-d input"}}
    with np.errstate(all="ignore"):
        y, g = forward_and_gradient(op, x, dim)
    reply = {"output": protocol.encode(y.reshape(x.shape), "numpy")}
    if request.get("grad", False):
        if protocol.upstream_of(request, "NumPy") is not None:
            raise protocol.Unsupported("this adapter computes the gradient of the sum only")
        reply["grad_input"] = protocol.encode(g.reshape(x.shape), "numpy")
    return reply


def describe(request, error):
    return {"kind": "unclassified", "message": f"{type(error).__name__}: {error}"}


if __name__ == "__main__":
    protocol.serve(call, describe)
