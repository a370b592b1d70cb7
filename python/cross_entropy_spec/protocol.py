"""The plumbing every Python adapter shares: protocol v1 (spec/protocol.md) on stdin/stdout.

An adapter supplies only what is its framework's: `call(request)`, which returns a reply without
its id (`{"output": ...}` and, for a gradient request, `"grad_input"`), and `describe(request,
error)`, which turns the framework's exception into `{"kind": ..., "message": ...}`. `serve`
does the rest: one reply per non-blank line, in order, until end of input.

Tensors cross the wire as `{"dtype", "shape", "data"}`; `elements` decodes the data (with the
non-finite values spelled as strings) and `encode` writes a NumPy array back, each element as its
shortest round-trip decimal in its own dtype.
"""

import json
import sys

import numpy as np

PROTOCOL = 1
SPECIAL = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
         np.dtype(np.int64): "int64", np.dtype(np.float16): "float16"}


class Unsupported(Exception):
    """What the framework cannot express: answered `unsupported`, counted as skipped."""


def elements(t):
    """A wire tensor's data as Python numbers, `"nan"`, `"inf"` and `"-inf"` decoded."""
    return [SPECIAL.get(v, v) if isinstance(v, str) else v for v in t["data"]]


def number(v, dtype):
    """Shortest round-trip decimal of one element, non-finite values as strings."""
    if dtype == np.int64:
        return int(v)
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    # float16's shortest decimal (numpy's), float32's for float32 and for bfloat16 held in
    # float32 (within half a float32 ulp, so it rounds back to the bfloat16 value).
    if dtype == np.float16:
        text = str(np.float16(v))
    elif dtype == np.float32:
        # float32's shortest decimal, unless read through float64 it rounds to another float32
        # or lands halfway between two (4.577637e7): then the exact float64 decimal.
        f = np.float32(v)
        text, wide = str(f), float(str(f))
        halfway = {(float(np.nextafter(f, np.float32(s))) + v) / 2 for s in ("-inf", "inf")}
        if np.float32(wide) != f or wide in halfway:
            text = repr(v)
    else:
        text = repr(v)
    return json.loads(text if any(c in text for c in ".e") else text + ".0")


def encode(a, framework, name=None):
    """A NumPy array (or anything `np.asarray` takes) as a wire tensor; `name` for a dtype NumPy
    lacks (a bfloat16 tensor passed as the float32 array of its values, `name="bfloat16"`)."""
    a = np.asarray(a)
    name = name or NAMES.get(a.dtype)
    if name is None:
        raise Unsupported(f"{framework} returned dtype {a.dtype}, which the protocol has no name for")
    return {"dtype": name, "shape": list(a.shape),
            "data": [number(v, a.dtype.type) for v in a.reshape(-1)]}


# The arguments a reply can carry a gradient for: `grad_input`, `grad_target`, `grad_weight`.
GRADIENT_KEYS = ("input", "target", "weight")


class NotDifferentiable(Exception):
    """The argument a gradient request names cannot be differentiated (an integer tensor): the
    protocol's `not_differentiable`, as PyTorch refuses it."""


# The protocol's floating dtypes: the arguments a gradient can be taken with respect to.
FLOATING = ("float16", "bfloat16", "float32", "float64")


def vjp_of(request, framework):
    """A gradient request's product, for an adapter that differentiates any floating argument:
    the argument's name (`wrt`, `input` when absent) and the upstream gradient (a wire tensor, or
    None for all ones). An integer argument (class indices) is NotDifferentiable."""
    wrt = request.get("wrt", "input")
    if wrt not in GRADIENT_KEYS:
        raise Unsupported(f"the protocol has no reply key for a gradient with respect to `{wrt}` "
                          f"(PyTorch refuses it), so {framework}'s cannot be sent")
    tensor = request.get("inputs", {}).get(wrt)
    if tensor is not None and tensor.get("dtype") not in FLOATING:
        raise NotDifferentiable(f"{framework} differentiates floating arguments only; `{wrt}` is "
                                f"{tensor.get('dtype')}")
    return wrt, request.get("upstream")


def upstream_of(request, framework):
    """A gradient request's upstream gradient (a wire tensor, or None for all ones), for an
    adapter that differentiates only `input`: any other `wrt` is Unsupported."""
    wrt = request.get("wrt", "input")
    if wrt != "input":
        raise Unsupported(f"this {framework} adapter differentiates only `input`, not `{wrt}`")
    return request.get("upstream")


def answer(line, call, describe, errors=(Exception,)):
    """The reply to one request line; exceptions of the types `errors` become error replies."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as e:
        return {"id": "", "error": {"kind": "malformed_request", "message": f"not JSON: {e}"}}
    rid = request.get("id", "")
    if request.get("protocol", PROTOCOL) != PROTOCOL:
        return {"id": rid, "error": {"kind": "unsupported_protocol",
                                     "message": f"protocol {request.get('protocol')} is not supported"}}
    try:
        reply = call(request)
    except Unsupported as e:
        reply = {"unsupported": str(e)}
    except NotDifferentiable as e:
        reply = {"error": {"kind": "not_differentiable", "message": str(e)}}
    except (KeyError, AttributeError) as e:
        if not issubclass(KeyError, errors):
            raise
        reply = {"error": {"kind": "malformed_request", "message": f"{type(e).__name__}: {e}"}}
    except errors as e:
        reply = {"error": describe(request, e)}
    reply["id"] = rid
    return reply


def serve(call, describe, errors=(Exception,)):
    """Answers every non-blank line of stdin on stdout, flushing after each reply."""
    for line in sys.stdin:
        if line.strip():
            reply = answer(line, call, describe, errors)
            sys.stdout.write(json.dumps(reply, allow_nan=False) + "\n")
            sys.stdout.flush()
