"""Measures which tensor arguments PyTorch differentiates, for every op of the spec, every tensor
argument (input, target, weight, pos_weight) and every reduction: the argument alone is made to
require a gradient, the op is called, and `out.sum().backward()` is run. Usage, from the
repository root:

    .venv-torch/bin/python scripts/observe_differentiability.py > spec/recorded/pytorch-differentiability.json

Each row records what happened, in float32 and float64:

- "differentiable": the backward ran and left a gradient of the argument's shape; in float64,
  `torch.autograd.gradcheck` (finite differences, with a random upstream gradient per output
  element) also confirms it: "gradcheck": true/false;
- "refused": PyTorch raised, at "requires_grad" (an integer tensor cannot require a gradient),
  "forward" or "backward", with its exact message (the first line of it, which is the whole
  message for these ops).

The inputs are small and fixed (seed 0); what is measured does not depend on their values.
"""

import json
import sys

import torch
import torch.nn.functional as F

COMMAND = (".venv-torch/bin/python scripts/observe_differentiability.py "
           "> spec/recorded/pytorch-differentiability.json")
N, C = 3, 4
REDUCTIONS = ("none", "mean", "sum")


def tensors(dtype):
    """The arguments every variant draws from, made afresh for each call."""
    g = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=g, dtype=dtype)  # noqa: E731
    logits = rand(N, C) * 4 - 2
    probs = torch.softmax(rand(N, C) * 4 - 2, dim=1)
    return {
        "logits": logits,
        "indices": torch.tensor([0, 3, 1]),
        "probs": probs,
        "class_weight": rand(C) + 0.5,
        "p": rand(N, C) * 0.8 + 0.1,
        "y": rand(N, C),
        "elem_weight": rand(N, C) + 0.5,
        "pos_weight": rand(C) + 0.5,
    }


# (op, variant, {argument: name in tensors()}, call(args, reduction) or None without reduction)
VARIANTS = [
    ("softmax", "", {"input": "logits"}, lambda a, r: torch.softmax(a["input"], 1)),
    ("log_softmax", "", {"input": "logits"}, lambda a, r: torch.log_softmax(a["input"], 1)),
    ("sigmoid", "", {"input": "logits"}, lambda a, r: torch.sigmoid(a["input"])),
    ("cross_entropy", "class indices",
     {"input": "logits", "target": "indices", "weight": "class_weight"},
     lambda a, r: F.cross_entropy(a["input"], a["target"], weight=a["weight"], reduction=r)),
    ("cross_entropy", "class indices, label_smoothing=0.1",
     {"input": "logits", "target": "indices", "weight": "class_weight"},
     lambda a, r: F.cross_entropy(a["input"], a["target"], weight=a["weight"], reduction=r,
                                  label_smoothing=0.1)),
    ("cross_entropy", "probability targets",
     {"input": "logits", "target": "probs", "weight": "class_weight"},
     lambda a, r: F.cross_entropy(a["input"], a["target"], weight=a["weight"], reduction=r)),
    ("cross_entropy", "probability targets, label_smoothing=0.1",
     {"input": "logits", "target": "probs", "weight": "class_weight"},
     lambda a, r: F.cross_entropy(a["input"], a["target"], weight=a["weight"], reduction=r,
                                  label_smoothing=0.1)),
    ("nll_loss", "", {"input": "logits", "target": "indices", "weight": "class_weight"},
     lambda a, r: F.nll_loss(a["input"], a["target"], weight=a["weight"], reduction=r)),
    ("binary_cross_entropy", "", {"input": "p", "target": "y", "weight": "elem_weight"},
     lambda a, r: F.binary_cross_entropy(a["input"], a["target"], weight=a["weight"],
                                         reduction=r)),
    ("binary_cross_entropy_with_logits", "",
     {"input": "logits", "target": "y", "weight": "elem_weight", "pos_weight": "pos_weight"},
     lambda a, r: F.binary_cross_entropy_with_logits(
         a["input"], a["target"], weight=a["weight"], pos_weight=a["pos_weight"], reduction=r)),
]


def first_line(e):
    return str(e).strip().splitlines()[0]


def observe(call, names, wrt, reduction, dtype):
    """What happens when `wrt` alone requires a gradient."""
    t = tensors(dtype)
    args = {k: t[v] for k, v in names.items()}
    try:
        args[wrt] = args[wrt].detach().clone().requires_grad_(True)
    except RuntimeError as e:
        return {"result": "refused", "stage": "requires_grad", "message": first_line(e)}
    try:
        out = call(args, reduction)
    except RuntimeError as e:
        return {"result": "refused", "stage": "forward", "message": first_line(e)}
    try:
        out.sum().backward()
    except RuntimeError as e:
        return {"result": "refused", "stage": "backward", "message": first_line(e)}
    grad = args[wrt].grad
    if grad is None or grad.shape != args[wrt].shape:
        return {"result": "no gradient"}
    row = {"result": "differentiable"}
    if dtype == torch.float64:
        row["gradcheck"] = gradcheck(call, args, wrt, reduction)
    return row


def gradcheck(call, args, wrt, reduction):
    """Finite differences agree with the backward (float64, PyTorch's default tolerances)."""
    fixed = {k: v.detach() for k, v in args.items() if k != wrt}
    x = args[wrt].detach().clone().requires_grad_(True)
    return bool(torch.autograd.gradcheck(lambda v: call(dict(fixed, **{wrt: v}), reduction), (x,)))


def main():
    rows = []
    for op, variant, names, call in VARIANTS:
        reductions = REDUCTIONS if op not in ("softmax", "log_softmax", "sigmoid") else ("",)
        for wrt in names:
            for reduction in reductions:
                row = {"op": op, "variant": variant, "wrt": wrt, "reduction": reduction}
                for dtype in (torch.float32, torch.float64):
                    row[str(dtype).removeprefix("torch.")] = observe(
                        call, names, wrt, reduction or "mean", dtype)
                rows.append(row)
    doc = {"torch_version": torch.__version__, "generated_by": "scripts/observe_differentiability.py",
           "command": COMMAND, "rows": rows}
    lines = ",\n".join("  " + json.dumps(r) for r in rows)
    head = json.dumps({k: v for k, v in doc.items() if k != "rows"}, indent=0)[:-2]
    sys.stdout.write(head + ',\n"rows": [\n' + lines + "\n]}\n")


if __name__ == "__main__":
    main()
