//! A copy-paste line of PyTorch that makes the same call a case makes, so that a failure can be
//! reproduced without reading the suite.

use crate::conformance::protocol::Request;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Op, Role};

/// `import torch; import torch.nn.functional as F; print(F.op(torch.tensor(...), ...))`.
pub fn torch_line(request: &Request) -> String {
    let mut args = Vec::new();
    for role in request.op.tensor_args() {
        if let Some(t) = request.tensors.get(role) {
            let text = tensor(t);
            args.push(match role {
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
    format!(
        "import torch; import torch.nn.functional as F; print({call}({}))",
        args.join(", ")
    )
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
