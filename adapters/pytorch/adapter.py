"""PyTorch, speaking cross-entropy-spec's conformance protocol v1 (see spec/protocol.md).

Reads one JSON request per line on stdin, calls torch.nn.functional, and writes one JSON reply
per line on stdout, in order, until end of input. Usage:

    cargo run --release -- check --impl ".venv-torch/bin/python adapters/pytorch/adapter.py"
"""

import os
import re
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import protocol  # noqa: E402
from protocol import SPECIAL, elements, encode, serve  # noqa: E402

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64}

# PyTorch's error messages (2.x, CPU), mapped to the protocol's closed list of error kinds.
# The first pattern that matches wins, so the specific ones come first.
ERROR_KINDS = [
    # Autograd's refusals: an integer tensor cannot require gradients; nll_loss, the binary
    # losses' weights and pos_weight are refused by the forward's autograd wrapper.
    (r"is not differentiable with respect to argument|"
     r"only Tensors of floating point dtype can require gradients", "not_differentiable"),
    (r"Target -?\d+ is out of bounds", "target_out_of_bounds"),
    (r"Dimension out of range", "dim_out_of_range"),
    (r"label_smoothing must be between", "invalid_label_smoothing"),
    (r"ignore_index is not supported for floating point target", "ignore_index_with_probabilities"),
    (r"all elements of input should be between 0 and 1", "input_out_of_range"),
    (r"all elements of target should be between 0 and 1", "target_out_of_range"),
    (r"is not a valid value for reduction", "invalid_reduction"),
    (r"weight tensor should be defined either for all", "weight_shape"),
    (r"Expected floating point type for target with class probabilities", "dtype_mismatch"),
    (r"expected target dtype|expected scalar type|Found dtype|not implemented for|can't be cast", "dtype_mismatch"),
    # Label smoothing's own refusals: a (1,) target of an unbatched input leaves a 0-d loss that
    # cannot take the (1,) smoothing term; a weight of K-dim input that is not 1-D fails its
    # view or its gather. (The first message is also what a binary loss says of a (1,) weight or
    # pos_weight on a 0-d input, which enlarges it: weight_shape, see error_kind.)
    (r"output with shape \[\] doesn't match the broadcast shape \[1\]", "shape_mismatch"),
    (r"shape '\[[\d, ]*\]' is invalid for input of size|"
     r"Index tensor must have the same number of dimensions as input tensor", "weight_shape"),
    (r"Expected 1 or more dimensions|Dimension specified as \d+ but tensor has no dimensions",
     "invalid_rank"),
    (r"Expected input batch_size|Expected target size|size mismatch|Using a target size|"
     r"must be the same as input size|1D target must have size 1|multi-target not supported|"
     r"only batches of spatial targets supported", "shape_mismatch"),
    (r"Attempting to broadcast a dimension|doesn't match the broadcast shape|"
     r"The size of tensor a \(\d+\) must match the size of tensor b", "weight_shape"),
]


def error_kind(message, op=None):
    # A binary loss has no smoothing term: the broadcast it refuses is its weight's (chapter 08).
    if op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") and re.search(
            r"doesn't match the broadcast shape", message):
        return "weight_shape"
    for pattern, kind in ERROR_KINDS:
        if re.search(pattern, message):
            return kind
    return "unclassified"


HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def to_tensor(t):
    if t["dtype"] in HALF:  # read in float32, then rounded once (spec/protocol.md)
        return torch.tensor(elements(t), dtype=torch.float32).to(HALF[t["dtype"]]).reshape(t["shape"])
    return torch.tensor(elements(t), dtype=DTYPES[t["dtype"]]).reshape(t["shape"])


def from_tensor(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return encode(t.float().numpy(), "pytorch", name="bfloat16")
    return encode(t.numpy(), "pytorch")


def call(request):
    op = request["op"]
    inputs = {name: to_tensor(t) for name, t in request.get("inputs", {}).items()}
    attrs = request.get("attrs", {})
    if "label_smoothing" in attrs and isinstance(attrs["label_smoothing"], str):
        attrs["label_smoothing"] = SPECIAL[attrs["label_smoothing"]]
    x = inputs["input"]
    want_grad = request.get("grad", False)
    wrt = request.get("wrt", "input")
    if want_grad:
        inputs[wrt].requires_grad_(True)
    options = {k: v for k, v in attrs.items()}
    for name in ("weight", "pos_weight"):
        if name in inputs:
            options[name] = inputs[name]
    if op in ("softmax", "log_softmax"):
        out = getattr(F, op)(x, dim=options["dim"])
    elif op == "sigmoid":
        out = torch.sigmoid(x)
    elif op in ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"):
        out = getattr(F, op)(x, inputs["target"], **options)
    else:
        return {"unsupported": f"op {op}"}
    reply = {"output": from_tensor(out)}
    if want_grad:
        # The vector-Jacobian product: torch.autograd.grad with the upstream gradient (all ones,
        # the gradient of out.sum(), when the request gives none).
        arg = inputs[wrt]
        upstream = to_tensor(request["upstream"]) if "upstream" in request else torch.ones_like(out)
        (grad,) = torch.autograd.grad(out, arg, grad_outputs=upstream.to(out.dtype),
                                      allow_unused=True)
        reply["grad_" + wrt] = from_tensor(grad if grad is not None else torch.zeros_like(arg))
    return reply


def describe(request, e):
    message = str(e).splitlines()[0] if str(e) else type(e).__name__
    return {"kind": error_kind(message, request.get("op")), "message": f"{type(e).__name__}: {message}"}


# What PyTorch raises for a call it rejects: these become error replies.
ERRORS = (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError)


def answer(line):
    """The reply to one request line (scripts/observe_torch_gradients.py asks this directly)."""
    return protocol.answer(line, call, describe, ERRORS)


def main():
    torch.set_num_threads(1)
    serve(call, describe, errors=ERRORS)


if __name__ == "__main__":
    main()
