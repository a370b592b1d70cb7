"""PaddlePaddle, speaking cross-entropy-spec's conformance protocol v1 (see spec/protocol.md).

Reads one JSON request per line on stdin, calls paddle.nn.functional, and writes one JSON reply per
line on stdout, in order, until end of input. Usage:

    cargo run --release -- check --impl "/work/venvs/paddle/bin/python adapters/paddle/adapter.py"

What it calls, each with PyTorch's arguments passed through as they are:

* softmax, log_softmax, sigmoid: F.softmax / F.log_softmax (axis=dim), F.sigmoid;
* cross_entropy: F.cross_entropy(input, label, weight, ignore_index, reduction, soft_label,
  axis=1, label_smoothing), soft_label=True when the target has the input's shape (PyTorch's
  rule for class probabilities);
* nll_loss: F.nll_loss(input, label, weight, ignore_index, reduction);
* binary_cross_entropy: F.binary_cross_entropy(input, label, weight, reduction);
* binary_cross_entropy_with_logits: F.binary_cross_entropy_with_logits(logit, label, weight,
  reduction, pos_weight).

Glue, and only where Paddle needs it: Paddle's nll_loss takes no unbatched (C,) input, so one is
given a batch of one ((1, C), its target (1,)) and a 'none' output loses that batch dimension
again; Paddle's cross_entropy keeps a class axis of size 1 in a 'none' output with soft labels or
smoothing, which is squeezed. Paddle's cross_entropy takes the class axis as `axis`, so PyTorch's
(N, C, d1..dk) is passed as it is (axis=1, or 0 for an unbatched input); nll_loss has its classes
at dimension 1, as PyTorch's. No classes are moved.

Gradients are Paddle's autograd: the vector-Jacobian product with respect to the argument the
request's `wrt` names (`input` unless it says otherwise), out.backward(u) with the request's
`upstream` as u (all ones, the gradient of the sum, when it gives none). float16 and bfloat16
tensors are read in float32 and cast to the half dtype once (paddle.cast), and run in it.
"""

import os
import re
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("GLOG_minloglevel", "2")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

paddle.set_device("cpu")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from protocol import SPECIAL, Unsupported, elements, encode, serve, vjp_of  # noqa: E402

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64}
HALF = {"float16": paddle.float16, "bfloat16": paddle.bfloat16}
LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits")

# Paddle 3.3's error messages, mapped to the protocol's closed list of error kinds. The first
# pattern that matches wins. `None` as the op list means every op.
ERROR_KINDS = [
    (("softmax", "log_softmax"), r"[Aa]ttr\(axis\) value should be in range|axis.*out of range|"
                                 r"axis should be in range", "dim_out_of_range"),
    (None, r"reduction.*should be 'sum', 'mean' or 'none'|"
           r"The value of 'reduction' in \w+ should be", "invalid_reduction"),
    # F.cross_entropy's label smoothing (F.label_smooth's epsilon)
    (("cross_entropy",), r"The value of epsilon must be between 0 and 1", "invalid_label_smoothing"),
    # a class index outside [0, C): the loss kernels', and F.one_hot's under label smoothing
    (("cross_entropy", "nll_loss"), r"label value should >= 0|Illegal index value|"
                                    r"label value should (be )?less than|[Ll]abel.* out of (range|bound)",
     "target_out_of_bounds"),
    # the input's rank: a 0-d input has no class dimension
    (("cross_entropy", "nll_loss"), r"The dimension of input should be larger than zero|"
                                    r"Expected 2 or more dimensions \(got 0\)", "invalid_rank"),
    # a class weight of another length, in the messages that name the weight
    (("cross_entropy", "nll_loss"), r"must equal to weight's class_dimension|"
                                    r"Weight's size should equal", "weight_shape"),
    # F.binary_cross_entropy's kernel checks its input's range
    (("binary_cross_entropy",), r"Illegal input, input must be (greater|less) than",
     "input_out_of_range"),
    # the binary losses check input against target by name ("Input(X) and Input(Label)"); a
    # weight or pos_weight that does not fit fails in the broadcast of its multiplication, or in
    # pos_weight's own check
    (("binary_cross_entropy", "binary_cross_entropy_with_logits"),
     r"Input\(pos_weight\)|Broadcast dimension mismatch", "weight_shape"),
    # with class probabilities, cross_entropy weighs the target by `label @ weight`: a weight of
    # another length fails in that matmul
    (("cross_entropy",), r"In operator matmul", "weight_shape"),
    (None, r"dtype|data type|DataType|Expected.*float", "dtype_mismatch"),
    (None, r"[Ss]hape|dimension|rank|[Dd]ims|size", "shape_mismatch"),
]


def error_kind(op, message):
    for ops, pattern, kind in ERROR_KINDS:
        if (ops is None or op in ops) and re.search(pattern, message):
            return kind
    return "unclassified"


def to_tensor(t, grad=False):
    if t["dtype"] in HALF:  # read in float32, then rounded once (spec/protocol.md)
        a = np.array(elements(t), dtype=np.float32).reshape(t["shape"])
        h = paddle.cast(paddle.to_tensor(a), HALF[t["dtype"]])
        h.stop_gradient = not grad
        return h
    a = np.array(elements(t), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return paddle.to_tensor(a, stop_gradient=not grad)


def from_tensor(t):
    if t.dtype == paddle.bfloat16:  # NumPy has no bfloat16: its values, exact in float32
        return encode(paddle.cast(t, paddle.float32).numpy(), "paddle", name="bfloat16")
    return encode(t.numpy(), "paddle")


def batched(f):
    """Paddle's nll_loss takes no unbatched (C,) input ("Expected 2 or more dimensions"): give it
    a batch of one, its target (1,), and take the batch dimension off a 'none' output again."""

    def g(x, target, reduction):
        if x.ndim == 1 and target.ndim <= 1:
            out = f(x.unsqueeze(0), target.reshape([1]), reduction)
            return out.reshape([]) if reduction == "none" else out
        return f(x, target, reduction)

    return g


def without_class_axis(out, x, axis, reduction):
    """Paddle's cross_entropy keeps the class axis, of size 1, in a 'none' output with soft labels
    or label smoothing (its documented [N, ..., 1] shape); PyTorch's has no class axis."""
    if reduction == "none" and out.ndim == x.ndim and out.ndim > 0 and out.shape[axis] == 1:
        return out.squeeze(axis)
    return out


def function(op, inputs, attrs):
    """The call as a function of `input`, so that its gradient can be taken."""
    reduction = attrs.get("reduction", "mean")
    weight = inputs.get("weight")
    target = inputs.get("target")
    if op in ("softmax", "log_softmax"):
        if "dim" not in attrs:
            raise Unsupported("no dim given, and Paddle's default (axis=-1) is not PyTorch's")
        f = getattr(F, op)
        return lambda x: f(x, axis=attrs["dim"])
    if op == "sigmoid":
        return F.sigmoid
    if target is None:
        raise Unsupported("a loss without a target: Paddle's losses require one")
    if op == "cross_entropy":
        soft = tuple(target.shape) == tuple(inputs["input"].shape)
        smoothing = attrs.get("label_smoothing", 0.0)
        ignore_index = attrs.get("ignore_index", -100)
        # PyTorch's class axis: 1 for (N, C, d1..dk), 0 for an unbatched (C,) input; Paddle's
        # cross_entropy takes it as `axis`
        axis = 1 if inputs["input"].ndim >= 2 else 0
        return lambda x: without_class_axis(F.cross_entropy(
            x, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
            soft_label=soft, axis=axis, label_smoothing=smoothing), x, axis, reduction)
    if op == "nll_loss":
        ignore_index = attrs.get("ignore_index", -100)
        call = batched(lambda x, t, reduction: F.nll_loss(
            x, t, weight=weight, ignore_index=ignore_index, reduction=reduction))
        return lambda x: call(x, target, reduction)
    if op == "binary_cross_entropy":
        return lambda x: F.binary_cross_entropy(x, target, weight=weight, reduction=reduction)
    if op == "binary_cross_entropy_with_logits":
        pos_weight = inputs.get("pos_weight")
        return lambda x: F.binary_cross_entropy_with_logits(
            x, target, weight=weight, reduction=reduction, pos_weight=pos_weight)
    raise Unsupported(f"op {op}")


def call(request):
    try:
        return evaluate(request)
    except RuntimeError as e:
        # Paddle 3.3.1's CPU build registers most of these kernels for float32 and float64 only:
        # a half-precision call it has no kernel for is a dtype it does not support, not an error
        missing = re.search(r"The kernel with key \(CPU, .*?, (b?float16)\) of kernel `(\w+)` is not "
                            r"registered", str(e))
        if missing:
            raise Unsupported(f"Paddle's CPU build has no {missing[1]} kernel `{missing[2]}`") from e
        raise


def evaluate(request):
    op = request["op"]
    grad = request.get("grad", False)
    wire = request.get("inputs", {})
    if "input" not in wire:
        raise Unsupported("a call without an input: Paddle's functions require one")
    wrt, upstream = vjp_of(request, "Paddle") if grad else (None, None)
    inputs = {name: to_tensor(t, name == wrt) for name, t in wire.items()}
    attrs = dict(request.get("attrs", {}))
    if isinstance(attrs.get("label_smoothing"), str):
        attrs["label_smoothing"] = SPECIAL[attrs["label_smoothing"]]
    x = inputs["input"]
    out = function(op, inputs, attrs)(x)
    reply = {"output": from_tensor(out)}
    if grad:
        arg = inputs[wrt]
        u = paddle.ones_like(out) if upstream is None else paddle.cast(to_tensor(upstream), out.dtype)
        out.backward(u)
        if arg.grad is None:  # e.g. the binary losses' label: their kernels have no gradient for it
            raise Unsupported(f"Paddle's autograd gave no gradient for `{wrt}`")
        reply[f"grad_{wrt}"] = from_tensor(arg.grad)
    return reply


def describe(request, e):
    """Paddle raises ValueError, TypeError, IndexError and its own enforce errors, whose first
    lines are a C++ stack: the summary line is what names the problem."""
    text = str(e)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    summary = next((l for l in lines if re.match(r"\(\w+\)", l)), lines[-1] if lines else "")
    message = f"{type(e).__name__}: {summary}" if summary else type(e).__name__
    return {"kind": error_kind(request.get("op"), text), "message": message[:1000]}


def main():
    serve(call, describe)


if __name__ == "__main__":
    main()
