"""JAX + optax, speaking cross-entropy-spec's conformance protocol v1 (see spec/protocol.md).

Reads one JSON request per line on stdin, calls jax.nn and optax's losses, and writes one JSON
reply per line on stdout, in order, until end of input. Usage:

    cargo run --release -- check --impl ".venv-jax/bin/python adapters/jax/adapter.py"

What it calls:

* softmax, log_softmax, sigmoid: jax.nn.softmax / jax.nn.log_softmax (axis=dim), jax.nn.sigmoid;
* cross_entropy with class indices: optax.softmax_cross_entropy_with_integer_labels(axis=class
  axis); an ignore_index present in the target becomes optax's own `where=` mask;
* cross_entropy with class probabilities: optax.softmax_cross_entropy(axis=class axis);
* cross_entropy with label_smoothing: jax.nn.one_hot (class indices only) + optax.smooth_labels
  + optax.softmax_cross_entropy;
* binary_cross_entropy_with_logits: optax.sigmoid_binary_cross_entropy.

optax has no class weights, no pos_weight, no negative log-likelihood over log-probabilities, no
binary cross-entropy over probabilities and no reduction at all: those requests are answered
`unsupported`, except the two reductions composed below (see `reduce`).

Gradients are jax.grad of the sum of the output. float64 runs in float64
(jax_enable_x64); float32 stays float32; float16 and bfloat16 (jnp.bfloat16) run in their dtype,
as JAX computes them.
"""

import os
import re
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from protocol import SPECIAL, Unsupported, elements, encode, serve, vjp_of  # noqa: E402

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64,
          "float16": np.float16, "bfloat16": jnp.bfloat16}
LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits")

# JAX's and optax's error messages (jax 0.10, optax 0.2), mapped to the protocol's closed list of
# error kinds. The first pattern that matches wins. `None` as the op list means every op.
ERROR_KINDS = [
    # jax.nn.softmax(x, axis=dim) with dim outside [-ndim, ndim)
    (("softmax", "log_softmax"), r"axis -?\d+ is out of bounds for array of dimension", "dim_out_of_range"),
    # a 0-d loss input has no class axis: the axis the adapter picks for it (0) is out of bounds
    # for the input itself (a target never makes axis 0 fail on a 0-d array), a rank error
    (LOSSES, r"axis 0 is out of bounds for array of dimension 0", "invalid_rank"),
    # in a loss the adapter picks the class axis (1, or 0 for an unbatched input): an axis out of
    # bounds there means the target's rank does not fit the input's
    (LOSSES, r"axis -?\d+ is out of bounds for array of dimension", "shape_mismatch"),
    (None, r"[Ii]ncompatible shapes for broadcasting|got incompatible shapes|"
           r"shapes must be equal|must have the same shape|"
           r"indices and arr must have the same number of dimensions", "shape_mismatch"),
    (None, r"Expected the input to have a dtype that is a subdtype of", "dtype_mismatch"),
    (None, r"requires real- or complex-valued inputs|must be floating|"
           r"Indexer must have integer", "dtype_mismatch"),
]


def error_kind(op, message):
    for ops, pattern, kind in ERROR_KINDS:
        if (ops is None or op in ops) and re.search(pattern, message):
            return kind
    return "unclassified"


def to_array(t):
    dtype = DTYPES[t["dtype"]]
    if t["dtype"] in ("float16", "bfloat16"):  # read in float32, then rounded once (spec/protocol.md)
        return jnp.asarray(np.array(elements(t), dtype=np.float32).reshape(t["shape"])).astype(dtype)
    return jnp.asarray(np.array(elements(t), dtype=dtype).reshape(t["shape"]))



def from_array(a):
    if a.dtype == jnp.bfloat16:  # NumPy has no bfloat16: its values, exact in float32
        return encode(np.asarray(a, dtype=np.float32), "jax", name="bfloat16")
    return encode(a, "jax")


def reduce(per_sample, reduction, weighted, ignoring):
    """optax returns per-example losses and has no reduction argument.

    COMPOSED, NOT OPTAX: 'mean' is jnp.mean and 'sum' is jnp.sum over optax's per-example
    losses. They are used only where PyTorch's reduction is exactly that plain mean or sum:
    'mean' without class weights and without any ignored target (PyTorch divides by the number
    of non-ignored targets, or by their summed weights), 'sum' without class weights. Anything
    else is answered unsupported.
    """
    if reduction == "none":
        return per_sample
    if reduction == "sum" and not weighted:
        return jnp.sum(per_sample)
    if reduction == "mean" and not weighted and not ignoring:
        return jnp.mean(per_sample)
    if reduction not in ("none", "mean", "sum"):
        raise Unsupported(f"optax losses have no reduction argument; the adapter composes only "
                          f"'mean' and 'sum' and cannot pass reduction {reduction!r} to optax")
    raise Unsupported(f"optax has no reduction {reduction!r} for this call (its per-example "
                      f"losses would need a hand-written denominator)")


def cross_entropy(x, target, attrs):
    reduction = attrs.get("reduction", "mean")
    ignore_index = attrs.get("ignore_index", -100)
    smoothing = attrs.get("label_smoothing", 0.0)
    # PyTorch's class axis: 1 for (N, C, d1..dk), 0 for an unbatched (C,) input.
    axis = 1 if x.ndim >= 2 else 0
    # PyTorch reads a target shaped like the input as class probabilities, any other as indices.
    probabilities = tuple(target.shape) == tuple(x.shape)
    if probabilities:
        if ignore_index != -100:
            raise Unsupported("optax.softmax_cross_entropy has no ignore_index")
        if x.ndim > 0 and x.shape[axis] == 0 and reduction != "none":
            # optax's per-example losses are -0.0 here, but PyTorch's 'mean' of an input with no
            # elements is NaN and its 'sum' the negated empty sum -0.0: neither is the plain
            # jnp.mean / jnp.sum (0.0, +0.0) that reduce() composes
            raise Unsupported(f"optax has no reduction {reduction!r}, and with no classes PyTorch's "
                              f"is not the plain mean/sum of optax's per-example losses")
        labels = target
        if smoothing != 0:
            labels = optax.smooth_labels(labels, smoothing, axis=axis)
        return lambda x: reduce(optax.softmax_cross_entropy(x, labels, axis=axis),
                                reduction, False, False)
    # class indices. PyTorch also takes a (1,) target for an unbatched (C,) input, as the index of
    # its one sample; optax's labels are the logits' shape without the class axis, () here.
    if x.ndim == 1 and tuple(target.shape) == (1,):
        target = target.reshape(())
    # optax's `where` masks whole examples out (their loss is 0)
    ignored = bool(np.any(np.asarray(target) == ignore_index)) if target.size else False
    where = (target != ignore_index) if ignored else None
    if smoothing != 0:
        if x.ndim == 0:
            raise Unsupported("jax.nn.one_hot of a 0-d input has no class axis")
        labels = jax.nn.one_hot(target, x.shape[axis], dtype=x.dtype, axis=axis)
        labels = optax.smooth_labels(labels, smoothing, axis=axis)
        return lambda x: reduce(optax.softmax_cross_entropy(x, labels, axis=axis, where=where),
                                reduction, False, ignored)
    return lambda x: reduce(
        optax.softmax_cross_entropy_with_integer_labels(x, target, axis=axis, where=where),
        reduction, False, ignored)


def function(op, inputs, attrs):
    """The call as a function of `input`, so that jax.grad can differentiate it."""
    if op == "nll_loss":
        raise Unsupported("optax has no negative log-likelihood loss over log-probabilities")
    if op == "binary_cross_entropy":
        raise Unsupported("optax has no binary cross-entropy over probabilities (only over logits)")
    for name in ("weight", "pos_weight"):
        if name in inputs:
            raise Unsupported(f"optax's losses take no {name}")
    if op in ("softmax", "log_softmax"):
        if "dim" not in attrs:
            raise Unsupported("no dim given, and jax.nn's softmax default (axis=-1) is not PyTorch's")
        f = getattr(jax.nn, op)
        return lambda x: f(x, axis=attrs["dim"])
    if op == "sigmoid":
        return jax.nn.sigmoid
    if op == "cross_entropy":
        return cross_entropy(inputs["input"], inputs["target"], attrs)
    if op == "binary_cross_entropy_with_logits":
        target = inputs["target"]
        reduction = attrs.get("reduction", "mean")
        return lambda x: reduce(optax.sigmoid_binary_cross_entropy(x, target), reduction, False, False)
    raise Unsupported(f"op {op}")


def call(request):
    op = request["op"]
    inputs = {name: to_array(t) for name, t in request.get("inputs", {}).items()}
    attrs = dict(request.get("attrs", {}))
    if isinstance(attrs.get("label_smoothing"), str):
        attrs["label_smoothing"] = SPECIAL[attrs["label_smoothing"]]
    x = inputs["input"]
    f = function(op, inputs, attrs)
    out = f(x)
    reply = {"output": from_array(out)}
    if request.get("grad", False):
        # The vector-Jacobian product with respect to `wrt`: jax.vjp's pullback of the upstream
        # gradient (all ones, the gradient of the sum, when the request gives none), through the
        # call rebuilt as a function of that argument.
        wrt, upstream = vjp_of(request, "JAX")
        u = jnp.ones_like(out) if upstream is None else to_array(upstream).astype(out.dtype)
        if wrt == "input":
            fw = f
        else:
            def fw(v):
                return function(op, dict(inputs, **{wrt: v}), attrs)(x)
        _, pullback = jax.vjp(fw, inputs[wrt])
        reply[f"grad_{wrt}"] = from_array(pullback(u)[0])
    return reply


def describe(request, e):
    """JAX raises ValueError, TypeError, IndexError and its own kinds."""
    message = str(e).splitlines()[0] if str(e) else type(e).__name__
    return {"kind": error_kind(request.get("op"), message), "message": f"{type(e).__name__}: {message}"}


def main():
    serve(call, describe)


if __name__ == "__main__":
    main()
