"""Records PyTorch's gradient for every value case of the spec, from the suite's own export: for
each case that expects a value (not an error), in each dtype it runs in, the gradient its
gradient run asks for: of the sum of the output with respect to `input` (`out.sum().backward()`),
or, for a case with an upstream gradient or another argument (the export's `vjp`), the
vector-Jacobian product `torch.autograd.grad(out, wrt, grad_outputs=upstream)`; through the same protocol adapter the
conformance run uses. Usage, from the repository root:

    cargo run --release -- cases --json \\
        | .venv-torch/bin/python scripts/observe_torch_gradients.py > spec/recorded/pytorch-gradients.json

The result is `{"torch_version", "generated_by", "command", "gradients": {"<case id>@<dtype>":
{"dtype", "shape", "data"}}}`, one gradient per line (a gradient of more than 4,096 elements
as the sample `exact_values.py` records, with its flat offsets in `indices`), numbers as shortest round-trip decimals of
their dtype and "nan", "inf", "-inf" as strings (the protocol's tensor encoding). A case whose
backward PyTorch rejects stops the script: that is a finding for the spec, not a gap to skip.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "adapters", "pytorch"))
import adapter  # noqa: E402  (the protocol adapter: the same calls the conformance run makes)
from exact_values import sample_offsets  # noqa: E402  (one rule for what a sample holds)

COMMAND = ("cargo run --release -- cases --json | .venv-torch/bin/python "
           "scripts/observe_torch_gradients.py > spec/recorded/pytorch-gradients.json")


def main():
    gradients = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        if "expect" not in case:
            continue
        request = dict(case["request"], grad=True)
        request.update({k: v for k, v in (case.get("vjp") or {}).items() if v is not None})
        if "expect_grad_error" in case:
            # The case states that PyTorch's backward raises: check that it still does.
            reply = adapter.answer(json.dumps(request))
            if reply.get("error", {}).get("kind") != case["expect_grad_error"]["kind"]:
                sys.exit(f"{case['id']}: PyTorch's backward no longer raises as stated: {json.dumps(reply)[:300]}")
            continue
        reply = adapter.answer(json.dumps(request))
        key = "grad_" + request.get("wrt", "input")  # the product's reply key names its argument
        if key not in reply:
            sys.exit(f"{case['id']}: PyTorch gave no gradient: {json.dumps(reply)[:300]}")
        grad = reply[key]
        # Vocabulary scale: the same sample of offsets as the exact values' (exact_values.py).
        at = sample_offsets(len(grad["data"]))
        if at is not None:
            grad = dict(grad, data=[grad["data"][i] for i in at], indices=at)
        gradients[case["id"]] = grad
    entries = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}"
                         for k, v in sorted(gradients.items()))
    print("{")
    print(f'"torch_version": {json.dumps(torch.__version__)},')
    print('"generated_by": "scripts/observe_torch_gradients.py",')
    print(f'"command": {json.dumps(COMMAND)},')
    print('"gradients": {')
    print(entries)
    print("}}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
