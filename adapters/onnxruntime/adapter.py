"""ONNX Runtime, speaking cross-entropy-spec's conformance protocol v1 (see spec/protocol.md).

Reads one JSON request per line on stdin, runs a one-node ONNX model (opset 13) built with
onnx.helper for the request's signature, and writes one JSON reply per line on stdout, in order,
until end of input. Usage:

    cargo run --release -- check --impl ".venv-ort/bin/python adapters/onnxruntime/adapter.py"

What it runs:

* softmax, log_softmax, sigmoid: the ONNX operators Softmax, LogSoftmax (axis=dim) and Sigmoid;
* cross_entropy with class indices: SoftmaxCrossEntropyLoss (weights, ignore_index, reduction);
* nll_loss: NegativeLogLikelihoodLoss (weight, ignore_index, reduction).

ONNX has no operator for class probabilities, label smoothing, binary_cross_entropy or
binary_cross_entropy_with_logits: those requests are answered `unsupported`. The one piece of
glue is layout: an unbatched (C,) input with a 0-d or (1,) target runs as a batch of one, (1, C)
with a (1,) target, and its output and gradient are reshaped back. (And PyTorch's deprecated
reduction name "elementwise_mean" is passed as ONNX's "mean".)

One InferenceSession is built and cached per signature (op, dtypes, ranks, attributes); the
graph's dimensions are symbolic, so one session serves every shape of that signature.

Gradients: an ONNX Runtime inference build has no autodiff, so gradient requests are answered
`unsupported`. When the installed onnxruntime is the training build (onnxruntime-training), the
adapter asks its GradientGraphBuilder for the gradient graph of Cast(ReduceSum(output), float32)
with respect to `input` (of Cast(ReduceSum(output * upstream), float32) when the request gives an
upstream gradient: the vector-Jacobian product) and runs that instead; what it cannot
differentiate is answered `unsupported` with the builder's reason (see README.md).
"""

import os
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from protocol import Unsupported, elements, encode, serve, vjp_of

try:  # only the training build has it
    from onnxruntime.capi._pybind_state import GradientGraphBuilder
except ImportError:
    GradientGraphBuilder = None

OPSET = 13
IR_VERSION = 8  # the newest IR that onnxruntime-training 1.19 still loads
DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "float16": np.float16}
ONNX_TYPES = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64,
              "float16": TensorProto.FLOAT16}
OPERATORS = {"softmax": "Softmax", "log_softmax": "LogSoftmax", "sigmoid": "Sigmoid",
             "cross_entropy": "SoftmaxCrossEntropyLoss", "nll_loss": "NegativeLogLikelihoodLoss"}

# ONNX Runtime's error messages (1.x, CPU), mapped to the protocol's closed list of error kinds.
# The first pattern that matches wins, so the specific ones come first.
ERROR_KINDS = [
    # SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss run as their ONNX function bodies
    # (Reshape, GatherElements, ...): their errors name those nodes, not the loss
    (r"GatherElements op: Out of range value in index tensor", "target_out_of_bounds"),
    (r"'indices' shape should have values within bounds of 'data' shape|"
     r"Rank of input 'data' needs to be equal to rank of input 'indices'|"
     r"Op \((Unsqueeze|Reshape|Squeeze|Expand)\) \[ShapeInferenceError\]|"
     r"cannot be reshaped to the requested shape", "shape_mismatch"),
    # onnxruntime-training's own SoftmaxCrossEntropyLoss kernel (float32)
    (r"The shape of logit and label does not match|logit_shape must be \(1 \+ label_shape\)",
     "shape_mismatch"),
    (r"Unknown ReductionType String", "invalid_reduction"),
    (r"'axis' must be in", "dim_out_of_range"),
    (r"Input rank must be >=", "invalid_rank"),
    (r"Type Error|NOT_IMPLEMENTED : Could not find an implementation", "dtype_mismatch"),
]


def error_kind(message):
    for pattern, kind in ERROR_KINDS:
        if re.search(pattern, message):
            return kind
    return "unclassified"


def to_array(t):
    if t["dtype"] == "bfloat16":
        raise Unsupported("the adapter builds its models from NumPy arrays, and NumPy has no bfloat16")
    if t["dtype"] == "float16":  # read in float32, then rounded once (spec/protocol.md)
        return np.array(elements(t), dtype=np.float32).reshape(t["shape"]).astype(np.float16)
    dtype = DTYPES[t["dtype"]]
    return np.array(elements(t), dtype=dtype).reshape(t["shape"])



def from_array(a):
    return encode(a, "onnxruntime")


def value_info(name, array):
    return helper.make_tensor_value_info(name, ONNX_TYPES[str(array.dtype)], [None] * array.ndim)


def build_model(op, arrays, attrs, grad, upstream=None):
    """A one-node model: `op` applied to the graph inputs `arrays` (in order), output `output`;
    for a gradient, also `total` = ReduceSum(output), the sum whose gradient the protocol asks,
    or, with an `upstream` array, ReduceSum(output * upstream) with `upstream` a graph input: the
    sum whose gradient is the vector-Jacobian product."""
    outputs = ["output"]
    if op == "SoftmaxCrossEntropyLoss":
        outputs.append("log_prob")  # optional in inference; the gradient builder needs it
    nodes = [helper.make_node(op, list(arrays), outputs, **attrs)]
    out_type = ONNX_TYPES.get(str(arrays["input"].dtype), TensorProto.FLOAT)
    graph_outputs = [helper.make_tensor_value_info("output", out_type, None)]
    graph_inputs = [value_info(n, a) for n, a in arrays.items()]
    if grad:
        summed = "output"
        if upstream is not None:
            nodes.append(helper.make_node("Mul", ["output", "upstream"], ["product"]))
            graph_inputs.append(value_info("upstream", upstream))
            summed = "product"
        # onnxruntime-training seeds the loss gradient in float32: the sum is cast to float32
        # (Cast's gradient casts the seed of 1 back to the input's dtype)
        nodes.append(helper.make_node("ReduceSum", [summed], ["sum"], keepdims=0))
        nodes.append(helper.make_node("Cast", ["sum"], ["total"], to=TensorProto.FLOAT))
        graph_outputs.append(helper.make_tensor_value_info("total", TensorProto.FLOAT, []))
    graph = helper.make_graph(nodes, "case", graph_inputs, graph_outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                             ir_version=IR_VERSION, producer_name="cross-entropy-spec adapter")


SESSIONS = {}
GRADIENT_UNSUPPORTED = {}


def new_session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def why_not(message):
    """The phrase of an onnxruntime-training failure that says what it cannot differentiate."""
    for pattern in (r"The gradient builder has not been registered: \w+",
                    r"Could not find an implementation for \w+\(\d+\)",
                    r"No Op registered for \w+ with domain_version of \d+",
                    r"Type \(.*?\) of output arg \(.*?\) of node \(.*?\) does not match expected type \(.*?\)"):
        found = re.search(pattern, message)
        if found:
            return found.group(0)
    return " ".join(message.split())[-200:]


def session(op, arrays, attrs, grad, upstream=None):
    """The cached session for this signature; with grad, the session of its gradient graph (of
    the output's sum, or with an upstream array, of its product with the output)."""
    key = (op, tuple((n, str(a.dtype), a.ndim) for n, a in arrays.items()),
           tuple(sorted(attrs.items())), grad,
           None if upstream is None else (str(upstream.dtype), upstream.ndim))
    if key in SESSIONS:
        return SESSIONS[key]
    if not grad:
        SESSIONS[key] = new_session(build_model(op, arrays, attrs, False))
        return SESSIONS[key]
    if GradientGraphBuilder is None:
        raise Unsupported("onnxruntime inference sessions have no autodiff")
    if key in GRADIENT_UNSUPPORTED:
        raise Unsupported(GRADIENT_UNSUPPORTED[key])
    try:
        model = build_model(op, arrays, attrs, True, upstream)
        builder = GradientGraphBuilder(model.SerializeToString(), {"total"}, {"input"}, "total")
        builder.build()
        SESSIONS[key] = new_session(onnx.load_from_string(builder.get_model()))
    except Exception as e:  # the training build cannot differentiate this signature
        GRADIENT_UNSUPPORTED[key] = (
            f"onnxruntime-training {ort.__version__} cannot differentiate {op} in "
            f"{arrays['input'].dtype}: {why_not(str(e))}")
        raise Unsupported(GRADIENT_UNSUPPORTED[key])
    return SESSIONS[key]


def call(request):
    op = request["op"]
    inputs = {name: to_array(t) for name, t in request.get("inputs", {}).items()}
    attrs = dict(request.get("attrs", {}))
    want_grad = request.get("grad", False)
    if op not in OPERATORS:
        raise Unsupported(f"ONNX has no operator for {op}")
    if want_grad and GradientGraphBuilder is None:
        raise Unsupported("onnxruntime inference sessions have no autodiff")
    upstream = None
    if want_grad:
        wrt, upstream = vjp_of(request, "ONNX Runtime")
        if wrt != "input":
            raise Unsupported(f"the gradient graph is built with respect to `input`, not `{wrt}`")
    if "pos_weight" in inputs:
        raise Unsupported("ONNX has no pos_weight")
    x = inputs["input"]
    arrays = {"input": x}
    node_attrs = {}
    unbatched = False
    if op in ("softmax", "log_softmax"):
        if "dim" not in attrs:
            raise Unsupported("no dim given, and ONNX's default axis (-1) is not PyTorch's")
        node_attrs["axis"] = attrs["dim"]
    elif op in ("cross_entropy", "nll_loss"):
        target = inputs["target"]
        if op == "cross_entropy":
            # PyTorch reads a target shaped like the input as class probabilities
            if target.shape == x.shape:
                raise Unsupported("SoftmaxCrossEntropyLoss takes class indices only, "
                                  "not class probabilities")
            smoothing = attrs.get("label_smoothing", 0.0)
            if smoothing != 0:
                raise Unsupported("SoftmaxCrossEntropyLoss has no label smoothing")
        if x.ndim == 1 and target.shape in ((), (1,)):
            # layout: PyTorch's unbatched (C,) input (with a () or (1,) target, both the index of
            # its one sample) is ONNX's batch of one, (1, C) with a (1,) target
            unbatched = True
            x, target = x.reshape(1, -1), target.reshape(1)
            arrays["input"] = x
        arrays["target"] = target
        if "weight" in inputs:
            arrays["weight"] = inputs["weight"]
        reduction = attrs.get("reduction", "mean")
        # PyTorch's deprecated name of "mean"; every other string goes to ONNX as it is
        node_attrs["reduction"] = "mean" if reduction == "elementwise_mean" else reduction
        node_attrs["ignore_index"] = attrs.get("ignore_index", -100)
    out = session(OPERATORS[op], arrays, node_attrs, False).run(["output"], arrays)[0]
    if unbatched and out.shape == (1,):
        out = out.reshape(())
    reply = {"output": from_array(out)}
    if want_grad:
        feeds, u = dict(arrays), None
        if upstream is not None:
            # in the graph's output shape: an unbatched input's is the batch of one's
            u = to_array(upstream).astype(out.dtype).reshape(
                session(OPERATORS[op], arrays, node_attrs, False).run(["output"], arrays)[0].shape)
            feeds["upstream"] = u
        grad = session(OPERATORS[op], arrays, node_attrs, True, u).run(["input_grad"], feeds)[0]
        reply["grad_input"] = from_array(grad.reshape(inputs["input"].shape) if unbatched else grad)
    return reply


def describe(request, e):
    """onnxruntime raises its own Fail, InvalidArgument, RuntimeException...: one line."""
    message = " ".join(str(e).split()) or type(e).__name__
    return {"kind": error_kind(message), "message": f"{type(e).__name__}: {message}"}


def main():
    ort.set_default_logger_severity(3)
    serve(call, describe)


if __name__ == "__main__":
    main()
