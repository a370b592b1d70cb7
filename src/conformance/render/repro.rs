//! A copy-paste line of PyTorch that makes the same call a case makes, so that a failure can be
//! reproduced without reading the suite.

use crate::conformance::protocol::Request;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Op, Role};

/// `import torch; import torch.nn.functional as F; print(F.op(torch.tensor(...), ...))`; for a
/// gradient request, the input requires grad, the output's sum is backpropagated and the
/// gradient is printed.
pub fn torch_line(request: &Request) -> String {
    let mut args = Vec::new();
    for role in request.op.tensor_args() {
        if let Some(t) = request.tensors.get(role) {
            let text = tensor(t);
            args.push(match role {
                Role::Input if request.grad => "x".to_string(),
                Role::Input | Role::Target => text,
                _ => format!("{role}={text}"),
            });
        }
    }
    args.extend(keyword_args(&request.attrs));
    let call = match request.op {
        Op::Sigmoid => "torch.sigmoid".to_string(),
        op => format!("F.{op}"),
    };
    let imports = "import torch; import torch.nn.functional as F";
    let call = format!("{call}({})", args.join(", "));
    match request.tensors.get(&Role::Input) {
        Some(input) if request.grad => format!(
            "{imports}; x = {}.requires_grad_(); {call}.sum().backward(); print(x.grad)",
            tensor(input)
        ),
        _ => format!("{imports}; print({call})"),
    }
}

/// The options as PyTorch keyword arguments (`reduction='sum'`), only those the case sets.
pub(crate) fn keyword_args(a: &Attrs) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(d) = a.dim {
        args.push(format!("dim={d}"));
    }
    if let Some(r) = &a.reduction {
        args.push(format!("reduction='{r}'"));
    }
    if let Some(i) = a.ignore_index {
        args.push(format!("ignore_index={i}"));
    }
    if let Some(l) = a.label_smoothing {
        args.push(format!("label_smoothing={}", python_float(l)));
    }
    args
}

fn tensor(t: &Tensor) -> String {
    let values: Vec<String> = t
        .formatted()
        .into_iter()
        .map(|v| match v.as_str() {
            "nan" => "float('nan')".into(),
            "inf" => "float('inf')".into(),
            "-inf" => "float('-inf')".into(),
            _ => v,
        })
        .collect();
    // A tensor of one repeated value (and more than a few elements) reads better as a fill.
    if values.len() > 4 && values.iter().all(|v| *v == values[0]) {
        return format!(
            "torch.full({}, {}, dtype={})",
            shape(t.shape()),
            values[0],
            t.dtype().torch_name()
        );
    }
    format!(
        "torch.tensor([{}], dtype={}).reshape({})",
        values.join(", "),
        t.dtype().torch_name(),
        shape(t.shape())
    )
}

fn shape(dims: &[usize]) -> String {
    match dims {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_float(v: f64) -> String {
    if v.is_nan() {
        "float('nan')".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "float('inf')".into()
        } else {
            "float('-inf')".into()
        }
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::torch_line;
    use crate::conformance::protocol::Request;
    use crate::eval::Tensors;
    use crate::tensor::Tensor;
    use crate::vocab::{Dtype, Op, Role};

    fn request(grad: bool) -> Request {
        let input = Tensor::from_f64(Dtype::Float32, &[2], &[0.5, f64::NEG_INFINITY]).unwrap();
        Request {
            id: "sigmoid.x@float32".into(),
            op: Op::Sigmoid,
            tensors: Tensors::from([(Role::Input, input)]),
            attrs: Default::default(),
            grad,
            vjp: Default::default(),
        }
    }

    #[test]
    fn a_value_request_prints_the_call() {
        assert_eq!(
            torch_line(&request(false)),
            "import torch; import torch.nn.functional as F; print(torch.sigmoid(torch.tensor([0.5, float('-inf')], dtype=torch.float32).reshape((2,))))"
        );
    }

    #[test]
    fn a_tensor_of_one_value_is_a_fill() {
        let input = Tensor::from_f64(Dtype::Float64, &[2, 3], &[0.0; 6]).unwrap();
        let mut r = request(false);
        r.tensors.insert(Role::Input, input);
        assert!(
            torch_line(&r).contains("torch.sigmoid(torch.full((2, 3), 0.0, dtype=torch.float64))")
        );
    }

    #[test]
    fn a_gradient_request_prints_the_gradient_of_the_sum() {
        let line = torch_line(&request(true));
        assert_eq!(
            line,
            "import torch; import torch.nn.functional as F; x = torch.tensor([0.5, float('-inf')], dtype=torch.float32).reshape((2,)).requires_grad_(); torch.sigmoid(x).sum().backward(); print(x.grad)"
        );
    }
}
