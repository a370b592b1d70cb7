"""TensorFlow (with Keras 3), speaking cross-entropy-spec's conformance protocol v1 (see
spec/protocol.md).

Reads one JSON request per line on stdin, calls tf.nn and keras.losses (TensorFlow backend,
eager), and writes one JSON reply per line on stdout, in order, until end of input. Usage:

    cargo run --release -- check --impl ".venv-tf/bin/python adapters/tensorflow/adapter.py"

What it calls:

* softmax, log_softmax, sigmoid: tf.nn.softmax / tf.nn.log_softmax (axis=dim), tf.math.sigmoid;
* cross_entropy with class indices: keras.losses.SparseCategoricalCrossentropy(from_logits=True,
  ignore_class=ignore_index), which runs tf.nn.sparse_softmax_cross_entropy_with_logits;
* cross_entropy with class probabilities, or with label smoothing (class indices through
  tf.one_hot): keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=...), which
  runs tf.nn.softmax_cross_entropy_with_logits;
* binary_cross_entropy: keras.losses.BinaryCrossentropy(from_logits=False), weight as Keras's
  sample_weight;
* binary_cross_entropy_with_logits: keras.losses.BinaryCrossentropy(from_logits=True) (that is
  tf.nn.sigmoid_cross_entropy_with_logits), or with pos_weight
  tf.nn.weighted_cross_entropy_with_logits inside a keras.losses.Loss subclass, so that Keras does
  the reduction; weight as Keras's sample_weight.

Reductions are Keras's: 'none' -> None, 'mean' (and its deprecated PyTorch name 'elementwise_mean')
-> 'sum_over_batch_size', 'sum' -> 'sum'; any other string is handed to Keras as it is, for Keras to
accept or reject. Every loss is built with dtype=the input's dtype, so float64 stays float64
(Keras would otherwise cast to float32), and float16 and bfloat16 stay in their dtype.

Glue, and only glue: PyTorch's class axis 1 is moved last (tf.transpose) for the Keras losses,
whose TensorFlow backend takes classes last, and the output and gradient come back in PyTorch's
layout; Keras's BinaryCrossentropy averages over its last axis, so the binary losses see the input
with a trailing axis of size 1 (that mean is over one element, the element itself).

Not expressible, answered `unsupported`: nll_loss (TensorFlow has no NLL over log-probabilities),
class weights for cross_entropy (Keras weights samples, not classes), ignore_index with label
smoothing or with class probabilities.

Gradients are tf.GradientTape's gradient of tf.reduce_sum(output) with respect to input.
"""

import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from protocol import SPECIAL, Unsupported, elements, encode, serve, vjp_of  # noqa: E402

DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64}
# PyTorch's reduction names as Keras's; "elementwise_mean" is PyTorch's deprecated name of "mean".
REDUCTIONS = {"none": None, "mean": "sum_over_batch_size", "elementwise_mean": "sum_over_batch_size",
              "sum": "sum"}

# TensorFlow's and Keras's error messages (TF 2.21, Keras 3), mapped to the protocol's closed list
# of error kinds. The first pattern that matches wins, so the specific ones come first.
ERROR_KINDS = [
    (None, r"Received a label value of -?\d+ which is outside the valid range", "target_out_of_bounds"),
    (None, r"Invalid value for argument `reduction`", "invalid_reduction"),
    (None, r"`dim` must be in the range", "dim_out_of_range"),
    (None, r"logits must have >= 1 dimension", "invalid_rank"),
    # Keras's categorical_crossentropy reads y_pred.shape[-1] before anything else: a 0-d input
    # (handed over unchanged, it has no class axis to move) fails there with this IndexError
    (("cross_entropy",), r"^tuple index out of range$", "invalid_rank"),
    # in a binary loss Keras has checked the target's shape already: a product that does not
    # broadcast is the weighting (sample_weight, or pos_weight in the log weight)
    (("binary_cross_entropy", "binary_cross_entropy_with_logits"), r"Incompatible shapes", "weight_shape"),
    (None, r"must have rank \(ndim\)|must have the same shape|must have the same rank|"
           r"[Ii]ncompatible shapes|must be broadcastable|Input to reshape is a tensor with|"
           r"logits and labels must have the same first dimension", "shape_mismatch"),
    (None, r"is not in the list of allowed values|not in list of allowed values", "dtype_mismatch"),
]


def error_kind(op, message):
    for ops, pattern, kind in ERROR_KINDS:
        if (ops is None or op in ops) and re.search(pattern, message):
            return kind
    return "unclassified"


HALF = {"float16": tf.float16, "bfloat16": tf.bfloat16}


def to_tensor(t):
    if t["dtype"] in HALF:  # read in float32, then rounded once (spec/protocol.md)
        wide = tf.constant(np.array(elements(t), dtype=np.float32).reshape(t["shape"]))
        return tf.cast(wide, HALF[t["dtype"]])
    dtype = DTYPES[t["dtype"]]
    return tf.constant(np.array(elements(t), dtype=dtype).reshape(t["shape"]))



def from_tensor(t):
    if t.dtype == tf.bfloat16:  # NumPy has no bfloat16: its values, exact in float32
        return encode(np.asarray(tf.cast(t, tf.float32)), "tensorflow", name="bfloat16")
    return encode(t, "tensorflow")


def classes_last(t):
    """Layout: PyTorch's (N, C, d1..dk) as TensorFlow's (N, d1..dk, C)."""
    if t.shape.rank is None or t.shape.rank <= 2:
        return t
    return tf.transpose(t, [0] + list(range(2, t.shape.rank)) + [1])


class WeightedCrossEntropyWithLogits(keras.losses.Loss):
    """tf.nn.weighted_cross_entropy_with_logits as a Keras loss, for Keras's reductions."""

    def __init__(self, pos_weight, **kwargs):
        super().__init__(**kwargs)
        self.pos_weight = pos_weight

    def call(self, y_true, y_pred):
        return tf.nn.weighted_cross_entropy_with_logits(labels=y_true, logits=y_pred,
                                                        pos_weight=self.pos_weight)


def cross_entropy(x, target, attrs, loss_options):
    ignore_index = attrs.get("ignore_index", -100)
    smoothing = attrs.get("label_smoothing", 0.0)
    # PyTorch reads a target shaped like the input as class probabilities, any other as indices.
    if target.shape == x.shape:
        if ignore_index != -100:
            raise Unsupported("keras CategoricalCrossentropy (class probabilities) has no ignore_index")
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing,
                                                    **loss_options)
        labels = classes_last(target)
        return lambda x: loss(labels, classes_last(x))
    if smoothing != 0:
        if bool(tf.reduce_any(target == ignore_index)):
            raise Unsupported("keras CategoricalCrossentropy (label smoothing) has no ignore_index")
        if x.shape.rank == 0:
            raise Unsupported("tf.one_hot of a target for a 0-d input has no class axis")
        depth = x.shape[1] if x.shape.rank >= 2 else x.shape[0]
        # representation only: class indices as one-hot rows, which Keras then smooths
        labels = tf.one_hot(target, depth, dtype=x.dtype)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing,
                                                    **loss_options)
        return lambda x: loss(labels, classes_last(x))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_index,
                                                      **loss_options)
    return lambda x: loss(target, classes_last(x))


def binary(x, inputs, attrs, loss_options, from_logits):
    # Keras's BinaryCrossentropy averages over the last axis; a trailing axis of one element
    # makes that mean the element itself, so 'none' is elementwise as in PyTorch.
    target = inputs["target"][..., tf.newaxis]
    weight = inputs.get("weight")
    if "pos_weight" in inputs:
        loss = WeightedCrossEntropyWithLogits(inputs["pos_weight"], **loss_options)

        def f(x):
            return loss(inputs["target"], x, sample_weight=weight)
        return f
    loss = keras.losses.BinaryCrossentropy(from_logits=from_logits, **loss_options)
    return lambda x: loss(target, x[..., tf.newaxis], sample_weight=weight)


def function(op, inputs, attrs):
    """The call as a function of `input`, so that a GradientTape can differentiate it."""
    x = inputs["input"]
    if op in ("softmax", "log_softmax"):
        if "dim" not in attrs:
            raise Unsupported("no dim given, and tf.nn's softmax default (axis=-1) is not PyTorch's")
        f = getattr(tf.nn, op)
        return lambda x: f(x, axis=attrs["dim"])
    if op == "sigmoid":
        return tf.math.sigmoid
    reduction = attrs.get("reduction", "mean")
    loss_options = {"reduction": REDUCTIONS.get(reduction, reduction), "dtype": x.dtype.name}
    if op == "cross_entropy":
        if "weight" in inputs:
            raise Unsupported("Keras weights samples, not classes: cross_entropy's class weight "
                              "has no Keras or tf.nn counterpart")
        return cross_entropy(x, inputs["target"], attrs, loss_options)
    if op == "binary_cross_entropy":
        return binary(x, inputs, attrs, loss_options, from_logits=False)
    if op == "binary_cross_entropy_with_logits":
        return binary(x, inputs, attrs, loss_options, from_logits=True)
    if op == "nll_loss":
        raise Unsupported("TensorFlow and Keras have no negative log-likelihood loss over "
                          "log-probabilities")
    raise Unsupported(f"op {op}")


def call(request):
    op = request["op"]
    inputs = {name: to_tensor(t) for name, t in request.get("inputs", {}).items()}
    attrs = dict(request.get("attrs", {}))
    if isinstance(attrs.get("label_smoothing"), str):
        attrs["label_smoothing"] = SPECIAL[attrs["label_smoothing"]]
    x = inputs["input"]
    if not request.get("grad", False):
        return {"output": from_tensor(function(op, inputs, attrs)(x))}
    wrt, upstream = vjp_of(request, "TensorFlow")
    arg = inputs[wrt]
    with tf.GradientTape() as tape:
        tape.watch(arg)
        # built on the tape: what the call derives from `wrt` (a target's labels) is recorded
        out = function(op, inputs, attrs)(x)
    # The vector-Jacobian product with respect to `wrt`: the tape's gradient with the upstream
    # gradient as output_gradients (all ones, the gradient of the sum, when the request gives
    # none); an argument the output does not depend on has a gradient of zeros.
    u = tf.ones_like(out) if upstream is None else tf.cast(to_tensor(upstream), out.dtype)
    grad = tape.gradient(out, arg, output_gradients=u)
    return {"output": from_tensor(out),
            f"grad_{wrt}": from_tensor(grad if grad is not None else tf.zeros_like(arg))}


def describe(request, e):
    """tf.errors.*, ValueError, TypeError: one line, without TensorFlow's function-node prefix."""
    message = " ".join(str(e).split()) or type(e).__name__
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    return {"kind": error_kind(request.get("op"), message), "message": f"{type(e).__name__}: {message}"}


def main():
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    serve(call, describe)


if __name__ == "__main__":
    main()
